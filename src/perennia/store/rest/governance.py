"""The `ApprovalStore`, `ModelCardStore` and `ModelRoleStore` protocols over the native REST API."""

from __future__ import annotations

from collections.abc import Sequence

from perennia.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    MetricGate,
    ModelCardRevision,
    Role,
    from_dict,
    to_dict,
)
from perennia.errors import InvalidInput
from perennia.store.rest.http import HttpSession
from perennia.store.rest.registry import model_path, segment

REQUESTS = "/api/v1/approval-requests"


def _request_path(request_id: int, tail: str = "") -> str:
    # Checked here too: an id must never become a different URL path.
    if isinstance(request_id, str) and request_id.isdigit():
        request_id = int(request_id)
    if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 1:
        raise InvalidInput(
            f"approval request id must be a positive integer, got {request_id!r:.40}"
        )
    return f"{REQUESTS}/{request_id}{tail}"


def _policy_path(name: str, alias: str) -> str:
    if not isinstance(alias, str):
        raise InvalidInput(f"alias must be a string, got {type(alias).__name__}")
    return model_path(name, f"/policies/{segment(alias)}")


class RestApprovalStore:
    """The `ApprovalStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def set_policy(
        self,
        name: str,
        alias: str,
        *,
        required_approvals: int = 1,
        reviewer_role: str = "manager",
        allow_self_approval: bool = False,
        gates: Sequence[MetricGate | str] = (),
        username: str | None = None,
    ) -> ApprovalPolicy:
        """Return the alias's policy after creating or replacing it."""
        body = {
            "required_approvals": required_approvals,
            "reviewer_role": str(reviewer_role),
            "allow_self_approval": allow_self_approval,
            "username": username,
            "gates": [to_dict(g) if isinstance(g, MetricGate) else g for g in gates],
        }
        data = self.http.request("PUT", _policy_path(name, alias), json=body)
        return from_dict(ApprovalPolicy, data)

    def get_policy(self, name: str, alias: str) -> ApprovalPolicy | None:
        """Return the alias's policy, or None when the alias is not guarded."""
        data = self.http.request("GET", _policy_path(name, alias))
        return from_dict(ApprovalPolicy, data["policy"])

    def list_policies(self, name: str) -> list[ApprovalPolicy]:
        """Return every policy of the registered model."""
        data = self.http.request("GET", model_path(name, "/policies"))
        return from_dict(list[ApprovalPolicy], data)

    def delete_policy(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias's policy (the alias can then be set directly)."""
        params = {"username": username} if username is not None else None
        self.http.request("DELETE", _policy_path(name, alias), params=params)

    def request(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        comment: str = "",
        username: str | None = None,
    ) -> ApprovalRequest:
        """Return a new PENDING request to point `alias` at `version`."""
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        body = {"version": version, "alias": alias, "comment": comment, "username": username}
        data = self.http.request("POST", model_path(name, "/approval-requests"), json=body)
        return from_dict(ApprovalRequest, data)

    def review(
        self, request_id: int, decision: str, *, comment: str = "", username: str | None = None
    ) -> ApprovalRequest:
        """Record an approve/reject; return the request, APPLIED once the policy holds."""
        body = {"decision": decision, "comment": comment, "username": username}
        data = self.http.request("POST", _request_path(request_id, "/reviews"), json=body)
        return from_dict(ApprovalRequest, data)

    def cancel(self, request_id: int, username: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request."""
        body = {"username": username}
        data = self.http.request("POST", _request_path(request_id, "/cancel"), json=body)
        return from_dict(ApprovalRequest, data)

    def get_request(self, request_id: int) -> ApprovalRequest:
        """Return the request with its reviews and what its policy still needs."""
        return from_dict(ApprovalRequest, self.http.request("GET", _request_path(request_id)))

    def list_requests(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """Return requests, newest first."""
        path = REQUESTS if name is None else model_path(name, "/approval-requests")
        params = {"limit": limit, **({"status": str(status)} if status is not None else {})}
        return from_dict(list[ApprovalRequest], self.http.request("GET", path, params=params))


class RestModelCardStore:
    """The `ModelCardStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

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
        body = {
            "fields": fields,
            "comment": comment,
            "expected_revision": expected_revision,
            "username": username,
        }
        data = self.http.request("PATCH", model_path(name, "/card"), json=body)
        return from_dict(ModelCardRevision, data)

    def get(self, name: str, revision: int | None = None) -> ModelCardRevision | None:
        """Return one revision (the newest by default), or None before the first edit."""
        params = {"revision": revision} if revision is not None else None
        data = self.http.request("GET", model_path(name, "/card"), params=params)
        return from_dict(ModelCardRevision, data["card"])

    def revisions(self, name: str) -> list[ModelCardRevision]:
        """Return every revision, oldest first."""
        data = self.http.request("GET", model_path(name, "/card/revisions"))
        return from_dict(list[ModelCardRevision], data)


class RestModelRoles:
    """The `ModelRoleStore` protocol over HTTP (the server keeps roles in its access store)."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def set_model_role(self, name: str, username: str, role: Role | str | None) -> None:
        """Give a user a role on a registered model (None removes it)."""
        if not isinstance(username, str) or not username:
            raise InvalidInput(f"username must be a non-empty string, got {username!r:.40}")
        path = model_path(name, f"/roles/{segment(username)}")
        self.http.request("PUT", path, json={"role": None if role is None else str(role)})

    def model_roles(self, name: str) -> dict[str, Role]:
        """Return every explicit role on a registered model, by username."""
        roles = self.http.request("GET", model_path(name, "/roles"))["roles"]
        return {username: Role(role) for username, role in roles.items()}
