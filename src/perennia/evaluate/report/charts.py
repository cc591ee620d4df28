"""Evaluation sections built from a result's curves: ROC, PR, calibration, confusion, thresholds,
lift, residuals. The charts themselves come from the report kit (`perennia._util.report`).
"""

from __future__ import annotations

from typing import Any

from perennia._util.report import format as fmt
from perennia._util.report import svg
from perennia._util.report.curves import calibration_chart, pr_chart, roc_chart
from perennia._util.report.page import Section, figure
from perennia.evaluate.report import metric_names

MARK_COLOURS = {"youden": "#1f2937", "f1": "#7c3aed", "cost": "#b45309"}
MARK_NAMES = {"youden": "Youden", "f1": "best F1", "cost": "min cost"}


def _curve(result: dict[str, Any], name: str, *keys: str) -> dict[str, Any] | None:
    curve = (result.get("curves") or {}).get(name) or {}
    return curve if all(curve.get(k) for k in keys) else None


def _model(result: dict[str, Any]) -> str:
    return str(result.get("model_name") or "model")


def _marks(result: dict[str, Any], x_key: str, y_key: str) -> list[svg.Mark]:
    marks = []
    for method, choice in (result.get("thresholds") or {}).items():
        if not isinstance(choice, dict) or choice.get(x_key) is None or choice.get(y_key) is None:
            continue
        name = f"{MARK_NAMES.get(method, method)} @ {fmt.number(choice.get('threshold'))}"
        marks.append(
            svg.Mark(choice[x_key], choice[y_key], name, MARK_COLOURS.get(method, "#1f2937"))
        )
    return marks


def roc_series(result: dict[str, Any], **style: Any) -> svg.Series | None:
    """Return the ROC curve of `result` as a chart series named with its AUC, or None."""
    roc = _curve(result, "roc", "fpr", "tpr")
    if roc is None:
        return None
    auc = (result.get("metrics") or {}).get("roc_auc")
    name = f"{_model(result)} (AUC {fmt.number(auc)})" if auc is not None else _model(result)
    notes = [f"threshold {fmt.number(t)}" for t in roc.get("thresholds") or []] or None
    return svg.Series(name, roc["fpr"], roc["tpr"], notes=notes, **style)


def pr_series(result: dict[str, Any], **style: Any) -> svg.Series | None:
    """Return the precision-recall curve of `result` named with its average precision, or None."""
    pr = _curve(result, "pr", "recall", "precision")
    if pr is None:
        return None
    ap = (result.get("metrics") or {}).get("pr_auc")
    name = f"{_model(result)} (AP {fmt.number(ap)})" if ap is not None else _model(result)
    return svg.Series(name, pr["recall"], pr["precision"], **style)


def base_rate(result: dict[str, Any]) -> float | None:
    """Return the share of positives: the precision of the PR curve's point of highest recall."""
    pr = _curve(result, "pr", "recall", "precision")
    if pr is None:
        return None
    pairs = [
        (r, p)
        for r, p in zip(pr["recall"], pr["precision"], strict=False)
        if r is not None and p is not None
    ]
    if not pairs:
        return None
    top = max(r for r, _ in pairs)
    return min(p for r, p in pairs if r == top)


def calibration_series(result: dict[str, Any], **style: Any) -> svg.Series | None:
    """Return the reliability curve of `result` with bin counts as point notes, or None."""
    cal = _curve(result, "calibration", "mean_predicted", "fraction_positive")
    if cal is None:
        return None
    notes = [f"{fmt.count(c)} rows in bin" for c in cal.get("count") or []] or None
    return svg.Series(
        _model(result),
        cal["mean_predicted"],
        cal["fraction_positive"],
        markers=True,
        notes=notes,
        **style,
    )


def curves_section(result: dict[str, Any]) -> Section | None:
    """Return the ROC, PR and reliability charts that `result` has data for, or None."""
    figures, metrics = [], result.get("metrics") or {}
    roc = roc_series(result)
    if roc is not None:
        figures.append(figure("ROC curve", roc_chart([roc], _marks(result, "fpr", "tpr"))))
    pr = pr_series(result)
    if pr is not None:
        chart = pr_chart([pr], base_rate(result), _marks(result, "recall", "precision"))
        figures.append(figure("Precision-recall curve", chart))
    cal = calibration_series(result)
    if cal is not None:
        # The diagram uses equal-mass bins, so it quotes the ECE of those bins.
        parts = ["Equal-mass bins (each point holds the same number of rows)"]
        if metrics.get("ece_quantile") is not None:
            parts.append(f"ECE {fmt.number(metrics.get('ece_quantile'))}")
        if metrics.get("ece") is not None:
            parts.append(f"equal-width ECE {fmt.number(metrics.get('ece'))}")
        caption = "; ".join(parts) + ". Hover a point for its bin's row count."
        figures.append(figure("Calibration", calibration_chart([cal]), caption))
    if not figures:
        return None
    return Section(
        "curves",
        "ROC, precision-recall and calibration",
        f'<div class="charts">{"".join(figures)}</div>',
    )


def confusion(result: dict[str, Any]) -> Section | None:
    """Return the confusion-matrix heatmap, or None without a matrix."""
    data = result.get("confusion_matrix") or {}
    labels, matrix = data.get("labels") or [], data.get("matrix") or []
    if not labels or not matrix:
        return None
    lead = "Rows are true labels, columns predicted labels."
    if len(labels) > 25:
        lead += f" Showing the first 25 of {len(labels):,} labels."
    chart = svg.heatmap(labels, matrix, title="Confusion matrix")
    return Section(
        "confusion",
        "Confusion matrix",
        f'<div class="charts">{figure("Counts and row shares", chart)}</div>',
        lead,
    )


