"""The comparison view: verdict banner, gates, side-by-side headline metrics, overlaid curves."""

from __future__ import annotations

from typing import Any

from perennia._util.report import curves, svg
from perennia._util.report import format as fmt
from perennia._util.report.page import Section, figure
from perennia.evaluate.report import charts, metric_names

CANDIDATE, BASELINE = svg.PALETTE[0], svg.PALETTE[1]


def banner(comparison: dict[str, Any]) -> str:
    """Return the overall PASS/FAIL banner with how many gates passed."""
    gates = comparison.get("gates") or []
    passed = bool(comparison.get("passed"))
    n_ok = sum(1 for g in gates if g.get("passed"))
    word, kind = ("PASS", "ok") if passed else ("FAIL", "bad")
    detail = f"{n_ok} of {len(gates)} gates passed." if gates else "No gates were set."
    who = f"Candidate <strong>{fmt.text(comparison.get('candidate'))}</strong> against baseline <strong>{fmt.text(comparison.get('baseline'))}</strong>."
    return f'<div class="banner {kind}" role="status">{word} — {detail}<small>{who}</small></div>'


def gates(comparison: dict[str, Any]) -> Section | None:
    """Return the gates table (values, difference with interval, verdict, reason), or None."""
    entries = comparison.get("gates") or []
    if not entries:
        return None
    rows = []
    for gate in entries:
        ci = [gate.get("ci_low"), gate.get("ci_high")]
        verdict = fmt.badge("ok", "pass") if gate.get("passed") else fmt.badge("bad", "fail")
        reason = (
            f'<div class="reason">{fmt.text(gate.get("reason"))}</div>'
            if gate.get("reason")
            else ""
        )
        rows.append(
            (
                f'<td class="gate"><code>{fmt.text(gate.get("gate"))}</code>{reason}</td>',
                fmt.num_cell(gate.get("candidate")),
                fmt.num_cell(gate.get("baseline")),
                _signed_cell(gate.get("difference"), gate.get("metric")),
                f'<td class="num">{fmt.interval(ci)}</td>',
                fmt.num_cell(gate.get("threshold")),
                verdict,
            )
        )
    headers = (
        "Gate and reason",
        "Candidate",
        "Baseline",
        "Difference",
        "95% CI of difference",
        "Bound",
        "Result",
    )
    resamples = comparison.get("n_resamples")
    lead = (
        f"Intervals from a paired bootstrap of {fmt.count(resamples)} resamples."
        if resamples
        else ""
    )
    return Section("gates", "Gates", fmt.table(headers, rows), lead)


def _signed_cell(value, metric) -> str:
    if not isinstance(value, int | float):
        return fmt.num_cell(value)
    better = value > 0 if metric_names.direction(str(metric or "")) == "higher" else value < 0
    kind = "" if value == 0 else ("ok" if better else "bad")
    sign = "+" if value > 0 else ""
    shown = f"{sign}{fmt.number(value)}"
    return (
        f'<td class="num"><span class="badge {kind}">{shown}</span></td>'
        if kind
        else f'<td class="num">{shown}</td>'
    )


def side_by_side(comparison: dict[str, Any]) -> Section | None:
    """Return headline metrics of both models in one table with their difference, or None."""
    cand = comparison.get("candidate_result") or {}
    base = comparison.get("baseline_result") or {}
    cm, bm = cand.get("metrics") or {}, base.get("metrics") or {}
    names = metric_names.headline_names(cand.get("task", ""), cm)
    names += [
        g.get("metric")
        for g in comparison.get("gates") or []
        if g.get("metric") in cm and g.get("metric") not in names
    ]
    if not names:
        return None
    ci_c, ci_b = cand.get("intervals") or {}, base.get("intervals") or {}
    rows = []
    for name in names:
        c, b = cm.get(name), bm.get(name)
        diff = c - b if isinstance(c, int | float) and isinstance(b, int | float) else None
        rows.append(
            (
                metric_names.label(name),
                fmt.num_cell(c),
                f'<td class="num muted">{fmt.interval(ci_c.get(name)) if ci_c.get(name) else ""}</td>',
                fmt.num_cell(b),
                f'<td class="num muted">{fmt.interval(ci_b.get(name)) if ci_b.get(name) else ""}</td>',
                _signed_cell(diff, name),
            )
        )
    headers = (
        "Metric",
        f"{fmt.text(comparison.get('candidate'))} (candidate)",
        "95% CI",
        f"{fmt.text(comparison.get('baseline'))} (baseline)",
        "95% CI",
        "Difference",
    )
    return Section(
        "side-by-side",
        "Headline metrics side by side",
        fmt.table(headers, rows),
        "Green differences favour the candidate.",
    )


def overlays(comparison: dict[str, Any]) -> Section | None:
    """Return the candidate's and baseline's ROC, PR and reliability curves overlaid, or None."""
    cand = comparison.get("candidate_result") or {}
    base = comparison.get("baseline_result") or {}
    figures = []
    roc = _pair(charts.roc_series, cand, base)
    if roc:
        figures.append(figure("ROC curves", curves.roc_chart(roc)))
    pr = _pair(charts.pr_series, cand, base)
    if pr:
        figures.append(
            figure("Precision-recall curves", curves.pr_chart(pr, charts.base_rate(cand)))
        )
    cal = _pair(charts.calibration_series, cand, base)
    if cal:
        figures.append(figure("Calibration", curves.calibration_chart(cal)))
    if not figures:
        return None
    lead = "Solid: candidate. Dashed: baseline."
    return Section(
        "overlays", "Curves of both models", f'<div class="charts">{"".join(figures)}</div>', lead
    )


def _pair(make, cand: dict[str, Any], base: dict[str, Any]) -> list[svg.Series]:
    out = []
    for role, result, style in (
        ("candidate", cand, {"color": CANDIDATE}),
        ("baseline", base, {"color": BASELINE, "dashed": True}),
    ):
        series = make(result, **style)
        if series is not None:
            series.name = f"{role}: {series.name}"
            out.append(series)
    return out
