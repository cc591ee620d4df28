"""The store protocols implemented over the native REST API (`/api/v1/`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perennia.entities import (
    ArtifactEntry,
    DatasetInput,
    DatasetSummary,
    Experiment,
    Metric,
    MetricBatch,
    Page,
    Param,
    Reader,
    Run,
    RunInfo,
    RunTag,
    ViewType,
    encode_floats,
    from_dict,
    to_dict,
)
from perennia.errors import InvalidInput
from perennia.store.checks import (
    check_artifact_entry,
    check_batch,
    check_input,
    check_params,
    check_tags,
)
from perennia.store.limits import (
    DEFAULT_SEARCH_MAX_RESULTS,
    MAX_EXPERIMENT_PAGE,
    MAX_SEARCH_RESULTS,
)
from perennia.store.paging import check_max_results
from perennia.store.rest.alerts import RestAlertStore
from perennia.store.rest.automation import RestRetrainingStore, RestScheduleStore
from perennia.store.rest.datasets import RestDatasetStore
from perennia.store.rest.deployments import RestDeploymentStore
from perennia.store.rest.governance import RestApprovalStore, RestModelCardStore, RestModelRoles
from perennia.store.rest.http import HttpSession
from perennia.store.rest.monitors import RestMonitorStore
from perennia.store.rest.registry import (
    RestAliasStore,
    RestModelVersionStore,
    RestRegisteredModelStore,
)
from perennia.store.rest.webhooks import RestWebhookStore
from perennia.store.validation import (
    EXPERIMENT_ORDER_FIELDS,
    validate_experiment_ids,
    validate_key,
    validate_order,
    validate_run_id,
    validate_tag_value,
)

if TYPE_CHECKING:
    import pandas as pd


def _run_path(run_id: str, tail: str = "") -> str:
    # Validated here too: a malformed id must never become a different URL path.
    return f"/api/v1/runs/{validate_run_id(run_id)}{tail}"


def _experiment_path(experiment_id: str, tail: str = "") -> str:
    from perennia.store.validation import validate_experiment_id

    return f"/api/v1/experiments/{validate_experiment_id(experiment_id)}{tail}"


def _view(view_type: ViewType | str) -> str:
    try:
        return ViewType(view_type).value
    except ValueError:
        allowed = ", ".join(v.value for v in ViewType)
        raise InvalidInput(f"view type {view_type!r} is not one of {allowed}") from None


def _pairs(clean: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in clean.items()]


def _columns(batch: MetricBatch) -> dict[str, Any]:
    check_batch(batch)
    # After the checks every value is a real number, every step and timestamp an integer.
    return {
        "keys": batch.keys,
        "values": encode_floats([float(v) for v in batch.values]),
        "steps": [int(s) for s in batch.steps],
        "timestamps": [int(t) for t in batch.timestamps],
    }


class RestExperimentStore:
    """The `ExperimentStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Return the id of a new experiment."""
        body = {"name": name, "artifact_location": artifact_location, "tags": tags or {}}
        return self.http.request("POST", "/api/v1/experiments", json=body)["experiment_id"]

    def get(self, experiment_id: str) -> Experiment:
        """Return the experiment."""
        return from_dict(Experiment, self.http.request("GET", _experiment_path(experiment_id)))

    def get_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or None."""
        from perennia.errors import NotFound

        try:
            data = self.http.request("GET", "/api/v1/experiments/by-name", params={"name": name})
        except NotFound:
            return None
        return from_dict(Experiment, data)

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
        """Return a page of experiments ordered by `order_by`, then id (the server lists what
        its signed-in user may read, so `reader` is not sent)."""
        check_max_results(max_results, MAX_EXPERIMENT_PAGE)
        order = validate_order(order_by, EXPERIMENT_ORDER_FIELDS)
        params: dict[str, Any] = {"view_type": _view(view_type), "max_results": max_results}
        if order:
            params["order_by"] = [f"-{f}" if down else f for f, down in order]
        params.update(
            {k: v for k, v in (("name_like", name_like), ("page_token", page_token)) if v}
        )
        return from_dict(
            Page[Experiment], self.http.request("GET", "/api/v1/experiments", params=params)
        )

    def rename(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        self.http.request("PATCH", _experiment_path(experiment_id), json={"name": new_name})

    def delete(self, experiment_id: str) -> None:
        """Move an experiment and its runs to the trash."""
        self.http.request("DELETE", _experiment_path(experiment_id))

    def restore(self, experiment_id: str) -> None:
        """Take an experiment and the runs trashed with it out of the trash."""
        self.http.request("POST", _experiment_path(experiment_id, "/restore"))

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one experiment tag."""
        body = {"key": key, "value": value}
        self.http.request("POST", _experiment_path(experiment_id, "/tags"), json=body)

    def delete_tag(self, experiment_id: str, key: str) -> None:
        """Delete one experiment tag (NotFound if the experiment has no such tag)."""
        key = validate_key(key, "experiment tag key")
        self.http.request("DELETE", _experiment_path(experiment_id, "/tags"), params={"key": key})

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove experiments trashed before the cutoff; return how many (with
        `dry_run`, how many would go, removing nothing)."""
        body = {"older_than_ms": older_than_ms, "dry_run": dry_run}
        return self.http.request("POST", "/api/v1/experiments/purge", json=body)["purged"]


class RestRunStore:
    """The `RunStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

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
        body = {
            "experiment_id": str(experiment_id),
            "run_name": run_name,
            "user_id": user_id,
            "start_time": start_time,
            "tags": {
                validate_key(k, "tag key"): validate_tag_value(k, v)
                for k, v in (tags or {}).items()
            },
            "parent_run_id": parent_run_id,
            "source_name": source_name,
            "git_commit": git_commit,
        }
        return from_dict(Run, self.http.request("POST", "/api/v1/runs", json=body))

    def get(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params, tags and inputs."""
        return from_dict(Run, self.http.request("GET", _run_path(run_id)))

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
        fields = {"status": status, "end_time": end_time, "run_name": run_name, "error": error}
        body = {k: v for k, v in fields.items() if v is not None}
        return from_dict(RunInfo, self.http.request("PATCH", _run_path(run_id), json=body))

    def delete(self, run_id: str) -> None:
        """Move a run to the trash."""
        self.http.request("DELETE", _run_path(run_id))

    def restore(self, run_id: str) -> None:
        """Take a run out of the trash."""
        self.http.request("POST", _run_path(run_id, "/restore"))

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        """Stamp the heartbeat of live runs."""
        body = {"run_ids": list(run_ids), "now_ms": now_ms}
        self.http.request("POST", "/api/v1/runs/heartbeat", json=body)

    def mark_stale_killed(self, cutoff_ms: int) -> list[str]:
        """Mark runs silent since the cutoff KILLED; return their ids."""
        body = {"older_than_ms": cutoff_ms}
        return self.http.request("POST", "/api/v1/runs/mark-stale-killed", json=body)["run_ids"]

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
        """Return a page of runs matching the filter (the server filters by its signed-in user)."""
        check_max_results(max_results, MAX_SEARCH_RESULTS)
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter_string": filter_string or "",
            "view_type": _view(view_type),
            "max_results": max_results,
            "order_by": list(order_by) if order_by else None,
            "page_token": page_token,
        }
        return from_dict(Page[Run], self.http.request("POST", "/api/v1/runs/search", json=body))

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
        """Return matching runs as a DataFrame (only `columns` when given), read from the
        server's Arrow stream."""
        import json

        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter_string": filter_string or "",
            "view_type": _view(view_type),
            "max_results": max_results,
            "order_by": list(order_by) if order_by else None,
        }
        payload = json.dumps(body).encode()
        # A read: sent as a body of its own, so it carries no Idempotency-Key to buffer under.
        response = self.http.send(
            "POST",
            "/api/v1/runs/search-frame",
            params=None if columns is None else {"columns": list(columns)},
            content=lambda: payload,
            headers={"Content-Type": "application/json", "Accept": _ARROW_STREAM},
        )
        return _frame_from_arrow(response.content)

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove runs trashed before the cutoff; return how many (with `dry_run`,
        how many would go, removing nothing)."""
        body = {"older_than_ms": older_than_ms, "dry_run": dry_run}
        return self.http.request("POST", "/api/v1/runs/purge", json=body)["purged"]


class RestMetricStore:
    """The `MetricStore` protocol over HTTP: one request per batch, columnar."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def log(self, run_id: str, batch: MetricBatch) -> None:
        """Append a batch of points to a run."""
        self.http.request("POST", _run_path(run_id, "/metrics"), json=_columns(batch))

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric."""
        data = self.http.request("GET", _run_path(run_id, "/metrics/history"), params={"key": key})
        return from_dict(list[Metric], data)

    def history_downsampled(
        self,
        run_id: str,
        key: str,
        max_points: int = 2000,
        start: int | None = None,
        end: int | None = None,
        method: str = "minmax",
    ) -> MetricBatch:
        """Return at most `max_points` points of one metric, downsampled on the server."""
        from perennia.entities import decode_floats

        params = {"key": key, "max_points": max_points, "method": method}
        params.update({k: v for k, v in (("start", start), ("end", end)) if v is not None})
        path = _run_path(run_id, "/metrics/downsampled")
        data = self.http.request("GET", path, params=params)
        steps = data["steps"]
        return MetricBatch(
            [key] * len(steps), decode_floats(data["values"]), steps, data["timestamps"]
        )


class RestParamStore:
    """The `ParamStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def log(self, run_id: str, params: Sequence[Param]) -> None:
        """Record params; Conflict if a key already holds a different value."""
        self.http.request("POST", _run_path(run_id, "/params"), json=_pairs(check_params(params)))


class RestTagStore:
    """The `TagStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def set(self, run_id: str, tags: Sequence[RunTag]) -> None:
        """Set run tags."""
        self.http.request("POST", _run_path(run_id, "/tags"), json=_pairs(check_tags(tags)))

    def delete(self, run_id: str, key: str) -> None:
        """Delete one run tag."""
        key = validate_key(key, "tag key")
        self.http.request("DELETE", _run_path(run_id, "/tags"), params={"key": key})


