"""Run search in SQL: the filter tree becomes WHERE clauses, order-by terms become joins.

Each comparison is a correlated EXISTS (one primary-key lookup of `params`, `tags` or
`latest_metrics` per candidate run), which composes under AND, OR and parentheses alike and
lets an ordered scan stop after k matches. A search ordered by a metric, param or tag walks the
(key, value) index in order (phase 0, runs holding a value) and then the runs without one
(phase 1); pages are keysets (see `perennia.store.paging`), so a page deep in a million runs
costs what the first one does. The DataFrame form lives in `readers.search_frame`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Join, Select, and_, false, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from perennia.entities import Reader, ViewType
from perennia.errors import InvalidFilter, InvalidInput
from perennia.store.paging import (
    Keyset,
    decode_search_token,
    encode_keyset_token,
    encode_page_token,
)
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
    OrderBy,
    parse_filter,
    parse_order_by,
)
from perennia.store.sql import schema as s
from perennia.store.sql.like import case_insensitive_like, case_sensitive_like
from perennia.store.sql.readers import readable_experiments, search_frame
from perennia.store.validation import validate_experiment_id

__all__ = [  # search_frame is re-exported from readers, where the DataFrame code lives
    "after_condition",
    "build_search_query",
    "phase_count",
    "phase_query",
    "search_base",
    "search_frame",
    "search_page",
    "search_run_ids",
]

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


class _DrivingJoin(Join):
    """An inner join whose left side drives the loop: SQLite is told so (CROSS JOIN), since
    with few rows per key its planner would rather scan the runs and sort them all."""

    inherit_cache = True


@compiles(_DrivingJoin)
def _compile_driving_join(element: _DrivingJoin, compiler: Any, **kw: Any) -> str:
    return compiler.visit_join(element, **kw)


@compiles(_DrivingJoin, "sqlite")
def _compile_driving_join_sqlite(element: _DrivingJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


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


def _exists(table: Any, *conditions: Any) -> Any:
    """Return EXISTS over `table`'s rows of the outer run: one primary-key lookup per candidate,
    so an ordered scan that stops after k matches never materializes a whole filter's matches."""
    return (
        select(table.c.run_uuid)
        .where(table.c.run_uuid == s.runs.c.run_uuid, *conditions)
        .correlate(s.runs)
        .exists()
    )


def _condition(comp: Comparison) -> Any:
    if comp.kind == ATTRIBUTE:
        return _attribute_condition(comp)
    if comp.kind == DATASET:
        ri = s.run_inputs
        column = _DATASET_COLUMNS[comp.key]
        if comp.op in ("IS NULL", "IS NOT NULL"):
            # Like a missing metric: IS NULL means no input of the run has the field ('' is the
            # stored form of no context), so a run without inputs matches too.
            has_field = _exists(ri, column != "")
            return ~has_field if comp.op == "IS NULL" else has_field
        return _exists(ri, _compare(column, comp.op, comp.value))
    table = _VALUE_TABLES[comp.kind]
    if comp.op == "IS NULL":
        return ~_exists(table, table.c.key == comp.key)
    if comp.op == "IS NOT NULL":
        return _exists(table, table.c.key == comp.key)
    condition = _compare(table.c.value, comp.op, comp.value)
    if comp.kind != METRIC and comp.op == "=":
        # Spelled like the (key, value prefix) index, so either engine may use it. A value
        # shorter than the prefix equals the column exactly when the prefix does; longer ones
        # match the prefix through the index and are then compared whole.
        prefix = s.value_prefix(table.c.value) == comp.value[: s.VALUE_PREFIX]
        condition = prefix if len(comp.value) < s.VALUE_PREFIX else and_(prefix, condition)
    return _exists(table, table.c.key == comp.key, condition)


def _where(node: Node) -> Any:
    if isinstance(node, Comparison):
        return _condition(node)
    assert isinstance(node, BoolOp)
    parts = [_where(item) for item in node.items]
    return and_(*parts) if node.op == "AND" else or_(*parts)


@dataclass(frozen=True)
class _Key:
    """One position of the sort key: what to order and compare by, and what to select."""

    order: Any
    value: Any
    ascending: bool
    nullable: bool
    numeric: bool


def search_base(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType | str,
    reader: Reader | None,
) -> Select:
    """Return an unordered SELECT of the ids of runs matching the filter, view and scope."""
    node = parse_filter(filter_string)
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
    return query


def _term_key(query: Select, term: OrderBy, index: int, inner: bool) -> tuple[Select, _Key]:
    """Return the query joined to what `term` orders by, and that sort-key position."""
    runs = s.runs
    if term.kind == ATTRIBUTE:
        column = _attribute_column(term.key)
        numeric = term.key in NUMERIC_ATTRIBUTES or term.key == "experiment_id"
        order = column if numeric else _BinaryOrder(column)
        return query, _Key(order, column, term.ascending, column.nullable, numeric)
    if term.kind not in _VALUE_TABLES:
        raise InvalidFilter(
            f"cannot order by {term.kind}s.{term.key}; order by metrics, params, tags or attributes"
        )
    table = _VALUE_TABLES[term.kind].alias(f"order_{index}")
    on = and_(table.c.run_uuid == runs.c.run_uuid, table.c.key == term.key)
    if inner:
        # Driven from the (key, value) index: only runs holding a value, none of them NULL.
        query = query.select_from(_DrivingJoin(table, runs, on)).where(table.c.value.is_not(None))
    else:
        query = query.outerjoin(table, on)
    numeric = term.kind == METRIC
    order = table.c.value if numeric else _BinaryOrder(table.c.value)
    return query, _Key(order, table.c.value, term.ascending, not inner, numeric)


