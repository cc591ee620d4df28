"""Experiments in SQL: create, find, rename, trash, restore, tag, purge."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import Experiment, LifecycleStage, Page, Reader, ViewType
from perennia.errors import AlreadyExists, Conflict, NotFound
from perennia.store.base import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.limits import MAX_EXPERIMENT_PAGE
from perennia.store.paging import check_max_results, decode_page_token, encode_page_token
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.like import case_sensitive_like
from perennia.store.sql.readers import readable_experiments
from perennia.store.sql.upsert import upsert
from perennia.store.validation import (
    EXPERIMENT_ORDER_FIELDS,
    validate_experiment_id,
    validate_key,
    validate_name,
    validate_order,
    validate_tag_value,
)


class SqlExperimentStore:
    """The `ExperimentStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Return the id of a new experiment; AlreadyExists if the name is taken."""
        name = validate_name(name, "experiment name")
        clean_tags = {
            validate_key(k, "experiment tag key"): validate_tag_value(k, v)
            for k, v in (tags or {}).items()
        }
        now = now_ms()
        try:
            with write_transaction(self.engine) as conn:
                experiment_id = conn.execute(
                    insert(s.experiments).values(
                        name=name,
                        artifact_location=artifact_location,
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                ).inserted_primary_key[0]
                if clean_tags:
                    conn.execute(
                        insert(s.experiment_tags),
                        [
                            {"experiment_id": experiment_id, "key": k, "value": v}
                            for k, v in clean_tags.items()
                        ],
                    )
        except IntegrityError:
            existing = self.get_by_name(name)
            hint = (
                " (it is in the trash: restore it or purge it with `perennia gc`)"
                if (existing and existing.lifecycle_stage == LifecycleStage.DELETED)
                else ""
            )
            raise AlreadyExists(f"experiment {name!r} already exists{hint}") from None
        return str(experiment_id)

    def get(self, experiment_id: str) -> Experiment:
        """Return the experiment; NotFound if there is none."""
        eid = validate_experiment_id(experiment_id)
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(s.experiments).where(s.experiments.c.experiment_id == eid)
            ).first()
            if row is None:
                raise NotFound(f"experiment {experiment_id!r} does not exist")
            return self._hydrate(conn, [row])[0]

    def get_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or None."""
        name = validate_name(name, "experiment name")
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
            return None if row is None else self._hydrate(conn, [row])[0]

    def search(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        name_like: str | None = None,
        page_token: str | None = None,
        reader: Reader | None = None,
        *,
        order_by: Sequence[tuple[str, bool]] | None = None,
    ) -> Page[Experiment]:
        """Return a page of experiments ordered by `order_by` pairs, then by id (only those
        `reader` holds a role in)."""
        check_max_results(max_results, MAX_EXPERIMENT_PAGE)
        e = s.experiments
        order = validate_order(order_by, EXPERIMENT_ORDER_FIELDS)
        terms = [e.c[f].desc() if down else e.c[f].asc() for f, down in order]
        offset = decode_page_token(page_token)
        query = select(s.experiments).where(
            s.experiments.c.lifecycle_stage.in_(ViewType(view_type).stages())
        )
        if reader is not None:
            query = query.where(s.experiments.c.experiment_id.in_(readable_experiments(reader)))
        if name_like:
            query = query.where(case_sensitive_like(s.experiments.c.name, name_like))
        query = query.order_by(*terms, e.c.experiment_id).offset(offset).limit(max_results + 1)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
            items = self._hydrate(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page(items, token)

    def rename(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        new_name = validate_name(new_name, "experiment name")
        try:
            self._update(experiment_id, name=new_name)
        except IntegrityError:
            raise AlreadyExists(f"experiment {new_name!r} already exists") from None

    def delete(self, experiment_id: str) -> None:
        """Move an experiment and its runs to the trash; deleting a trashed one changes nothing."""
        eid = validate_experiment_id(experiment_id)
        if eid == 0:
            raise Conflict("the Default experiment (id 0) cannot be deleted")
        now = now_ms()
        with write_transaction(self.engine) as conn:
            row = self._require(conn, eid)
            if row.lifecycle_stage == LifecycleStage.DELETED.value:
                return
            # Restore brings back the runs trashed at or after this time, so the experiment's
            # deletion must come strictly after any run trashed on its own (even in the same ms).
            latest = conn.execute(
                select(func.max(s.runs.c.deleted_time)).where(s.runs.c.experiment_id == eid)
            ).scalar()
            now = max(now, (latest or 0) + 1)
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == eid)
                .values(
                    lifecycle_stage=LifecycleStage.DELETED.value,
                    last_update_time=now,
                    deleted_time=now,
                )
            )
            conn.execute(
                update(s.runs)
                .where(
                    s.runs.c.experiment_id == eid,
                    s.runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
                )
                .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now)
            )

    def restore(self, experiment_id: str) -> None:
        """Take a trashed experiment and the runs trashed with it out of the trash."""
        eid = validate_experiment_id(experiment_id)
        with write_transaction(self.engine) as conn:
            row = self._require(conn, eid)
            if row.lifecycle_stage != LifecycleStage.DELETED.value:
                return
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == eid)
                .values(
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    last_update_time=now_ms(),
                    deleted_time=None,
                )
            )
            # Runs trashed on their own before the experiment keep an earlier deletion time.
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == eid, s.runs.c.deleted_time >= row.deleted_time)
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
            )

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one experiment tag."""
        eid = validate_experiment_id(experiment_id)
        key = validate_key(key, "experiment tag key")
        value = validate_tag_value(key, value)
        with write_transaction(self.engine) as conn:
            self._require(conn, eid)
            upsert(
                conn,
                s.experiment_tags,
                [{"experiment_id": eid, "key": key, "value": value}],
                ["experiment_id", "key"],
                ["value"],
            )

    def delete_tag(self, experiment_id: str, key: str) -> None:
        """Delete one experiment tag (NotFound if the experiment has no such tag)."""
        eid = validate_experiment_id(experiment_id)
        key = validate_key(key, "experiment tag key")
        table = s.experiment_tags
        with write_transaction(self.engine) as conn:
            self._require(conn, eid)
            gone = conn.execute(
                table.delete().where(table.c.experiment_id == eid, table.c.key == key)
            ).rowcount
        if not gone:
            raise NotFound(f"experiment {str(eid)!r} has no tag {key!r}")

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove experiments trashed before the cutoff, with their runs; return how
        many (with `dry_run`, how many would go, removing nothing)."""
        with write_transaction(self.engine) as conn:
            ids = (
                conn.execute(
                    select(s.experiments.c.experiment_id).where(
                        s.experiments.c.lifecycle_stage == LifecycleStage.DELETED.value,
                        s.experiments.c.deleted_time < older_than_ms,
                    )
                )
                .scalars()
                .all()
            )
            if not ids or dry_run:
                return len(ids)
            conn.execute(delete(s.runs).where(s.runs.c.experiment_id.in_(ids)))
            conn.execute(
                delete(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(ids))
            )
            conn.execute(delete(s.experiments).where(s.experiments.c.experiment_id.in_(ids)))
            return len(ids)

    def _update(self, experiment_id: str, **values: object) -> None:
        eid = validate_experiment_id(experiment_id)
        with write_transaction(self.engine) as conn:
            self._require(conn, eid)
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == eid)
                .values(last_update_time=now_ms(), **values)
            )

    @staticmethod
    def _require(conn, eid: int):
        row = conn.execute(
            select(s.experiments).where(s.experiments.c.experiment_id == eid)
        ).first()
        if row is None:
            raise NotFound(f"experiment {str(eid)!r} does not exist")
        return row

    @staticmethod
    def _hydrate(conn, rows) -> list[Experiment]:
        ids = [row.experiment_id for row in rows]
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        if ids:
            for eid, key, value in conn.execute(
                select(
                    s.experiment_tags.c.experiment_id,
                    s.experiment_tags.c.key,
                    s.experiment_tags.c.value,
                ).where(s.experiment_tags.c.experiment_id.in_(ids))
            ):
                tags[eid][key] = value
        return [
            Experiment(
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=row.lifecycle_stage,
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                tags=dict(tags.get(row.experiment_id, {})),
            )
            for row in rows
        ]
