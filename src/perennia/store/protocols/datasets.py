"""The datasets part: versions of named datasets, numbered atomically, each change an event."""

from __future__ import annotations

from typing import Any, Protocol

from perennia.entities import DatasetEvent, DatasetVersion


class DatasetStore(Protocol):
    """Registered dataset versions (`store.datasets`)."""

    def create_version(self, draft: DatasetVersion, username: str | None = None) -> DatasetVersion:
        """Store `draft` as the name's next version (1 for a new name) and return it as stored.

        The number is assigned in the same transaction as the insert, so concurrent
        registrations of one name get distinct numbers with no gaps. `draft.version`,
        `aliases`, `created_at` and `created_by` are ignored. Each parent ("name@version")
        must exist (NotFound otherwise). The registration is the event `register`.
        """
        ...

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """Return `name@version`, or raise NotFound."""
        ...

    def resolve(self, name: str, ref: str | int) -> DatasetVersion:
        """Return the version `ref` names: a number, `latest`, or an alias (NotFound if none)."""
        ...

    def list_datasets(self, max_results: int = 1000) -> list[DatasetVersion]:
        """Return the latest version of every dataset, by name."""
        ...

    def versions(self, name: str) -> list[DatasetVersion]:
        """Return every version of `name`, newest first (NotFound if the name has none)."""
        ...

    def set_tag(
        self, name: str, version: int, key: str, value: str, username: str | None = None
    ) -> None:
        """Set a tag on `name@version`."""
        ...

    def delete_tag(self, name: str, version: int, key: str, username: str | None = None) -> None:
        """Remove a tag from `name@version` (NotFound if it is not set)."""
        ...

    def set_alias(self, name: str, alias: str, version: int, username: str | None = None) -> None:
        """Point `name@alias` at `version` (moving it if it pointed elsewhere).

        `latest` and numbers are not aliases (InvalidInput): `latest` always means the newest.
        """
        ...

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias (NotFound if it is not set)."""
        ...

    def set_contract(
        self, name: str, version: int, contract: dict[str, Any], username: str | None = None
    ) -> None:
        """Attach the validation contract (a `Contract.to_dict()`) to `name@version`."""
        ...

    def derived_from(self, name: str, version: int) -> list[DatasetVersion]:
        """Return the versions that list `name@version` among their parents."""
        ...

    def readers(self, name: str, version: int) -> list[tuple[str, str | None]]:
        """Return (run_id, context) of every run that logged `name@version` as an input.

        A run reads a version when it logs a dataset input whose digest is the version's
        digest (what `perennia.data.load` does inside an active run).
        """
        ...

    def events(self, name: str, limit: int = 100) -> list[DatasetEvent]:
        """Return the dataset's events, newest first."""
        ...
