"""MLflow's experiment search: name and tag filters, orderings and pages.

MLflow filters experiments by `name` (=, !=, LIKE case-sensitively, ILIKE) and by tags (=, !=,
LIKE, ILIKE; an experiment without the tag matches none of them), and orders them newest first
unless told otherwise. The store selects what the caller may read, matches `name =` and `name
LIKE` and orders the page; `!=`, ILIKE and tag conditions are checked here over its pages, so a
page costs about a page of rows, not every experiment.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import Experiment, Reader, ViewType
from perennia.server.mlflow_compat.arguments import like, order_clauses, parse_filter
from perennia.server.mlflow_compat.scan import scan
from perennia.store.base import ServerStore
from perennia.store.validation import EXPERIMENT_ORDER_FIELDS

_OPS = {"=", "!=", "LIKE", "ILIKE"}
_DEFAULT = [("creation_time", True)]  # MLflow's: newest first (the store breaks ties by id)


def search_experiments(
    store: ServerStore,
    view: ViewType,
    filter_string: Any,
    order_by: list[Any],
    size: int,
    token: str | None,
    reader: Reader | None,
) -> tuple[list[Experiment], str | None]:
    """Return one page of the experiments that meet MLflow's filter, in its order, and the token."""
    where = parse_filter(filter_string, {"name": _OPS}, tags=False, tag_ops=_OPS)
    order = order_clauses(order_by, EXPERIMENT_ORDER_FIELDS) or list(_DEFAULT)
    op, value = where.fields.get("name", ("", None))
    name_like = value if op == "LIKE" else _literal(value) if op == "=" else None
    return scan(
        lambda n, tok: store.experiments.search(view, n, name_like, tok, reader, order_by=order),
        lambda e: _meets(where, e),
        size,
        token,
    )


def _literal(value: str | None) -> str | None:
    """Return a LIKE pattern matching exactly `value` (its wildcards and escapes escaped)."""
    if value is None:
        return None
    return "".join("\\" + c if c in "\\%_" else c for c in value)


def _meets(where: Any, experiment: Experiment) -> bool:
    """Return whether the experiment meets what the store did not check: `name !=`, `name
    ILIKE` and the tag conditions."""
    checked_here = where.fields.get("name", ("",))[0] in ("!=", "ILIKE")
    if checked_here and not where.matches("name", experiment.name):
        return False
    for key, op, wanted in where.tags:
        value = experiment.tags.get(key)
        if value is None:
            return False
        if op in ("=", "!="):
            if (value == wanted) != (op == "="):
                return False
        elif not like(value, wanted, fold=op == "ILIKE"):
            return False
    return True