def phase_count(order_by: Sequence[str] | None) -> int:
    """Return how many phases a keyset walk of this order has (2 when it starts with a value)."""
    terms = parse_order_by(list(order_by) if order_by else None)
    return 2 if terms and terms[0].kind in _VALUE_TABLES else 1


def phase_query(
    base: Select, order_by: Sequence[str] | None, phase: int
) -> tuple[Select, list[_Key]]:
    """Return one phase of an ordered search, selecting the run id then its sort key.

    When the order starts with a metric, param or tag, phase 0 walks the runs holding a value
    (an ordered scan of the (key, value) index, stopping after k matches, each other filter a
    primary-key lookup per candidate) and phase 1 the runs without one, which sort last.
    """
    terms = parse_order_by(list(order_by) if order_by else None)
    query, keys = base, []
    for index, term in enumerate(terms):
        if index == 0 and term.kind in _VALUE_TABLES:
            if phase == 1:
                table = _VALUE_TABLES[term.kind]
                query = query.where(
                    ~_exists(table, table.c.key == term.key, table.c.value.is_not(None))
                )
                continue
            query, key = _term_key(query, term, index, inner=True)
        else:
            query, key = _term_key(query, term, index, inner=False)
        keys.append(key)
    runs = s.runs
    keys.append(_Key(runs.c.start_time, runs.c.start_time, False, False, True))
    keys.append(_Key(runs.c.run_uuid, runs.c.run_uuid, True, False, False))
    ordering = []
    for key in keys:
        direction = key.order.asc() if key.ascending else key.order.desc()
        # Runs lacking the value (or holding NaN) sort last in both directions.
        ordering.append(direction.nulls_last() if key.nullable else direction)
    query = query.add_columns(*(key.value for key in keys[:-1]))
    return query.order_by(*ordering), keys


def after_condition(keys: list[_Key], after: Sequence[Any]) -> Any:
    """Return the WHERE clause of the rows sorting strictly after the sort key `after`."""
    if len(after) != len(keys) or not all(_fits(k, v) for k, v in zip(keys, after, strict=True)):
        raise InvalidInput("page_token does not match this search's order_by; start from page one")
    later, equal = [], []
    for key, value in zip(keys, after, strict=True):
        if value is not None:
            beyond = key.order > value if key.ascending else key.order < value
            if key.nullable:
                beyond = or_(beyond, key.value.is_(None))
            later.append(and_(*equal, beyond))
        equal.append(key.value.is_(None) if value is None else key.order == value)
    condition = or_(*later) if later else false()
    first, value = keys[0], after[0]
    if not first.nullable:
        # Implied by the above, but spelled as a range so the ordered index scan seeks to it.
        bound = first.order >= value if first.ascending else first.order <= value
        condition = and_(bound, condition)
    return condition


def _fits(key: _Key, value: Any) -> bool:
    if value is None:
        return key.nullable
    if key.numeric:
        return type(value) in (int, float)
    return type(value) is str


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
    query = search_base(experiment_ids, filter_string, view_type, reader)
    terms = parse_order_by(list(order_by) if order_by else None)
    ordering = []
    for index, term in enumerate(terms):
        query, key = _term_key(query, term, index, inner=False)
        direction = key.order.asc() if key.ascending else key.order.desc()
        ordering.append(direction.nulls_last())
    ordering += [s.runs.c.start_time.desc(), s.runs.c.run_uuid.asc()]
    return query.order_by(*ordering)


def search_page(
    conn: Connection,
    base: Select,
    order_by: Sequence[str] | None,
    max_results: int,
    start: Keyset | None,
) -> tuple[list[str], Keyset | None]:
    """Return one page of run ids after `start` (None: the first page), and where the next
    page starts (None when this one is the last)."""
    phase, after = (start.phase, start.after) if start is not None else (0, None)
    if phase >= phase_count(order_by):
        raise InvalidInput("page_token does not match this search's order_by; start from page one")
    rows: list[tuple[int, Any]] = []
    while phase < phase_count(order_by) and len(rows) <= max_results:
        query, keys = phase_query(base, order_by, phase)
        if after is not None:
            query = query.where(after_condition(keys, after))
        found = conn.execute(query.limit(max_results + 1 - len(rows))).all()
        rows += [(phase, tuple(row)) for row in found]
        phase, after = phase + 1, None
    ids = [row[0] for _, row in rows[:max_results]]
    if len(rows) <= max_results:
        return ids, None
    last_phase, last = rows[max_results - 1]
    return ids, Keyset(last_phase, (*last[1:], last[0]))


def search_run_ids(
    conn: Connection,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType | str,
    order_by: Sequence[str] | None,
    reader: Reader | None,
    max_results: int,
    page_token: str | None,
) -> tuple[list[str], str | None]:
    """Return one page of matching run ids in order, and the next page's token (None: last).

    Tokens are keysets; an offset token from before them still pages by offset.
    """
    start = decode_search_token(page_token)
    if isinstance(start, int) and start:
        query = build_search_query(experiment_ids, filter_string, view_type, order_by, reader)
        ids = list(conn.execute(query.offset(start).limit(max_results + 1)).scalars())
        more = len(ids) > max_results
        return ids[:max_results], encode_page_token(start + max_results) if more else None
    base = search_base(experiment_ids, filter_string, view_type, reader)
    keyset = start if isinstance(start, Keyset) else None
    ids, after = search_page(conn, base, order_by, max_results, keyset)
    return ids, None if after is None else encode_keyset_token(after.phase, after.after)
