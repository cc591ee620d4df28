"""What every registry SDK call shares: the store it acts on, who acts, and webhook sending.

Kept apart from `perennia.registry` so its modules (governance, cards) import these from here
instead of from the package that imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

# The store and the acting user are the dataset SDK's too: one definition, in the lower layer.
from perennia.data.session import acting_user, current_store  # noqa: F401

P = ParamSpec("P")
R = TypeVar("R")


def sends_webhooks(function: Callable[P, R]) -> Callable[P, R]:
    """Return `function` wrapped to send due webhook deliveries after it writes."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = function(*args, **kwargs)
        from perennia.registry.webhooks import kick

        kick(current_store())
        return result

    return wrapper
