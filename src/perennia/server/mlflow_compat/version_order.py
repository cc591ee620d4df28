"""MLflow's orderings of model versions (`order_by` of `model-versions/search`).

MLflow lists versions newest-updated first unless told otherwise, and accepts `name`,
`version_number`, `creation_timestamp` and `last_updated_timestamp`, each ASC or DESC. The store
pages versions by name; the adapter reads the matching versions and orders them here.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import ModelVersion
from perennia.server.mlflow_compat.arguments import order_clauses

_KEYS = {
    "name": lambda v: v.name,
    "version_number": lambda v: int(v.version),
    "creation_timestamp": lambda v: v.creation_time,
    "last_updated_timestamp": lambda v: v.last_updated_time,
}
# MLflow's default, and the tie-breakers it appends to any order: name ASC, version DESC.
_DEFAULT = [("last_updated_timestamp", True)]
_TIES = [("name", False), ("version_number", True)]


def parse_version_order(order_by: list[Any]) -> list[tuple[str, bool]]:
    """Return (field, descending) pairs for MLflow's `order_by` clauses, or raise InvalidInput."""
    return order_clauses(order_by, _KEYS) or list(_DEFAULT)


def order_versions(
    versions: list[ModelVersion], order: list[tuple[str, bool]]
) -> list[ModelVersion]:
    """Return the versions sorted by `order`, then by name ASC and version DESC."""
    fields = {f for f, _ in order}
    result = list(versions)
    for field, descending in reversed(order + [t for t in _TIES if t[0] not in fields]):
        result.sort(key=_KEYS[field], reverse=descending)
    return result
