"""The drift report as one self-contained HTML page: verdict, drift table, distributions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia._util.report import format as fmt
from perennia._util.report import page, svg
from perennia._util.report.page import Section

if TYPE_CHECKING:
    from perennia.monitoring.data_drift.report import ColumnDrift, DriftReport

FOOTER = "Made by Perennia · perennia.monitoring.drift()"
MAX_FIGURES = 60


def render(report: DriftReport, title: str) -> str:
    """Return the page: a header with the verdict, the table sorted by effect, one chart per column."""
    ordered = sorted(report.columns, key=_rank)
    parts = [_table(ordered, report)]
    figures = [_figure(c) for c in ordered if c.computable and c.plot][:MAX_FIGURES]
    if figures:
        parts.append(
            Section(
                "distributions",
                "Distributions",
                "".join(figures),
                lead="Share of rows per bin (numbers) or per category, reference against current.",
            )
        )
    if report.multivariate:
        parts.append(_multivariate(report.multivariate))
    return page.page(title, _header(report, title), parts, footer=FOOTER)


def _rank(entry: ColumnDrift) -> tuple[int, float]:
    """Drifted first, then by effect (largest first); not computable last."""
    if not entry.computable:
        return (3, 0.0)
    flagged = entry.drifted or entry.null_shift
    return (0 if flagged else 1, -(entry.effect or 0.0))


def _header(report: DriftReport, title: str) -> str:
    if report.drifted is None:
        verdict = fmt.badge("info", "not computable")
    elif report.drifted:
        verdict = fmt.badge("bad", "drift detected")
    else:
        verdict = fmt.badge("ok", "no drift")
    share = report.share_drifted
    facts = [
        ("Verdict", verdict),
        ("Columns drifted", fmt.text(f"{len(report.drifted_columns)} of {len(report.columns)}")),
        ("Share drifted", fmt.percent(share) if share is not None else "–"),
        ("Reference rows", fmt.count(report.rows_ref)),
        ("Current rows", fmt.count(report.rows_cur)),
        ("False discovery rate", fmt.number(report.settings.alpha)),
    ]
    return page.header("Drift report", title, facts)


def _table(ordered: list[ColumnDrift], report: DriftReport) -> Section:
    rows = []
    for c in ordered:
        if not c.computable:
            status = fmt.badge("info", "not computable")
        elif c.drifted or c.null_shift:
            status = fmt.badge("bad", "drift" if c.drifted else "missing values")
        else:
            status = fmt.badge("ok", "stable")
        notes = _notes(c)
        rows.append(
            [
                fmt.text(c.column),
                fmt.text(c.kind),
                status,
                fmt.text(c.test.method if c.test else "–"),
                fmt.num_cell(c.p_adjusted),
                fmt.text(c.effect_name or "–"),
                fmt.num_cell(c.effect),
                fmt.num_cell(c.null_share_cur),
                fmt.text(notes),
            ]
        )
    headers = ["Column", "Kind", "Status", "Test", "p (BH)", "Effect", "Size", "Missing", "Notes"]
    s = report.settings
    lead = (
        f"A column drifts when its test is rejected at a false discovery rate of {s.alpha} "
        f"and its effect reaches {s.min_wasserstein} (Wasserstein / reference std) or "
        f"{s.min_cramers_v} (Cramér's V); sorted by effect."
    )
    return Section("columns", "Columns", fmt.table(headers, rows), lead=fmt.text(lead))


def _notes(c: ColumnDrift) -> str:
    if not c.computable:
        return c.reason or ""
    notes = []
    if c.new_categories:
        shown = ", ".join(f"{k} ({v:.1%})" for k, v in list(c.new_categories.items())[:3])
        notes.append(f"new: {shown}")
    if c.vanished_categories:
        notes.append(f"vanished: {', '.join(map(str, list(c.vanished_categories)[:3]))}")
    if c.out_of_range_share and c.out_of_range_share >= 0.001:
        notes.append(f"{c.out_of_range_share:.1%} outside the reference's range")
    if c.null_shift:
        notes.append(f"missing {c.null_share_ref:.1%} → {c.null_share_cur:.1%}")
    return "; ".join(notes)


def _figure(c: ColumnDrift) -> str:
    plot = c.plot
    if "labels" in plot:
        chart = svg.bar_chart(
            plot["labels"],
            [("reference", plot["ref"]), ("current", plot["cur"])],
            title=f"{c.column}: reference against current",
            y_label="Share of rows",
            flagged=[str(k) for k in c.new_categories],
        )
    else:
        edges = plot["edges"]
        centres = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        chart = svg.line_chart(
            [
                svg.Series("reference", centres, plot["ref"]),
                svg.Series("current", centres, plot["cur"], dashed=True),
            ],
            title=f"{c.column}: reference against current",
            x_label=c.column,
            y_label="Share of rows",
        )
    caption = f"{c.effect_name} = {fmt.number(c.effect)}" if c.effect is not None else ""
    return page.figure(c.column, chart, fmt.text(caption))


def _multivariate(result: dict) -> Section:
    rows = []
    for name, part in result.items():
        if not part.get("computable"):
            rows.append(
                [
                    fmt.text(name),
                    fmt.badge("info", "not computable"),
                    fmt.text(part.get("reason", "")),
                ]
            )
            continue
        score = f"AUC {part['auc']:.3f}" if "auc" in part else f"error rise {part['rise']:.2f} sd"
        status = fmt.badge("bad", "drift") if part["drifted"] else fmt.badge("ok", "stable")
        rows.append([fmt.text(name), status, fmt.text(f"{score}; p = {part['p_value']:.3g}")])
    return Section("multivariate", "Across columns", fmt.table(["Method", "Status", "Score"], rows))
