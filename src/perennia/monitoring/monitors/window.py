"""One monitoring window of the prediction log: quality, drift against the reference profile,
realised performance once labels arrived; as named values a time series can hold.

Value keys (what `AlertRule.value` and Grafana panels name):

    rows                       predictions in the window (shadow answers excluded)
    errors.share               share of failed predictions (`ok` false)
    quality.missing_columns    reference columns absent from the window's inputs
    quality.type_mismatches    columns whose type differs from the reference's (the training
                               data's schema; requests breaking the signature itself are refused
                               by the server with a 4xx, counted in its /metrics, not logged)
    quality.max_null_share     the largest share of missing values in any input column
    quality.out_of_range_columns  columns with over 1% of values outside the reference's range
    drift.drifted              1 when the window drifted (Benjamini-Hochberg + effect gates), else 0
    drift.share_drifted        share of computable columns that drifted
    feature.<column>.effect    the deciding effect size (Wasserstein/std or Cramér's V)
    feature.<column>.p_value   the deciding test's BH-adjusted p-value
    feature.<column>.<method>  every other statistic computed (psi, jensen_shannon, ...)
    feature.<column>.null_share  share of missing values in the window
    labels.coverage            share of the window's predictions with a label
    realised.<metric>          each metric of `perennia.evaluate` for the monitor's task
    estimated.<metric>         CBPE's estimate before labels (binary classifiers with scores,
                               given a labelled `reference_window` of the log)
    attribution.<column>       mean |attribution| of the column on up to 500 of the window's rows
                               (config `explain`: the monitor's model version is loaded); the
                               summary names the columns whose attribution moved most since
                               the previous window
    outputs.drifted            1 when the model's outputs drifted against the reference window's
    output.<name>.effect|p_value  per output column (with a `reference_window`)
    alert.<kind>.<metric>      1 when the value left the bounds the reference window's own
                               chunk-to-chunk spread sets (a prediction interval at 1% a window)

A value that cannot be computed (an empty window, a column missing from it, no labels yet) is
None with its reason in the window's summary, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perennia.data.predlog_format import INPUT_PREFIX

DRIFT_KEYS = ("effect", "p_value")
EXPLAIN_ROWS = 500


@dataclass(frozen=True)
class WindowValues:
    """A computed window: its named values, a JSON summary, and its status."""

    start_ms: int
    end_ms: int
    status: str  # "ok" | "empty" | "failed"
    values: dict[str, float | None]
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why a failed window failed


def evaluate_window(
    predictions: Any,
    start_ms: int,
    end_ms: int,
    reference: Any,
    *,
    feedback: Any = None,
    config: dict[str, Any] | None = None,
    reference_log: Any = None,
    model: Any = None,
    previous_attributions: dict[str, float] | None = None,
) -> WindowValues:
    """Return the values of one window of the prediction log (an Arrow table already read for
    [start_ms, end_ms)) against `reference`, a DatasetProfile of model inputs by bare name.
    `reference_log` is a pandas frame of earlier predictions (the `reference_window`, with a
    `ground_truth` column): outputs drift against it, and its labelled rows fit CBPE and the
    performance bounds. `model` (a loaded model) turns on
    attributions, compared with `previous_attributions` (column -> mean |attribution|)."""
    import pyarrow.compute as pc

    from perennia.monitoring.data_drift.engine import drift
    from perennia.monitoring.data_drift.settings import DriftSettings

    config = config or {}
    table = predictions
    if "shadow" in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(table["shadow"], False)))
    rows = table.num_rows
    values: dict[str, float | None] = {"rows": float(rows)}
    if rows == 0:
        values.update({"errors.share": None, "drift.drifted": None, "drift.share_drifted": None})
        return WindowValues(start_ms, end_ms, "empty", values, {"reason": "no predictions"})
    failed = pc.sum(pc.invert(table["ok"])).as_py() if "ok" in table.column_names else 0
    values["errors.share"] = float(failed or 0) / rows
    frame = _inputs(table)
    settings = DriftSettings(**config.get("settings", {}))
    report = drift(reference, frame, columns=config.get("columns"), settings=settings)
    values.update(_drift_values(report))
    summary = {"drift": report.to_dict()}
    if reference_log is not None:
        values.update(_output_drift(reference_log, frame, settings))
    if model is not None:
        inputs = frame[[c for c in frame.columns if not c.startswith("output.")]]
        attributed, movers = _attributions(model, inputs, previous_attributions or {})
        values.update({f"attribution.{k}": v for k, v in attributed.items()})
        summary["attribution_movers"] = movers
    task = config.get("task")
    baseline = _labelled_rows(reference_log)
    if task and (feedback is not None or baseline is not None):
        performance_values, performance_summary = _performance(
            table, feedback, task, config, (start_ms, end_ms), baseline
        )
        values.update(performance_values)
        summary["performance"] = performance_summary
    return WindowValues(start_ms, end_ms, "ok", values, summary)


def _inputs(table: Any) -> Any:
    """Return the model inputs as a pandas frame, named as the model sees them."""
    names = [n for n in table.column_names if n.startswith(INPUT_PREFIX)]
    frame = table.select(names).to_pandas()
    frame.columns = [n[len(INPUT_PREFIX) :] for n in names]
    outputs = [n for n in table.column_names if n.startswith("output.")]
    for name in outputs:
        frame[name] = table[name].to_pandas()
    return frame


def _drift_values(report: Any) -> dict[str, float | None]:
    values: dict[str, float | None] = {
        "drift.drifted": None if report.drifted is None else float(report.drifted),
        "drift.share_drifted": report.share_drifted,
        **_quality(report),
    }
    for c in report.columns:
        prefix = f"feature.{c.column}"
        values[f"{prefix}.effect"] = _finite(c.effect) if c.computable else None
        values[f"{prefix}.p_value"] = c.p_adjusted if c.computable else None
        values[f"{prefix}.null_share"] = c.null_share_cur
        for method, result in c.scores.items():
            if method != (c.test.method if c.test else None):
                values[f"{prefix}.{method}"] = _finite(result.effect)
    return values


def _performance(
    table: Any,
    feedback: Any,
    task: str,
    config: dict[str, Any],
    span: tuple[int, int],
    reference: Any,
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Return realised (and, with a reference, estimated) metrics of one window, with alerts."""
    from perennia.monitoring.model_performance.estimate import performance

    result = performance(
        labelled(table, feedback),
        task=task,
        window=span[1] - span[0],
        start_ms=span[0],
        end_ms=span[1],
        reference=reference,
        prediction=config.get("prediction", "output.prediction"),
        probabilities=config.get("probabilities"),
        pos_label=config.get("pos_label", 1),
    )
    window = result.windows[0]
    values: dict[str, float | None] = {"labels.coverage": window.label_coverage}
    reasons = {}
    for kind in ("realised", "estimated"):
        for name, metric in getattr(window, kind).items():
            values[f"{kind}.{name}"] = metric.value
            if metric.alert is not None:
                values[f"alert.{kind}.{name}"] = float(metric.alert)
            if metric.reason:
                reasons[f"{kind}.{name}"] = metric.reason
    summary = {"labelled": window.n_labelled, "not_computable": reasons, "notes": result.notes}
    return values, summary


