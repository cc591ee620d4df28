"""Group fairness of binary decisions: selection rates, error rates and their gaps by group.

`sensitive_features` names each row's group. It may be one feature (a 1-D array, list or
Series) or several (a 2-D array with one column per feature, a DataFrame, a dict name ->
array, or a list of arrays); with several, a group is the combination of their values,
labelled "a|b" in the order the features were given. Feature names come from DataFrame
columns, dict keys or Series.name, else "feature_0", "feature_1", ... Group labels are the
values as text (so 1 and "1" are one group); a missing value (None/NaN) is its own group,
labelled "missing". Groups are listed in value order, feature by feature, "missing" last.

Conventions, matching fairlearn where it has the metric:
- A per-group rate whose denominator is empty (the TPR of a group with no actual positives,
  the precision of a group with no predicted positives) is NaN in the group table and is
  skipped by the differences. fairlearn instead counts such a TPR/FPR as 0, so the two agree
  whenever every group has both classes.
- Differences are max - min over the groups where the rate is defined; ratios are min / max.
  With a single group overall, differences are 0 and ratios 1; with several groups but fewer
  than two defined, the disparity is NaN. A ratio whose largest rate is 0 is NaN (fairlearn).
- equalized_odds_difference is the larger of the TPR gap and the FPR gap (fairlearn's
  "worst_case"), taking whichever is defined when only one is.
- disparate_impact is the lowest selection rate among the other groups divided by the
  reference group's; the reference defaults to the group with the highest selection rate
  (first in listed order on ties), where it equals demographic_parity_ratio. The four-fifths
  rule flags every other group whose rate is below 0.8 x the reference's.
- Benefit is predicted positives / actual positives (weighted); a group with no actual
  positives gets inf when it has predicted positives and 1.0 when it has none.

Everything is read off one weighted count per (group, y_true, y_pred) cell; `fairness_report`
computes all of it at once and the single-number functions share the same core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennia.evaluate.metrics._validation import as_binary, as_weights
from perennia.evaluate.metrics.fairness_groups import _GroupTable

__all__ = [
    "FairnessReport",
    "accuracy_difference",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "error_rate_difference",
    "fairness_report",
    "group_benefit",
    "selection_rate",
]

FOUR_FIFTHS = 0.8


def selection_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the (weighted) share of rows predicted positive; y_true is ignored."""
    pred = as_binary(y_pred, "y_pred", pos_label=pos_label)
    weights = as_weights(sample_weight, pred.size)
    if weights is None:
        return float(np.count_nonzero(pred) / pred.size)
    return float(weights @ pred / weights.sum())


def demographic_parity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the largest minus the smallest group selection rate; y_true is ignored."""
    table = _GroupTable.build(None, y_pred, sensitive_features, sample_weight, pos_label)
    return _spread(table.selection_rate, table.size, worst="low").value


def demographic_parity_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the smallest divided by the largest group selection rate; y_true is ignored."""
    table = _GroupTable.build(None, y_pred, sensitive_features, sample_weight, pos_label)
    return _ratio(table, 0).value


