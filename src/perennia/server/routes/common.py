"""What every route module shares: the store handle and entity responses."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from perennia.entities import to_dict
from perennia.store.base import ServerStore


def store_of(request: Request) -> ServerStore:
    """Return the store this app serves (the database itself: a `ServerStore`)."""
    return request.app.state.store


def entity(value: Any, status_code: int = 200) -> JSONResponse:
    """Return a JSON response holding an entity (or a structure of them)."""
    return JSONResponse(to_dict(value), status_code=status_code)


async def json_object(request: Request) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise InvalidInput saying what is wrong."""
    import json

    from perennia.errors import InvalidInput

    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"request body is not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidInput("request body nests arrays and objects too deeply") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def grant_creator(
    caller: Any, store: ServerStore, *, experiment_id: str | None = None, model: str | None = None
) -> None:
    """Make a signed-in, non-admin creator the manager of what they just created.

    In the creating request (and its transaction, when it carries an Idempotency-Key).
    """
    from perennia.entities import Role

    caller.created(experiment_id if experiment_id is not None else model)
    if caller.user is None or caller.user.is_admin:
        return
    if experiment_id is not None:
        store.access.set_role(experiment_id, caller.user.username, Role.MANAGER)
    if model is not None:
        store.access.set_model_role(model, caller.user.username, Role.MANAGER)


def acting_user(request: Request, claimed: str | None) -> str | None:
    """Return who acts: the signed-in user, or (sign-in off) the username the client names."""
    user = getattr(request.state, "user", None)
    return user.username if user is not None else claimed


def run_owner(request: Request, claimed: str | None) -> str | None:
    """Return whose run it is: the signed-in user's, or the claimed one for admins (imports)."""
    user = getattr(request.state, "user", None)
    if user is None or user.is_admin:
        return claimed if claimed is not None or user is None else user.username
    return user.username


def order_pairs(order_by: list[str] | None) -> list[tuple[str, bool]] | None:
    """Return the (field, descending) pairs of `order_by=field` / `order_by=-field` arguments."""
    return [(o.removeprefix("-"), o.startswith("-")) for o in order_by] if order_by else None
