"""Model card revisions in SQL: each edit saves the whole set of editable sections anew.

Revisions are numbered per model from 1 and never rewritten, so a card's history is its
table; an edit can name the revision it was based on and is refused if someone saved since.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from perennia.clock import now_ms
from perennia.entities import ModelCardRevision
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.registry_checks import check_model_name, check_text
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import record_event
from perennia.store.sql.registry_rows import read_model

# The sections a card offers to edit; other keys are accepted as extra sections.
CARD_SECTIONS = (
    "intended_use",
    "out_of_scope_use",
    "limitations",
    "ethical_considerations",
    "caveats_and_recommendations",
)
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_FIELD = 20_000
_MAX_FIELDS = 50


def _check_fields(fields: Any) -> dict[str, str]:
    if not isinstance(fields, dict) or not fields:
        raise InvalidInput("fields must be a non-empty mapping of section name to text")
    clean = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not _FIELD.match(key):
            raise InvalidInput(
                f"card section {key!r:.60} must be lowercase letters, digits and underscores "
                f"(e.g. {', '.join(CARD_SECTIONS[:2])})"
            )
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidInput(f"card section {key!r} must be text, got {type(value).__name__}")
        if len(value) > _MAX_FIELD:
            raise InvalidInput(
                f"card section {key!r} is {len(value)} characters; the limit is {_MAX_FIELD}"
            )
        clean[key] = value
    return clean


class SqlModelCardStore:
    """The `ModelCardStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def edit(
        self,
        name: str,
        fields: dict[str, str],
        *,
        comment: str = "",
        expected_revision: int | None = None,
        username: str | None = None,
    ) -> ModelCardRevision:
        """Return the new revision: the previous fields updated with `fields` (empty removes)."""
        changes = _check_fields(fields)
        comment = check_text(comment, "comment", 10_000)
        c = s.model_card_revisions
        with write_transaction(self.engine) as conn:
            model = read_model(conn, check_model_name(name))
            # Lock the model row so two editors get consecutive revisions, not one conflict.
            conn.execute(
                select(s.registered_models.c.name)
                .where(s.registered_models.c.name == model.name)
                .with_for_update()
            )
            previous = self._latest(conn, model.name)
            number = previous.revision if previous else 0
            if expected_revision is not None and expected_revision != number:
                raise Conflict(
                    f"the card of {name!r} is at revision {number}, not {expected_revision}: "
                    "someone saved since you read it; re-read and edit again"
                )
            merged = dict(previous.fields) if previous else {}
            merged.update(changes)
            merged = {k: v for k, v in merged.items() if v.strip()}
            if len(merged) > _MAX_FIELDS:
                raise InvalidInput(f"a card holds at most {_MAX_FIELDS} sections")
            if previous is not None and merged == previous.fields:
                raise InvalidInput(f"nothing to save: the card of {name!r} already says that")
            conn.execute(
                insert(c).values(
                    name=model.name,
                    revision=number + 1,
                    fields=json.dumps(merged, sort_keys=True),
                    author=username,
                    time=now_ms(),
                    comment=comment,
                )
            )
            changed = sorted(
                k
                for k in set(merged) | set(previous.fields if previous else {})
                if merged.get(k) != (previous.fields.get(k) if previous else None)
            )
            record_event(
                conn,
                username,
                "edit_card",
                model.name,
                None,
                {"revision": number} if previous else None,
                {"revision": number + 1, "sections": changed},
            )
            return self._latest(conn, model.name)

    def get(self, name: str, revision: int | None = None) -> ModelCardRevision | None:
        """Return one revision (the newest by default), or None before the first edit."""
        c = s.model_card_revisions
        with read_transaction(self.engine) as conn:
            read_model(conn, check_model_name(name))
            if revision is None:
                return self._latest(conn, name)
            row = conn.execute(
                select(c).where(c.c.name == name, c.c.revision == int(revision))
            ).first()
            if row is None:
                raise NotFound(f"the card of {name!r} has no revision {revision}")
            return _revision(row)

    def revisions(self, name: str) -> list[ModelCardRevision]:
        """Return every revision, oldest first."""
        c = s.model_card_revisions
        with read_transaction(self.engine) as conn:
            read_model(conn, check_model_name(name))
            rows = conn.execute(select(c).where(c.c.name == name).order_by(c.c.revision)).all()
        return [_revision(r) for r in rows]

    def _latest(self, conn: Connection, name: str) -> ModelCardRevision | None:
        c = s.model_card_revisions
        top = conn.execute(select(func.max(c.c.revision)).where(c.c.name == name)).scalar()
        if top is None:
            return None
        row = conn.execute(select(c).where(c.c.name == name, c.c.revision == top)).first()
        return _revision(row)


def _revision(row: Any) -> ModelCardRevision:
    return ModelCardRevision(
        row.name, row.revision, json.loads(row.fields), row.author, row.time, row.comment
    )


def _number(revision: Any) -> int:
    try:
        number = int(revision)
    except (TypeError, ValueError):
        raise InvalidInput(f"revision must be a positive integer, got {revision!r:.40}") from None
    if number < 1 or isinstance(revision, bool):
        raise InvalidInput(f"revision must be a positive integer, got {revision!r:.40}")
    return number
