"""The `ScheduleStore` and `RetrainingStore` protocols over the native REST API (`/api/v1/schedules`,
`/api/v1/retraining-policies`, `/api/v1/retrainings`).

Everything is checked here before it is sent (the same checks the SQL store runs), so bad input
costs no round trip and a name can never become a different URL path; the server checks
everything again, and decides who acts (reads need sign-in; anything that stores code to run,
claims, releases or moves a retraining needs an administrator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from perennia.entities import (
    Page,
    Retraining,
    RetrainingEvent,
    RetrainingPolicy,
    Schedule,
    from_dict,
    to_dict,
)
from perennia.errors import InvalidInput
from perennia.store.automation_checks import (
    MAX_CLAIMS,
    MAX_RETRAININGS_LISTED,
    check_cron,
    check_expected_state,
    check_limit,
    check_message,
    check_params,
    check_policy,
    check_retraining_id,
    check_run_outcome,
    check_schedule,
    check_schedule_name,
    check_state,
    check_trigger,
    check_update_fields,
)
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS
from perennia.store.monitor_checks import (
    check_description,
    check_owner,
    check_period,
    check_time,
)
from perennia.store.paging import check_max_results
from perennia.store.protocols.automation import DEFAULT_RETRAININGS, LEASE_MS
from perennia.store.protocols.monitors import UNCHANGED, Unchanged
from perennia.store.registry_checks import check_model_name
from perennia.store.rest.http import HttpSession
from perennia.store.rest.registry import segment

SCHEDULES = "/api/v1/schedules"
POLICIES = "/api/v1/retraining-policies"
RETRAININGS = "/api/v1/retrainings"


def _schedule_path(name: str, tail: str = "") -> str:
    return f"{SCHEDULES}/{segment(check_schedule_name(name))}{tail}"


def _policy_path(model_name: str, tail: str = "") -> str:
    return f"{POLICIES}/{segment(check_model_name(model_name))}{tail}"


def _retraining_path(retraining_id: int, tail: str = "") -> str:
    return f"{RETRAININGS}/{check_retraining_id(retraining_id)}{tail}"


def _paging(max_results: Any, page_token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"max_results": check_max_results(max_results, MAX_SEARCH_RESULTS)}
    if page_token:
        params["page_token"] = page_token
    return params


def _claim_body(now_ms: Any, owner: Any, lease_ms: Any, limit: Any) -> dict[str, Any]:
    return {
        "now_ms": check_time(now_ms, "now_ms"),
        "owner": check_owner(owner),
        "lease_ms": check_period(lease_ms, "lease_ms"),
        "limit": check_limit(limit, MAX_CLAIMS),
    }


def _policy(data: Any) -> RetrainingPolicy:
    """Return the RetrainingPolicy of a JSON answer (its triggers a tuple, as stored)."""
    policy = from_dict(RetrainingPolicy, data)
    return replace(policy, triggers=tuple(policy.triggers))


class RestScheduleStore:
    """Schedules through the server."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create_schedule(self, schedule: Schedule, username: str | None = None) -> Schedule:
        """Store a new schedule and return it as stored (AlreadyExists when the name is taken)."""
        body = {"schedule": to_dict(check_schedule(schedule)), "username": username}
        return from_dict(Schedule, self.http.request("POST", SCHEDULES, json=body))

    def get_schedule(self, name: str) -> Schedule:
        """Return the schedule called `name`, or raise NotFound."""
        return from_dict(Schedule, self.http.request("GET", _schedule_path(name)))

    def list_schedules(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[Schedule]:
        """Return one page of schedules, by name."""
        params = _paging(max_results, page_token)
        return from_dict(Page[Schedule], self.http.request("GET", SCHEDULES, params=params))

    def update_schedule(
        self,
        name: str,
        *,
        cron: str | Unchanged = UNCHANGED,
        params: dict[str, Any] | Unchanged = UNCHANGED,
        enabled: bool | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
        next_run_ms: int | None | Unchanged = UNCHANGED,
    ) -> Schedule:
        """Return the schedule after changing the fields given (NotFound if there is none)."""
        path = _schedule_path(name)
        body: dict[str, Any] = {}
        if cron is not UNCHANGED:
            body["cron"] = check_cron(cron)
        if params is not UNCHANGED:
            body["params"] = check_params(params)
        if enabled is not UNCHANGED:
            if not isinstance(enabled, bool):
                raise InvalidInput(f"enabled must be true or false, got {enabled!r:.40}")
            body["enabled"] = enabled
        if description is not UNCHANGED:
            body["description"] = check_description(description)
        if next_run_ms is not UNCHANGED:
            body["next_run_ms"] = check_time(next_run_ms, "next_run_ms", optional=True)
        return from_dict(Schedule, self.http.request("PATCH", path, json=body))

    def delete_schedule(self, name: str) -> None:
        """Remove the schedule (NotFound if there is none)."""
        self.http.request("DELETE", _schedule_path(name))

    def claim_due_schedules(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Schedule]:
        """Return up to `limit` enabled schedules due at `now_ms`, each now leased to `owner`
        (the server's administrators only)."""
        body = _claim_body(now_ms, owner, lease_ms, limit)
        found = self.http.request("POST", f"{SCHEDULES}/claim-due", json=body)["schedules"]
        return from_dict(list[Schedule], found)

    def release_schedule(
        self,
        name: str,
        owner: str,
        next_run_ms: int | None,
        *,
        ran_ms: int | None = None,
        status: str | None = None,
        error: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next firing and (when `ran_ms`
        is given) the last run's outcome; False when `owner` does not hold the lease any more."""
        path = _schedule_path(name, "/release")
        ran, status, error, run_id = check_run_outcome(ran_ms, status, error, run_id)
        body = {
            "owner": check_owner(owner),
            "next_run_ms": check_time(next_run_ms, "next_run_ms", optional=True),
            "ran_ms": ran,
            "status": status,
            "error": error,
            "run_id": run_id,
        }
        return bool(self.http.request("POST", path, json=body)["released"])


class RestRetrainingStore:
    """Retraining policies, retrainings and their events through the server."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def set_retraining_policy(
        self, policy: RetrainingPolicy, username: str | None = None
    ) -> RetrainingPolicy:
        """Create or replace the policy of `policy.model_name` and return it as stored."""
        clean = check_policy(policy)
        body = {"policy": to_dict(clean), "username": username}
        return _policy(self.http.request("PUT", _policy_path(clean.model_name), json=body))

    def get_retraining_policy(self, model_name: str) -> RetrainingPolicy:
        """Return the retraining policy of `model_name`, or raise NotFound."""
        return _policy(self.http.request("GET", _policy_path(model_name)))

    def list_retraining_policies(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[RetrainingPolicy]:
        """Return one page of retraining policies, by model name."""
        params = _paging(max_results, page_token)
        answer = self.http.request("GET", POLICIES, params=params)
        return Page([_policy(p) for p in answer["items"]], answer.get("next_page_token"))

    def delete_retraining_policy(self, model_name: str) -> None:
        """Remove the policy (NotFound if there is none); its retrainings stay as history."""
        self.http.request("DELETE", _policy_path(model_name))

    def claim_due_policies(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[RetrainingPolicy]:
        """Return up to `limit` enabled policies due for a check, each now leased to `owner`."""
        body = _claim_body(now_ms, owner, lease_ms, limit)
        found = self.http.request("POST", f"{POLICIES}/claim-due", json=body)["policies"]
        return [_policy(p) for p in found]

    def release_policy(
        self,
        model_name: str,
        owner: str,
        next_check_ms: int,
        cursor: dict[str, Any] | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next check and (when given)
        the cursor; False when `owner` does not hold the lease any more."""
        from perennia.store.validation import validate_dataset_json

        path = _policy_path(model_name, "/release")
        body = {
            "owner": check_owner(owner),
            "next_check_ms": check_time(next_check_ms, "next_check_ms"),
            "cursor": None
            if cursor is None
            else validate_dataset_json(cursor, "cursor", 1_048_576, dict),
        }
        return bool(self.http.request("POST", path, json=body)["released"])

    def start_retraining(
        self, model_name: str, trigger: dict[str, Any], now_ms: int, *, force: bool = False
    ) -> Retraining | None:
        """Return a new retraining in state "triggered", or None when the policy's guard says no."""
        if not isinstance(force, bool):
            raise InvalidInput(f"force must be true or false, got {force!r:.40}")
        body = {
            "model_name": check_model_name(model_name),
            "trigger": check_trigger(trigger),
            "now_ms": check_time(now_ms, "now_ms"),
            "force": force,
        }
        found = self.http.request("POST", RETRAININGS, json=body)["retraining"]
        return None if found is None else from_dict(Retraining, found)

    def update_retraining(
        self,
        retraining_id: int,
        state: str,
        message: str,
        *,
        pipeline_run_id: str | None = None,
        challenger_version: int | None = None,
        champion_version: int | None = None,
        approval_request_id: int | None = None,
        deployment: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        expected_state: str | None = None,
        expected_updated_ms: int | None = None,
    ) -> Retraining:
        """Return the retraining moved to `state`, with one event recorded (see the protocol)."""
        path = _retraining_path(retraining_id)
        fields = check_update_fields(
            {
                "pipeline_run_id": pipeline_run_id,
                "challenger_version": challenger_version,
                "champion_version": champion_version,
                "approval_request_id": approval_request_id,
                "deployment": deployment,
                "reason": reason,
                "detail": detail,
            }
        )
        body = {"state": check_state(state), "message": check_message(message), **fields}
        if expected_state is not None:
            body["expected_state"] = check_expected_state(expected_state)
        if expected_updated_ms is not None:
            body["expected_updated_ms"] = check_time(expected_updated_ms, "expected_updated_ms")
        return from_dict(Retraining, self.http.request("PATCH", path, json=body))

    def get_retraining(self, retraining_id: int) -> Retraining:
        """Return one retraining, or raise NotFound."""
        return from_dict(Retraining, self.http.request("GET", _retraining_path(retraining_id)))

    def list_retrainings(
        self, model_name: str | None = None, limit: int = DEFAULT_RETRAININGS
    ) -> list[Retraining]:
        """Return retrainings (of one model, when given), newest first."""
        params: dict[str, Any] = {"limit": check_limit(limit, MAX_RETRAININGS_LISTED)}
        if model_name is not None:
            params["model_name"] = check_model_name(model_name)
        found = self.http.request("GET", RETRAININGS, params=params)["retrainings"]
        return from_dict(list[Retraining], found)

    def list_retraining_events(self, retraining_id: int) -> Sequence[RetrainingEvent]:
        """Return the events of one retraining, oldest first (NotFound if there is none)."""
        found = self.http.request("GET", _retraining_path(retraining_id, "/events"))["events"]
        return from_dict(list[RetrainingEvent], found)
