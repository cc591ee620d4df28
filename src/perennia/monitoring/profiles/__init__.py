"""Reference profiles: computed once (streaming over Parquet), merged exactly, stored as bytes."""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "profile": "perennia.monitoring.profiles.build",
    "bounds_of": "perennia.monitoring.profiles.build",
    "union_bounds": "perennia.monitoring.profiles.build",
    "DatasetProfile": "perennia.monitoring.profiles.dataset",
    "NumericProfile": "perennia.monitoring.profiles.numeric",
    "CategoricalProfile": "perennia.monitoring.profiles.categorical",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'perennia.monitoring.profiles' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
