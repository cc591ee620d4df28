"""The model card as one self-contained HTML page: inline CSS, inline SVG charts, no scripts.

It is built from the report kit (`perennia._util.report`: page, stylesheet, number formatting,
charts) and the evaluation report's own sections (headline, fairness, slices), so a card and the
evaluation reports it summarises look like one family. Every value that a user wrote (names,
descriptions, card text, tags, comments) is escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape, unescape
from typing import TYPE_CHECKING, Any

from perennia._util.report import format as fmt
from perennia._util.report import page as kit
from perennia._util.report import svg
from perennia._util.report.curves import calibration_chart, roc_chart
from perennia._util.report.page import Section, figure
from perennia.evaluate.report import metric_names
from perennia.registry.card_criteria import criteria_sections
from perennia.registry.card_lineage import lineage_svg
from perennia.registry.cards import change_summary, when

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from perennia.registry.cards import Evaluation, ModelCard

CARD_CSS = """
header.top p.description { margin: 10px 0 0; max-width: 860px; }
.pills { display: flex; flex-wrap: wrap; gap: 4px 6px; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  background: var(--info-bg); color: var(--accent); font-weight: 600; }
.pill.tag { background: var(--wash); color: var(--ink); border: 1px solid var(--line); font-weight: 500; }
dl.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 18px; margin: 0 0 12px; }
dl.kv dt { color: var(--muted); font-size: 12.5px; }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.prose { max-width: 860px; }
.prose p { margin: 0 0 8px; }
.card-field { border-left: 3px solid var(--accent); padding: 2px 0 2px 14px; margin: 0 0 16px; }
.card-field h3, .missing h3 { font-size: 14px; margin: 0 0 4px; }
.missing { border: 1px dashed #c9ced6; border-radius: 8px; padding: 10px 14px; margin: 0 0 12px;
  background: var(--wash); }
.missing p { margin: 0 0 4px; color: var(--muted); }
.missing code { color: var(--ink); font-size: 12px; overflow-wrap: anywhere; }
code.digest { font-size: 12px; color: var(--ink); }
.notes { border: 1px solid #f0d58c; background: var(--warn-bg); border-radius: 10px; padding: 10px 18px;
  margin-bottom: 20px; }
