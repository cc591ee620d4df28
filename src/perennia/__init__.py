"""Perennia: the machine-learning model lifecycle in one coherent system.

The fluent API mirrors MLflow's names: `set_experiment`, `start_run`, `log_metric`, ...
Everything is imported lazily, so `import perennia` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from perennia._version import __version__

_FLUENT = (
    "set_tracking_uri",
    "get_tracking_uri",
    "set_artifacts_uri",
    "set_experiment",
    "create_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "start_run",
    "end_run",
    "active_run",
    "last_active_run",
    "get_run",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
    "delete_tag",
    "flush",
    "log_input",
    "search_runs",
    "ActiveRun",
)
_FLUENT_ARTIFACTS = ("log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure")
_ELSEWHERE = {
    "Client": "perennia.tracking.client",
    "log_model": "perennia.registry.packages",
    "Settings": "perennia.config",
    "PerenniaError": "perennia.errors",
    "RunStatus": "perennia.entities",
    "ViewType": "perennia.entities",
    "tune": "perennia.automation.tune",
}
_SUBMODULES = (
    "data",
    "evaluate",
    "models",
    "registry",
    "sklearn",
    "entities",
    "errors",
    "store",
    "artifacts",
    "tracking",
)
# Modules users reach by a short name: `perennia.pipeline.step`, `from perennia import pipeline`.
_ALIASES = {"pipeline": "perennia.automation.pipeline"}

__all__ = [*_FLUENT, *_FLUENT_ARTIFACTS, *_ELSEWHERE, *_SUBMODULES, *_ALIASES, "__version__"]

if TYPE_CHECKING:
    from perennia import data, evaluate, sklearn  # noqa: F401
    from perennia.config import Settings  # noqa: F401
    from perennia.entities import RunStatus, ViewType  # noqa: F401
    from perennia.errors import PerenniaError  # noqa: F401
    from perennia.tracking.client import Client  # noqa: F401
    from perennia.tracking.fluent import *  # noqa: F403
    from perennia.tracking.fluent_artifacts import *  # noqa: F403


def __getattr__(name: str) -> Any:
    if name in _FLUENT:
        value = getattr(importlib.import_module("perennia.tracking.fluent"), name)
    elif name in _FLUENT_ARTIFACTS:
        value = getattr(importlib.import_module("perennia.tracking.fluent_artifacts"), name)
    elif name in _ELSEWHERE:
        value = getattr(importlib.import_module(_ELSEWHERE[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"perennia.{name}")
    elif name in _ALIASES:
        value = importlib.import_module(_ALIASES[name])
    else:
        raise AttributeError(f"module 'perennia' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
