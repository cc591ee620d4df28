"""Runs in SQL: lifecycle (create, update, trash, restore, purge), heartbeats and search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from perennia.clock import now_ms
from perennia.entities import (
    LifecycleStage,
    Page,
    Reader,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    ViewType,
)
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.base import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS
from perennia.store.paging import check_max_results
from perennia.store.run_names import generate_run_name
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.run_loader import load_runs, run_info
from perennia.store.sql.run_search import build_search_query, search_frame, search_run_ids
from perennia.store.validation import (
    validate_experiment_id,
    validate_int64,
    validate_key,
    validate_name,
    validate_run_id,
    validate_tag_value,
)

if TYPE_CHECKING:
    import pandas as pd


# Built once: every write checks its run first, and building a SELECT costs more than running it.
_RUN_BY_ID = select(s.runs).where(s.runs.c.run_uuid == bindparam("run_id"))
_INSERT_RUN = insert(s.runs)
_INSERT_TAGS = insert(s.tags)
_EXPERIMENT_STAGE = select(s.experiments.c.lifecycle_stage).where(
    s.experiments.c.experiment_id == bindparam("experiment_id")
)

# The SET clause comes from the keys passed at execution, so one statement serves every update.
_UPDATE_ACTIVE_RUN = (
    update(s.runs)
    .where(
        s.runs.c.run_uuid == bindparam("b_run_id"),
        s.runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
    )
    .returning(*s.runs.c)
)


def require_run(conn: Connection, run_id: str, *, writable: bool = True):
    """Return the `runs` row; NotFound if absent, Conflict if it is trashed and `writable`."""
    validate_run_id(run_id)
    row = conn.execute(_RUN_BY_ID, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist")
    if writable and row.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise Conflict(f"run {run_id!r} is deleted; restore it before writing to it")
    return row


class SqlRunStore:
    """The `RunStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        source_name: str | None = None,
        git_commit: str | None = None,
    ) -> Run:
        """Return a new RUNNING run in the experiment."""
        eid = validate_experiment_id(experiment_id)
        name = validate_name(run_name, "run name") if run_name is not None else generate_run_name()
        if parent_run_id is not None:
            validate_run_id(parent_run_id)
        start = now_ms() if start_time is None else validate_int64("start_time", start_time)
        clean_tags = {
            validate_key(k, "tag key"): validate_tag_value(k, v) for k, v in (tags or {}).items()
        }
        run_id = uuid.uuid4().hex
        with write_transaction(self.engine) as conn:
            stage = conn.execute(_EXPERIMENT_STAGE, {"experiment_id": eid}).scalar()
            if stage is None:
                raise NotFound(
                    f"experiment {str(eid)!r} does not exist; create it with set_experiment()"
                )
            if stage != LifecycleStage.ACTIVE.value:
                raise Conflict(
                    f"experiment {str(eid)!r} is deleted; restore it before starting runs in it"
                )
            conn.execute(
                _INSERT_RUN,
                {
                    "run_uuid": run_id,
                    "name": name,
                    "experiment_id": eid,
                    "user_id": user_id,
                    "status": RunStatus.RUNNING.value,
                    "start_time": start,
                    "end_time": None,
                    "heartbeat_time": start,
                    "lifecycle_stage": LifecycleStage.ACTIVE.value,
                    "parent_run_uuid": parent_run_id,
                    "source_name": source_name,
                    "git_commit": git_commit,
                },
            )
            if clean_tags:
                conn.execute(
                    _INSERT_TAGS,
                    [{"run_uuid": run_id, "key": k, "value": v} for k, v in clean_tags.items()],
                )
        # Everything the new run holds was just written here, so build it instead of reading back.
        info = RunInfo(
            run_id=run_id,
            run_name=name,
            experiment_id=str(eid),
            status=RunStatus.RUNNING.value,
            start_time=start,
            end_time=None,
            user_id=user_id,
            lifecycle_stage=LifecycleStage.ACTIVE.value,
            parent_run_id=parent_run_id,
            source_name=source_name,
            git_commit=git_commit,
            heartbeat_time=start,
        )
        return Run(info=info, data=RunData(tags=clean_tags))

    def get(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params, tags and inputs; NotFound if absent."""
        validate_run_id(run_id)
        with read_transaction(self.engine) as conn:
            runs = load_runs(conn, [run_id])
        if not runs:
            raise NotFound(f"run {run_id!r} does not exist")
        return runs[0]

    def update(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        error: str | None = None,
    ) -> RunInfo:
        """Return the run info after changing its status, end time, name or error."""
        values: dict[str, object] = {}
        if status is not None:
            try:
                values["status"] = RunStatus(status).value
            except ValueError:
                allowed = ", ".join(m.value for m in RunStatus)
                raise InvalidInput(f"run status {status!r} is not one of {allowed}") from None
        if end_time is not None:
            values["end_time"] = validate_int64("end_time", end_time)
        if run_name is not None:
            values["name"] = validate_name(run_name, "run name")
        if error is not None:
            values["error"] = str(error)[:20_000]
        with write_transaction(self.engine) as conn:
            if values:
                # One round trip when the run is writable; the check below only explains a miss.
                row = conn.execute(_UPDATE_ACTIVE_RUN, {"b_run_id": run_id, **values}).first()
                if row is not None:
                    return run_info(row)
            return run_info(require_run(conn, run_id))

    def delete(self, run_id: str) -> None:
        """Move a run to the trash."""
        self._set_stage(run_id, LifecycleStage.DELETED, now_ms())

    def restore(self, run_id: str) -> None:
        """Take a run out of the trash."""
        self._set_stage(run_id, LifecycleStage.ACTIVE, None)

    def _set_stage(self, run_id: str, stage: LifecycleStage, deleted_time: int | None) -> None:
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id, writable=False)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage.value, deleted_time=deleted_time)
            )

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        """Record that the given live runs are still alive."""
        if not run_ids:
            return
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(s.runs)
                .where(
                    s.runs.c.run_uuid.in_(list(run_ids)), s.runs.c.status == RunStatus.RUNNING.value
                )
                .values(heartbeat_time=now_ms)
            )

    def mark_stale_killed(self, cutoff_ms: int) -> list[str]:
        """Mark RUNNING runs whose heartbeat is older than the cutoff KILLED; return their ids."""
        stale = (s.runs.c.status == RunStatus.RUNNING.value) & (s.runs.c.heartbeat_time < cutoff_ms)
        with read_transaction(self.engine) as conn:
            if conn.execute(select(s.runs.c.run_uuid).where(stale).limit(1)).first() is None:
                return []  # the common case stays a read: no write lock taken
        with write_transaction(self.engine) as conn:
            ids = list(conn.execute(select(s.runs.c.run_uuid).where(stale)).scalars())
            if ids:
                # The last heartbeat is the last moment the run was known to be alive.
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.run_uuid.in_(ids), s.runs.c.status == RunStatus.RUNNING.value)
                    .values(status=RunStatus.KILLED.value, end_time=s.runs.c.heartbeat_time)
                )
            return ids

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[Run]:
        """Return a page of runs matching the filter, in the requested order."""
        check_max_results(max_results, MAX_SEARCH_RESULTS)
        with read_transaction(self.engine) as conn:
            ids, token = search_run_ids(
                conn,
                experiment_ids,
                filter_string,
                view_type,
                order_by,
                reader,
                max_results,
                page_token,
            )
            runs = load_runs(conn, ids)
        return Page(runs, token)

    def search_frame(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        reader: Reader | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return matching runs as a DataFrame with metrics.*, params.* and tags.* columns
        (only `columns`, in that order, when given)."""
        if max_results is not None:
            check_max_results(max_results, 10**9)
        query = build_search_query(experiment_ids, filter_string, view_type, order_by, reader)
        with read_transaction(self.engine) as conn:
            return search_frame(conn, query, max_results, columns)

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove runs trashed before the cutoff; return how many (with `dry_run`,
        how many would go, removing nothing)."""
        trashed = (
            s.runs.c.lifecycle_stage == LifecycleStage.DELETED.value,
            s.runs.c.deleted_time < older_than_ms,
        )
        if dry_run:
            with read_transaction(self.engine) as conn:
                return conn.execute(select(func.count()).where(*trashed)).scalar_one()
        with write_transaction(self.engine) as conn:
            return conn.execute(delete(s.runs).where(*trashed)).rowcount or 0
