"""Looking up what an MLflow request names, with MLflow's answers for ids that match nothing.

MLflow takes any string as a run id or a logged-model id: one that names nothing is not found
(RESOURCE_DOES_NOT_EXIST, in MLflow's words), never malformed input. The access decision is the
Caller's, as everywhere; an id of no valid form names nothing, so there is nothing to protect.
"""

from __future__ import annotations

import re
from typing import Any

from perennia.entities import Role
from perennia.errors import NotFound
from perennia.server.access import Caller

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def is_run_id(value: Any) -> bool:
    """Return whether `value` has the form of a Perennia run id (32 lowercase hex digits)."""
    return isinstance(value, str) and bool(_RUN_ID.match(value))


def run_not_found(run_id: str) -> NotFound:
    """Return MLflow's error for a run that does not exist."""
    return NotFound(f"Run with id={run_id} not found")


def run_of(caller: Caller, run_id: str, need: Role) -> str:
    """Return the run id once the caller holds `need` on it; NotFound in MLflow's words if absent."""
    if not is_run_id(run_id):
        caller.signed_in()
        raise run_not_found(run_id)
    try:
        return caller.run(run_id, need)
    except NotFound:
        raise run_not_found(run_id) from None
