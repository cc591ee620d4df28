"""Users, their passwords and API tokens in SQL."""

from __future__ import annotations

import hmac

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import ApiToken, User
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.security import hash_password, new_token, token_hash, verify_password
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.validation import validate_name

_MIN_PASSWORD = 8


def user_of(row) -> User:
    """Return the User a `users` row holds."""
    return User(row.user_id, row.username, bool(row.is_admin), row.creation_time)


def require_user(conn: Connection, username: str) -> User:
    """Return the user named `username`, inside the caller's transaction; NotFound if none."""
    row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
    if row is None:
        raise NotFound(f"user {username!r} does not exist")
    return user_of(row)


class SqlUserStore:
    """The `UserStore` protocol over SQLAlchemy Core."""

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
            return require_user(conn, username)

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(s.users).order_by(s.users.c.username)).all()
        return [user_of(r) for r in rows]

    def delete_user(self, username: str) -> None:
        """Remove a user with their tokens, roles and upload grants."""
        user = self.get_user(username)
        with write_transaction(self.engine) as conn:
            for table in (s.api_tokens, s.experiment_permissions, s.model_permissions):
                conn.execute(delete(table).where(table.c.user_id == user.user_id))
            # Upload grants are kept by name: a new user of the same name must not inherit them.
            conn.execute(delete(s.blob_uploads).where(s.blob_uploads.c.username == user.username))
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
        return None if row is None else (user_of(row), row.password_hash)

    def create_token(self, username: str, name: str) -> tuple[ApiToken, str]:
        """Return a new token's record and its secret (the only time the secret is available)."""
        user = self.get_user(username)
        name = validate_name(name, "token name")
        secret = new_token()
        now = now_ms()
        with write_transaction(self.engine) as conn:
            token_id = conn.execute(
                insert(s.api_tokens).values(
                    user_id=user.user_id,
                    name=name,
                    token_hash=token_hash(secret),
                    creation_time=now,
                )
            ).inserted_primary_key[0]
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
        return user_of(row) if hmac.compare_digest(row.token_hash, digest) else None
