"""Model cards: everything the registry knows about one model version, for people to read.

`build_card` gathers the version, its package manifest (read, never loaded), the editable card
sections, the source run's datasets, metrics and logged evaluations, approvals, version history,
registry events and lineage into a `ModelCard`; `render_markdown` and `render_html` turn it into
a Markdown file and a self-contained HTML page; `write_card` writes both. Artifacts are read as
JSON through the tracking client: nothing is unpickled and no model is loaded.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia.clock import now_ms
from perennia.entities import (
    ApprovalRequest,
    DatasetInput,
    ModelCardRevision,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Run,
    SuccessCriteria,
)
from perennia.entities.registry import SUCCESS_CRITERIA_TAG
from perennia.errors import NotFound, PerenniaError

if TYPE_CHECKING:
    from perennia.models.package import Manifest
    from perennia.store.base import ModelVersionStore, Store
    from perennia.tracking.client import Client

__all__ = [
    "STANDARD_SECTIONS",
    "CardSection",
    "Evaluation",
    "ModelCard",
    "build_card",
    "render_html",
    "render_markdown",
    "write_card",
]

logger = logging.getLogger(__name__)

# Editable sections every card asks for, in order: key -> (title, what to write there).
STANDARD_SECTIONS: dict[str, tuple[str, str]] = {
    "intended_use": (
        "Intended use",
        "Who should use this model, for which decisions, and in what setting.",
    ),
    "out_of_scope_use": (
        "Out-of-scope uses",
        "Uses the model was not built or validated for, and must not be put to.",
    ),
    "limitations": (
        "Limitations",
        "Where the model is known to be weak: data it has not seen, conditions it degrades under.",
    ),
    "ethical_considerations": (
        "Ethical considerations",
        "Who could be harmed by its errors, sensitive data it uses, and fairness findings.",
    ),
    "caveats_and_recommendations": (
        "Caveats and recommendations",
        "What users should check or do before relying on the model's output.",
    ),
}
EVENT_LIMIT = 25
EVALUATION_FOLDER = "evaluation"
_RUNS_SOURCE = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")
_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CardSection:
    """One editable section: its key, title, text (None until written) and what to write."""

    key: str
    title: str
    text: str | None
    prompt: str


@dataclass(frozen=True)
class Evaluation:
    """One evaluation the source run logged: where its JSON lives and the result it holds."""

    path: str
    result: dict[str, Any]

    @property
    def dataset_name(self) -> str:
        """Return the name of the dataset the evaluation scored."""
        return str(self.result.get("dataset_name") or self.path.rsplit("/", 2)[-2])


@dataclass
class ModelCard:
    """Everything gathered about one registered model version, ready to render."""

    model: RegisteredModel
    version: ModelVersion
    owners: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    manifest_verified: bool | None = None  # None: nothing to verify against
    card: ModelCardRevision | None = None
    run: Run | None = None
    datasets: list[DatasetInput] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    approvals: list[ApprovalRequest] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    events: list[RegistryEvent] = field(default_factory=list)
    generated_time: int = 0
    notes: list[str] = field(default_factory=list)
    criteria: SuccessCriteria | None = None

    @property
    def name(self) -> str:
        """Return the registered model's name."""
        return self.model.name

    @property
    def metrics(self) -> dict[str, float]:
        """Return the source run's latest metric values (empty without a run)."""
        return dict(self.run.data.metrics) if self.run is not None else {}

    @property
    def model_tags(self) -> dict[str, str]:
        """Return the model's tags without the reserved success-criteria tag (shown apart)."""
        return {k: v for k, v in self.model.tags.items() if k != SUCCESS_CRITERIA_TAG}

    def criteria_rows(self) -> list[tuple[str, str, str]]:
        """Return (gate, status, detail) for each success criterion on this version's run."""
        from perennia.registry.success_criteria import gate_status

        if self.criteria is None:
            return []
        return [(gate, *gate_status(gate, self.metrics)) for gate in self.criteria.gates]

    @property
    def sections(self) -> list[CardSection]:
        """Return the standard editable sections, then any extra keys the card holds."""
        fields = dict(self.card.fields) if self.card is not None else {}
        out = [
            CardSection(key, title, (fields.pop(key, "") or "").strip() or None, prompt)
            for key, (title, prompt) in STANDARD_SECTIONS.items()
        ]
        for key, text in fields.items():
            title = key.replace("_", " ").strip().capitalize() or key
            out.append(CardSection(key, title, (text or "").strip() or None, ""))
        return out

    def edit_command(self, key: str) -> str:
        """Return the shell command that sets section `key` of this model's card."""
        return f'perennia models card {shlex.quote(self.name)} --set {key}="..."'

    @property
    def lineage(self) -> dict[str, Any]:
        """Return datasets -> run (with commit) -> version -> aliases, as `registry.lineage` does."""
        from perennia.registry.graph import lineage_graph

        return lineage_graph(self.version, self.run, self.approvals)


def build_card(
    name: str, version: int | str | None = None, store: Store | None = None
) -> ModelCard:
    """Return the ModelCard of `name` at `version` (the latest when None) from `store`."""
    client, store = _client_and_store(store)
    model = store.registry.get_registered_model(name)
    found = (
        store.versions.get_latest_version(name)
        if version is None
        else store.versions.get_model_version(name, version)
    )
    card = ModelCard(model=model, version=found, generated_time=now_ms())
    card.owners = _owners(store, model)
    card.criteria = _criteria(model, card.notes)
    card.card = store.cards.get(name)
    if found.run_id:
        _gather_run(card, client, found.run_id)
    card.manifest, card.manifest_verified = _manifest(client, found, card.notes)
    requests = store.approvals.list_requests(name, limit=1000)
    card.approvals = [r for r in requests if r.version == found.version]
    card.versions = _versions(store.versions, name)
    card.events = list(store.registry.events(name, EVENT_LIMIT))
    return card


