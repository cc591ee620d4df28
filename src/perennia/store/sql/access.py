"""Users, API tokens and per-experiment roles in SQL."""

from __future__ import annotations

import hmac

from sqlalchemy import Engine, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import ApiToken, Role, User
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.security import hash_password, new_token, token_hash, verify_password
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.validation import validate_experiment_id, validate_name, validate_run_id

_MIN_PASSWORD = 8


def _user(row) -> User:
    return User(row.user_id, row.username, bool(row.is_admin), row.creation_time)


def _role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise InvalidInput(f"role {role!r} is not one of viewer, editor, manager") from None


class SqlAccessStore:
    """The `AccessStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_user(self, username: str, password: str | None, *, is_admin: bool = False) -> User:
        """Return a new user; AlreadyExists if the name is taken."""
        username = validate_name(username, "username")
        if password is not None and len(password) < _MIN_PASSWORD:
            raise InvalidInput(f"password must have at least {_MIN_PASSWORD} characters")
        row = {
            "username": username,
            "password_hash": hash_password(password) if password else None,
            "is_admin": int(is_admin),
            "creation_time": now_ms(),
        }
        try:
            with write_transaction(self.engine) as conn:
                user_id = conn.execute(insert(s.users).values(**row)).inserted_primary_key[0]
        except IntegrityError:
            raise AlreadyExists(f"user {username!r} already exists") from None
        return User(user_id, username, is_admin, row["creation_time"])

    def get_user(self, username: str) -> User:
        """Return the user; NotFound if there is none."""
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        if row is None:
            raise NotFound(f"user {username!r} does not exist")
        return _user(row)

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(s.users).order_by(s.users.c.username)).all()
        return [_user(r) for r in rows]

    def delete_user(self, username: str) -> None:
        """Remove a user with their tokens and roles."""
        user = self.get_user(username)
        with write_transaction(self.engine) as conn:
            for table in (s.api_tokens, s.experiment_permissions):
                conn.execute(delete(table).where(table.c.user_id == user.user_id))
            conn.execute(delete(s.users).where(s.users.c.user_id == user.user_id))

    def authenticate_password(self, username: str, password: str) -> User | None:
        """Return the user when the password matches, else None (as slowly either way)."""
        found = self.password_record(username)
        if found is None:
            verify_password(password, None)  # same scrypt cost: timing tells nothing
            return None
        user, stored = found
        return user if verify_password(password, stored) else None

    def password_record(self, username: str) -> tuple[User, str | None] | None:
        """Return the user and their stored password hash, or None when there is no such user."""
        if not isinstance(username, str) or not username or len(username) > 256:
            return None
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        return None if row is None else (_user(row), row.password_hash)

    def create_token(self, username: str, name: str) -> tuple[ApiToken, str]:
        """Return a new token's record and its secret (the only time the secret is available)."""
        user = self.get_user(username)
        name = validate_name(name, "token name")
        secret = new_token()
        now = now_ms()
        with write_transaction(self.engine) as conn:
            token_id = conn.execute(
                insert(s.api_tokens).values(
                    user_id=user.user_id, name=name, token_hash=token_hash(secret),
                    creation_time=now,
                )
            ).inserted_primary_key[0]  # fmt: skip
        return ApiToken(token_id, username, name, now), secret

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        """Return token records (never secrets), optionally of one user."""
        t, u = s.api_tokens, s.users
        query = select(t, u.c.username).join(u, u.c.user_id == t.c.user_id).order_by(t.c.token_id)
        if username is not None:
            query = query.where(u.c.username == username)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            ApiToken(r.token_id, r.username, r.name, r.creation_time, r.revoked_time) for r in rows
        ]

    def revoke_token(self, token_id: int) -> None:
        """Revoke a token for good."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(s.api_tokens)
                .where(s.api_tokens.c.token_id == int(token_id))
                .values(revoked_time=now_ms())
            ).rowcount
        if not done:
            raise NotFound(f"token {token_id!r} does not exist")

    def authenticate_token(self, secret: str) -> User | None:
        """Return the user a live token belongs to, else None."""
        digest = token_hash(secret)
        t, u = s.api_tokens, s.users
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(u, t.c.token_hash, t.c.revoked_time)
                .join(t, t.c.user_id == u.c.user_id)
                .where(t.c.token_hash == digest)
            ).first()
        if row is None or row.revoked_time is not None:
            return None
        return _user(row) if hmac.compare_digest(row.token_hash, digest) else None

    def set_role(self, experiment_id: str, username: str, role: Role | str | None) -> None:
        """Give a user a role in an experiment (None removes it)."""
        eid = validate_experiment_id(experiment_id)
        user = self.get_user(username)
        p = s.experiment_permissions
        with write_transaction(self.engine) as conn:
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
                .select_from(r.outerjoin(
                    p, (p.c.experiment_id == r.c.experiment_id) & (p.c.user_id == user_id)
                ))
                .where(r.c.run_uuid == rid)
            ).first()  # fmt: skip
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
                update(u).where(u.c.digest == digest, u.c.username == username)
                .values(upload_time=now)
            ).rowcount  # fmt: skip
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
        user = self.get_user(username)
        p = s.model_permissions
        with write_transaction(self.engine) as conn:
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
                select(u.c.username, p.c.role).join(u, u.c.user_id == p.c.user_id)
                .where(p.c.name == name).order_by(u.c.username)
            ).all()  # fmt: skip
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
