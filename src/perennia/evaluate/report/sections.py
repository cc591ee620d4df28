"""Evaluation sections built from tables: header, headline cards, metrics, per-class, slices,
robustness, and the feature-importance chart of explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from perennia._util.report import format as fmt
from perennia._util.report import page, svg
from perennia._util.report.page import Section
from perennia.evaluate.report import metric_names

TASK_NAMES = {
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "regression": "Regression",
    "ranking": "Ranking",
}


def header(result: dict[str, Any], *, kind: str = "Evaluation report") -> str:
    """Return the page header: model name, dataset, task, rows and creation time."""
    created = result.get("created_at") or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = [
        ("Dataset", fmt.text(result.get("dataset_name"))),
        ("Task", fmt.text(TASK_NAMES.get(result.get("task"), result.get("task")))),
        ("Rows", fmt.count(result.get("n_rows"))),
    ]
    if result.get("threshold") is not None:
        facts.append(("Decision threshold", fmt.number(result.get("threshold"))))
    facts.append(("Created", fmt.text(created)))
    return page.header(kind, result.get("model_name") or "model", facts)


def headline(result: dict[str, Any]) -> Section | None:
    """Return the headline metric cards, or None when there are no metrics."""
    metrics = result.get("metrics") or {}
    names = metric_names.headline_names(result.get("task", ""), metrics)
    if not names:
        return None
    intervals = result.get("intervals") or {}
    cards = []
    for name in names:
        ci = intervals.get(name)
        ci_html = f'<div class="ci">95% CI {fmt.interval(ci)}</div>' if ci else ""
        cards.append(
            f'<div class="card" title="{fmt.text(name)}"><div class="name">{metric_names.label(name)}</div>'
            f'<div class="value">{fmt.number(metrics.get(name))}</div>{ci_html}'
            f'<div class="hint">{metric_names.direction(name)} is better</div></div>'
        )
    return Section("headline", "Headline metrics", f'<div class="cards">{"".join(cards)}</div>')


def metrics_table(result: dict[str, Any]) -> Section | None:
    """Return every metric with its key and bootstrap interval, or None when there are none."""
    metrics = result.get("metrics") or {}
    if not metrics:
        return None
    intervals = result.get("intervals") or {}
    rows = [
        (
            metric_names.label(name),
            f"<code>{fmt.text(name)}</code>",
            fmt.num_cell(value),
            f'<td class="num">{fmt.interval(intervals.get(name))}</td>',
        )
        for name, value in metrics.items()
    ]
    headers = ("Metric", "Key", "Value", "95% interval")
    lead = "Keys are the names comparison gates use." if intervals else ""
    return Section("metrics", "All metrics", fmt.table(headers, rows), lead)


def per_class(result: dict[str, Any]) -> Section | None:
    """Return the per-class precision/recall/F1/support table, or None without per-class data."""
    data = result.get("per_class") or {}
    labels = data.get("labels") or []
    if not labels:
        return None

    def column(name: str) -> list:
        values = data.get(name) or []
        return list(values) + [None] * (len(labels) - len(values))

    precision, recall, f1, support = (column(n) for n in ("precision", "recall", "f1", "support"))
    rows = [
        (
            fmt.text(lab),
            fmt.num_cell(p, bar=True),
            fmt.num_cell(r, bar=True),
            fmt.num_cell(f, bar=True),
            f'<td class="num">{fmt.count(s)}</td>',
        )
        for lab, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]
    headers = ("Class", "Precision", "Recall", "F1", "Support")
    return Section("per-class", "Per-class metrics", fmt.table(headers, rows))


def slices(result: dict[str, Any]) -> Section | None:
    """Return the slices table (overall first, then one row per slice value), or None."""
    entries = result.get("slices") or []
    if not entries:
        return None
    names: list[str] = []
    for entry in entries:
        names += [n for n in (entry.get("metrics") or {}) if n not in names]
    names = names[:10]
    overall = result.get("metrics") or {}
    rows = [
        ("<strong>overall</strong>", "", f'<td class="num">{fmt.count(result.get("n_rows"))}</td>')
        + tuple(fmt.num_cell(overall.get(n)) for n in names)
    ]
    for entry in entries:
        values = entry.get("metrics") or {}
        rows.append(
            (
                fmt.text(entry.get("slice")),
                fmt.text(entry.get("value")),
                f'<td class="num">{fmt.count(entry.get("count"))}</td>',
            )
            + tuple(_slice_cell(values.get(n), overall.get(n), n) for n in names)
        )
    headers = ("Slice", "Value", "Rows", *(metric_names.label(n) for n in names))
    lead = "Each slice is scored on its rows alone; cells clearly worse than overall are marked."
    return Section("slices", "Slices", fmt.table(headers, rows, cls="slices"), lead)


def _slice_cell(value, overall, name: str) -> str:
    if not isinstance(value, int | float) or not isinstance(overall, int | float):
        return fmt.num_cell(value)
    gap = (overall - value) if metric_names.direction(name) == "higher" else (value - overall)
    scale = max(abs(overall), 1e-12)
    if gap / scale > 0.05:
        return f'<td class="num"><span class="badge bad">{fmt.number(value)}</span></td>'
    return fmt.num_cell(value)


STATUS = {"ok": "ok", "degraded": "warn", "error": "bad"}


def robustness(result: dict[str, Any]) -> Section | None:
    """Return the robustness checks table with coloured statuses, or None when there are none."""
    checks = result.get("robustness") or []
    if not checks:
        return None
    headers = ("Check", "Target", "Metric", "Baseline", "Under check", "Change", "Status", "Detail")
    # Problems first, worst change first; passing checks fold away so a long table stays legible.
    attention = [c for c in checks if c.get("status") in ("error", "degraded")]
    attention.sort(key=lambda c: (c.get("status") != "error", -(c.get("change") or 0.0)))
    passing = [c for c in checks if c not in attention]
    body = fmt.table(headers, [_robustness_row(c) for c in attention]) if attention else ""
    if passing:
        folded = fmt.table(headers, [_robustness_row(c) for c in passing])
        body += (
            f"<details><summary>{len(passing)} checks without a problem</summary>{folded}</details>"
        )
    counts = {s: sum(1 for c in checks if c.get("status") == s) for s in STATUS}
    lead = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or ""
    return Section("robustness", "Robustness", body, lead)


def _robustness_row(check: dict[str, Any]) -> tuple[str, ...]:
    status = str(check.get("status") or "unknown")
    return (
        fmt.text(check.get("check")),
        fmt.text(check.get("target")),
        f"<code>{fmt.text(check.get('metric'))}</code>",
        fmt.num_cell(check.get("baseline")),
        fmt.num_cell(check.get("value")),
        fmt.num_cell(check.get("change")),
        fmt.badge(STATUS.get(status, "info"), status),
        f'<td class="detail">{fmt.text(check.get("detail")) if check.get("detail") else ""}</td>',
    )


IMPORTANCE_NAMES = {
    "permutation": "Permutation importance: how much {metric} drops when the feature's values "
    "are shuffled (the mean over repeats; the table gives their spread).",
    "gain": "Gain: the total loss reduction of the splits on each feature (the library's own).",
    "split": "Split count: how many splits use each feature (the library's own).",
    "impurity": "Impurity decrease: scikit-learn's feature_importances_ (biased toward features "
    "with many distinct values).",
    "abs_coef": "|coefficient|: a proxy that ranks features only when they share one scale.",
}
CHART_FEATURES = 20  # bars drawn; the table below lists every feature


def explanations(result: dict[str, Any]) -> Section | None:
    """Return the global feature importance chart and table, or None when not asked for."""
    data = result.get("explanations") or {}
    names = data.get("feature_names") or []
    if not names:
        return None
    # Padded to the names, so a hand-edited result.json still renders.
    means = (list(data.get("importances_mean") or []) + [None] * len(names))[: len(names)]
    stds = (list(data.get("importances_std") or []) + [None] * len(names))[: len(names)]
    ranked = sorted(
        zip(names, means, stds, strict=True),
        key=lambda item: -(item[1] if isinstance(item[1], int | float) else float("-inf")),
    )
    shown = ranked[:CHART_FEATURES]
    method = str(data.get("method") or "")
    chart = svg.bar_chart(
        [str(name) for name, _, _ in shown],
        [("importance", [value for _, value, _ in shown])],
        title="Feature importance",
        y_label=f"drop in {data['metric']}" if method == "permutation" else method,
    )
    # Native importances have no repeats, so no spread column.
    spread = any(std is not None for _, _, std in ranked)
    rows = [
        (f"<code>{fmt.text(name)}</code>", fmt.num_cell(value))
        + ((fmt.num_cell(std),) if spread else ())
        for name, value, std in ranked
    ]
    headers = ("Feature", "Importance") + (("Std over repeats",) if spread else ())
    table = fmt.table(headers, rows)
    body = page.figure("Most important features", chart) + (
        f"<details><summary>All {len(ranked)} features</summary>{table}</details>"
    )
    metric = metric_names.label(str(data.get("metric"))) if data.get("metric") else "the metric"
    lead = IMPORTANCE_NAMES.get(method, fmt.text(method)).replace("{metric}", metric)
    return Section("explanations", "Explanations", body, lead)
