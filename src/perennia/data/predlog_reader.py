"""Reading the prediction log back: partition pruning, row filters, schema promotion.

Folders are pruned before any file is opened: by `deployment=` when one is named, by `date=`
against the time window, and by the first time in each part's name against the window's end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from perennia.data.predlog_format import (
    PREDICTIONS,
    base_schema,
    check_deployment_name,
    concat_tables,
    day_of,
    parse_date_partition,
    part_first_ms,
)
from perennia.data.predlog_sinks import Sink, open_sink
from perennia.errors import InvalidInput


def check_window(since_ms: int | None, until_ms: int | None) -> None:
    """Raise InvalidInput unless each bound is epoch milliseconds (an int) or None."""
    for label, value in (("since_ms", since_ms), ("until_ms", until_ms)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(f"{label}={value!r} must be epoch milliseconds (an integer) or None")


def date_folders(sink: Sink, prefix: str, since_ms: int | None, until_ms: int | None) -> list[str]:
    """Return the `date=` folders under `prefix` that can hold times in [since_ms, until_ms)."""
    low = None if since_ms is None else day_of(since_ms)
    high = None if until_ms is None else day_of(until_ms - 1)
    kept = []
    for name in sink.children(prefix):
        day = parse_date_partition(name)
        if day is None or (low is not None and day < low) or (high is not None and day > high):
            continue
        kept.append(f"{prefix}/{name}")
    return kept


def part_keys(sink: Sink, folders: Sequence[str], until_ms: int | None) -> list[str]:
    """Return the part files in `folders`, oldest first, skipping parts that start after the window."""
    keyed = []
    for folder in folders:
        for name in sink.parts(folder):
            first = part_first_ms(name)
            if first is None or (until_ms is not None and first >= until_ms):
                continue
            keyed.append((first, f"{folder}/{name}"))
    return [key for _, key in sorted(keyed)]


def _prediction_parts(
    sink: Sink, deployment: str | None, since_ms: int | None, until_ms: int | None
) -> list[str]:
    if deployment is not None:
        deployments = [check_deployment_name(deployment)]
    else:
        names = sink.children(PREDICTIONS)
        deployments = [n[len("deployment=") :] for n in names if n.startswith("deployment=")]
    folders: list[str] = []
    for name in deployments:
        folders += date_folders(sink, f"{PREDICTIONS}/deployment={name}", since_ms, until_ms)
    return part_keys(sink, folders, until_ms)


def _wanted(columns: Sequence[str] | None, available: Sequence[str], filters: list[str]) -> Any:
    """Return the file's columns to read: the requested ones it has plus the filters' columns."""
    if columns is None:
        return None
    wanted = [c for c in columns if c in available]
    return wanted + [c for c in filters if c in available and c not in wanted]


def _filter(table: Any, since_ms: int | None, until_ms: int | None, variant: str | None) -> Any:
    """Return the rows of `table` inside the window and of the variant."""
    import pyarrow.compute as pc

    mask = None
    if since_ms is not None:
        mask = pc.greater_equal(table["time_ms"], since_ms)
    if until_ms is not None:
        term = pc.less(table["time_ms"], until_ms)
        mask = term if mask is None else pc.and_(mask, term)
    if variant is not None:
        term = pc.equal(table["variant"], variant)
        mask = term if mask is None else pc.and_(mask, term)
    return table if mask is None else table.filter(mask)


def _project(table: Any, columns: Sequence[str] | None) -> Any:
    """Return `table` with exactly `columns` (absent ones as nulls), or unchanged for None."""
    import pyarrow as pa

    if columns is None:
        return table
    arrays = [
        table[c] if c in table.column_names else pa.nulls(table.num_rows, pa.null())
        for c in columns
    ]
    return pa.Table.from_arrays(arrays, names=list(columns))


def _options(
    location: str,
    deployment: str | None,
    since_ms: int | None,
    until_ms: int | None,
    variant: str | None,
    columns: Sequence[str] | None,
    client: Any,
) -> tuple[Sink, list[str], list[str] | None, list[str]]:
    """Return the sink, the part keys to read, the requested columns and the filter columns."""
    check_window(since_ms, until_ms)
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput(f"columns={columns!r} must be a list of column names")
        columns = list(dict.fromkeys(columns))
    sink = open_sink(location, client)
    keys = _prediction_parts(sink, deployment, since_ms, until_ms)
    filters = ["time_ms"] if since_ms is not None or until_ms is not None else []
    filters += ["variant"] if variant is not None else []
    return sink, keys, columns, filters


def iter_predictions(
    location: str,
    *,
    deployment: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    variant: str | None = None,
    columns: Sequence[str] | None = None,
    batch_size: int = 65_536,
    client: Any = None,
) -> Iterator[Any]:
    """Yield the matching predictions as Arrow record batches, file by file (each file's schema)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidInput(f"batch_size={batch_size!r} must be a positive integer")
    sink, keys, columns, filters = _options(
        location, deployment, since_ms, until_ms, variant, columns, client
    )
    for key in keys:
        parquet = pq.ParquetFile(sink.open(key))
        wanted = _wanted(columns, parquet.schema_arrow.names, filters)
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted):
            table = _filter(pa.Table.from_batches([batch]), since_ms, until_ms, variant)
            if table.num_rows:
                yield from _project(table, columns).to_batches()


def read_predictions(
    location: str,
    *,
    deployment: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    variant: str | None = None,
    columns: Sequence[str] | None = None,
    client: Any = None,
) -> Any:
    """Return the matching predictions as one Arrow table (inputs of every version, promoted)."""
    import pyarrow.parquet as pq

    sink, keys, columns, filters = _options(
        location, deployment, since_ms, until_ms, variant, columns, client
    )
    tables = []
    for key in keys:
        parquet = pq.ParquetFile(sink.open(key))
        wanted = _wanted(columns, parquet.schema_arrow.names, filters)
        table = _filter(parquet.read(columns=wanted), since_ms, until_ms, variant)
        if table.num_rows:
            tables.append(_project(table.replace_schema_metadata(None), columns))
    if not tables:
        return _project(base_schema().empty_table(), columns)
    return concat_tables(tables)
