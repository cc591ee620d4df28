"""Helpers for the project's own SQL-engine tests (the contract's are in perennia.testing)."""

from __future__ import annotations

import threading
import time


def hold_insert_then_race(uri: str, insert_sql: str, race) -> BaseException | None:
    """Insert a conflicting row in an open transaction, start `race` in a thread, then commit.

    The racer's existence check runs before the commit (it sees nothing), so its own insert
    waits on the unique index and fails once the holder commits. Returns what it raised.
    """
    from sqlalchemy import create_engine, text

    from perennia.store.sql.engine import normalize_uri

    holder = create_engine(normalize_uri(uri))
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            race()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    with holder.connect() as conn:
        transaction = conn.begin()
        conn.execute(text(insert_sql))
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.0)  # the racer reaches its INSERT and waits on the row lock
        transaction.commit()
    thread.join(30)
    holder.dispose()
    return outcome[0] if outcome else None