def threshold_section(result: dict[str, Any]) -> Section | None:
    """Return precision/recall/F1 against the decision threshold with chosen thresholds marked."""
    curve = _curve(result, "threshold", "threshold")
    if curve is None:
        return None
    series = [
        svg.Series(metric_names.LABELS.get(k, k), curve["threshold"], curve[k])
        for k in ("precision", "recall", "f1", "fpr")
        if curve.get(k)
    ]
    if series and series[-1].name == "fpr":
        series[-1] = svg.Series(
            "False positive rate", curve["threshold"], curve["fpr"], dashed=True
        )
    rules = [
        svg.Rule(c.get("threshold"), MARK_NAMES.get(m, m), "x", MARK_COLOURS.get(m, "#1f2937"))
        for m, c in (result.get("thresholds") or {}).items()
        if isinstance(c, dict)
    ]
    if result.get("threshold") is not None:
        rules.append(svg.Rule(result["threshold"], "decision", "x", "#9ca3af"))
    values = [v for v in curve["threshold"] if v is not None]
    domain = (0.0, 1.0) if values and min(values) >= 0 and max(values) <= 1 else None
    chart = svg.line_chart(
        series,
        title="Metrics by threshold",
        x_label="Threshold",
        y_label="Score",
        x_domain=domain,
        y_domain=(0.0, 1.0),
        rules=rules,
    )
    rows = [
        (
            fmt.text(MARK_NAMES.get(m, m)),
            fmt.num_cell(c.get("threshold")),
            fmt.num_cell(c.get("value")),
            fmt.num_cell(c.get("precision")),
            fmt.num_cell(c.get("recall")),
            fmt.num_cell(c.get("fpr")),
        )
        for m, c in (result.get("thresholds") or {}).items()
        if isinstance(c, dict)
    ]
    table = (
        fmt.table(
            ("Chosen by", "Threshold", "Objective", "Precision", "Recall", "FPR"),
            rows,
            cls="compact",
        )
        if rows
        else ""
    )
    body = f'<div class="charts">{figure("Precision, recall and F1 by threshold", chart)}<div>{table}</div></div>'
    return Section(
        "threshold",
        "Threshold choice",
        body,
        "Vertical lines mark the thresholds each method chose.",
    )


def lift_section(result: dict[str, Any]) -> Section | None:
    """Return the cumulative gain and lift charts, or None without a lift curve."""
    lift = _curve(result, "lift", "fraction")
    if lift is None:
        return None
    figures, name = [], _model(result)
    if lift.get("gain"):
        x = [0.0, *lift["fraction"]] if lift["fraction"][0] not in (0, 0.0) else lift["fraction"]
        y = [0.0, *lift["gain"]] if len(x) > len(lift["gain"]) else lift["gain"]
        chart = svg.line_chart(
            [svg.Series(name, x, y, markers=len(x) <= 25)],
            title="Cumulative gain",
            x_label="Fraction of rows (highest scores first)",
            y_label="Fraction of positives found",
            x_domain=(0.0, 1.0),
            y_domain=(0.0, 1.0),
            diagonal="Random",
        )
        figures.append(figure("Cumulative gain", chart))
    if lift.get("lift"):
        chart = svg.line_chart(
            [svg.Series(name, lift["fraction"], lift["lift"], markers=len(lift["fraction"]) <= 25)],
            title="Lift",
            x_label="Fraction of rows (highest scores first)",
            y_label="Lift over random",
            x_domain=(0.0, 1.0),
            y_domain=(0.0, max([v for v in lift["lift"] if v is not None] + [1.0])),
            rules=[svg.Rule(1.0, "random (lift 1)", where="start")],
        )
        figures.append(figure("Lift", chart))
    return (
        Section("lift", "Lift and gain", f'<div class="charts">{"".join(figures)}</div>')
        if figures
        else None
    )


def roc_ovr(result: dict[str, Any]) -> Section | None:
    """Return one-vs-rest ROC curves, one line per class, or None."""
    curves = (result.get("curves") or {}).get("roc_ovr") or {}
    series = [
        svg.Series(str(label), c.get("fpr") or [], c.get("tpr") or [])
        for label, c in curves.items()
        if isinstance(c, dict)
    ]
    series = [s for s in series if s.x and s.y][:12]
    if not series:
        return None
    chart = roc_chart(series)
    caption = "Each class against all others." + (
        " First 12 classes shown." if len(curves) > 12 else ""
    )
    return Section(
        "roc-ovr",
        "One-vs-rest ROC curves",
        f'<div class="charts">{figure("ROC per class", chart, caption)}</div>',
    )


def residuals(result: dict[str, Any]) -> Section | None:
    """Return the residual-vs-predicted scatter and residual histogram, or None."""
    data = _curve(result, "residuals", "predicted", "residual")
    if data is None:
        return None
    scatter = svg.scatter(
        data["predicted"],
        data["residual"],
        title="Residuals against predictions",
        x_label="Predicted",
        y_label="Residual",
    )
    hist = svg.histogram(
        data["residual"],
        title="Residual distribution",
        x_label="Residual",
        rules=[svg.Rule(0.0, "zero")],
    )
    figures = figure(
        "Residual vs predicted",
        scatter,
        "A shapeless band around zero is what a good fit looks like.",
    )
    figures += figure("Residual histogram", hist)
    return Section("residuals", "Residuals", f'<div class="charts">{figures}</div>')