.notes ul { margin: 4px 0; padding-left: 18px; }
svg.chart.lineage { max-width: 860px; }
svg.chart.lineage text.sub { font-size: 10.5px; fill: var(--muted); }
ul.reviews { margin: 0; padding-left: 16px; }
"""

STATUS_KIND = {"READY": "ok", "PENDING_REGISTRATION": "warn", "FAILED_REGISTRATION": "bad"}
STATE_KIND = {"active": "ok", "deprecated": "warn", "archived": "info"}
REQUEST_KIND = {"APPLIED": "ok", "PENDING": "warn", "REJECTED": "bad", "CANCELLED": "info"}
DECISION_KIND = {"approve": "ok", "reject": "bad"}
_FOLD_COLUMNS = 12


def short_digest(digest: str | None, keep: int = 12) -> str:
    """Return an escaped, shortened digest whose full value shows on hover."""
    if not digest:
        return fmt.DASH
    return f'<code class="digest" title="{fmt.text(digest)}">{fmt.text(digest[:keep])}…</code>'


def prose(text: str) -> str:
    """Return plain text as escaped HTML paragraphs, with '- ' lines as bullet lists."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = [line.rstrip() for line in block.strip().splitlines() if line.strip()]
        if lines and all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{fmt.text(line.lstrip()[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif lines:
            blocks.append("<p>" + "<br>".join(fmt.text(line) for line in lines) + "</p>")
    return f'<div class="prose">{"".join(blocks)}</div>'


def _pills(values: Sequence[str], cls: str = "pill") -> str:
    if not values:
        return fmt.DASH
    return (
        '<span class="pills">'
        + "".join(f'<span class="{cls}">{fmt.text(v)}</span>' for v in values)
        + "</span>"
    )


def _kv(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _badge(kinds: dict[str, str], value: str | None) -> str:
    return fmt.badge(kinds.get(str(value), "info"), str(value or fmt.DASH))


# -- header and model details ----------------------------------------------------------------


def _header(card: ModelCard) -> str:
    version = card.version
    revision = card.card
    facts = [
        ("Version", f"v{version.version}"),
        ("Status", _badge(STATUS_KIND, version.status)),
        ("State", _badge(STATE_KIND, version.state)),
        ("Aliases", _pills([f"@{a}" for a in version.aliases])),
        ("Owners", fmt.text(", ".join(card.owners)) if card.owners else fmt.DASH),
        ("Created", when(version.creation_time)),
        ("Card", f"revision {revision.revision}" if revision else "not written yet"),
    ]
    description = version.description or card.model.description
    text = f'<p class="description">{fmt.text(description)}</p>' if description else ""
    suffix = f' <span class="muted">v{version.version}</span>'
    return kit.header("Model card", card.name, facts, after_title=suffix, extra=text)


def _details(card: ModelCard) -> Section:
    model, version = card.model, card.version
    pairs = [
        ("Registered model", fmt.text(model.name)),
        ("Model description", fmt.text(model.description) if model.description else fmt.DASH),
        ("Version description", fmt.text(version.description) if version.description else fmt.DASH),
        ("Owners", fmt.text(", ".join(card.owners)) if card.owners else fmt.DASH),
        ("Registered by", fmt.text(version.user_id)),
        ("Created", when(version.creation_time)),
        ("Last updated", when(version.last_updated_time)),
        ("Source", f"<code>{fmt.text(version.source)}</code>"),
        ("Package digest", _digest_line(card)),
        (
            "Status",
            _badge(STATUS_KIND, version.status)
            + (f" {fmt.text(version.status_message)}" if version.status_message else ""),
        ),
        ("State", _badge(STATE_KIND, version.state)),
        ("Aliases", _pills([f"@{a}" for a in version.aliases])),
        ("Version tags", _pills([f"{k}={v}" for k, v in version.tags.items()], "pill tag")),
        ("Model tags", _pills([f"{k}={v}" for k, v in card.model_tags.items()], "pill tag")),
    ]
    body = _kv(pairs) + _package(card)
    return Section("details", "Model details", body)


def _digest_line(card: ModelCard) -> str:
    digest = card.version.digest
    if not digest:
        return fmt.DASH
    mark = {True: fmt.badge("ok", "matches package"), False: fmt.badge("bad", "package changed")}
    return f'<code class="digest">{fmt.text(digest)}</code> {mark.get(card.manifest_verified, "")}'


def _package(card: ModelCard) -> str:
    manifest = card.manifest
    if manifest is None:
        return '<p class="muted">The version\'s source is not a Perennia package, so flavor and signature are unknown.</p>'
    pairs = [
        ("Flavor", f"<code>{fmt.text(manifest.flavor)}</code>"),
        ("Framework", fmt.text(f"{manifest.framework} {manifest.framework_version}")),
        ("Model class", f"<code>{fmt.text(manifest.model_class)}</code>"),
        ("Python", fmt.text(manifest.python_version)),
        ("Packaged", when(manifest.created or None)),
    ]
    requirements = "".join(f"<li><code>{fmt.text(r)}</code></li>" for r in manifest.requirements)
    folded = (
        f"<details><summary>{len(manifest.requirements)} pinned requirements</summary>"
        f"<ul>{requirements}</ul></details>"
        if manifest.requirements
        else ""
    )
    return "<h3>Package</h3>" + _kv(pairs) + _signature(manifest.signature) + folded


def _signature(signature: dict[str, Any] | None) -> str:
    if not signature:
        return '<p class="muted">No signature was recorded with the package.</p>'
    parts = []
    for side in ("inputs", "outputs"):
        specs = signature.get(side) or []
        if not specs:
            continue
        rows = [
            (
                fmt.text(s.get("name") if s.get("name") is not None else "(array)"),
                f"<code>{fmt.text(s.get('dtype'))}</code>",
                fmt.text(s.get("shape")) if s.get("shape") is not None else "",
                "yes" if s.get("required", True) else "optional",
            )
            for s in specs
        ]
        title = side.capitalize()
        if side == "inputs" and signature.get("input_kind"):
            title += f" ({fmt.text(signature['input_kind'])})"
        listing = fmt.table(("Name", "Type", "Shape", "Required"), rows)
        if len(rows) > _FOLD_COLUMNS:
            # A wide frame would push the rest of the card down a screen or more.
            listing = f"<details><summary>{len(rows)} columns</summary>{listing}</details>"
        parts.append(f"<h3>{title}</h3>" + listing)
    return "".join(parts)


# -- editable sections -----------------------------------------------------------------------


def _card_text(card: ModelCard) -> Section:
    revision = card.card
    if revision is None:
        lead = "Nobody has written this card yet; each section below says what belongs in it."
    else:
        lead = (
            f"Revision {revision.revision} by {fmt.text(revision.author or 'unknown')}, "
            f"{when(revision.time)}"
            + (f" — “{fmt.text(revision.comment)}”" if revision.comment else "")
        )
    blocks = []
    for section in card.sections:
        if section.text:
            blocks.append(
                f'<div class="card-field" id="card-{fmt.text(section.key)}">'
                f"<h3>{fmt.text(section.title)}</h3>{prose(section.text)}</div>"
            )
        else:
            hint = f" {fmt.text(section.prompt)}" if section.prompt else ""
            blocks.append(
                f'<div class="missing"><h3>{fmt.text(section.title)}</h3>'
                f"<p><strong>Not written yet.</strong>{hint}</p>"
                f"<p><code>{fmt.text(card.edit_command(section.key))}</code></p></div>"
            )
    return Section("card", "About this model", "".join(blocks), lead)


# -- data and evaluation ---------------------------------------------------------------------


def _data(card: ModelCard) -> Section:
    if not card.datasets:
        body = '<p class="muted">The source run recorded no dataset inputs.</p>'
        return Section("data", "Training and evaluation data", body)
    from perennia.data.versions import SOURCE_TYPE

    rows = [
        (
            # A registered version shows as name@version, the reference that loads it again.
            f"<strong>{fmt.text(i.dataset.source)}</strong>"
            if i.dataset.source_type == SOURCE_TYPE
            else fmt.text(i.dataset.name),
            fmt.text(i.context or fmt.DASH),
            short_digest(i.dataset.digest),
            f'<td class="num">{fmt.count(i.dataset.row_count)}</td>',
            f'<td class="num">{len(i.dataset.schema)}</td>',
            fmt.text(", ".join(i.dataset.targets)) if i.dataset.targets else fmt.DASH,
            f'<td class="detail">{fmt.text(i.dataset.source)}</td>',
        )
        for i in card.datasets
    ]
    headers = ("Dataset", "Used for", "Digest", "Rows", "Columns", "Targets", "Source")
    body = fmt.table(headers, rows) + "".join(_schema(i) for i in card.datasets)
    return Section("data", "Training and evaluation data", body, "Datasets the source run used.")


def _schema(item: Any) -> str:
    dataset = item.dataset
    if not dataset.schema:
        return ""
    profile = (dataset.profile or {}).get("columns") or {}
    rows = []
    for column in dataset.schema:
        stats = profile.get(str(column.get("name"))) or {}
        rows.append(
            (
                f"<code>{fmt.text(column.get('name'))}</code>",
                fmt.text(column.get("type")),
                f'<td class="num">{fmt.count(stats.get("null_count"))}</td>',
                fmt.num_cell(stats.get("min")),
                fmt.num_cell(stats.get("mean")),
                fmt.num_cell(stats.get("max")),
            )
        )
    table = fmt.table(("Column", "Type", "Nulls", "Min", "Mean", "Max"), rows, cls="compact")
    summary = (
        f"Schema and profile of <strong>{fmt.text(dataset.name)}</strong> ({len(rows)} columns)"
    )
    return f"<details><summary>{summary}</summary>{table}</details>"


def _run_metrics(card: ModelCard) -> Section | None:
    metrics = card.metrics
    if not metrics:
        return None
    rows = [
        (metric_names.label(name), f"<code>{fmt.text(name)}</code>", fmt.num_cell(value))
        for name, value in sorted(metrics.items())
    ]
    run = card.run
    lead = f"Latest values logged by run <code>{fmt.text(run.info.run_id)}</code>." if run else ""
    table = fmt.table(("Metric", "Key", "Value"), rows)
    if card.evaluations:
        # The evaluations below show these values again, grouped and charted.
        body = f"<details><summary>All {len(rows)} metrics of the run</summary>{table}</details>"
    else:
        chart = _headline_chart("", dict(sorted(metrics.items())), "Run metrics")
        body = (f'<div class="charts">{chart}</div>' if chart else "") + table
    return Section("metrics", "Metrics", body, lead)


def _plain(name: str) -> str:
    return unescape(metric_names.label(name))


def _headline_chart(task: str, metrics: dict[str, Any], title: str) -> str:
    """Return a figure charting the headline 0-1 scores where higher is better ("" if none)."""
    names = [
        n
        for n in metric_names.headline_names(task, metrics)
        if metric_names.direction(n) == "higher"
        and isinstance(metrics.get(n), int | float)
        and 0.0 <= metrics[n] <= 1.0
    ]
    if not names:
        return ""
    chart = svg.bar_chart(
        [_plain(n) for n in names],
        [("Score", [metrics[n] for n in names])],
        title=title,
        y_label="Score (higher is better)",
        y_domain=(0.0, 1.0),
    )
    return figure(title, chart)


def _evaluation(index: int, evaluation: Evaluation) -> list[Section]:
    from perennia.evaluate.report import charts, sections
    from perennia.evaluate.report.fairness import fairness

    result = evaluation.result
    name = evaluation.dataset_name
    metrics = result.get("metrics") or {}
    headline = sections.headline(result)
    body = headline.body if headline else ""
    figures = [_headline_chart(result.get("task") or "", metrics, f"Headline metrics on {name}")]
    roc = charts.roc_series(result)
    if roc is not None:
        figures.append(figure("ROC curve", roc_chart([roc])))
    calibration = charts.calibration_series(result)
    if calibration is not None:
        figures.append(figure("Calibration", calibration_chart([calibration])))
    body += f'<div class="charts">{"".join(figures)}</div>' if any(figures) else ""
    table = sections.metrics_table(result)
    if table is not None:
        body += f"<details><summary>All {len(metrics)} metrics</summary>{table.body}</details>"
    lead = (
        f"{fmt.text(sections.TASK_NAMES.get(result.get('task'), result.get('task')))} on "
        f"<strong>{fmt.text(name)}</strong>, {fmt.count(result.get('n_rows'))} rows; "
        f"logged at <code>{fmt.text(evaluation.path)}</code>."
    )
    out = [Section(f"eval-{index}", f"Evaluation: {fmt.text(name)}", body, lead)]
    fair = fairness(result)
    if fair is not None:
        out.append(
            Section(f"fairness-{index}", f"Fairness: {fmt.text(name)}", fair.body, fair.lead)
        )
    slices = sections.slices(result)
    if slices is not None:
        out.append(
            Section(f"slices-{index}", f"Slices: {fmt.text(name)}", slices.body, slices.lead)
        )
    drivers = sections.explanations(result)
    if drivers is not None:
        out.append(Section(f"drivers-{index}", f"What drives it: {fmt.text(name)}", drivers.body))
    return out


# -- governance and history ------------------------------------------------------------------


def _approvals(card: ModelCard) -> Section:
    if not card.approvals:
        body = f'<p class="muted">No approval requests for v{card.version.version}.</p>'
        return Section("approvals", "Approval history", body)
    rows = []
    for request in card.approvals:
        reviews = "".join(
            f"<li>{_badge(DECISION_KIND, r.decision)} {fmt.text(r.reviewer)}, {when(r.time)}"
            + (f" — {fmt.text(r.comment)}" if r.comment else "")
            + "</li>"
            for r in request.reviews
        )
        unmet = "".join(f"<li>{fmt.text(u)}</li>" for u in request.unmet)
        rows.append(
            (
                f"#{request.request_id}",
                f"@{fmt.text(request.alias)}",
                fmt.text(request.requested_by),
                when(request.requested_time),
                f'<td class="detail">{fmt.text(request.comment)}</td>' if request.comment else "",
                _badge(REQUEST_KIND, request.status),
                f'<ul class="reviews">{reviews}</ul>' if reviews else fmt.DASH,
                f'<ul class="reviews">{unmet}</ul>' if unmet else "",
            )
        )
    headers = (
        "Request",
        "Alias",
        "Requested by",
        "When",
        "Comment",
        "Status",
        "Reviews",
        "Still needs",
    )
    return Section("approvals", "Approval history", fmt.table(headers, rows))


def _versions(card: ModelCard) -> Section:
    this = card.version.version
    rows = [
        (
            f"<strong>v{v.version}</strong> {fmt.badge('info', 'this card')}"
            if v.version == this
            else f"v{v.version}",
            _badge(STATUS_KIND, v.status),
            _badge(STATE_KIND, v.state),
            _pills([f"@{a}" for a in v.aliases]),
            when(v.creation_time),
            short_digest(v.digest),
            fmt.text(v.user_id),
        )
        for v in card.versions
    ]
    headers = ("Version", "Status", "State", "Aliases", "Created", "Digest", "By")
    return Section("versions", "Version history", fmt.table(headers, rows))


def _events(card: ModelCard) -> Section:
    if not card.events:
        return Section("events", "Recent registry events", '<p class="muted">No events.</p>')
    rows = [
        (
            when(e.time),
            fmt.text(e.username),
            f"<code>{fmt.text(e.action)}</code>",
            f"v{e.version}" if e.version is not None else fmt.DASH,
            f'<td class="detail">{fmt.text(change_summary(e))}</td>',
        )
        for e in card.events
    ]
    table = fmt.table(("When", "Who", "Action", "Version", "Change"), rows)
    return Section("events", "Recent registry events", table, "Newest first.")


def _lineage(card: ModelCard) -> Section:
    chart = lineage_svg(card.lineage)
    lead = "Where this version came from: datasets, the run that trained it, and where it is deployed by alias."
    return Section("lineage", "Lineage", chart, lead)


def _notes(card: ModelCard) -> str:
    if not card.notes:
        return ""
    items = "".join(f"<li>{fmt.text(n)}</li>" for n in card.notes)
    return f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'


def page(title: str, top: str, parts: Sequence[Section], generated: int) -> str:
    """Return the full HTML document: the kit's page with the card's CSS and footer."""
    footer = (
        f"Model card generated by perennia, {when(generated)} · self-contained page, "
        "no external resources"
    )
    return kit.page(title, top, parts, footer=footer, css=CARD_CSS)


def render(card: ModelCard) -> str:
    """Return the model card as one self-contained HTML document."""
    parts = [_details(card), _card_text(card), *criteria_sections(card), _data(card)]
    metrics = _run_metrics(card)
    if metrics is not None:
        parts.append(metrics)
    for index, evaluation in enumerate(card.evaluations, start=1):
        try:
            parts += _evaluation(index, evaluation)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            # A run may hold a result.json this version of Perennia cannot read; the card
            # still renders, and says which file it skipped.
            logger.warning("skipping unreadable evaluation %s", evaluation.dataset_name)
            note = f'<p class="muted">The logged result for {escape(str(evaluation.dataset_name))} could not be read; it is left out.</p>'
            parts.append(
                Section(
                    f"evaluation-{index}",
                    f"Evaluation: {escape(str(evaluation.dataset_name))}",
                    note,
                )
            )
    parts += [_approvals(card), _versions(card), _events(card), _lineage(card)]
    title = f"{card.name} v{card.version.version} · model card"
    return page(title, _header(card) + _notes(card), parts, card.generated_time)
