"""Run search in SQL: the filter tree becomes WHERE clauses, order-by terms become outer joins.

Each comparison is a semi-join (`run_uuid IN (SELECT run_uuid FROM latest_metrics WHERE key=...
AND value > ...)`), which both engines evaluate once with the (key, value) indexes and which
composes under AND, OR and parentheses alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, and_, bindparam, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from perennia.entities import Reader, ViewType
from perennia.errors import InvalidFilter, InvalidInput
from perennia.store.search_grammar import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    NUMERIC_ATTRIBUTES,
    PARAM,
    STRING_ATTRIBUTES,
    TAG,
    BoolOp,
    Comparison,
    Node,
    parse_filter,
    parse_order_by,
)
from perennia.store.sql import schema as s
from perennia.store.sql.like import case_insensitive_like, case_sensitive_like
from perennia.store.sql.readers import readable_experiments
from perennia.store.sql.run_loader import CHUNK
from perennia.store.validation import validate_experiment_id

if TYPE_CHECKING:
    import pandas as pd

_VALUE_TABLES = {METRIC: s.latest_metrics, PARAM: s.params, TAG: s.tags}
_DATASET_COLUMNS = {
    "name": s.run_inputs.c.dataset_name,
    "digest": s.run_inputs.c.dataset_digest,
    "context": s.run_inputs.c.context,
}


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return case_sensitive_like(column, value)
    if op == "ILIKE":
        return case_insensitive_like(column, value)
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    raise InvalidFilter(f"unsupported comparator {op!r}")  # the parser never produces one


class _BinaryOrder(FunctionElement):
    """A text column that sorts by code point, whatever the database's collation."""

    name = "binary_order"
    inherit_cache = True


@compiles(_BinaryOrder)
def _compile_binary_order(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(column, **kw)  # SQLite's default BINARY collation already is


@compiles(_BinaryOrder, "postgresql")
def _compile_binary_order_pg(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(column.collate("C"), **kw)


def _attribute_column(key: str):
    column_name = STRING_ATTRIBUTES.get(key) or NUMERIC_ATTRIBUTES[key]
    return s.runs.c[column_name]


def _attribute_condition(comp: Comparison) -> Any:
    column = _attribute_column(comp.key)
    if comp.op == "IS NULL":
        return column.is_(None)
    if comp.op == "IS NOT NULL":
        return column.is_not(None)
    value = comp.value
    if comp.key == "experiment_id":
        values = value if isinstance(value, tuple) else (value,)
        try:
            converted = tuple(validate_experiment_id(v) for v in values)
        except Exception:
            raise InvalidFilter(
                f"attributes.experiment_id compares with numeric ids in quotes, got {value!r}"
            ) from None
        value = converted if isinstance(comp.value, tuple) else converted[0]
    return _compare(column, comp.op, value)


def _condition(comp: Comparison) -> Any:
    if comp.kind == ATTRIBUTE:
        return _attribute_condition(comp)
    if comp.kind == DATASET:
        ri = s.run_inputs
        column = _DATASET_COLUMNS[comp.key]
        if comp.op in ("IS NULL", "IS NOT NULL"):
            # Like a missing metric: IS NULL means no input of the run has the field ('' is the
            # stored form of no context), so a run without inputs matches too.
            has_field = select(ri.c.run_uuid).where(column != "")
            if comp.op == "IS NULL":
                return s.runs.c.run_uuid.not_in(has_field)
            return s.runs.c.run_uuid.in_(has_field)
        cond = _compare(column, comp.op, comp.value)
        return s.runs.c.run_uuid.in_(select(ri.c.run_uuid).where(cond))
    table = _VALUE_TABLES[comp.kind]
    has_key = select(table.c.run_uuid).where(table.c.key == comp.key)
    if comp.op == "IS NULL":
        return s.runs.c.run_uuid.not_in(has_key)
    if comp.op == "IS NOT NULL":
        return s.runs.c.run_uuid.in_(has_key)
    return s.runs.c.run_uuid.in_(has_key.where(_compare(table.c.value, comp.op, comp.value)))


def _where(node: Node) -> Any:
    if isinstance(node, Comparison):
        return _condition(node)
    assert isinstance(node, BoolOp)
    parts = [_where(item) for item in node.items]
    return and_(*parts) if node.op == "AND" else or_(*parts)


def build_search_query(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType | str,
    order_by: Sequence[str] | None,
    reader: Reader | None = None,
) -> Select:
    """Return a SELECT of matching run ids in the requested order (ties: newest first, then id).

    With a `reader`, only runs of experiments the reader holds a role in can match.
    """
    node = parse_filter(filter_string)
    terms = parse_order_by(list(order_by) if order_by else None)
    runs = s.runs
    try:
        stages = ViewType(view_type).stages()
    except ValueError:
        known = ", ".join(v.value for v in ViewType)
        raise InvalidInput(f"view_type must be one of {known}, got {view_type!r:.60}") from None
    query = select(runs.c.run_uuid).where(runs.c.lifecycle_stage.in_(stages))
    if experiment_ids:
        query = query.where(
            runs.c.experiment_id.in_([validate_experiment_id(e) for e in experiment_ids])
        )
    if reader is not None:
        query = query.where(runs.c.experiment_id.in_(readable_experiments(reader)))
    if node is not None:
        query = query.where(_where(node))
    ordering = []
    for index, term in enumerate(terms):
        if term.kind == ATTRIBUTE:
            column = _attribute_column(term.key)
            if term.key in STRING_ATTRIBUTES and term.key != "experiment_id":
                column = _BinaryOrder(column)
        elif term.kind in _VALUE_TABLES:
            table = _VALUE_TABLES[term.kind].alias(f"order_{index}")
            query = query.outerjoin(
                table, and_(table.c.run_uuid == runs.c.run_uuid, table.c.key == term.key)
            )
            column = table.c.value if term.kind == METRIC else _BinaryOrder(table.c.value)
        else:
            raise InvalidFilter(
                f"cannot order by {term.kind}s.{term.key}; order by metrics, params, tags or attributes"
            )
        # Runs lacking the value (or holding NaN) sort last in both directions.
        ordering.append((column.asc() if term.ascending else column.desc()).nulls_last())
    ordering += [runs.c.start_time.desc(), runs.c.run_uuid.asc()]
    return query.order_by(*ordering)


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


def search_frame(conn: Connection, query: Select, max_results: int | None) -> pd.DataFrame:
    """Return the runs selected by `query` as one DataFrame, built column-wise."""
    import pandas as pd

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
