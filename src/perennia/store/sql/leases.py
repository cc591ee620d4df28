"""What the schedules and retraining parts share in SQL: leased claims of due rows, pages, JSON.

Due rows are claimed like monitors: the claim selects due rows `FOR UPDATE SKIP LOCKED`
(PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), then leases them with an UPDATE
that re-checks the row is still due, so of replicas racing for one row exactly one gets it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, and_, or_, select, true, update

from perennia.entities import Page
from perennia.store.automation_checks import (
    MAX_CLAIMS,
    check_limit,
)
from perennia.store.limits import MAX_SEARCH_RESULTS
from perennia.store.monitor_checks import (
    check_owner,
    check_period,
    check_time,
)
from perennia.store.paging import check_max_results, decode_page_token, encode_page_token
from perennia.store.sql.engine import read_transaction, write_transaction


def to_json(value: Any) -> str:
    """Return `value` as compact JSON (no NaN)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def page_of(engine: Engine, query: Any, max_results: Any, page_token: Any, of: Any) -> Page:
    """Return one page of `query`'s rows, each read with `of`."""
    check_max_results(max_results, MAX_SEARCH_RESULTS)
    offset = decode_page_token(page_token)
    with read_transaction(engine) as conn:
        rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
    token = encode_page_token(offset + max_results) if len(rows) > max_results else None
    return Page([of(row) for row in rows[:max_results]], token)


def claim_due(
    engine: Engine, table: Any, key: Any, due: Any, now: int, owner: str, lease: int, limit: int
) -> list[Any]:
    """Return the rows of up to `limit` due rows of `table`, now leased to `owner`."""
    free = or_(table.c.lease_until_ms.is_(None), table.c.lease_until_ms <= now)
    claimable = and_(table.c.enabled == true(), due.is_not(None), due <= now, free)
    with write_transaction(engine) as conn:
        candidates = (
            select(key)
            .where(claimable)
            .order_by(due, key)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        keys = list(conn.execute(candidates).scalars())
        if not keys:
            return []
        until = now + lease
        conn.execute(
            update(table)
            .where(key.in_(keys), claimable)
            .values(lease_owner=owner, lease_until_ms=until)
        )
        query = (
            select(table)
            .where(key.in_(keys), table.c.lease_owner == owner, table.c.lease_until_ms == until)
            .order_by(due, key)
        )
        return conn.execute(query).all()


def claim_args(now_ms: Any, owner: Any, lease_ms: Any, limit: Any) -> tuple[int, str, int, int]:
    """Return the checked (now, owner, lease, limit) of a claim."""
    return (
        check_time(now_ms, "now_ms"),
        check_owner(owner),
        check_period(lease_ms, "lease_ms"),
        check_limit(limit, MAX_CLAIMS),
    )
