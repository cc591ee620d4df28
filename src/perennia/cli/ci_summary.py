"""The Markdown summary `perennia ci check` writes for a pull-request comment.

A header with pass or fail, the table of gates (candidate, champion, threshold, verdict), the
reasons of the failed gates, the data validation outcome, and where each record is (the model
card's, or why the candidate has none).
"""

from __future__ import annotations

from typing import Any

PASS_MARK, FAIL_MARK, SKIP_MARK = "✅", "❌", "⚪"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.4g}"


def _code(value: Any) -> str:
    return "`" + " ".join(str(value).split()).replace("`", "'").replace("|", "\\|") + "`"


def _verdict(outcome: dict[str, Any]) -> str:
    if outcome["status"] == "skipped":
        return f"{SKIP_MARK} skipped"
    return f"{PASS_MARK} pass" if outcome["passed"] else f"{FAIL_MARK} **fail**"


def headline(report: dict[str, Any]) -> str:
    """Return the one-line verdict: passed, or what failed (gates by name, the data)."""
    if report["passed"]:
        return f"{PASS_MARK} perennia ci check passed: {report['model']}"
    failed = [o["gate"] for o in report["gates"] if o["status"] == "fail"]
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {len(report['gates'])} gates failed: {'; '.join(failed)}")
    validation = report["validation"]
    if validation is not None and not validation["success"]:
        parts.append(f"data validation failed ({len(validation['failed'])} checks)")
    return f"{FAIL_MARK} perennia ci check failed: {report['model']} — {', '.join(parts)}"


def render(report: dict[str, Any]) -> str:
    """Return the summary as Markdown (a `report` is what `perennia ci check --json` writes)."""
    champion = report["champion"]
    against = (
        f"against the champion {_code(champion['uri'])} (v{champion['version']})"
        if champion
        else "with no champion to compare with (absolute gates only)"
    )
    lines = [
        f"## {headline(report)}",
        "",
        f"Candidate {_code(report['candidate'])} {against}, on {_code(report['data'])} "
        f"({report['rows']:,} rows). Gates: {report['gates_source']}.",
        "",
        "| Gate | Candidate | Champion | Threshold | Verdict |",
        "|---|---|---|---|---|",
    ]
    for o in report["gates"]:
        lines.append(
            f"| {_code(o['gate'])} | {_number(o['candidate'])} | {_number(o['baseline'])} | "
            f"{_number(o['threshold'])} | {_verdict(o)} |"
        )
    reasons = [o for o in report["gates"] if o["status"] != "pass"]
    if reasons:
        lines += ["", "**Why**", ""]
        lines += [f"- {_code(o['gate'])}: {o['reason']}" for o in reasons]
    return "\n".join(lines + [""] + _validation(report["validation"]) + _records(report)) + "\n"


def _validation(validation: dict[str, Any] | None) -> list[str]:
    lines = ["### Data validation", ""]
    if validation is None:
        return lines + [f"{SKIP_MARK} not validated: no contract (pass --contract)", ""]
    total, failed = validation["checks"], validation["failed"]
    name = f" {_code(validation['contract'])}" if validation.get("contract") else ""
    if not failed:
        return lines + [f"{PASS_MARK} {total} of {total} checks passed against contract{name}", ""]
    lines += [
        f"{FAIL_MARK} {len(failed)} of {total} checks failed against contract{name}",
        "",
        "| Check | Column | Observed |",
        "|---|---|---|",
    ]
    for item in failed:
        column = _code(item["column"]) if item["column"] else "—"
        lines.append(f"| {_code(item['check'])} | {column} | {_code(item['observed'])} |")
    return lines + [""]


def _records(report: dict[str, Any]) -> list[str]:
    lines = ["### Records", ""]
    for label, value in report["records"].items():
        lines.append(f"- {label}: {_code(value)}")
    card = report.get("card")
    if card is not None and card["path"] is None:
        lines.append(f"- model card: not written: {card['reason']}")
    elif card is not None:
        lines.append(f"- model card: {_code(card['path'])} (v{card['version']})")
    return lines
