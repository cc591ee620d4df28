"""The `DatasetStore` protocol over the native REST API (`/api/v1/datasets`).

Everything is checked here before it is sent (the same checks the SQL store runs), so a bad
draft costs no round trip and a name can never become a different URL path; the server checks
everything again, and decides who acts.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import DatasetEvent, DatasetVersion, from_dict, to_dict
from perennia.store.limits import MAX_SEARCH_RESULTS
from perennia.store.paging import check_max_results
from perennia.store.rest.http import HttpSession
from perennia.store.rest.registry import segment
from perennia.store.validation import (
    validate_dataset_alias,
    validate_dataset_contract,
    validate_dataset_draft,
    validate_dataset_name,
    validate_dataset_ref,
    validate_dataset_tag,
    validate_dataset_version,
    validate_event_limit,
    validate_key,
)

DATASETS = "/api/v1/datasets"


def dataset_path(name: str, tail: str = "") -> str:
    """Return the path of one dataset (plus `tail`), or raise InvalidInput for the name."""
    return f"{DATASETS}/{segment(validate_dataset_name(name))}{tail}"


def _version_path(name: str, version: int, tail: str = "") -> str:
    return dataset_path(name, f"/versions/{validate_dataset_version(version)}{tail}")


def _alias_path(name: str, alias: str) -> str:
    return dataset_path(name, f"/aliases/{segment(validate_dataset_alias(alias))}")


def _acting(username: str | None) -> dict[str, str]:
    return {} if username is None else {"username": username}


class RestDatasetStore:
    """Dataset versions through the server (reads need sign-in, writes editor; see the routes)."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create_version(self, draft: DatasetVersion, username: str | None = None) -> DatasetVersion:
        """Store `draft` as the name's next version and return it as stored."""
        clean = validate_dataset_draft(draft)
        path = dataset_path(clean.name, "/versions")
        data = self.http.request("POST", path, json=to_dict(clean), params=_acting(username))
        return from_dict(DatasetVersion, data)

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """Return `name@version`, or raise NotFound."""
        return from_dict(DatasetVersion, self.http.request("GET", _version_path(name, version)))

    def resolve(self, name: str, ref: str | int) -> DatasetVersion:
        """Return the version `ref` names: a number, `latest`, or an alias (NotFound if none)."""
        params = {"ref": str(validate_dataset_ref(ref))}
        data = self.http.request("GET", dataset_path(name, "/resolve"), params=params)
        return from_dict(DatasetVersion, data)

    def list_datasets(self, max_results: int = 1000) -> list[DatasetVersion]:
        """Return the latest version of every dataset, by name."""
        params = {"max_results": check_max_results(max_results, MAX_SEARCH_RESULTS)}
        data = self.http.request("GET", DATASETS, params=params)["datasets"]
        return from_dict(list[DatasetVersion], data)

    def versions(self, name: str) -> list[DatasetVersion]:
        """Return every version of `name`, newest first (NotFound if the name has none)."""
        data = self.http.request("GET", dataset_path(name, "/versions"))["versions"]
        return from_dict(list[DatasetVersion], data)

    def set_tag(
        self, name: str, version: int, key: str, value: str, username: str | None = None
    ) -> None:
        """Set a tag on `name@version`."""
        key, value = validate_dataset_tag(key, value)
        body = {"key": key, "value": value, "username": username}
        self.http.request("POST", _version_path(name, version, "/tags"), json=body)

    def delete_tag(self, name: str, version: int, key: str, username: str | None = None) -> None:
        """Remove a tag from `name@version` (NotFound if it is not set)."""
        params = {"key": validate_key(key, "tag key"), **_acting(username)}
        self.http.request("DELETE", _version_path(name, version, "/tags"), params=params)

    def set_alias(self, name: str, alias: str, version: int, username: str | None = None) -> None:
        """Point `name@alias` at `version` (moving it if it pointed elsewhere)."""
        body = {"version": validate_dataset_version(version), "username": username}
        self.http.request("PUT", _alias_path(name, alias), json=body)

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias (NotFound if it is not set)."""
        self.http.request("DELETE", _alias_path(name, alias), params=_acting(username))

    def set_contract(
        self, name: str, version: int, contract: dict[str, Any], username: str | None = None
    ) -> None:
        """Attach the validation contract (a `Contract.to_dict()`) to `name@version`."""
        body = {"contract": validate_dataset_contract(contract), "username": username}
        self.http.request("PUT", _version_path(name, version, "/contract"), json=body)

    def derived_from(self, name: str, version: int) -> list[DatasetVersion]:
        """Return the versions that list `name@version` among their parents."""
        data = self.http.request("GET", _version_path(name, version, "/derived"))["versions"]
        return from_dict(list[DatasetVersion], data)

    def readers(self, name: str, version: int) -> list[tuple[str, str | None]]:
        """Return (run_id, context) of every run that logged `name@version` (and the caller
        may read) as an input."""
        data = self.http.request("GET", _version_path(name, version, "/readers"))["readers"]
        return [(item["run_id"], item["context"]) for item in data]

    def events(self, name: str, limit: int = 100) -> list[DatasetEvent]:
        """Return the dataset's events, newest first."""
        params = {"limit": validate_event_limit(limit)}
        data = self.http.request("GET", dataset_path(name, "/events"), params=params)["events"]
        return from_dict(list[DatasetEvent], data)