class RestInputStore:
    """The `InputStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def log(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        """Record datasets the run consumed."""
        body = {"inputs": to_dict([check_input(i) for i in inputs])}
        self.http.request("POST", _run_path(run_id, "/inputs"), json=body)

    def list(self, run_id: str) -> list[DatasetInput]:
        """Return the run's dataset inputs."""
        return from_dict(list[DatasetInput], self.http.request("GET", _run_path(run_id, "/inputs")))

    def summaries(
        self, experiment_ids: Sequence[str], max_results: int = 1000
    ) -> list[DatasetSummary]:
        """Return the distinct (experiment, dataset, context) uses by the experiments' runs."""
        ids = [str(e) for e in validate_experiment_ids(experiment_ids)]
        params = {"experiment_ids": ids, "max_results": max_results}
        found = self.http.request("GET", "/api/v1/experiments/dataset-summaries", params=params)
        return from_dict(list[DatasetSummary], found)


class RestArtifactIndex:
    """The `ArtifactIndex` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def record(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        """Add or replace manifest entries."""
        body = {"entries": to_dict([check_artifact_entry(e) for e in entries])}
        self.http.request("POST", _run_path(run_id, "/artifact-entries"), json=body)

    def list(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """Return the entries under a path prefix."""
        data = self.http.request(
            "GET", _run_path(run_id, "/artifact-entries"), params={"prefix": prefix}
        )
        return from_dict(list[ArtifactEntry], data)

    def get(self, run_id: str, path: str) -> ArtifactEntry:
        """Return one entry."""
        data = self.http.request(
            "GET", _run_path(run_id, "/artifact-entries/one"), params={"path": path}
        )
        return from_dict(ArtifactEntry, data)

    def digests_in_use(self) -> set[str]:
        """Return every digest some run still refers to."""
        return set(self.http.request("GET", "/api/v1/artifact-digests")["digests"])


class RestStore:
    """The metadata store behind a `perennia server`: every part of `Store`, over HTTP."""

    def __init__(
        self, uri: str, *, token: str | None = None, retry_seconds: float | None = None
    ) -> None:
        self.uri = uri
        self.http = HttpSession(uri, token=token, retry_seconds=retry_seconds)
        self.experiments = RestExperimentStore(self.http)
        self.runs = RestRunStore(self.http)
        self.metrics = RestMetricStore(self.http)
        self.params = RestParamStore(self.http)
        self.tags = RestTagStore(self.http)
        self.inputs = RestInputStore(self.http)
        self.artifacts = RestArtifactIndex(self.http)
        self.registry = RestRegisteredModelStore(self.http)
        self.versions = RestModelVersionStore(self.http)
        self.aliases = RestAliasStore(self.http)
        self.approvals = RestApprovalStore(self.http)
        self.cards = RestModelCardStore(self.http)
        self.model_roles = RestModelRoles(self.http)
        self.webhooks = RestWebhookStore(self.http)
        self.deployments = RestDeploymentStore(self.http)
        self.datasets = RestDatasetStore(self.http)
        self.monitors = RestMonitorStore(self.http)
        self.alerts = RestAlertStore(self.http)
        self.schedules = RestScheduleStore(self.http)
        self.retraining = RestRetrainingStore(self.http)

    def log_batch(
        self,
        run_id: str,
        metrics: MetricBatch | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in one request (one server transaction)."""
        body = {
            "metrics": _columns(metrics) if metrics is not None else None,
            "params": _pairs(check_params(params)),
            "tags": _pairs(check_tags(tags)),
        }
        self.http.request("POST", _run_path(run_id, "/batch"), json=body)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __repr__(self) -> str:
        return f"RestStore({self.uri!r})"


_ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _frame_from_arrow(data: bytes) -> pd.DataFrame:
    """Return the DataFrame an Arrow IPC stream of search-frame columns holds (times: epoch ms)."""
    import pandas as pd
    import pyarrow as pa

    table = pa.ipc.open_stream(data).read_all()
    frame: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in ("start_time", "end_time"):
            millis = column.to_numpy(zero_copy_only=False).astype("float64")
            frame[name] = pd.to_datetime(pd.Series(millis, dtype="float64"), unit="ms", utc=True)
        elif pa.types.is_floating(column.type):
            frame[name] = column.to_numpy(zero_copy_only=False)
        else:
            frame[name] = column.to_pylist()
    return pd.DataFrame(frame, columns=table.column_names)
