"""`compare()`: a candidate against a baseline on the same rows, judged by gates.

Both models predict once; both are evaluated in full (for the report); then a paired bootstrap
resamples the rows and recomputes only the gated metrics for both models on the same rows, so
the interval of each difference excludes the noise the two share. Each gate passes or fails on
the point estimates (or, with `require_significance=True`, on the pessimistic end of the
interval) and says why in one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate import tasks
from perennia.evaluate.evaluator import _named_columns, _sensitive, evaluate
from perennia.evaluate.gates import GateOutcome, parse_gates
from perennia.evaluate.metrics._validation import as_array, as_weights
from perennia.evaluate.result import EvaluationResult


@dataclass
class ComparisonResult:
    """Both evaluations, each gate's outcome, and whether every gate passed."""

    candidate: EvaluationResult
    baseline: EvaluationResult
    outcomes: list[GateOutcome] = field(default_factory=list)
    n_resamples: int = 0

    @property
    def passed(self) -> bool:
        """Return True when every gate passed."""
        return all(outcome.passed for outcome in self.outcomes)

    def failures(self) -> list[GateOutcome]:
        """Return the gates that failed."""
        return [outcome for outcome in self.outcomes if not outcome.passed]

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready data (the shape the HTML report reads)."""
        return {
            "candidate": self.candidate.model_name,
            "baseline": self.baseline.model_name,
            "dataset_name": self.candidate.dataset_name,
            "n_rows": self.candidate.n_rows,
            "n_resamples": self.n_resamples,
            "passed": self.passed,
            "gates": [outcome.to_dict() for outcome in self.outcomes],
            "candidate_result": self.candidate.to_dict(),
            "baseline_result": self.baseline.to_dict(),
        }

    def save_html(self, path: str | Path) -> Path:
        """Write the self-contained comparison report to `path` and return the path."""
        from perennia.evaluate.report import render_comparison

        target = Path(path)
        target.write_text(render_comparison(self.to_dict()), encoding="utf-8")
        return target

    def save_json(self, path: str | Path) -> Path:
        """Write the comparison as JSON to `path` and return the path."""
        import json

        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8")
        return target


def compare(
    candidate: Any,
    baseline: Any,
    data: Any = None,
    targets: Any = None,
    *,
    gates: Any,
    task: str = "binary",
    sensitive_features: Any = None,
    sample_weight: Any = None,
    threshold: float = 0.5,
    pos_label: Any = 1,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    require_significance: bool = False,
    seed: int = 0,
    dataset_name: str = "eval",
    candidate_name: str | None = None,
    baseline_name: str | None = None,
    reference_group: Any = None,
) -> ComparisonResult:
    """Return the comparison of `candidate` with `baseline` on the same data, gate by gate.

    `gates` maps a metric to a condition (`{"roc_auc": ">= baseline - 0.005"}`) or lists texts
    (`["log_loss <= baseline"]`). Metrics are the names in `EvaluationResult.metrics`.
    """
    io.check_task(task)
    if task == "ranking":
        raise InvalidInput("compare supports binary, multiclass and regression tasks")
    parsed = parse_gates(gates)
    if not parsed:
        raise InvalidInput("gates is empty; pass at least one, e.g. {'roc_auc': '>= baseline'}")
    named = _named_columns(targets, sensitive_features, sample_weight)
    y_true = as_array(io.column(data, targets, "targets"), "targets")
    weights = as_weights(
        None if sample_weight is None else io.column(data, sample_weight, "sample_weight"),
        y_true.size,
    )
    groups = None if sensitive_features is None else _sensitive(data, sensitive_features)
    common = dict(
        targets=y_true,
        task=task,
        sensitive_features=groups,
        sample_weight=weights,
        threshold=threshold,
        pos_label=pos_label,
        dataset_name=dataset_name,
        reference_group=reference_group,
        log=False,
    )
    sides = []
    for model, name in ((candidate, candidate_name), (baseline, baseline_name)):
        predictions = io.predict(model, data, task, named)
        label = io.model_label(model, name)
        result = evaluate(predictions, None, model_name=label, **common)
        sides.append((predictions, result))
    (cand_pred, cand_result), (base_pred, base_result) = sides
    _check_known(parsed, cand_result)
    gated = sorted({gate.metric for gate in parsed})
    intervals = {}
    if n_resamples:
        from perennia.evaluate.metrics.bootstrap import paired_bootstrap

        measure = _gated_metrics(
            task, y_true, weights, groups, gated, threshold, pos_label, reference_group
        )
        strata = y_true if task != "regression" else None
        intervals = paired_bootstrap(
            lambda rows: measure(cand_pred, rows),
            lambda rows: measure(base_pred, rows),
            y_true.size,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            strata=strata,
        )
    outcomes = [
        gate.evaluate(
            cand_result.metrics.get(gate.metric),
            base_result.metrics.get(gate.metric),
            intervals.get(gate.metric),
            require_significance=require_significance,
        )
        for gate in parsed
    ]
    return ComparisonResult(cand_result, base_result, outcomes, n_resamples)


def _check_known(gates: list, result: EvaluationResult) -> None:
    for gate in gates:
        if gate.metric not in result.metrics:
            known = ", ".join(sorted(result.metrics))
            raise InvalidInput(
                f"gate on {gate.metric!r}: no such metric for task {result.task!r}; known: {known}"
            )


def _gated_metrics(
    task: str,
    y_true: np.ndarray,
    weights: np.ndarray | None,
    groups: Any,
    gated: list[str],
    threshold: float,
    pos_label: Any,
    reference_group: Any,
):
    """Return a function (predictions, rows) -> {gated metric: value on those rows}."""
    if task == "binary":
        y = np.asarray(y_true == pos_label) if y_true.dtype != np.bool_ else y_true
    else:
        y = y_true
    fairness = groups is not None and task == "binary"
    resolved_groups = _group_arrays(groups) if fairness else None

    def measure(predictions: io.Predictions, rows: np.ndarray) -> dict[str, float]:
        values = predictions.values[rows]
        w = None if weights is None else weights[rows]
        labels = None
        if task == "multiclass" and values.ndim == 2:
            labels = predictions.classes if predictions.classes is not None else np.unique(y)
        found = tasks.headline_metrics(task, y[rows], values, w, threshold=threshold, labels=labels)
        if fairness and any(name not in found for name in gated):
            from perennia.evaluate.metrics.fairness import fairness_report

            sub = {name: column[rows] for name, column in resolved_groups.items()}
            report = fairness_report(
                y[rows],
                values >= threshold,
                sensitive_features=sub,
                sample_weight=w,
                reference_group=reference_group,
            )
            found.update(report.metrics())
        return {name: float(found.get(name, np.nan)) for name in gated}

    return measure


def _group_arrays(groups: Any) -> dict[str, np.ndarray]:
    """Return sensitive features as a dict of arrays, so resamples can index them."""
    if isinstance(groups, Mapping):
        return {
            name: tables.to_numpy(values, "sensitive_features") for name, values in groups.items()
        }
    if tables.is_table(groups):
        return {name: tables.column(groups, name) for name in tables.column_names(groups)}
    array = tables.to_numpy(groups, "sensitive_features")
    if array.ndim == 1:
        return {tables.column_name(groups) or "feature_0": array}
    return {f"feature_{i}": array[:, i] for i in range(array.shape[1])}
