"""What a `Reader` may see, as subqueries a listing filters by inside its own SQL.

A reader sees the experiments and registered models they hold an explicit role on; stores
receive `reader=None` when the caller may read everything (see perennia.entities.Reader).
"""

from __future__ import annotations

from sqlalchemy import Select, select

from perennia.entities import Reader
from perennia.store.sql import schema as s


def readable_experiments(reader: Reader) -> Select:
    """Return a SELECT of the ids of experiments the reader holds a role in."""
    p = s.experiment_permissions
    return select(p.c.experiment_id).where(p.c.user_id == reader.user_id)


def readable_models(reader: Reader) -> Select:
    """Return a SELECT of the names of registered models the reader holds a role on."""
    p = s.model_permissions
    return select(p.c.name).where(p.c.user_id == reader.user_id)
