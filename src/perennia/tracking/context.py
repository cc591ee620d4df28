"""The per-process tracking context: one store, writer, heartbeat and artifact repositories per URI.

The fluent API and every `Client` for the same tracking URI share one context, so a `Client`
read in the same process sees points the fluent API has only queued (it flushes first).
"""

from __future__ import annotations

import atexit
import threading
import time

from perennia.artifacts import open_blob_store
from perennia.config import Settings
from perennia.store import open_store
from perennia.store.base import Store
from perennia.tracking.artifact_repository import ArtifactRepository
from perennia.tracking.heartbeat import Heartbeat, reap_stale_runs
from perennia.tracking.writer import BatchingWriter


class TrackingContext:
    """Everything one process needs to track against one metadata store."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.tracking_uri = settings.resolved_tracking_uri()
        self.store = (
            store
            if store is not None
            else open_store(
                self.tracking_uri,
                token=settings.tracking_token,
                retry_seconds=settings.http_retry_seconds,
            )
        )
        self.writer = BatchingWriter(
            self.store,
            batch_size=settings.writer_batch_size,
            flush_interval=settings.writer_flush_interval,
            synchronous=settings.synchronous,
            max_queued=settings.writer_max_queued,
        )
        self.heartbeat = Heartbeat(self.store, settings.heartbeat_interval)
        self._repositories: dict[str, ArtifactRepository] = {}
        self._experiment_locations: dict[str, str] = {}
        self._lock = threading.Lock()
        self._last_reap = 0.0

    def default_artifact_location(self) -> str:
        """Return the artifact URI new experiments get."""
        return self.settings.resolved_artifacts_uri()

    def repository_for_location(self, location: str | None) -> ArtifactRepository:
        """Return the artifact repository for an experiment's artifact location."""
        location = location or self.default_artifact_location()
        with self._lock:
            repository = self._repositories.get(location)
            if repository is None:
                repository = ArtifactRepository(open_blob_store(location), self.store.artifacts)
                self._repositories[location] = repository
            return repository

    def repository_for_run(self, run_id: str) -> ArtifactRepository:
        """Return the artifact repository holding a run's artifacts."""
        http = getattr(self.store, "http", None)
        if http is not None:
            # A remote store: the bytes go through the server, which keeps them where it decides.
            from perennia.tracking.server_blobs import ServerBlobStore

            return ArtifactRepository(ServerBlobStore(http, run_id), self.store.artifacts)
        experiment_id = self.store.runs.get(run_id).info.experiment_id
        location = self._experiment_locations.get(experiment_id)
        if location is None:
            location = (
                self.store.experiments.get(experiment_id).artifact_location
                or self.default_artifact_location()
            )
            self._experiment_locations[experiment_id] = location
        return self.repository_for_location(location)

    def reap_if_due(self) -> None:
        """Mark runs with stale heartbeats KILLED, at most once per heartbeat interval."""
        now = time.monotonic()
        if now - self._last_reap < self.settings.heartbeat_interval:
            return
        self._last_reap = now
        reap_stale_runs(self.store, self.settings.heartbeat_timeout)

    def close(self) -> None:
        """Flush queued writes and stop background threads."""
        self.heartbeat.stop()
        self.writer.close()


_contexts: dict[str, TrackingContext] = {}
_contexts_lock = threading.Lock()


def get_context(settings: Settings) -> TrackingContext:
    """Return the process-wide context for the settings' tracking URI, creating it on first use."""
    uri = settings.resolved_tracking_uri()
    with _contexts_lock:
        context = _contexts.get(uri)
        if context is None:
            context = TrackingContext(settings)
            _contexts[uri] = context
        return context


def close_all() -> None:
    """Flush and close every context (also runs at interpreter exit)."""
    with _contexts_lock:
        contexts = list(_contexts.values())
        _contexts.clear()
    for context in contexts:
        context.close()


atexit.register(close_all)
