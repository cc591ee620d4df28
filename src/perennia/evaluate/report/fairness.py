"""The report's fairness section: four-fifths verdict, disparities, per-group table and charts."""

from __future__ import annotations

from typing import Any

from perennia._util.report import format as fmt
from perennia._util.report import svg
from perennia._util.report.page import Section, figure
from perennia.evaluate.report import metric_names

FOUR_FIFTHS = 0.8
GROUP_COLUMNS = (
    ("selection_rate", "Selection rate"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("precision", "Precision"),
    ("accuracy", "Accuracy"),
    ("error_rate", "Error rate"),
)


def _is_ratio(name: str) -> bool:
    return name == "disparate_impact" or name.endswith("_ratio")


def _verdict(report: dict[str, Any]) -> str:
    reference = fmt.text(report.get("reference_group"))
    violations = [str(g) for g in report.get("four_fifths_violations") or []]
    if violations:
        groups = ", ".join(fmt.text(g) for g in violations)
        return (
            f'<div class="verdict bad">{fmt.badge("bad", "FLAG")}<span>Four-fifths rule: '
            f"<strong>{groups}</strong> selected at under 80% of the rate of reference group "
            f"<strong>{reference}</strong>.</span></div>"
        )
    return (
        f'<div class="verdict ok">{fmt.badge("ok", "PASS")}<span>Four-fifths rule: every group is '
        f"selected at 80% or more of the rate of reference group <strong>{reference}</strong>."
        "</span></div>"
    )


def _disparities(report: dict[str, Any]) -> str:
    rows = []
    for name, entry in (report.get("disparities") or {}).items():
        entry = entry if isinstance(entry, dict) else {"value": entry}
        value = entry.get("value")
        check = ""
        if _is_ratio(name) and isinstance(value, int | float):
            check = fmt.badge("ok", "PASS") if value >= FOUR_FIFTHS else fmt.badge("bad", "FLAG")
        rows.append(
            (
                f"{metric_names.label(name)}<br><code>{fmt.text(name)}</code>",
                fmt.num_cell(value),
                fmt.text(entry.get("reference_group")),
                fmt.text(entry.get("worst_group")),
                check,
                f'<td class="detail">{fmt.text(entry.get("description") or "")}</td>',
            )
        )
    if not rows:
        return ""
    headers = ("Disparity", "Value", "Reference group", "Worst group", "≥ 0.8", "Meaning")
    return "<h3>Disparities</h3>" + fmt.table(headers, rows)


def _groups_table(report: dict[str, Any]) -> str:
    groups = report.get("groups") or []
    if not groups:
        return ""
    reference = str(report.get("reference_group"))
    flagged = {str(g) for g in report.get("four_fifths_violations") or []}
    rows = []
    for group in groups:
        name = str(group.get("group"))
        tag = fmt.badge("info", "reference") if name == reference else ""
        tag += fmt.badge("bad", "FLAG") if name in flagged else ""
        klass = "ref" if name == reference else "flagged" if name in flagged else ""
        cells = [
            f'<td class="group">{fmt.text(name)} {tag}</td>',
            f'<td class="num">{fmt.count(group.get("count"))}</td>',
        ]
        cells += [fmt.num_cell(group.get(key)) for key, _ in GROUP_COLUMNS]
        cells += [
            f'<td class="num">{fmt.count(group.get(k))}</td>'
            for k in ("positives", "predicted_positives")
        ]
        rows.append((klass, cells))
    headers = ("Group", "Rows", *(h for _, h in GROUP_COLUMNS), "Positives", "Predicted positive")
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f'<tr class="{k}">' + "".join(c) + "</tr>" for k, c in rows)
    return f'<h3>Groups</h3><div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _charts(report: dict[str, Any]) -> str:
    groups = report.get("groups") or []
    if not groups:
        return ""
    names = [str(g.get("group")) for g in groups]
    flagged = [str(g) for g in report.get("four_fifths_violations") or []]
    reference = next(
        (g for g in groups if str(g.get("group")) == str(report.get("reference_group"))), None
    )
    rules = []
    if reference is not None and isinstance(reference.get("selection_rate"), int | float):
        line = FOUR_FIFTHS * reference["selection_rate"]
        rules.append(svg.Rule(line, f"4/5 of reference = {fmt.number(line)}", color="#b42318"))
    selection = svg.bar_chart(
        names,
        [("Selection rate", [g.get("selection_rate") for g in groups])],
        title="Selection rate by group",
        y_label="Selection rate",
        rules=rules,
        flagged=flagged,
    )
    rates = svg.bar_chart(
        names,
        [("TPR", [g.get("tpr") for g in groups]), ("FPR", [g.get("fpr") for g in groups])],
        title="True and false positive rate by group",
        y_label="Rate",
        y_domain=(0.0, 1.0),
        flagged=flagged,
    )
    caption = "Bars outlined in red fail the four-fifths rule; the dashed line is 80% of the reference group's rate."
    return (
        '<div class="charts">'
        + figure("Selection rate", selection, caption)
        + figure("True and false positive rates", rates)
        + "</div>"
    )


def fairness(result: dict[str, Any]) -> Section | None:
    """Return the fairness section (verdict, disparities, groups, charts), or None without data."""
    report = result.get("fairness") or {}
    if not report or not (report.get("groups") or report.get("disparities")):
        return None
    features = ", ".join(fmt.text(f) for f in report.get("features") or [])
    lead = f"Sensitive feature: <strong>{features}</strong>. " if features else ""
    lead += f"Reference group: <strong>{fmt.text(report.get('reference_group'))}</strong>."
    body = _verdict(report) + _charts(report) + _disparities(report) + _groups_table(report)
    return Section("fairness", "Fairness", body, lead)
