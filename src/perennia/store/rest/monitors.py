"""The `MonitorStore` protocol over the native REST API (`/api/v1/monitors`).

Everything is checked here before it is sent (the same checks the SQL store runs), so bad input
costs no round trip and a name can never become a different URL path; the server checks
everything again, and decides who acts. A window's points travel as two columns (keys and
values): each point carries its run's window and time, which the checks have confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perennia.entities import Monitor, MonitorPoint, MonitorRun, Page, from_dict, to_dict
from perennia.errors import InvalidInput
from perennia.store.deployment_checks import check_deployment_name
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS
from perennia.store.monitor_checks import (
    MAX_CLAIMS,
    MAX_POINTS_LISTED,
    MAX_RUNS_LISTED,
    check_config,
    check_description,
    check_keys,
    check_limit,
    check_monitor,
    check_monitor_name,
    check_owner,
    check_period,
    check_points,
    check_reference,
    check_run,
    check_time,
)
from perennia.store.paging import check_max_results
from perennia.store.protocols.monitors import (
    DEFAULT_POINTS,
    DEFAULT_RUNS,
    LEASE_MS,
    UNCHANGED,
    Unchanged,
)
from perennia.store.rest.http import HttpSession
from perennia.store.rest.registry import segment

MONITORS = "/api/v1/monitors"


def monitor_path(name: str, tail: str = "") -> str:
    """Return the path of one monitor (plus `tail`), or raise InvalidInput for the name."""
    return f"{MONITORS}/{segment(check_monitor_name(name))}{tail}"


def _span(since_ms: Any, until_ms: Any, limit: int) -> dict[str, Any]:
    """Return the query parameters of a time range and limit, checked as the store does."""
    since = check_time(since_ms, "since_ms", optional=True)
    until = check_time(until_ms, "until_ms", optional=True)
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since_ms {since} is after until_ms {until}; swap them")
    params: dict[str, Any] = {"limit": limit}
    if since is not None:
        params["since_ms"] = since
    if until is not None:
        params["until_ms"] = until
    return params


class RestMonitorStore:
    """Monitors through the server (reads need sign-in, writes editor; claims an admin)."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create_monitor(self, monitor: Monitor, username: str | None = None) -> Monitor:
        """Store a new monitor and return it as stored (AlreadyExists when the name is taken)."""
        body = {"monitor": to_dict(check_monitor(monitor)), "username": username}
        return from_dict(Monitor, self.http.request("POST", MONITORS, json=body))

    def get_monitor(self, name: str) -> Monitor:
        """Return the monitor called `name`, or raise NotFound."""
        return from_dict(Monitor, self.http.request("GET", monitor_path(name)))

    def list_monitors(
        self,
        deployment: str | None = None,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        page_token: str | None = None,
    ) -> Page[Monitor]:
        """Return one page of monitors (of one deployment, when given), by name."""
        params: dict[str, Any] = {"max_results": check_max_results(max_results, MAX_SEARCH_RESULTS)}
        if deployment is not None:
            params["deployment"] = check_deployment_name(deployment)
        if page_token:
            params["page_token"] = page_token
        return from_dict(Page[Monitor], self.http.request("GET", MONITORS, params=params))

    def update_monitor(
        self,
        name: str,
        *,
        window_ms: int | Unchanged = UNCHANGED,
        schedule_ms: int | None | Unchanged = UNCHANGED,
        reference: str | Unchanged = UNCHANGED,
        config: dict[str, Any] | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
    ) -> Monitor:
        """Return the monitor after changing the fields given (NotFound if there is none)."""
        body: dict[str, Any] = {}
        if window_ms is not UNCHANGED:
            body["window_ms"] = check_period(window_ms, "window_ms")
        if schedule_ms is not UNCHANGED:
            body["schedule_ms"] = check_period(schedule_ms, "schedule_ms", optional=True)
        if reference is not UNCHANGED:
            body["reference"] = check_reference(reference)
        if config is not UNCHANGED:
            body["config"] = check_config(config)
        if description is not UNCHANGED:
            body["description"] = check_description(description)
        return from_dict(Monitor, self.http.request("PATCH", monitor_path(name), json=body))

    def delete_monitor(self, name: str) -> None:
        """Remove the monitor with its runs, points and alerts (NotFound if there is none)."""
        self.http.request("DELETE", monitor_path(name))

    def record_window(
        self,
        name: str,
        run: MonitorRun,
        points: Sequence[MonitorPoint],
        last_window_end_ms: int | None,
    ) -> None:
        """Store one computed window (its run and points), replacing any earlier record of
        the same window; `last_window_end_ms` only moves forward."""
        path = monitor_path(name, "/windows")
        clean = check_run(name, run)
        checked = check_points(clean, points)
        body = {
            "run": to_dict(clean),
            "keys": [p.key for p in checked],
            "values": [p.value for p in checked],
            "last_window_end_ms": check_time(
                last_window_end_ms, "last_window_end_ms", optional=True
            ),
        }
        self.http.request("POST", path, json=body)

    def list_points(
        self,
        name: str,
        keys: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_POINTS,
    ) -> list[MonitorPoint]:
        """Return the monitor's points (of `keys`, when given) whose window ends between
        `since_ms` and `until_ms` inclusive, ordered by window end, then key."""
        path = monitor_path(name, "/points")
        params = _span(since_ms, until_ms, check_limit(limit, MAX_POINTS_LISTED))
        wanted = check_keys(keys)
        if wanted is not None:
            params["keys"] = wanted
        found = self.http.request("GET", path, params=params)["points"]
        return from_dict(list[MonitorPoint], found)

    def list_runs(
        self,
        name: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_RUNS,
    ) -> list[MonitorRun]:
        """Return the monitor's runs whose window ends between `since_ms` and `until_ms`
        inclusive, newest window end first."""
        path = monitor_path(name, "/runs")
        params = _span(since_ms, until_ms, check_limit(limit, MAX_RUNS_LISTED))
        found = self.http.request("GET", path, params=params)["runs"]
        return from_dict(list[MonitorRun], found)

    def claim_due_monitors(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Monitor]:
        """Return up to `limit` due monitors, oldest due first, each now leased to `owner`
        until `now_ms + lease_ms` (the server's administrators only)."""
        body = {
            "now_ms": check_time(now_ms, "now_ms"),
            "owner": check_owner(owner),
            "lease_ms": check_period(lease_ms, "lease_ms"),
            "limit": check_limit(limit, MAX_CLAIMS),
        }
        found = self.http.request("POST", f"{MONITORS}/claim-due", json=body)["monitors"]
        return from_dict(list[Monitor], found)

    def release_monitor(self, name: str, owner: str, next_run_ms: int | None = None) -> bool:
        """Return True after ending `owner`'s lease and setting the next run (None: one
        `schedule_ms` from now); False when `owner` holds no lease on it (or it is gone)."""
        body = {
            "owner": check_owner(owner),
            "next_run_ms": check_time(next_run_ms, "next_run_ms", optional=True),
        }
        answer = self.http.request("POST", monitor_path(name, "/release"), json=body)
        return bool(answer["released"])
