"""Which artifact repository holds a run's files, as seen from the server, and the upload spool."""

from __future__ import annotations

import threading
from pathlib import Path

from perennia.artifacts import open_blob_store
from perennia.server.uploads import UploadSpool
from perennia.store.base import Store
from perennia.tracking.artifact_repository import ArtifactRepository


class ArtifactAccess:
    """Artifact repositories by location: the experiment's own, else the server's default."""

    def __init__(
        self,
        store: Store,
        default_location: str,
        upload_dir: Path | None = None,
        upload_stale_seconds: float = 900.0,
    ) -> None:
        self.store = store
        self.default_location = default_location
        if upload_dir is None:
            from perennia.config import Settings

            upload_dir = Settings().resolved_upload_dir()
        self.uploads = UploadSpool(upload_dir, upload_stale_seconds)
        self._repositories: dict[str, ArtifactRepository] = {}
        self._lock = threading.Lock()

    def for_run(self, run_id: str) -> ArtifactRepository:
        """Return the repository holding `run_id`'s artifacts (NotFound for an unknown run)."""
        experiment_id = self.store.runs.get(run_id).info.experiment_id
        location = self.store.experiments.get(experiment_id).artifact_location
        return self.for_location(location or self.default_location)

    def for_location(self, location: str) -> ArtifactRepository:
        """Return the repository for one blob-store location."""
        with self._lock:
            repository = self._repositories.get(location)
            if repository is None:
                repository = ArtifactRepository(open_blob_store(location), self.store.artifacts)
                self._repositories[location] = repository
            return repository
