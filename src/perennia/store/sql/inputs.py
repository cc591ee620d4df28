"""Dataset inputs in SQL: datasets are stored once by (name, digest) and linked to runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Engine

from perennia.clock import now_ms
from perennia.entities import DatasetInput
from perennia.errors import InvalidInput
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.run_loader import load_inputs
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import insert_ignore
from perennia.store.validation import INT64_MAX, validate_key, validate_name

_DIGEST_CHARS = set("0123456789abcdef")
_SHORT_TEXT = 64  # context and source_type are VARCHAR(64) columns


def _check(item: DatasetInput) -> DatasetInput:
    dataset = item.dataset
    validate_name(dataset.name, "dataset name")
    if not (
        isinstance(dataset.digest, str)
        and 1 <= len(dataset.digest) <= 64
        and set(dataset.digest) <= _DIGEST_CHARS
    ):
        raise InvalidInput(
            f"dataset {dataset.name!r} digest {dataset.digest!r:.70} is not a lowercase hex digest"
        )
    if item.context is not None:
        validate_key(item.context, "dataset context")
        if len(item.context) > _SHORT_TEXT:
            raise InvalidInput(
                f"dataset context {item.context[:40]!r}... is {len(item.context)} characters; "
                f"the limit is {_SHORT_TEXT}"
            )
    for what, text, limit in (
        ("source", dataset.source, None),
        ("source_type", dataset.source_type, _SHORT_TEXT),
    ):
        # PostgreSQL text cannot hold NUL, and VARCHAR(64) rejects what SQLite would keep.
        if not isinstance(text, str) or "\x00" in text or (limit and len(text) > limit):
            raise InvalidInput(
                f"dataset {dataset.name!r} {what} {text!r:.70} must be a string without NUL "
                "characters" + (f" of at most {limit} characters" if limit else "")
            )
    if (
        isinstance(dataset.row_count, bool)
        or not isinstance(dataset.row_count, int)
        or not 0 <= dataset.row_count <= INT64_MAX
    ):
        raise InvalidInput(
            f"dataset {dataset.name!r} row_count must be a non-negative 64-bit integer"
        )
    for what in ("schema", "targets", "profile"):
        try:
            json.dumps(getattr(dataset, what))
        except (TypeError, ValueError) as error:
            raise InvalidInput(
                f"dataset {dataset.name!r} {what} is not JSON-serializable: {error}"
            ) from None
    return item


class SqlInputStore:
    """The `InputStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def log(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        """Record dataset inputs (idempotent)."""
        items = [_check(item) for item in inputs]
        if not items:
            return
        now = now_ms()
        dataset_rows = [
            {
                "name": i.dataset.name,
                "digest": i.dataset.digest,
                "source": i.dataset.source,
                "source_type": i.dataset.source_type,
                "schema": json.dumps(i.dataset.schema),
                "row_count": i.dataset.row_count,
                "targets": json.dumps(list(i.dataset.targets)),
                "profile": json.dumps(i.dataset.profile),
                "created_time": now,
            }
            for i in items
        ]
        link_rows = [
            {
                "run_uuid": run_id,
                "dataset_name": i.dataset.name,
                "dataset_digest": i.dataset.digest,
                "context": i.context or "",
            }
            for i in items
        ]
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            insert_ignore(conn, s.datasets, dataset_rows, ["name", "digest"])
            insert_ignore(
                conn,
                s.run_inputs,
                link_rows,
                ["run_uuid", "dataset_name", "dataset_digest", "context"],
            )

    def list(self, run_id: str) -> list[DatasetInput]:
        """Return the run's dataset inputs."""
        with read_transaction(self.engine) as conn:
            require_run(conn, run_id, writable=False)
            return load_inputs(conn, [run_id]).get(run_id, [])
