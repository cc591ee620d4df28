"""MLflow's registry searches (`registered-models/search`, `model-versions/search`).

Both list only what the caller may read (`caller.listing()` goes down to the store). LIKE is
case-sensitive on every engine, as in the store; ILIKE and tag conditions are checked here over
the store's pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perennia.entities import RegisteredModel, Role
from perennia.errors import InvalidInput, NotFound, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.mlflow_compat.arguments import (
    args_of,
    max_results,
    page_token,
    parse_filter,
)
from perennia.server.mlflow_compat.registry import MAX_RESULTS, model_body, page_of
from perennia.server.mlflow_compat.scan import scan
from perennia.server.mlflow_compat.shapes import model_version_json
from perennia.server.mlflow_compat.version_order import parse_version_order
from perennia.server.mlflow_compat.wording import MlflowRoute
from perennia.server.routes.common import store_of
from perennia.store.base import ServerStore, Store

router = APIRouter(prefix="/api/2.0/mlflow", include_in_schema=False, route_class=MlflowRoute)


def _named(caller: Caller, store: Store, name: str | None) -> list[RegisteredModel]:
    """Return the model with this name as a one-item list, or [] if absent or unreadable."""
    try:
        return [store.registry.get_registered_model(caller.model(name, Role.VIEWER))]
    except (NotFound, InvalidInput, PermissionDenied):
        return []


def _check_order(order_by: Any, accepted: tuple[str, ...]) -> None:
    items = order_by if isinstance(order_by, list) else [order_by] if order_by else []
    for item in items:
        if not isinstance(item, str) or " ".join(item.split()).lower() not in accepted:
            raise InvalidInput(
                f"order_by {item!r:.60} is not supported; results come ordered by {accepted[0]!r}"
            )


@router.get("/registered-models/search")
def search_registered_models(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one page of registered models by name: `name =`, `name LIKE` and tag filters."""
    args = args_of(request, {})
    _check_order(request.query_params.getlist("order_by"), ("name", "name asc"))
    where = parse_filter(args.get("filter"), {"name": {"=", "LIKE", "ILIKE"}})
    size = max_results(args.get("max_results"), 100, MAX_RESULTS)
    token = page_token(args)
    reader = caller.listing()
    op = where.fields.get("name", ("",))[0]
    if op == "=":
        models = _named(caller, store, where.value("name"))
        models, token = [m for m in models if where.keeps(m.tags)], None
    else:
        # LIKE runs in the store (case-sensitive on every engine, as MLflow's registry search
        # answers); ILIKE is checked here, over the store's pages.
        pattern = where.value("name") if op == "LIKE" else None
        models, token = scan(
            lambda n, tok: store.registry.search_registered_models(pattern, n, tok, reader),
            lambda m: where.keeps(m.tags) and (op != "ILIKE" or where.matches("name", m.name)),
            size,
            token,
        )
    found = [model_body(store, m)["registered_model"] for m in models]
    return page_of({"registered_models": found}, token)


@router.get("/model-versions/search")
def search_model_versions(
    request: Request, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one page of versions of models the caller may read, filtered by `name`,
    `run_id =` and tag conditions, in MLflow's orders (newest-updated first by default)."""
    args = args_of(request, {})
    order = parse_version_order(request.query_params.getlist("order_by"))
    where = parse_filter(args.get("filter"), {"name": {"=", "LIKE", "ILIKE"}, "run_id": {"="}})
    op = where.fields.get("name", ("",))[0]
    name = where.value("name") if op == "=" else None
    name_like = where.value("name") if op == "LIKE" else None
    run_id = where.value("run_id")
    size = max_results(args.get("max_results"), MAX_RESULTS, MAX_RESULTS)
    reader = caller.listing()
    # The store filters by name (=, LIKE), run and reader and orders as MLflow does; ILIKE and
    # tag conditions are checked here, over its pages.
    versions, token = scan(
        lambda n, tok: store.versions.search_model_versions(
            name, run_id, n, tok, reader, name_like=name_like, order_by=order
        ),
        lambda v: where.keeps(v.tags) and (op != "ILIKE" or where.matches("name", v.name)),
        size,
        page_token(args),
    )
    return page_of({"model_versions": [model_version_json(v) for v in versions]}, token)
