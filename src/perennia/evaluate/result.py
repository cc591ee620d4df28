"""EvaluationResult: everything one evaluation found, as plain data that serialises to JSON.

The shape is documented field by field because three readers depend on it: the HTML report,
the JSON artifact logged to a run, and comparison gates.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EvaluationResult:
    """The metrics, curves, slices, fairness and robustness findings of one evaluation.

    - `metrics`: headline metric name -> value (fairness disparities included, e.g.
      `demographic_parity_ratio`), the names comparison gates use.
    - `intervals`: metric name -> (low, high) bootstrap confidence interval, when asked for.
    - `curves`: "roc" {fpr, tpr, thresholds}, "pr" {recall, precision, thresholds},
      "calibration" {mean_predicted, fraction_positive, count}, "threshold" {threshold,
      precision, recall, f1, fpr}, "lift" {fraction, gain, lift}, "residuals" {predicted,
      residual}, "roc_ovr" {label: {fpr, tpr}}; each list downsampled for display.
    - `confusion_matrix`: {labels, matrix} with rows = true label, columns = predicted.
    - `thresholds`: method ("youden", "f1", "cost") -> {threshold, value, tpr, fpr, precision,
      recall}.
    - `per_class`: {labels, precision, recall, f1, support} for classification.
    - `slices`: [{slice, value, count, metrics}] one per slice value.
    - `fairness`: the fairness report's dict (see metrics.fairness.FairnessReport.to_dict).
    - `robustness`: [{check, target, metric, baseline, value, change, status, detail}].
    - `explanations`: global feature importance when asked for (`explain=True`): {method,
      metric, baseline, feature_names, importances_mean, importances_std}.
    """

    task: str
    dataset_name: str
    n_rows: int
    metrics: dict[str, float]
    model_name: str = "model"
    threshold: float | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    confusion_matrix: dict[str, Any] | None = None
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    per_class: dict[str, Any] | None = None
    slices: list[dict[str, Any]] = field(default_factory=list)
    fairness: dict[str, Any] | None = None
    robustness: list[dict[str, Any]] = field(default_factory=list)
    explanations: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data (NaN and infinities become None)."""
        return _json_ready(asdict(self))

    def to_json(self) -> str:
        """Return the result as a JSON document."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_frame(self):
        """Return a long DataFrame: one row per (scope, group, metric) with its value."""
        import pandas as pd

        rows = [("overall", "", name, value) for name, value in self.metrics.items()]
        for entry in self.slices:
            group = f"{entry['slice']}={entry['value']}"
            rows += [("slice", group, k, v) for k, v in entry["metrics"].items()]
        if self.fairness:
            for group in self.fairness.get("groups", []):
                rows += [
                    ("fairness", group["group"], k, v)
                    for k, v in group.items()
                    if k != "group" and isinstance(v, int | float)
                ]
        return pd.DataFrame(rows, columns=["scope", "group", "metric", "value"])

    def save_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to `path` and return the path."""
        from perennia.evaluate.report import render_evaluation

        target = Path(path)
        target.write_text(render_evaluation(self.to_dict()), encoding="utf-8")
        return target

    def save_json(self, path: str | Path) -> Path:
        """Write the JSON document to `path` and return the path."""
        target = Path(path)
        target.write_text(self.to_json(), encoding="utf-8")
        return target


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        return _json_ready(value.item())
    return value
