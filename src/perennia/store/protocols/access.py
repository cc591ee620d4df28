"""Who may do what on a server: users and their API tokens, roles, and blob upload grants."""

from __future__ import annotations

from typing import Protocol

from perennia.entities import ApiToken, Role, User


class UserStore(Protocol):
    """Users, their passwords and API tokens (`store.users`)."""

    def create_user(self, username: str, password: str | None, *, is_admin: bool = False) -> User:
        """Return a new user; AlreadyExists if the name is taken."""
        ...

    def get_user(self, username: str) -> User:
        """Return the user; NotFound if there is none."""
        ...

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        ...

    def delete_user(self, username: str) -> None:
        """Remove a user with their tokens and roles."""
        ...

    def authenticate_password(self, username: str, password: str) -> User | None:
        """Return the user when the password matches, else None."""
        ...

    def password_record(self, username: str) -> tuple[User, str | None] | None:
        """Return the user and their stored password hash, or None when there is no such user."""
        ...

    def create_token(self, username: str, name: str) -> tuple[ApiToken, str]:
        """Return a new token's record and its secret."""
        ...

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        """Return token records (never secrets), optionally of one user."""
        ...

    def revoke_token(self, token_id: int) -> None:
        """Revoke a token for good."""
        ...

    def authenticate_token(self, secret: str) -> User | None:
        """Return the user a live token belongs to, else None."""
        ...


class AccessStore(Protocol):
    """Roles on experiments and models, and who may use which blob (`store.access`)."""

    def set_role(self, experiment_id: str, username: str, role: Role | str | None) -> None:
        """Give a user a role in an experiment (None removes it)."""
        ...

    def role_of(self, experiment_id: str, user_id: int) -> Role | None:
        """Return the user's explicit role in an experiment, or None."""
        ...

    def run_role(self, run_id: str, user_id: int) -> tuple[str, Role | None]:
        """Return the run's experiment id and the user's explicit role there."""
        ...

    def set_model_role(self, name: str, username: str, role: Role | str | None) -> None:
        """Give a user a role on a registered model (None removes it)."""
        ...

    def model_role_of(self, name: str, user_id: int) -> Role | None:
        """Return the user's explicit role on a registered model, or None."""
        ...

    def model_roles(self, name: str) -> dict[str, Role]:
        """Return every explicit role on a registered model, by username."""
        ...

    def may_use_blob(self, digest: str, user: User, *, restricted: bool) -> bool:
        """Return whether the user may read or link this blob."""
        ...

    def record_upload(self, digest: str, username: str) -> None:
        """Remember that `username` sent the bytes of this blob."""
        ...

    def expire_uploads(self, older_than_ms: int) -> int:
        """Forget uploads recorded before the cutoff; return how many."""
        ...
