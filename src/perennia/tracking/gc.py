"""Garbage collection: mark dead runs KILLED, purge the trash, delete blobs no run refers to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from perennia.clock import now_ms
from perennia.entities import ViewType
from perennia.store.base import ServerStore
from perennia.tracking.context import TrackingContext
from perennia.tracking.heartbeat import reap_stale_runs


@dataclass
class GcReport:
    """What one garbage collection did."""

    killed_runs: list[str] = field(default_factory=list)
    purged_runs: int = 0
    purged_experiments: int = 0
    deleted_blobs: int = 0
    expired_keys: int = 0


def _artifact_locations(context: TrackingContext) -> set[str]:
    locations = {context.default_artifact_location()}
    token = None
    while True:
        page = context.store.experiments.search(ViewType.ALL, 1000, page_token=token)
        locations.update(e.artifact_location for e in page.items if e.artifact_location)
        token = page.next_page_token
        if token is None:
            return locations


def purge_preview(context: TrackingContext, older_than_seconds: float) -> tuple[int, int]:
    """Return how many (runs, experiments) a collection with this cutoff would purge."""
    cutoff = now_ms() - int(older_than_seconds * 1000)
    store = context.store
    return (
        store.runs.purge_deleted(cutoff, dry_run=True),
        store.experiments.purge_deleted(cutoff, dry_run=True),
    )


def collect_garbage(
    context: TrackingContext,
    older_than_seconds: float = 0.0,
    blob_grace_seconds: float = 3600.0,
    progress: Callable[[str], None] | None = None,
) -> GcReport:
    """Return a report after reaping stale runs, purging trash older than the cutoff and orphan blobs."""
    step = progress or (lambda _: None)
    report = GcReport()
    step("marking runs with stale heartbeats KILLED")
    report.killed_runs = reap_stale_runs(context.store, context.settings.heartbeat_timeout)
    cutoff = now_ms() - int(older_than_seconds * 1000)
    step("purging deleted runs")
    report.purged_runs = context.store.runs.purge_deleted(cutoff)
    step("purging deleted experiments")
    report.purged_experiments = context.store.experiments.purge_deleted(cutoff)
    for location in sorted(_artifact_locations(context)):
        step(f"deleting unreferenced blobs in {location}")
        report.deleted_blobs += context.repository_for_location(location).delete_unreferenced(
            blob_grace_seconds
        )
    store = context.store
    if isinstance(store, ServerStore):  # a server's own store; a REST client has none of these
        step("expiring idempotency keys older than a day")
        report.expired_keys = store.idempotency.expire()
        # Upload records only matter until their blob is linked or collected.
        step("forgetting blob uploads older than the grace period")
        store.access.expire_uploads(now_ms() - int(blob_grace_seconds * 1000))
    return report