def render_markdown(card: ModelCard) -> str:
    """Return the model card as a Markdown document."""
    from perennia.registry.card_markdown import render

    return render(card)


def render_html(card: ModelCard) -> str:
    """Return the model card as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    from perennia.registry.card_html import render

    return render(card)


def write_card(
    name: str,
    version: int | str | None = None,
    folder: str | Path | None = None,
    store: Store | None = None,
) -> tuple[Path, Path]:
    """Return the paths of `v<version>.md` and `.html` written to `folder` (default under home)."""
    card = build_card(name, version, store)
    if folder is None:
        from perennia.tracking.defaults import default_settings

        folder = default_settings().home / "cards" / card_folder_name(card.name)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    markdown = target / f"v{card.version.version}.md"
    html = target / f"v{card.version.version}.html"
    markdown.write_text(render_markdown(card), encoding="utf-8")
    html.write_text(render_html(card), encoding="utf-8")
    return markdown, html


def when(ms: int | None) -> str:
    """Return a millisecond timestamp as "YYYY-MM-DD HH:MM UTC" (a dash when missing)."""
    from datetime import UTC, datetime

    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def change_summary(event: RegistryEvent) -> str:
    """Return the fields a registry event changed, as "key=value, ..." text (unescaped)."""
    after, before = event.after or {}, event.before or {}
    changed = {k: v for k, v in after.items() if before.get(k) != v} or after or before
    shown = [(k, str(v)) for k, v in changed.items() if v not in (None, "", [], {})]
    return ", ".join(f"{k}={v if len(v) <= 40 else v[:39] + '…'}" for k, v in shown[:6])


def card_folder_name(name: str) -> str:
    """Return `name` as one safe folder name; altered names get a hash so two never collide."""
    import hashlib

    cleaned = _UNSAFE_PATH.sub("_", name).strip("._")[:100]
    if cleaned == name:
        return name
    return f"{cleaned or 'model'}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


# -- gathering --------------------------------------------------------------------------------


def _client_and_store(store: Store | None) -> tuple[Client, Store]:
    from perennia.tracking.client import Client

    if store is None:
        client = Client()
        return client, client.store
    # A client on the same URI shares the store's database and artifact locations.
    return Client(tracking_uri=store.uri), store


def _owners(store: Store, model: RegisteredModel) -> list[str]:
    """Return the model's owner followed by the users who manage it."""
    owners = [model.owner] if model.owner else []
    roles = store.model_roles.model_roles(model.name)
    return owners + sorted(u for u, role in roles.items() if role == "manager" and u not in owners)


def _versions(versions: ModelVersionStore, name: str) -> list[ModelVersion]:
    out: list[ModelVersion] = []
    token = None
    while True:
        page = versions.search_model_versions(name, None, 1000, token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return sorted(out, key=lambda v: v.version, reverse=True)


def _criteria(model: RegisteredModel, notes: list[str]) -> SuccessCriteria | None:
    text = model.tags.get(SUCCESS_CRITERIA_TAG)
    if text is None:
        return None
    try:
        return SuccessCriteria.from_json(text)
    except PerenniaError as error:
        notes.append(f"The success criteria could not be read: {error}")
        return None


def _gather_run(card: ModelCard, client: Client, run_id: str) -> None:
    try:
        card.run = client.get_run(run_id)
    except NotFound:
        card.notes.append(f"The source run {run_id} no longer exists.")
        return
    card.datasets = list(card.run.inputs.dataset_inputs)
    card.evaluations = _evaluations(client, run_id, card.notes)


def _evaluations(client: Client, run_id: str, notes: list[str]) -> list[Evaluation]:
    try:
        entries = client.list_artifacts(run_id, EVALUATION_FOLDER)
    except NotFound:
        return []
    out = []
    for entry in entries:
        if not entry.is_dir:
            continue
        path = f"{entry.path}/result.json"
        try:
            result = json.loads(client.read_artifact(run_id, path))
        except NotFound:
            continue
        except (PerenniaError, ValueError) as error:
            notes.append(f"Could not read the evaluation at {path}: {error}")
            continue
        if isinstance(result, dict):
            out.append(Evaluation(path, result))
    return out


def _manifest(
    client: Client, version: ModelVersion, notes: list[str]
) -> tuple[Manifest | None, bool | None]:
    """Return the version's package manifest (read as JSON) and whether it matches the digest."""
    from perennia.artifacts.digests import sha256_bytes
    from perennia.models.package import MANIFEST, Manifest

    match = _RUNS_SOURCE.match(version.source or "")
    if match is None:
        return None, None
    path = f"{match['path'].rstrip('/')}/{MANIFEST}"
    try:
        raw = client.read_artifact(match["run"], path)
        manifest = Manifest.from_json(raw.decode("utf-8"))
    except NotFound:
        return None, None
    except (PerenniaError, UnicodeDecodeError) as error:
        notes.append(f"The package manifest at {version.source} could not be read: {error}")
        return None, None
    verified = None if version.digest is None else sha256_bytes(raw) == version.digest
    if verified is False:
        notes.append(
            "The package manifest in the run does not match the digest registered for this "
            "version: the package was changed after registration."
        )
    return manifest, verified
