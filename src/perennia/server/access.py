"""Who may do what: the `Caller` every route asks, with the arguments it has already parsed.

A route parses its request once, then asks its `Caller` for exactly what it is about to touch
(`caller.run(run_id, Role.EDITOR)`, `caller.model(name, Role.VIEWER)`, `caller.admin()`), and
hands the same values to the store. Listings ask `caller.listing()` and pass the `Reader` it
returns to the store, which filters inside its query: a search names no experiments, it sees
only what the caller may read. A route that answers without asking is refused by the middleware
(fail closed), and a test checks that every route takes a Caller.

Roles: viewer (read), editor (write), manager (rename, delete, restore, roles, policies).
Administrators may do everything. A user without an explicit role on an experiment or model
holds the server's default role (`PERENNIA_AUTH_DEFAULT_ROLE`; `none` hides it).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from perennia.entities import ApprovalRequest, LoggedModel, Reader, Role, User
from perennia.errors import PerenniaError, PermissionDenied
from perennia.store.base import ServerStore
from perennia.store.validation import validate_experiment_id, validate_run_id

# Paths that answer without sign-in: liveness, the version, and the API's own description.
OPEN_PATHS = frozenset({"/health", "/version", "/openapi.json"})


class Caller:
    """The signed-in user of one request, and every access decision made for it."""

    def __init__(
        self, user: User | None, store: ServerStore, default_role: Role | None, *, enforced: bool
    ) -> None:
        self.user = user
        self.store = store
        self.default_role = default_role
        self.enforced = enforced  # False when sign-in is off: everything is allowed
        self.decided = False
        self.target: str | None = None  # what the decision was about, for the audit log

    @property
    def username(self) -> str | None:
        """Return the signed-in user's name (None when sign-in is off)."""
        return None if self.user is None else self.user.username

    @property
    def is_admin(self) -> bool:
        """Return whether the caller may do everything (sign-in off counts as yes)."""
        return not self.enforced or (self.user is not None and self.user.is_admin)

    @property
    def reader(self) -> Reader | None:
        """Return the filter listings apply in the store (None: the caller may read everything)."""
        if self.is_admin or self.default_role is not None:
            return None
        return Reader(self.user.user_id)

    def _decide(self, target: str | None) -> None:
        self.decided = True
        if target is not None and self.target is None:
            self.target = target[:64]

    def created(self, target: str) -> None:
        """Record what the request created, as the audit entry's target."""
        self.target = str(target)[:64]

    # -- decisions that name no object -----------------------------------------------------

    def open(self) -> None:
        """Allow a request anyone may make (liveness, version, the capability probe)."""
        self._decide(None)

    def signed_in(self, target: str | None = None) -> None:
        """Allow any signed-in user (creating an experiment or model names nothing yet)."""
        self._decide(target)

    def listing(self) -> Reader | None:
        """Allow a listing and return the `Reader` the store must filter it by."""
        self._decide(None)
        return self.reader

    def admin(self) -> None:
        """Allow administrators only."""
        if not self.is_admin:
            raise PermissionDenied(f"user {self.username!r} is not an administrator")
        self._decide(None)

    # -- experiments and runs --------------------------------------------------------------

    def experiment(self, experiment_id: Any, need: Role) -> str:
        """Return the experiment id (as text) once the caller holds `need` in it."""
        eid = str(validate_experiment_id(experiment_id))
        if not self.is_admin:
            self._require(self._experiment_role(eid), need, f"in experiment {eid}")
        self._decide(eid)
        return eid

    def experiments(self, experiment_ids: list[Any], need: Role) -> list[str]:
        """Return the ids (as text) once the caller holds `need` in every one of them."""
        return [self.experiment(eid, need) for eid in experiment_ids]

    def run(self, run_id: Any, need: Role) -> str:
        """Return the run id once the caller holds `need` in the run's experiment."""
        rid = validate_run_id(run_id)
        if not self.is_admin:
            experiment_id, role = self.store.access.run_role(rid, self.user.user_id)
            self._require(role or self.default_role, need, f"in experiment {experiment_id}")
        self._decide(rid)
        return rid

    def runs(self, run_ids: list[Any], need: Role) -> list[str]:
        """Return the run ids once the caller holds `need` in each run's experiment."""
        return [self.run(rid, need) for rid in run_ids]

    def logged_model(self, model_id: str, need: Role) -> LoggedModel:
        """Return the MLflow logged model once the caller holds `need` in its experiment."""
        model = self.store.logged_models.get(model_id)
        self.experiment(model.experiment_id, need)
        self.target = model_id[:64]
        return model

    def blob(self, digest: str) -> None:
        """Allow reading or linking a blob the caller uploaded or may read through some run."""
        if not self.is_admin and not self.store.access.may_use_blob(
            digest, self.user, restricted=self.reader is not None
        ):
            raise PermissionDenied(
                f"blob {digest} is neither one you uploaded nor held by a run you may read; "
                "upload its bytes first"
            )
        self._decide(None)

    # -- the registry ----------------------------------------------------------------------

    def model(self, name: Any, need: Role) -> str:
        """Return the registered model's name once the caller holds `need` on it.

        A model that does not exist passes (the route answers 404, or creates it).
        """
        if not self.is_admin and isinstance(name, str):
            role = self.store.access.model_role_of(name, self.user.user_id) or self.default_role
            if role is None or role.rank < need.rank:
                try:
                    self.store.registry.get_registered_model(name)
                except PerenniaError:
                    role = need  # nothing to protect; the route's own lookup answers
            self._require(role, need, f"on registered model {name!r}")
        self._decide(name)
        return name

    def approval_request(self, request_id: int, need: Role) -> ApprovalRequest:
        """Return the approval request once the caller holds `need` on its model."""
        found = self.store.approvals.get_request(request_id)
        self.model(found.name, need)
        return found

    # -- datasets --------------------------------------------------------------------------

    def dataset(self, name: str, need: Role) -> str:
        """Return the dataset's name once the caller may act on it with `need`.

        Datasets have no per-name roles yet, so the rule is server-wide: reading (`VIEWER`)
        needs only a signed-in user, whatever their role; writing (registering a version,
        tagging, aliasing, setting a contract: `EDITOR`) needs the server's default role
        (`PERENNIA_AUTH_DEFAULT_ROLE`) to be editor or above, as a write to an experiment or
        model holding no role of the caller's does; administrators may do everything.
        """
        return self._server_wide(name, need, "datasets")

    # -- monitors --------------------------------------------------------------------------

    def monitor(self, name: str, need: Role) -> str:
        """Return the monitor's name once the caller may act on it with `need`.

        Monitors have no per-name roles yet, so the rule is the datasets' server-wide one:
        any signed-in user reads monitors, their runs and points; creating, changing, deleting
        and recording windows (`EDITOR`) need the server's default role to be editor or above,
        or an administrator. Claiming and releasing scheduled monitors is `admin()` only.
        """
        return self._server_wide(name, need, "monitors")

    # -- helpers ---------------------------------------------------------------------------

    def _server_wide(self, name: str, need: Role, what: str) -> str:
        """Return `name` once the caller may act with `need` on `what`, which has no per-name
        roles: reading needs sign-in only, anything more the server's default role."""
        if not self.is_admin and need.rank > Role.VIEWER.rank:
            self._require(self.default_role, need, f"on {what} (the server's default role)")
        self._decide(name)
        return name

    def _experiment_role(self, experiment_id: str) -> Role | None:
        return self.store.access.role_of(experiment_id, self.user.user_id) or self.default_role

    def _require(self, role: Role | None, need: Role, where: str) -> None:
        if role is None or role.rank < need.rank:
            raise PermissionDenied(
                f"user {self.username!r} needs the {need.value} role {where} "
                f"(has {role.value if role else 'none'})"
            )


def caller_of(request: Request) -> Caller:
    """Return the request's Caller (the middleware creates it; sign-in off allows everything)."""
    caller = getattr(request.state, "caller", None)
    if caller is None:
        raise RuntimeError("routes must be served through perennia.server.app.create_app")
    return caller
