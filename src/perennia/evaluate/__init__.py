"""Evaluation: metrics, the evaluator, cross-validation, robustness, comparison gates, reports.

Everything is imported on first use, so `import perennia.evaluate` costs nothing until a
function is called.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "evaluate": "perennia.evaluate.evaluator",
    "EvaluationResult": "perennia.evaluate.result",
    "cross_validate": "perennia.evaluate.cross_validation",
    "CrossValidationResult": "perennia.evaluate.cross_validation",
    "robustness": "perennia.evaluate.robustness_checks",
    "RobustnessReport": "perennia.evaluate.robustness_checks",
    "compare": "perennia.evaluate.comparison",
    "ComparisonResult": "perennia.evaluate.comparison",
    "parse_gates": "perennia.evaluate.gates",
}

__all__ = sorted(_HOME) + ["metrics"]


def __getattr__(name: str) -> Any:
    if name == "metrics":
        return importlib.import_module("perennia.evaluate.metrics")
    if name not in _HOME:
        raise AttributeError(f"module 'perennia.evaluate' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
