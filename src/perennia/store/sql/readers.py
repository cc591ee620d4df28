"""Reading runs out: what a `Reader` may see, and search results as column-wise DataFrames.

A reader sees the experiments and registered models they hold an explicit role on; stores
receive `reader=None` when the caller may read everything (see perennia.entities.Reader).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, select

from perennia.entities import Reader
from perennia.errors import InvalidInput
from perennia.store.sql import schema as s
from perennia.store.sql.run_loader import CHUNK

if TYPE_CHECKING:
    import pandas as pd


def readable_experiments(reader: Reader) -> Select:
    """Return a SELECT of the ids of experiments the reader holds a role in."""
    p = s.experiment_permissions
    return select(p.c.experiment_id).where(p.c.user_id == reader.user_id)


def readable_models(reader: Reader) -> Select:
    """Return a SELECT of the names of registered models the reader holds a role on."""
    p = s.model_permissions
    return select(p.c.name).where(p.c.user_id == reader.user_id)


def _pivot(rows: Any, index: dict[str, int], n: int, prefix: str, numeric: bool) -> dict[str, Any]:
    import numpy as np

    columns: dict[str, Any] = {}
    for run_uuid, key, value in rows:
        column = columns.get(key)
        if column is None:
            column = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
            columns[key] = column
        column[index[run_uuid]] = np.nan if value is None else value
    return {f"{prefix}.{key}": columns[key] for key in sorted(columns)}


_INFO_COLUMNS = {
    "run_id": "run_uuid",
    "experiment_id": "experiment_id",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "user_id": "user_id",
    "parent_run_id": "parent_run_uuid",
    "lifecycle_stage": "lifecycle_stage",
}
_FAMILIES = {"metrics": s.latest_metrics, "params": s.params, "tags": s.tags}
# Up to this many selected runs, a value column is read by id (primary-key lookups); beyond it,
# by one scan of the key's rows through the (key, value) index, aligned to the runs in numpy.
LOOKUP_LIMIT = 50_000
FETCH = 50_000


def _parse_columns(columns: Sequence[str]) -> list[tuple[str, Any, str]]:
    """Return (kind, run column or value table, key) per requested column; InvalidInput on bad
    names."""
    if isinstance(columns, str) or not columns:
        raise InvalidInput("columns must be a non-empty list of names like 'metrics.loss'")
    if len(set(columns)) != len(columns):
        raise InvalidInput("columns names a column twice; list each column once")
    parsed = []
    for name in columns:
        family, _, key = name.partition(".") if isinstance(name, str) else ("", "", "")
        if name in _INFO_COLUMNS:
            kind = "time" if name.endswith("_time") else name
            parsed.append((kind, s.runs.c[_INFO_COLUMNS[name]], ""))
        elif family in _FAMILIES and key:
            kind = "number" if family == "metrics" else "text"
            parsed.append((kind, _FAMILIES[family], key))
        else:
            raise InvalidInput(
                f"columns entry {name!r:.80} is unknown; use one of {', '.join(_INFO_COLUMNS)} "
                "or metrics.KEY, params.KEY, tags.KEY"
            )
    return parsed


def _empty(kind: str, n: int) -> Any:
    import numpy as np

    return np.full(n, np.nan) if kind in ("number", "time") else np.full(n, None, dtype=object)


def _column_of(values: list, kind: str) -> Any:
    """Return a numpy array of one fetched column (float64 for numbers and times)."""
    import numpy as np

    if kind in ("number", "time"):
        return np.array(values, dtype=np.float64)  # NULL comes as None: NaN in a float64 array
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _chunk_arrays(rows: list, kinds: list[str]) -> list[Any]:
    """Return one numpy array per column of a fetched chunk."""
    # One list per column: zip(*rows) would build an iterator per row.
    return [_column_of([row[i] for row in rows], kind) for i, kind in enumerate(kinds)]


def _value_column(
    conn: Connection, table: Any, key: str, kind: str, order: list[str], at: dict[str, int]
) -> Any:
    """Return the values of `key` for the runs in `order` (`at`: run id -> position), NaN or
    None where a run has none."""
    import numpy as np

    out = _empty(kind, len(order))
    statement = select(table.c.run_uuid, table.c.value).where(table.c.key == key)
    if len(order) <= LOOKUP_LIMIT:
        statement = statement.where(table.c.run_uuid.in_(bindparam("ids", expanding=True)))
        batches = [{"ids": order[i : i + CHUNK]} for i in range(0, len(order), CHUNK)]
    else:
        batches = [{}]  # every run holding the key; runs outside the selection are dropped
    find = at.get
    for params in batches:
        result = conn.execute(statement, params)
        while rows := result.cursor.fetchmany(FETCH):
            run_ids = [row[0] for row in rows]
            positions = np.fromiter(map(find, run_ids, repeat(-1)), np.int64, len(run_ids))
            values = _column_of([row[1] for row in rows], kind)
            kept = positions >= 0
            out[positions[kept]] = values[kept]
        result.close()
    return out


def _projected_frame(
    conn: Connection, query: Select, max_results: int | None, columns: Sequence[str]
) -> pd.DataFrame:
    """Return only `columns` of the selected runs: the ordered runs in one streamed query, then
    one query per value column, aligned column-wise (no Python object kept per number)."""
    import numpy as np
    import pandas as pd

    parsed = _parse_columns(columns)
    info = [(i, kind, column) for i, (kind, column, key) in enumerate(parsed) if not key]
    query = query.with_only_columns(
        s.runs.c.run_uuid, *(column for _, _, column in info), maintain_column_froms=True
    )
    if max_results is not None:
        query = query.limit(max_results)
    kinds = ["text", *(kind for _, kind, _ in info)]
    parts: list[list[Any]] = [[] for _ in kinds]
    result = conn.execute(query)
    while rows := result.cursor.fetchmany(FETCH):
        for part, array in zip(parts, _chunk_arrays(rows, kinds), strict=True):
            part.append(array)
    result.close()
    arrays = [
        np.concatenate(part) if part else _empty(kind, 0)
        for part, kind in zip(parts, kinds, strict=True)
    ]
    order = arrays[0].tolist()
    at = {run_id: i for i, run_id in enumerate(order)}
    frame: dict[str, Any] = {}
    by_position = {i: array for (i, _, _), array in zip(info, arrays[1:], strict=True)}
    for i, (name, (kind, table, key)) in enumerate(zip(columns, parsed, strict=True)):
        values = by_position[i] if not key else _value_column(conn, table, key, kind, order, at)
        if kind == "time":
            frame[name] = pd.to_datetime(pd.Series(values, dtype="float64"), unit="ms", utc=True)
        elif kind == "experiment_id":
            frame[name] = pd.Series([str(e) for e in values], dtype=object)
        else:
            frame[name] = pd.Series(values)
    return pd.DataFrame(frame, columns=list(columns))


def search_frame(
    conn: Connection,
    query: Select,
    max_results: int | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the runs selected by `query` as one DataFrame, built column-wise (only `columns`,
    in that order, when given)."""
    import pandas as pd

    if columns is not None:
        return _projected_frame(conn, query, max_results, columns)
    if max_results is not None:
        query = query.limit(max_results)
    run_ids = list(conn.execute(query).scalars())
    n = len(run_ids)
    index = {run_id: i for i, run_id in enumerate(run_ids)}
    runs = s.runs
    info_columns = (
        runs.c.run_uuid,
        runs.c.experiment_id,
        runs.c.name,
        runs.c.status,
        runs.c.start_time,
        runs.c.end_time,
        runs.c.user_id,
        runs.c.parent_run_uuid,
        runs.c.lifecycle_stage,
    )
    info_rows: list[Any] = [None] * n
    # A short selection goes back as id lists; a long one is joined as a subquery (one query per
    # table instead of one per 900 ids), without its ORDER BY and LIMIT unless the limit cut it.
    if n <= CHUNK:

        def restrict(select_, table):
            return select_.where(table.c.run_uuid.in_(bindparam("ids", expanding=True)))

        parts = [{"ids": run_ids}] if n else []
    else:
        cut = max_results is not None and n >= max_results
        selected = (query if cut else query.order_by(None).limit(None)).subquery()

        def restrict(select_, table):
            return select_.join(selected, table.c.run_uuid == selected.c.run_uuid)

        parts = [{}]

    def rows_of(table, *columns):
        statement = restrict(select(*columns).select_from(table), table)
        rows: list[Any] = []
        for params in parts:
            result = conn.execute(statement, params)
            # Plain DBAPI tuples: these columns need no type processing, and Row objects for
            # ~20 values per run cost more than the query.
            rows.extend(result.cursor.fetchall())
            result.close()
        return rows

    for row in rows_of(runs, *info_columns):
        info_rows[index[row[0]]] = row
    metric_rows, param_rows, tag_rows = (
        rows_of(table, table.c.run_uuid, table.c.key, table.c.value)
        for table in (s.latest_metrics, s.params, s.tags)
    )
    info = list(zip(*info_rows, strict=True)) if n else [()] * len(info_columns)
    frame: dict[str, Any] = {
        "run_id": list(info[0]),
        "experiment_id": [str(e) for e in info[1]],
        "run_name": list(info[2]),
        "status": list(info[3]),
        "start_time": pd.to_datetime(pd.Series(info[4], dtype="float64"), unit="ms", utc=True),
        "end_time": pd.to_datetime(pd.Series(info[5], dtype="float64"), unit="ms", utc=True),
        "user_id": list(info[6]),
        "parent_run_id": list(info[7]),
        "lifecycle_stage": list(info[8]),
    }
    frame.update(_pivot(metric_rows, index, n, "metrics", numeric=True))
    frame.update(_pivot(param_rows, index, n, "params", numeric=False))
    frame.update(_pivot(tag_rows, index, n, "tags", numeric=False))
    return pd.DataFrame(frame)