def disparate_impact(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    reference_group: Any = None,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the lowest other group's selection rate divided by the reference group's."""
    table = _GroupTable.build(None, y_pred, sensitive_features, sample_weight, pos_label)
    return _impact(table, table.reference_index(reference_group)).value


def equal_opportunity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the largest minus the smallest group true positive rate."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return _spread(table.tpr, table.size, worst="low").value


def equalized_odds_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the larger of the group gaps in true positive rate and false positive rate."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return _odds(table, 0).value


def accuracy_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the largest minus the smallest group accuracy."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return _spread(table.accuracy, table.size, worst="low").value


def error_rate_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the largest minus the smallest group error rate."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return _spread(table.error_rate, table.size, worst="high").value


def group_benefit(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> dict[str, float]:
    """Return per group label its predicted positives divided by its actual positives."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    return dict(zip(table.labels, table.benefit.tolist(), strict=True))


@dataclass(frozen=True)
class FairnessReport:
    """Per-group rates, the disparities between groups and the four-fifths rule's verdict."""

    features: tuple[str, ...]
    reference_group: str
    groups: list[dict[str, Any]]
    disparities: dict[str, dict[str, Any]]
    four_fifths_violations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain lists, dicts, strings and floats (JSON-ready)."""
        return {
            "features": list(self.features),
            "reference_group": self.reference_group,
            "groups": [dict(group) for group in self.groups],
            "disparities": {name: dict(entry) for name, entry in self.disparities.items()},
            "four_fifths_violations": list(self.four_fifths_violations),
        }

    def metrics(self) -> dict[str, float]:
        """Return each disparity's value by name, plus "four_fifths_rule_passed" (1.0 or 0.0)."""
        out = {name: float(entry["value"]) for name, entry in self.disparities.items()}
        out["four_fifths_rule_passed"] = 0.0 if self.four_fifths_violations else 1.0
        return out


def fairness_report(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    reference_group: Any = None,
    pos_label: Any = 1,
) -> FairnessReport:
    """Return the group table, every disparity and the four-fifths verdict from one count."""
    table = _GroupTable.build(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    reference = table.reference_index(reference_group)
    disparities = {}
    for name, (description, measure) in _DISPARITIES.items():
        gap = measure(table, reference)
        disparities[name] = {
            "value": gap.value,
            "reference_group": table.label(gap.reference),
            "worst_group": table.label(gap.worst),
            "description": description,
        }
    return FairnessReport(
        features=table.features,
        reference_group=table.labels[reference],
        groups=table.rows(),
        disparities=disparities,
        four_fifths_violations=_four_fifths_violations(table, reference),
    )


@dataclass(frozen=True)
class _Gap:
    """A disparity's value, the group it is measured against and the group faring worst."""

    value: float
    reference: int | None = None
    worst: int | None = None


def _spread(values: np.ndarray, n_groups: int, *, worst: str) -> _Gap:
    """Return max - min over defined groups; `worst` says which end fares worse."""
    defined = np.flatnonzero(~np.isnan(values))
    if n_groups == 1:
        return _Gap(0.0, 0, 0) if defined.size else _Gap(math.nan)
    if defined.size < 2:
        return _Gap(math.nan)
    low = int(defined[np.argmin(values[defined])])
    high = int(defined[np.argmax(values[defined])])
    value = float(values[high] - values[low])
    return _Gap(value, high, low) if worst == "low" else _Gap(value, low, high)


def _ratio(table: _GroupTable, reference: int) -> _Gap:
    """Return the smallest over the largest group selection rate."""
    if table.size == 1:
        return _Gap(1.0, 0, 0)
    ends = _spread(table.selection_rate, table.size, worst="low")
    if ends.worst is None or ends.reference is None:
        return ends
    rates = table.selection_rate
    return _Gap(_divide(rates[ends.worst], rates[ends.reference]), ends.reference, ends.worst)


def _impact(table: _GroupTable, reference: int) -> _Gap:
    """Return the lowest other group's selection rate over the reference group's."""
    if table.size == 1:
        return _Gap(1.0, 0, 0)
    rates = table.selection_rate
    others = np.flatnonzero(~np.isnan(rates))
    others = others[others != reference]
    if not others.size:
        return _Gap(math.nan, reference)
    low = int(others[np.argmin(rates[others])])
    return _Gap(_divide(rates[low], rates[reference]), reference, low)


def _odds(table: _GroupTable, reference: int) -> _Gap:
    """Return the larger of the TPR and FPR gaps (whichever is defined if only one is)."""
    tpr = _spread(table.tpr, table.size, worst="low")
    fpr = _spread(table.fpr, table.size, worst="high")
    if math.isnan(fpr.value) or (not math.isnan(tpr.value) and tpr.value >= fpr.value):
        return tpr
    return fpr


def _four_fifths_violations(table: _GroupTable, reference: int) -> list[str]:
    """Return the other groups selected at under 0.8 x the reference group's rate."""
    base = table.selection_rate[reference]
    if not base > 0:
        return []
    with np.errstate(invalid="ignore"):
        below = table.selection_rate / base < FOUR_FIFTHS
    below[reference] = False
    return [table.labels[i] for i in np.flatnonzero(below)]


_Measure = Callable[[_GroupTable, int], _Gap]
_DISPARITIES: dict[str, tuple[str, _Measure]] = {
    "disparate_impact": (
        "Lowest selection rate of any other group divided by the reference group's; "
        "below 0.8 fails the four-fifths rule.",
        _impact,
    ),
    "demographic_parity_difference": (
        "Largest gap between groups in selection rate (share predicted positive); 0 is parity.",
        lambda table, _: _spread(table.selection_rate, table.size, worst="low"),
    ),
    "demographic_parity_ratio": (
        "Lowest group selection rate divided by the highest; 1 is parity.",
        _ratio,
    ),
    "equal_opportunity_difference": (
        "Largest gap between groups in true positive rate (actual positives predicted "
        "positive); 0 is parity.",
        lambda table, _: _spread(table.tpr, table.size, worst="low"),
    ),
    "equalized_odds_difference": (
        "The larger of the largest true positive rate gap and the largest false positive "
        "rate gap between groups; 0 is parity.",
        _odds,
    ),
    "accuracy_difference": (
        "Largest gap between groups in accuracy; 0 is parity.",
        lambda table, _: _spread(table.accuracy, table.size, worst="low"),
    ),
    "error_rate_difference": (
        "Largest gap between groups in error rate; 0 is parity.",
        lambda table, _: _spread(table.error_rate, table.size, worst="high"),
    ),
}


def _divide(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else math.nan
