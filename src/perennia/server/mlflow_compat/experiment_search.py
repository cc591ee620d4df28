"""MLflow's experiment search: name and tag filters, orderings and pages, over the store's list.

MLflow filters experiments by `name` (=, !=, LIKE case-sensitively, ILIKE) and by tags (=, !=,
LIKE, ILIKE; an experiment without the tag matches none of them), and orders them newest first
unless told otherwise. The store lists the experiments the caller may read; the conditions and
orderings MLflow adds are applied here, over that list.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import Experiment, Reader, ViewType
from perennia.server.mlflow_compat.arguments import like, order_clauses, parse_filter
from perennia.store.base import ServerStore
from perennia.store.limits import MAX_EXPERIMENT_PAGE
from perennia.store.paging import decode_page_token, encode_page_token

_KEYS = {
    "name": lambda e: e.name,
    "experiment_id": lambda e: int(e.experiment_id),
    "creation_time": lambda e: e.creation_time,
    "last_update_time": lambda e: e.last_update_time,
}
_OPS = {"=", "!=", "LIKE", "ILIKE"}


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
    order = _order(order_by)
    found, page_token = [], None
    while True:
        page = store.experiments.search(view, MAX_EXPERIMENT_PAGE, None, page_token, reader)
        found += [e for e in page.items if _meets(where, e)]
        page_token = page.next_page_token
        if page_token is None or not page.items:
            break
    for field, descending in reversed(order):
        found.sort(key=_KEYS[field], reverse=descending)
    start = decode_page_token(token)
    more = start + size < len(found)
    return found[start : start + size], encode_page_token(start + size) if more else None


def _meets(where: Any, experiment: Experiment) -> bool:
    if not where.matches("name", experiment.name):
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


def _order(order_by: list[Any]) -> list[tuple[str, bool]]:
    order = order_clauses(order_by, _KEYS)
    fields = {f for f, _ in order}
    if not order:
        order = [("creation_time", True)]
    return order + [("experiment_id", False)] * ("experiment_id" not in fields)