def _quality(report: Any) -> dict[str, float | None]:
    """Return the window's schema and data-quality counts against the reference."""
    reasons = [c.reason or "" for c in report.columns if not c.computable]
    nulls = [c.null_share_cur for c in report.columns if c.null_share_cur is not None]
    return {
        "quality.missing_columns": float(sum(r.startswith("missing from") for r in reasons)),
        "quality.type_mismatches": float(sum(r.startswith("types differ") for r in reasons)),
        "quality.max_null_share": max(nulls) if nulls else None,
        "quality.out_of_range_columns": float(sum(c.range_violation for c in report.columns)),
    }


def _output_drift(reference_log: Any, frame: Any, settings: Any) -> dict[str, float | None]:
    """Return the drift of the model's outputs against the reference window's outputs."""
    from perennia.monitoring.data_drift.engine import drift

    outputs = [c for c in frame.columns if c.startswith("output.") and c in reference_log.columns]
    if not outputs or len(reference_log) == 0:
        return {"outputs.drifted": None}
    report = drift(reference_log[outputs], frame[outputs], settings=settings)
    values: dict[str, float | None] = {
        "outputs.drifted": None if report.drifted is None else float(report.drifted)
    }
    for c in report.columns:
        values[f"{c.column}.effect"] = _finite(c.effect) if c.computable else None
        values[f"{c.column}.p_value"] = c.p_adjusted if c.computable else None
    return values


def _labelled_rows(reference_log: Any) -> Any:
    """Return the reference window's labelled rows, or None when it has none."""
    if reference_log is None or "ground_truth" not in reference_log.columns:
        return None
    rows = reference_log[reference_log["ground_truth"].notna()].reset_index(drop=True)
    return rows if len(rows) else None


def _attributions(
    model: Any, inputs: Any, previous: dict[str, float]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Return column -> mean |attribution| on a sample of rows, and the top movers since `previous`."""
    from perennia.evaluate.explain import attributions, mean_abs_attribution, top_movers

    sample = (
        inputs.sample(n=min(len(inputs), EXPLAIN_ROWS), random_state=0) if len(inputs) else inputs
    )
    background = inputs.head(50)
    means = mean_abs_attribution(attributions(model, sample, background=background))
    movers = top_movers(previous, means, k=3) if previous else []
    return means, [
        {"feature": m.feature, "previous": m.previous, "current": m.current} for m in movers
    ]


def labelled(table: Any, feedback: Any) -> Any:
    """Return the predictions with a `ground_truth` column: the latest label per id, else null."""
    import pyarrow as pa

    from perennia.data.predlog_feedback import join_feedback

    if feedback is not None:
        return join_feedback(table, feedback).to_pandas()
    frame = table.to_pandas()
    frame["ground_truth"] = pa.nulls(len(frame), pa.float64()).to_pandas()
    return frame


def _finite(value: float | None) -> float | None:
    import math

    return value if value is not None and math.isfinite(value) else None
