"""The model card as Markdown: the same sections as the HTML page, as headings and tables.

User-written text is kept as written except that `&`, `<` and `>` are escaped, so a card
rendered by a Markdown viewer shows markup someone typed as text instead of running it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from perennia._util.report import format as fmt
from perennia.evaluate.report import metric_names
from perennia.registry.card_criteria import criteria_markdown
from perennia.registry.cards import change_summary, when

if TYPE_CHECKING:
    from perennia.registry.cards import Evaluation, ModelCard

FAIRNESS_COLUMNS = ("selection_rate", "tpr", "fpr", "precision", "accuracy")


def text(value: Any) -> str:
    """Return user text safe for Markdown prose (a dash when missing)."""
    return fmt.DASH if value is None or value == "" else escape(str(value), quote=False)


def cell(value: Any) -> str:
    """Return user text safe inside a Markdown table cell (one line, pipes escaped)."""
    return " ".join(text(value).split()).replace("|", "\\|")


def code(value: Any) -> str:
    """Return an inline code span shown verbatim (one line, pipes escaped for tables)."""
    raw = " ".join(str(value).split()).replace("|", "\\|")
    if "`" not in raw:
        return f"`{raw}`"
    # A fence one backtick longer than the longest run inside cannot be closed by the value.
    fence = "`" * (max(len(run) for run in re.findall(r"`+", raw)) + 1)
    return f"{fence} {raw} {fence}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return a Markdown table; each cell is already formatted text."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _details(card: ModelCard) -> list[str]:
    model, version = card.model, card.version
    status = version.status + (
        f" ({cell(version.status_message)})" if version.status_message else ""
    )
    rows = [
        ("Registered model", cell(model.name)),
        ("Version", f"v{version.version}"),
        ("Description", cell(version.description or model.description)),
        ("Owners", cell(", ".join(card.owners))),
        ("Registered by", cell(version.user_id)),
        ("Created", when(version.creation_time)),
        ("Source", code(version.source)),
        ("Package digest", f"`{version.digest}`" if version.digest else fmt.DASH),
        ("Status", status),
        ("State", cell(version.state)),
        ("Aliases", cell(", ".join(f"@{a}" for a in version.aliases))),
        ("Version tags", cell(", ".join(f"{k}={v}" for k, v in version.tags.items()))),
        ("Model tags", cell(", ".join(f"{k}={v}" for k, v in card.model_tags.items()))),
    ]
    if card.manifest_verified is not None:
        verdict = "matches the package" if card.manifest_verified else "package CHANGED"
        rows.append(("Digest check", verdict))
    out = ["## Model details", "", table(("Field", "Value"), rows), ""]
    manifest = card.manifest
    if manifest is None:
        return out + ["The version's source is not a Perennia package.", ""]
    package = [
        ("Flavor", code(manifest.flavor)),
        ("Framework", cell(f"{manifest.framework} {manifest.framework_version}")),
        ("Model class", code(manifest.model_class)),
        ("Python", cell(manifest.python_version)),
        ("Requirements", cell(", ".join(manifest.requirements))),
    ]
    out += ["### Package", "", table(("Field", "Value"), package), ""]
    return out + _signature(manifest.signature)


def _signature(signature: dict[str, Any] | None) -> list[str]:
    if not signature:
        return ["No signature was recorded with the package.", ""]
    out = []
    for side in ("inputs", "outputs"):
        specs = signature.get(side) or []
        if specs:
            rows = [
                (
                    code(s.get("name") if s.get("name") is not None else "(array)"),
                    cell(s.get("dtype")),
                    "yes" if s.get("required", True) else "optional",
                )
                for s in specs
            ]
            out += [f"### Signature {side}", "", table(("Name", "Type", "Required"), rows), ""]
    return out


def _card_text(card: ModelCard) -> list[str]:
    revision = card.card
    out = ["## About this model", ""]
    if revision is None:
        out += ["_Nobody has written this card yet._", ""]
    else:
        out += [
            f"_Card revision {revision.revision} by {text(revision.author or 'unknown')}, "
            f"{when(revision.time)}._",
            "",
        ]
    for section in card.sections:
        out += [f"### {text(section.title)}", ""]
        if section.text:
            out += [text(section.text), ""]
        else:
            hint = f" {section.prompt}" if section.prompt else ""
            out += [
                f"> **Not written yet.**{hint}",
                ">",
                f"> {code(card.edit_command(section.key))}",
                "",
            ]
    return out


def _data(card: ModelCard) -> list[str]:
    out = ["## Training and evaluation data", ""]
    if not card.datasets:
        return out + ["The source run recorded no dataset inputs.", ""]
    rows = [
        (
            cell(i.dataset.name),
            cell(i.context),
            f"`{i.dataset.digest}`",
            fmt.count(i.dataset.row_count),
            len(i.dataset.schema),
            cell(", ".join(i.dataset.targets)),
            cell(i.dataset.source),
        )
        for i in card.datasets
    ]
    out += [
        table(("Dataset", "Used for", "Digest", "Rows", "Columns", "Targets", "Source"), rows),
        "",
    ]
    for item in card.datasets:
        dataset = item.dataset
        if not dataset.schema:
            continue
        profile = (dataset.profile or {}).get("columns") or {}
        rows = []
        for column in dataset.schema:
            stats = profile.get(str(column.get("name"))) or {}
            rows.append(
                (
                    code(column.get("name")),
                    cell(column.get("type")),
                    fmt.count(stats.get("null_count")),
                    fmt.number(stats.get("min")),
                    fmt.number(stats.get("mean")),
                    fmt.number(stats.get("max")),
                )
            )
        out += [
            f"### Schema of {text(dataset.name)}",
            "",
            table(("Column", "Type", "Nulls", "Min", "Mean", "Max"), rows),
            "",
        ]
    return out


def _metrics(card: ModelCard) -> list[str]:
    if not card.metrics:
        return []
    rows = [(code(k), fmt.number(v)) for k, v in sorted(card.metrics.items())]
    return [
        "## Metrics",
        "",
        "Latest values logged by the source run.",
        "",
        table(("Metric", "Value"), rows),
        "",
    ]


def _evaluation(evaluation: Evaluation) -> list[str]:
    result = evaluation.result
    metrics = result.get("metrics") or {}
    out = [
        f"## Evaluation: {text(evaluation.dataset_name)}",
        "",
        f"{text(result.get('task'))} task, {fmt.count(result.get('n_rows'))} rows; "
        f"logged at {code(evaluation.path)}.",
        "",
    ]
    headline = metric_names.headline_names(result.get("task") or "", metrics)
    rest = [n for n in metrics if n not in headline]
    rows = [(f"**{cell(n)}**", fmt.number(metrics.get(n))) for n in headline]
    rows += [(code(n), fmt.number(metrics.get(n))) for n in rest]
    if rows:
        out += [table(("Metric", "Value"), rows), ""]
    return out + _fairness(result) + _drivers(result)


def _drivers(result: dict[str, Any]) -> list[str]:
    """Return the ten most important features of an evaluation run with `explain=True`."""
    data = result.get("explanations") or {}
    names, means = data.get("feature_names") or [], data.get("importances_mean") or []
    if not names or len(means) != len(names):
        return []
    ranked = sorted(zip(names, means, strict=True), key=lambda item: -(item[1] or 0.0))[:10]
    return [
        f"### What drives it ({text(data.get('method'))} importance)",
        "",
        table(("Feature", "Importance"), [(code(n), fmt.number(v)) for n, v in ranked]),
        "",
    ]


def _fairness(result: dict[str, Any]) -> list[str]:
    report = result.get("fairness") or {}
    groups = report.get("groups") or []
    if not groups:
        return []
    features = ", ".join(str(f) for f in report.get("features") or [])
    violations = [str(g) for g in report.get("four_fifths_violations") or []]
    verdict = (
        f"**Four-fifths rule: FLAG** for {cell(', '.join(violations))}"
        if violations
        else "Four-fifths rule: pass"
    )
    out = [
        "### Fairness",
        "",
        f"Sensitive feature: {text(features)}; reference group: "
        f"{text(report.get('reference_group'))}. {verdict}.",
        "",
    ]
    rows = [
        (
            cell(g.get("group")),
            fmt.count(g.get("count")),
            *(fmt.number(g.get(k)) for k in FAIRNESS_COLUMNS),
        )
        for g in groups
    ]
    headers = ("Group", "Rows", "Selection rate", "TPR", "FPR", "Precision", "Accuracy")
    out += [table(headers, rows), ""]
    disparities = report.get("disparities") or {}
    if disparities:
        rows = [
            (
                code(n),
                fmt.number(e.get("value")),
                cell(e.get("reference_group")),
                cell(e.get("worst_group")),
            )
            for n, e in disparities.items()
            if isinstance(e, dict)
        ]
        out += [table(("Disparity", "Value", "Reference", "Worst group"), rows), ""]
    return out


def _approvals(card: ModelCard) -> list[str]:
    out = ["## Approval history", ""]
    if not card.approvals:
        return out + [f"No approval requests for v{card.version.version}.", ""]
    rows = []
    for r in card.approvals:
        reviews = "; ".join(
            f"{cell(v.reviewer)}: {v.decision}" + (f" ({cell(v.comment)})" if v.comment else "")
            for v in r.reviews
        )
        rows.append(
            (
                f"#{r.request_id}",
                f"@{cell(r.alias)}",
                cell(r.requested_by),
                when(r.requested_time),
                r.status,
                reviews or fmt.DASH,
                cell("; ".join(r.unmet)) if r.unmet else "",
            )
        )
    headers = ("Request", "Alias", "Requested by", "When", "Status", "Reviews", "Still needs")
    return out + [table(headers, rows), ""]


def _versions(card: ModelCard) -> list[str]:
    rows = [
        (
            f"**v{v.version}**" if v.version == card.version.version else f"v{v.version}",
            v.status,
            cell(v.state),
            cell(", ".join(f"@{a}" for a in v.aliases)),
            when(v.creation_time),
            f"`{v.digest[:12]}`" if v.digest else fmt.DASH,
        )
        for v in card.versions
    ]
    headers = ("Version", "Status", "State", "Aliases", "Created", "Digest")
    return ["## Version history", "", table(headers, rows), ""]


def _events(card: ModelCard) -> list[str]:
    if not card.events:
        return []
    rows = [
        (
            when(e.time),
            cell(e.username),
            code(e.action),
            f"v{e.version}" if e.version is not None else fmt.DASH,
            cell(change_summary(e)),
        )
        for e in card.events
    ]
    return [
        "## Recent registry events",
        "",
        table(("When", "Who", "Action", "Version", "Change"), rows),
        "",
    ]


def _lineage(card: ModelCard) -> list[str]:
    graph = card.lineage
    datasets = [
        f"{text(d['name'])} ({text(d.get('context') or 'input')}, sha256 `{(d['digest'] or '')[:12]}`)"
        for d in graph["datasets"]
    ] or ["(no datasets recorded)"]
    run = graph["run"]
    run_text = (
        f"run {text(run['name'])} (`{run['run_id']}`, commit {code(run['git_commit'] or 'none')})"
        if run
        else "(no source run)"
    )
    aliases = ", ".join(f"@{text(a)}" for a in graph["aliases"]) or "(no aliases)"
    chain = f"{' + '.join(datasets)} → {run_text} → v{card.version.version} → {aliases}"
    return ["## Lineage", "", chain, ""]


def render(card: ModelCard) -> str:
    """Return the model card as a Markdown document."""
    version = card.version
    lines = [f"# Model card: {text(card.name)} v{version.version}", ""]
    description = version.description or card.model.description
    if description:
        lines += [text(description), ""]
    lines += [f"_Generated by perennia, {when(card.generated_time)}._", ""]
    if card.notes:
        lines += ["> **Notes**", *(f"> - {text(n)}" for n in card.notes), ""]
    lines += _details(card) + _card_text(card) + criteria_markdown(card)
    lines += _data(card) + _metrics(card)
    for evaluation in card.evaluations:
        lines += _evaluation(evaluation)
    lines += _approvals(card) + _versions(card) + _events(card) + _lineage(card)
    return "\n".join(lines).rstrip() + "\n"
