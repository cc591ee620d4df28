"""The arguments of `tune`, checked before any trial runs: each bad one is one InvalidInput line."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from perennia.errors import InvalidInput
from perennia.store.validation import validate_key

DIRECTIONS = ("minimize", "maximize")


def check_objective(objective: Any, with_space: bool) -> Callable[..., Any]:
    """Return the objective when it is callable with the arguments tune will pass."""
    if not callable(objective):
        raise InvalidInput(
            f"objective must be a function of the trial, got {type(objective).__name__} {objective!r:.60}"
        )
    expected = "objective(trial, params)" if with_space else "objective(trial)"
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):
        return objective  # a builtin or C callable: nothing to check
    try:
        signature.bind(None, {}) if with_space else signature.bind(None)
    except TypeError:
        hint = " (a space was given, so params come second)" if with_space else ""
        raise InvalidInput(
            f"objective {getattr(objective, '__name__', objective)!r} cannot be called as "
            f"{expected}{hint}"
        ) from None
    return objective


def check_budget(n_trials: Any, timeout: Any) -> tuple[int | None, float | None]:
    """Return (n_trials, timeout) when at least one bounds the study and both are positive."""
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1
    ):
        raise InvalidInput(f"n_trials must be a positive integer, got {n_trials!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0
    ):
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout!r}")
    if n_trials is None and timeout is None:
        raise InvalidInput("give n_trials, timeout or both, or the study would never end")
    return (None if n_trials is None else int(n_trials)), (
        None if timeout is None else float(timeout)
    )


def check_directions(direction: Any, directions: Any) -> list[str]:
    """Return the study's directions from `direction` or `directions` (not both)."""
    if directions is not None:
        if direction is not None:
            raise InvalidInput("give direction (one objective) or directions (several), not both")
        if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
            raise InvalidInput(
                f"directions must be a non-empty list such as ['minimize', 'maximize'], got {directions!r}"
            )
        values = list(directions)
    else:
        values = ["minimize" if direction is None else direction]
    for value in values:
        if value not in DIRECTIONS:
            raise InvalidInput(f"direction must be 'minimize' or 'maximize', got {value!r}")
    return values


def metric_names(metric: Any, count: int) -> list[str]:
    """Return the metric key for each objective value (`metric`, or `metric_0`, `metric_1`, ...)."""
    if isinstance(metric, str):
        validate_key(metric, "metric")
        if count == 1:
            return [metric]
        return [f"{metric}_{i}" for i in range(count)]
    if isinstance(metric, Sequence) and len(metric) == count:
        names = [validate_key(name, "metric") for name in metric]
        if len(set(names)) != count:
            raise InvalidInput(f"metric names must differ, got {list(metric)!r}")
        return names
    raise InvalidInput(
        f"metric must be a name or a list of {count} names (one per direction), got {metric!r}"
    )


def check_n_jobs(n_jobs: Any) -> int:
    """Return n_jobs when it is a positive integer or -1 (one thread per CPU, as in Optuna)."""
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, numbers.Integral)
        or (n_jobs < 1 and n_jobs != -1)
    ):
        raise InvalidInput(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    return int(n_jobs)


def make_sampler(sampler: Any, seed: Any) -> Any:
    """Return the sampler to use: the one given, or Optuna's default TPE seeded with `seed`."""
    from optuna.samplers import BaseSampler, TPESampler

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidInput(f"seed must be an integer, got {seed!r}")
    if sampler is None:
        return TPESampler(seed=None if seed is None else int(seed))
    if seed is not None:
        raise InvalidInput("give seed or sampler, not both: seed the sampler you pass instead")
    if not isinstance(sampler, BaseSampler):
        raise InvalidInput(
            f"sampler must be an optuna sampler such as TPESampler(seed=0), got {sampler!r:.60}"
        )
    return sampler


def check_pruner(pruner: Any) -> Any:
    """Return the pruner when it is None (Optuna's MedianPruner) or an Optuna pruner."""
    from optuna.pruners import BasePruner

    if pruner is not None and not isinstance(pruner, BasePruner):
        raise InvalidInput(
            f"pruner must be an optuna pruner such as MedianPruner(), got {pruner!r:.60}"
        )
    return pruner


def check_callbacks(callbacks: Any) -> list[Callable[..., Any]]:
    """Return the callbacks as a list of callables `callback(study, frozen_trial)`."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, Sequence) or not all(callable(c) for c in callbacks):
        raise InvalidInput("callbacks must be a list of functions callback(study, frozen_trial)")
    return list(callbacks)


def check_study_name(study_name: Any) -> str | None:
    """Return the study name when it is None or a non-empty string."""
    if study_name is not None and (not isinstance(study_name, str) or not study_name.strip()):
        raise InvalidInput(f"study_name must be a non-empty string, got {study_name!r}")
    return study_name
