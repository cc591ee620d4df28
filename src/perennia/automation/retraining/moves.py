"""Moving a retraining from the state this process read it in, and noticing when another did.

Several processes may advance one retraining at once (each server replica's periodic check,
`perennia retrain trigger --wait`, `perennia retrain advance`). Every move the loop makes is a
compare-and-set on the state and the version it read (`update_retraining(...,
expected_state=..., expected_updated_ms=...)`): of two advances racing from one reading, one
moves it and the other gets `Superseded`, stops without touching anything more, and reads the
retraining again. The version matters for moves that keep the state (a note while waiting for
a reviewer or a canary): the state alone would let both racers through.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import Retraining
from perennia.errors import Conflict


class Superseded(Exception):  # noqa: N818 - it names what happened, not an error kind
    """Another process moved the retraining since this one read it: this advance stops."""


def move(store: Any, retraining: Retraining, state: str, message: str, **fields: Any) -> Retraining:
    """Return the retraining moved from the state it was read in to `state` (one event).

    Raises Superseded when another process moved it first (or it has ended meanwhile).
    """
    try:
        return store.retraining.update_retraining(
            retraining.id,
            state,
            message,
            expected_state=retraining.state,
            expected_updated_ms=retraining.updated_ms,
            **fields,
        )
    except Conflict as exc:
        raise Superseded(str(exc)) from exc
