"""What every registry SDK call shares: the store it acts on, who acts, and webhook sending.

Kept apart from `perennia.registry` so its modules (governance, cards) import these from here
instead of from the package that imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from perennia.store.base import Store

P = ParamSpec("P")
R = TypeVar("R")


def current_store() -> Store:
    """Return the store of the current tracking URI (shared with the fluent API and Client)."""
    from perennia.tracking.client import Client

    return Client().store


def acting_user(override: str | None = None) -> str | None:
    """Return who acts: `override` when given, else the current user's login name."""
    from perennia.tracking.source import current_user

    return override or current_user()


def sends_webhooks(function: Callable[P, R]) -> Callable[P, R]:
    """Return `function` wrapped to send due webhook deliveries after it writes."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = function(*args, **kwargs)
        from perennia.registry.webhooks import kick

        kick(current_store())
        return result

    return wrapper
