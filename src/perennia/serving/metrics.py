"""Prometheus metrics of the inference server: requests, errors, latency, batching, shedding.

Every `ServingMetrics` owns its metrics on its own `CollectorRegistry`, so several apps in one
process (tests, hot-swapped model sets) never clash over names in the global registry. Label
children are cached in plain dicts keyed by the label tuple: `.labels()` validates and locks on
every call, which is measurable at thousands of requests per second, while a dict hit is not.

Several worker processes (`uvicorn --workers N`): each worker has its own counters, and a
scrape reaches only one of them. Set `PROMETHEUS_MULTIPROC_DIR` to an empty directory in the
environment *before* the workers start (prometheus-client reads it when it is imported and then
keeps every value in a memory-mapped file there); `render()` then aggregates all workers' files
through `prometheus_client.multiprocess.MultiProcessCollector`. Gauges say how to combine
workers: queue depth is summed over live workers, model loaded and the batch cost model take
the largest live value. Clear the directory when the server starts. uvicorn does not report
dead workers to prometheus-client, so a replaced worker's last gauge values linger until the
directory is cleared; counters and histograms are unaffected. One `ServingMetrics` per process
is the rule in this mode, since its values live in files shared by name. `multiprocess_dir=`
names the folder explicitly for a process that only aggregates (a sidecar, a test): it renders
that folder's files even though its own values stay in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025,
    0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
BATCH_ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)

MODEL_VERSION_VARIANT = ("model", "version", "variant")
MODEL_VERSION = ("model", "version")


class ServingMetrics:
    """The server's Prometheus metrics, on a private registry, with cached label children."""

    def __init__(self, registry: Any = None, *, multiprocess_dir: str | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.registry = registry if registry is not None else CollectorRegistry()
        # prometheus-client picks its value store from the environment once, at import; ask it
        # rather than reading the environment a second time.
        self.multiprocess = multiprocess_dir is not None or values.ValueClass is not (
            values.MutexValue
        )
        self._multiprocess_dir = multiprocess_dir
        reg = self.registry
        self.requests = Counter(
            "perennia_requests",
            "Inference requests answered, by protocol and HTTP status.",
            (*MODEL_VERSION_VARIANT, "protocol", "status"),
            registry=reg,
        )
        self.errors = Counter(
            "perennia_request_errors",
            "Failed inference requests, by kind (invalid_input, overloaded, internal, ...).",
            (*MODEL_VERSION_VARIANT, "kind"),
            registry=reg,
        )
        self.latency = Histogram(
            "perennia_request_latency_seconds",
            "Time from request received to response ready.",
            MODEL_VERSION_VARIANT,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_size = Histogram(
            "perennia_batch_size",
            "Rows per predict call.",
            MODEL_VERSION,
            buckets=BATCH_ROWS_BUCKETS,
            registry=reg,
        )
        self.batch_duration = Histogram(
            "perennia_batch_duration_seconds",
            "Duration of one predict call, measured in the worker thread.",
            MODEL_VERSION,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self._define_state_metrics(Counter, Gauge)
        self._request_children: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._error_children: dict[tuple[Any, ...], Any] = {}
        self._batch_children: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._shed_children: dict[tuple[Any, ...], Any] = {}
        self._shadow_children: dict[tuple[Any, ...], Any] = {}
        self._watched: dict[tuple[str, str], Callable[[], Mapping[str, Any]]] = {}

    def _define_state_metrics(self, counter: Any, gauge: Any) -> None:
        reg = self.registry
        self.queue_depth = gauge(
            "perennia_queue_depth",
            "Requests waiting in the batch queue.",
            MODEL_VERSION,
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.shed = counter(
            "perennia_shed",
            "Requests failed with 503 after waiting longer than the batch deadline.",
            MODEL_VERSION,
            registry=reg,
        )
        self.shadow_skipped = counter(
            "perennia_shadow_skipped",
            "Requests not mirrored to a shadow variant because its queue was too long.",
            MODEL_VERSION,
            registry=reg,
        )
        self.log_dropped = counter(
            "perennia_prediction_log_dropped",
            "Prediction-log records dropped because the log queue was full.",
            registry=reg,
        )
        self.model_loaded = gauge(
            "perennia_model_loaded",
            "1 while the model version is loaded and serving, else 0.",
            MODEL_VERSION_VARIANT,
            multiprocess_mode="livemax",
            registry=reg,
        )
        self.cost_per_row = gauge(
            "perennia_batch_cost_per_row_seconds",
            "Fitted marginal cost of one row in a predict call (a in a*rows + b).",
            MODEL_VERSION,
            multiprocess_mode="livemax",
            registry=reg,
        )
        self.cost_fixed = gauge(
            "perennia_batch_cost_fixed_seconds",
            "Fitted fixed cost of one predict call (b in a*rows + b).",
            MODEL_VERSION,
            multiprocess_mode="livemax",
            registry=reg,
        )

    def observe_request(
        self,
        model: str,
        version: str,
        variant: str,
        protocol: str,
        status: int | str,
        seconds: float,
    ) -> None:
        """Count one answered request and record its latency; returns nothing."""
        key = (model, version, variant, protocol, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, variant, protocol, str(status)),
                self.latency.labels(model, version, variant),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_error(self, model: str, version: str, variant: str, kind: str) -> None:
        """Count one failed request of the given kind; returns nothing."""
        key = (model, version, variant, kind)
        child = self._error_children.get(key)
        if child is None:
            child = self._error_children[key] = self.errors.labels(*key)
        child.inc()

    def observe_batch(self, model: str, version: str, rows: int, seconds: float) -> None:
        """Record one predict call's rows and duration; returns nothing."""
        key = (model, version)
        children = self._batch_children.get(key)
        if children is None:
            children = (self.batch_size.labels(*key), self.batch_duration.labels(*key))
            self._batch_children[key] = children
        children[0].observe(rows)
        children[1].observe(seconds)

    def batch_hook(self, model: str, version: str) -> Callable[[int, float], None]:
        """Return an `on_batch(rows, seconds)` callback for a batcher serving this version."""

        def on_batch(rows: int, seconds: float) -> None:
            self.observe_batch(model, version, rows, seconds)

        return on_batch

    def shed_hook(self, model: str, version: str) -> Callable[[int], None]:
        """Return an `on_shed(count)` callback for a batcher serving this version."""

        def on_shed(count: int) -> None:
            self.observe_shed(model, version, count)

        return on_shed

    def observe_shed(self, model: str, version: str, count: int = 1) -> None:
        """Count requests shed by the batch deadline; returns nothing."""
        key = (model, version)
        child = self._shed_children.get(key)
        if child is None:
            child = self._shed_children[key] = self.shed.labels(*key)
        child.inc(count)

    def observe_log_dropped(self, count: int = 1) -> None:
        """Count prediction-log records dropped by a full queue; returns nothing."""
        self.log_dropped.inc(count)

    def observe_shadow_skipped(self, model: str, version: str, count: int = 1) -> None:
        """Count requests not copied to a shadow because its queue was too long."""
        key = (model, version)
        child = self._shadow_children.get(key)
        if child is None:
            child = self._shadow_children[key] = self.shadow_skipped.labels(*key)
        child.inc(count)

    def set_loaded(self, model: str, version: str, variant: str, loaded: bool) -> None:
        """Mark a model version as loaded (1) or unloaded (0); returns nothing."""
        self.model_loaded.labels(model, version, variant).set(1 if loaded else 0)

    def observe_batcher(self, model: str, version: str, stats: Mapping[str, Any]) -> None:
        """Copy a batcher's `stats()` snapshot (queue depth, fitted cost) into gauges."""
        self.queue_depth.labels(model, version).set(stats.get("queue_depth", 0))
        self.cost_per_row.labels(model, version).set(stats.get("cost_per_row_ms", 0.0) / 1000.0)
        self.cost_fixed.labels(model, version).set(stats.get("cost_fixed_ms", 0.0) / 1000.0)

    def watch(self, model: str, version: str, stats: Callable[[], Mapping[str, Any]]) -> None:
        """Refresh this version's batcher gauges from `stats()` at every render; returns nothing."""
        self._watched[(model, version)] = stats

    def unwatch(self, model: str, version: str) -> None:
        """Stop refreshing a version's batcher gauges and zero its queue depth; returns nothing."""
        if self._watched.pop((model, version), None) is not None:
            self.queue_depth.labels(model, version).set(0)

    def render(self) -> tuple[bytes, str]:
        """Return the exposition body and its content type (Prometheus text format)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        for (model, version), stats in list(self._watched.items()):
            self.observe_batcher(model, version, stats())
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client.multiprocess import MultiProcessCollector

        # A fresh registry per scrape, as prometheus-client documents: the collector reads
        # every worker's files each time, and this process's values are among them.
        aggregate = CollectorRegistry()
        MultiProcessCollector(aggregate, path=self._multiprocess_dir)
        return generate_latest(aggregate), CONTENT_TYPE_LATEST
