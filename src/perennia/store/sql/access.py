"""Roles on experiments and registered models, and blob upload grants, in SQL."""

from __future__ import annotations

from sqlalchemy import Engine, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import Role, User
from perennia.errors import InvalidInput, NotFound
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.users import require_user
from perennia.store.validation import validate_experiment_id, validate_run_id


def _role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise InvalidInput(f"role {role!r} is not one of viewer, editor, manager") from None


class SqlAccessStore:
    """The `AccessStore` protocol over SQLAlchemy Core: roles and blob upload grants."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_role(self, experiment_id: str, username: str, role: Role | str | None) -> None:
        """Give a user a role in an experiment (None removes it)."""
        eid = validate_experiment_id(experiment_id)
        p = s.experiment_permissions
        with write_transaction(self.engine) as conn:
            user = require_user(conn, username)
            conn.execute(delete(p).where(p.c.experiment_id == eid, p.c.user_id == user.user_id))
            if role is not None:
                conn.execute(
                    insert(p).values(
                        experiment_id=eid, user_id=user.user_id, role=_role(role).value
                    )
                )

    def role_of(self, experiment_id: str, user_id: int) -> Role | None:
        """Return the user's explicit role in an experiment, or None."""
        eid = validate_experiment_id(experiment_id)
        p = s.experiment_permissions
        with read_transaction(self.engine) as conn:
            role = conn.execute(
                select(p.c.role).where(p.c.experiment_id == eid, p.c.user_id == user_id)
            ).scalar()
        return None if role is None else Role(role)

    def run_role(self, run_id: str, user_id: int) -> tuple[str, Role | None]:
        """Return the run's experiment id and the user's explicit role there; NotFound if no run."""
        rid = validate_run_id(run_id)
        r, p = s.runs, s.experiment_permissions
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(r.c.experiment_id, p.c.role)
                .select_from(
                    r.outerjoin(
                        p, (p.c.experiment_id == r.c.experiment_id) & (p.c.user_id == user_id)
                    )
                )
                .where(r.c.run_uuid == rid)
            ).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        return str(row.experiment_id), None if row.role is None else Role(row.role)

    def may_use_blob(self, digest: str, user: User, *, restricted: bool) -> bool:
        """Return whether the user may read or link this blob: they uploaded it, or a run they
        may read holds it (any run when not `restricted` to explicit roles)."""
        a, r, p, u = s.artifacts, s.runs, s.experiment_permissions, s.blob_uploads
        held = select(a.c.digest).where(a.c.digest == digest)
        if restricted:
            held = held.join(r, r.c.run_uuid == a.c.run_uuid).join(
                p, (p.c.experiment_id == r.c.experiment_id) & (p.c.user_id == user.user_id)
            )
        uploaded = select(u.c.digest).where(u.c.digest == digest, u.c.username == user.username)
        with read_transaction(self.engine) as conn:
            return bool(conn.execute(select(exists(held) | exists(uploaded))).scalar())

    def record_upload(self, digest: str, username: str) -> None:
        """Remember that `username` sent the bytes of this blob (they may link it since)."""
        u = s.blob_uploads
        now = now_ms()
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(u)
                .where(u.c.digest == digest, u.c.username == username)
                .values(upload_time=now)
            ).rowcount
            if not done:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(u).values(digest=digest, username=username, upload_time=now)
                        )
                except IntegrityError:
                    pass  # the same user's parallel upload of the same bytes recorded it

    def expire_uploads(self, older_than_ms: int) -> int:
        """Forget uploads recorded before the cutoff (their blobs are linked or collected)."""
        u = s.blob_uploads
        with write_transaction(self.engine) as conn:
            return conn.execute(delete(u).where(u.c.upload_time < older_than_ms)).rowcount or 0

    def set_model_role(self, name: str, username: str, role: Role | str | None) -> None:
        """Give a user a role on a registered model (None removes it)."""
        p = s.model_permissions
        with write_transaction(self.engine) as conn:
            user = require_user(conn, username)
            conn.execute(delete(p).where(p.c.name == name, p.c.user_id == user.user_id))
            if role is not None:
                conn.execute(
                    insert(p).values(name=name, user_id=user.user_id, role=_role(role).value)
                )

    def model_role_of(self, name: str, user_id: int) -> Role | None:
        """Return the user's explicit role on a registered model, or None."""
        p = s.model_permissions
        with read_transaction(self.engine) as conn:
            role = conn.execute(
                select(p.c.role).where(p.c.name == name, p.c.user_id == user_id)
            ).scalar()
        return None if role is None else Role(role)

    def model_roles(self, name: str) -> dict[str, Role]:
        """Return every explicit role on a registered model, by username."""
        p, u = s.model_permissions, s.users
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(u.c.username, p.c.role)
                .join(u, u.c.user_id == p.c.user_id)
                .where(p.c.name == name)
                .order_by(u.c.username)
            ).all()
        return {row.username: Role(row.role) for row in rows}


def standing_on_model(conn, name: str, username: str | None) -> tuple[bool, Role | None]:
    """Return (is_admin, explicit role on the model) for a username, (False, None) if unknown."""
    if not username:
        return False, None
    u, p = s.users, s.model_permissions
    row = conn.execute(
        select(u.c.is_admin, p.c.role)
        .select_from(u.outerjoin(p, (p.c.user_id == u.c.user_id) & (p.c.name == name)))
        .where(u.c.username == username)
    ).first()
    if row is None:
        return False, None
    return bool(row.is_admin), None if row.role is None else Role(row.role)
