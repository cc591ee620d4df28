"""`perennia.sklearn.autolog()`: track scikit-learn training without changing the training code.

Besides what `perennia.tracking.autolog.sklearn` logs (params, training metrics, the training
dataset), each tracked `fit` on a DataFrame logs the training data's reference profile
(`perennia.monitoring.log_reference_profile`), so a model registered from the run can be
monitored against it (`reference="models:/name@alias"`); `log_profile=False` turns that off.
"""

from __future__ import annotations

from typing import Any

from perennia.tracking.autolog import sklearn as _tracking

PROFILE_HOOK = "reference profile"


def autolog(
    disable: bool = False,
    log_datasets: bool = True,
    log_training_metrics: bool = True,
    log_profile: bool = True,
) -> None:
    """Track every scikit-learn `fit` (starting a run when none is active); `disable=True` undoes it."""
    _tracking.autolog(
        disable=disable, log_datasets=log_datasets, log_training_metrics=log_training_metrics
    )
    if disable or not log_profile:
        _tracking.fit_hooks.pop(PROFILE_HOOK, None)
    else:
        _tracking.fit_hooks[PROFILE_HOOK] = _log_profile


def _log_profile(estimator: Any, X: Any, y: Any) -> None:
    """Log the profile of a DataFrame's training features in the active run."""
    from perennia._util.tables import is_table

    if X is None or not is_table(X):
        return
    from perennia.monitoring.monitors.reference import log_reference_profile

    log_reference_profile(X)


__all__ = ["autolog"]
