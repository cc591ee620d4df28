"""MLflow 3 logged models in SQL: created by an mlflow client, given params and tags, finalized.

A logged model's files live with the run that produced it, under `models/<model_id>/` in that
run's artifact tree (the artifact index is keyed by run), so `artifact_location` is the
`runs:/<run_id>/models/<model_id>` URI Perennia's own tools resolve. A model logged outside
any run has no place for files and an empty location. Params are immutable, as a run's are.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from perennia.clock import now_ms
from perennia.entities import (
    LifecycleStage,
    LoggedModel,
    LoggedModelMetric,
    ModelLink,
    Page,
    Param,
    RunTag,
)
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.checks import check_params, check_tags
from perennia.store.paging import check_max_results, decode_page_token, encode_page_token
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.logged_model_io import (
    link_rows,
    metric_rows,
    read_links,
    read_metrics,
    with_metrics_on,
)
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import insert_ignore, upsert
from perennia.store.validation import (
    validate_experiment_id,
    validate_experiment_ids,
    validate_name,
)

MAX_SEARCH_RESULTS = 10_000
_ID_LENGTH = 34  # "m-" and a uuid4 in hex, as MLflow spells model ids
_SOURCE_RUN = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


def artifact_folder(model_id: str) -> str:
    """Return the folder of the source run's artifact tree that holds a logged model's files."""
    return f"models/{model_id}"


def check_model_id(model_id: Any) -> str:
    """Return `model_id` if it has the shape this store gives ids ("m-" + 32 hex), else raise."""
    if (
        not isinstance(model_id, str)
        or len(model_id) != _ID_LENGTH
        or not model_id.startswith("m-")
        or not all(c in "0123456789abcdef" for c in model_id[2:])
    ):
        raise InvalidInput(f"model_id {model_id!r:.80} is not 'm-' followed by 32 hex digits")
    return model_id


class SqlLoggedModelStore:
    """The `LoggedModelStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        experiment_id: str,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        """Return a new PENDING logged model; its files will live under its source run.

        A source run id that names no run is kept as given (MLflow records any string), and
        the model then has no place for files, like a model logged outside any run.
        """
        eid = validate_experiment_id(experiment_id)
        name = validate_name(name, "logged model name")
        if model_type is not None:
            model_type = validate_name(model_type, "model_type")
        clean_params = _params(params)
        clean_tags = _tags(tags)
        model_id = f"m-{uuid.uuid4().hex}"
        location = ""
        now = now_ms()
        with write_transaction(self.engine) as conn:
            _require_experiment(conn, eid)
            run = _source_run(conn, source_run_id)
            if run is not None:
                if run.experiment_id != eid:
                    raise InvalidInput(
                        f"source run {source_run_id!r} is in experiment {run.experiment_id}, "
                        f"not {eid}; log the model in its run's experiment"
                    )
                location = f"runs:/{source_run_id}/{artifact_folder(model_id)}"
            conn.execute(
                insert(s.logged_models).values(
                    model_id=model_id,
                    experiment_id=eid,
                    name=name,
                    artifact_location=location,
                    creation_time=now,
                    last_updated_time=now,
                    status="PENDING",
                    status_message=None,
                    model_type=model_type,
                    source_run_id=source_run_id,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                )
            )
            _write_pairs(conn, s.logged_model_params, model_id, clean_params)
            _write_pairs(conn, s.logged_model_tags, model_id, clean_tags)
            return _load(conn, [model_id])[0]

    def get(self, model_id: str) -> LoggedModel:
        """Return the logged model (deleted ones too: see `lifecycle_stage`), or raise NotFound."""
        check_model_id(model_id)
        with read_transaction(self.engine) as conn:
            found = _load(conn, [model_id])
        if not found:
            raise NotFound(f"logged model {model_id!r} does not exist")
        return found[0]

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        """Return the model after setting its final status (READY or FAILED)."""
        if status not in ("READY", "FAILED"):
            raise InvalidInput(f"status must be READY or FAILED, got {status!r:.40}")
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            _touch(conn, model_id, status=status)
            return _load(conn, [model_id])[0]

    def search(
        self,
        experiment_ids: Sequence[str],
        max_results: int = 100,
        page_token: str | None = None,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        datasets: Sequence[tuple[str, str | None]] | None = None,
    ) -> Page[LoggedModel]:
        """Return one page of the experiments' live logged models, newest first.

        `name` and `source_run_id`, when given, keep only the models with that exact value;
        `datasets` ((name, digest or None) pairs) those with a metric on one of them.
        """
        ids = validate_experiment_ids(experiment_ids)
        check_max_results(max_results, MAX_SEARCH_RESULTS)
        offset = decode_page_token(page_token)
        lm = s.logged_models
        query = (
            select(lm.c.model_id)
            .where(lm.c.experiment_id.in_(ids), lm.c.lifecycle_stage == LifecycleStage.ACTIVE.value)
            .order_by(lm.c.creation_time.desc(), lm.c.model_id)
            .offset(offset)
            .limit(max_results + 1)
        )
        if name is not None:
            query = query.where(lm.c.name == name)
        if source_run_id is not None:
            query = query.where(lm.c.source_run_id == source_run_id)
        if datasets:
            query = query.where(with_metrics_on(datasets))
        with read_transaction(self.engine) as conn:
            found = list(conn.execute(query).scalars())
            items = _load(conn, found[:max_results])
        token = encode_page_token(offset + max_results) if len(found) > max_results else None
        return Page(items, token)

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set (or replace) tags on a logged model."""
        clean = _tags(tags)
        t = s.logged_model_tags
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            rows = [{"model_id": model_id, "key": k, "value": v} for k, v in sorted(clean.items())]
            upsert(conn, t, rows, ("model_id", "key"), ("value",))
            _touch(conn, model_id)

    def delete_tag(self, model_id: str, key: str) -> None:
        """Delete one tag of a logged model; NotFound when it has no such tag."""
        t = s.logged_model_tags
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            gone = conn.execute(delete(t).where(t.c.model_id == model_id, t.c.key == key))
            if gone.rowcount != 1:
                raise NotFound(f"logged model {model_id!r} has no tag {key!r:.80}")
            _touch(conn, model_id)

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        """Record params; re-logging a value is a no-op, changing one raises Conflict."""
        clean = _params(params)
        p = s.logged_model_params
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            stored = dict(
                conn.execute(
                    select(p.c.key, p.c.value).where(
                        p.c.model_id == model_id, p.c.key.in_(list(clean))
                    )
                ).all()
            )
            for key, value in clean.items():
                if key in stored and stored[key] != value:
                    raise Conflict(
                        f"param {key!r} of logged model {model_id!r} is already "
                        f"{stored[key]!r:.80} and cannot change to {value!r:.80}"
                    )
            _write_pairs(conn, p, model_id, {k: v for k, v in clean.items() if k not in stored})
            _touch(conn, model_id)

    def log_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Record metric values on a logged model (NaN is kept as NULL, as a run's)."""
        rows = metric_rows(check_model_id(model_id), metrics)
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            if rows:
                conn.execute(insert(s.logged_model_metrics), rows)
                _touch(conn, model_id)

    def link_run(self, run_id: str, links: Sequence[ModelLink]) -> None:
        """Record logged models the run consumed or produced; a link already kept stays as is."""
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            rows = link_rows(conn, run_id, links)
            insert_ignore(conn, s.run_model_links, rows, ["run_uuid", "model_id", "direction"])

    def run_links(self, run_ids: Sequence[str]) -> dict[str, list[ModelLink]]:
        """Return the model links of each of the runs that has any."""
        with read_transaction(self.engine) as conn:
            return read_links(conn, list(run_ids))

    def delete(self, model_id: str) -> None:
        """Mark the logged model deleted (its files stay with its source run)."""
        with write_transaction(self.engine) as conn:
            _require_active(conn, model_id)
            _touch(conn, model_id, lifecycle_stage=LifecycleStage.DELETED.value)


def _params(params: dict[str, str] | None) -> dict[str, str]:
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(f"params must be a mapping of names to values, got {params!r:.60}")
    return check_params([Param(k, v) for k, v in (params or {}).items()])


def _tags(tags: dict[str, str] | None) -> dict[str, str]:
    if tags is not None and not isinstance(tags, dict):
        raise InvalidInput(f"tags must be a mapping of names to values, got {tags!r:.60}")
    return check_tags([RunTag(k, v) for k, v in (tags or {}).items()])


def _source_run(conn: Connection, source_run_id: Any) -> Any:
    """Return the `runs` row a source run id names, or None when it names no run."""
    if source_run_id is None:
        return None
    if not isinstance(source_run_id, str) or not _SOURCE_RUN.match(source_run_id):
        raise InvalidInput(
            f"source_run_id {source_run_id!r:.60} is not 1-32 letters, digits, '_', '-' or '.'"
        )
    try:
        return require_run(conn, source_run_id)
    except (InvalidInput, NotFound):
        return None


def _require_experiment(conn: Connection, eid: int) -> None:
    stage = conn.execute(
        select(s.experiments.c.lifecycle_stage).where(s.experiments.c.experiment_id == eid)
    ).scalar()
    if stage is None:
        raise NotFound(f"experiment {str(eid)!r} does not exist")
    if stage != LifecycleStage.ACTIVE.value:
        raise Conflict(f"experiment {str(eid)!r} is deleted; restore it before logging models")


def _require_active(conn: Connection, model_id: str) -> None:
    check_model_id(model_id)
    lm = s.logged_models
    stage = conn.execute(select(lm.c.lifecycle_stage).where(lm.c.model_id == model_id)).scalar()
    if stage is None:
        raise NotFound(f"logged model {model_id!r} does not exist")
    if stage != LifecycleStage.ACTIVE.value:
        raise Conflict(f"logged model {model_id!r} is deleted; it can no longer change")


def _touch(conn: Connection, model_id: str, **values: Any) -> None:
    lm = s.logged_models
    conn.execute(
        update(lm).where(lm.c.model_id == model_id).values(last_updated_time=now_ms(), **values)
    )


def _write_pairs(conn: Connection, table: Any, model_id: str, pairs: dict[str, str]) -> None:
    if pairs:
        rows = [{"model_id": model_id, "key": k, "value": v} for k, v in sorted(pairs.items())]
        conn.execute(insert(table), rows)


def _load(conn: Connection, model_ids: list[str]) -> list[LoggedModel]:
    """Return the models with these ids, in the order given, with their params and tags."""
    if not model_ids:
        return []
    lm = s.logged_models
    rows = {r.model_id: r for r in conn.execute(select(lm).where(lm.c.model_id.in_(model_ids)))}
    extra: dict[str, dict[str, dict[str, str]]] = {
        "params": defaultdict(dict),
        "tags": defaultdict(dict),
    }
    for kind, table in (("params", s.logged_model_params), ("tags", s.logged_model_tags)):
        query = select(table.c.model_id, table.c.key, table.c.value)
        for mid, key, value in conn.execute(query.where(table.c.model_id.in_(model_ids))):
            extra[kind][mid][key] = value
    metrics = read_metrics(conn, model_ids)
    return [
        LoggedModel(
            model_id=row.model_id,
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=row.artifact_location,
            creation_time=row.creation_time,
            last_updated_time=row.last_updated_time,
            status=row.status,
            status_message=row.status_message,
            model_type=row.model_type,
            source_run_id=row.source_run_id,
            lifecycle_stage=row.lifecycle_stage,
            params=dict(extra["params"][mid]),
            tags=dict(extra["tags"][mid]),
            metrics=metrics.get(mid, []),
        )
        for mid in model_ids
        if (row := rows.get(mid)) is not None
    ]
