"""MLflow's orderings of model versions (`order_by` of `model-versions/search`).

MLflow lists versions newest-updated first unless told otherwise, and accepts `name`,
`version_number`, `creation_timestamp` and `last_updated_timestamp`, each ASC or DESC, with
name ASC and version DESC breaking ties. The store orders the same way given its own field
names, so a page costs a page, not every matching version.
"""

from __future__ import annotations

from typing import Any

from perennia.server.mlflow_compat.arguments import order_clauses

# MLflow's field names -> the store's (perennia.store.registry_checks.VERSION_ORDER_FIELDS).
_FIELDS = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "creation_time",
    "last_updated_timestamp": "last_updated_time",
}
_DEFAULT = [("last_updated_time", True)]


def parse_version_order(order_by: list[Any]) -> list[tuple[str, bool]]:
    """Return the store's (field, descending) pairs for MLflow's `order_by` clauses (its
    default, newest-updated first, when none), or raise InvalidInput."""
    order = order_clauses(order_by, _FIELDS)
    return [(_FIELDS[field], descending) for field, descending in order] or list(_DEFAULT)
