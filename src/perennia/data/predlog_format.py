"""The prediction log's rows: names, ids, partition keys, and one batch turned into an Arrow table.

`perennia.data.predlog` documents the format; this module is its executable half. Nothing here
does I/O. pyarrow and numpy are imported inside the functions, so importing this is cheap.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from perennia.errors import InvalidInput

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
FORMAT_KEY = b"perennia.predlog.format"
FORMAT_VERSION = b"1"
MAX_ID_LENGTH = 200
DAY_MS = 86_400_000
INPUT_PREFIX = "input."
OUTPUT_PREFIX = "output."

# The fixed columns, in file order; inputs and outputs follow them.
BASE_COLUMNS = (
    "prediction_id",
    "request_id",
    "time_ms",
    "deployment",
    "variant",
    "model_name",
    "model_version",
    "latency_ms",
    "ok",
    "error",
    "shadow",
)

_DEPLOYMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_EPOCH = date(1970, 1, 1)


def check_deployment_name(name: object) -> str:
    """Return `name` if it can be a partition folder; raise InvalidInput otherwise."""
    # The name becomes a path segment (`deployment=<name>`) locally and in S3 keys, and a Hive
    # partition value DuckDB and Spark read without unescaping: so no separators, no '..',
    # no '=' or '%', and nothing a shell or URL would need to quote.
    if not isinstance(name, str) or not _DEPLOYMENT.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"deployment name {name!r} is not accepted; use 1-128 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit and without '..'"
        )
    return name


def new_request_id() -> str:
    """Return a fresh request id (uuid4 hex)."""
    return uuid.uuid4().hex


def new_prediction_ids(request_id: str, n: int) -> list[str]:
    """Return the ids of a request's `n` rows: `<request_id>-<row>`, row counted from 0."""
    if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_ID_LENGTH - 12:
        raise InvalidInput(
            f"request id {request_id!r} must be a non-empty string of at most"
            f" {MAX_ID_LENGTH - 12} characters"
        )
    if not isinstance(n, int) or n < 0:
        raise InvalidInput(f"row count {n!r} must be a non-negative integer")
    return [f"{request_id}-{row}" for row in range(n)]


def day_of(time_ms: int) -> int:
    """Return the UTC day number (days since 1970-01-01) of a time in epoch milliseconds."""
    return time_ms // DAY_MS


def date_text(day: int) -> str:
    """Return the `YYYY-MM-DD` partition value of a UTC day number."""
    return (_EPOCH + timedelta(days=day)).isoformat()


def parse_date_partition(name: str) -> int | None:
    """Return the day number of a `date=YYYY-MM-DD` folder name, or None if it is not one."""
    if not name.startswith("date="):
        return None
    try:
        return (datetime.strptime(name[5:], "%Y-%m-%d").replace(tzinfo=UTC).date() - _EPOCH).days
    except ValueError:
        return None


def part_name(first_time_ms: int) -> str:
    """Return a new part file name: `part-<first_time_ms>-<uuid4hex>.parquet`."""
    return f"part-{first_time_ms}-{uuid.uuid4().hex}.parquet"


def is_part(name: str) -> bool:
    """Return True for a finished part file's name (never a temp file)."""
    return name.startswith("part-") and name.endswith(".parquet")


def part_first_ms(name: str) -> int | None:
    """Return the first time recorded in a part file's name, or None if the name is not a part's."""
    if not is_part(name):
        return None
    first, _, rest = name[5:].partition("-")
    try:
        return int(first) if rest else None
    except ValueError:
        return None


def prediction_key(deployment: str, day: int, first_time_ms: int) -> str:
    """Return the key of a new prediction part under the location."""
    return f"{PREDICTIONS}/deployment={deployment}/date={date_text(day)}/{part_name(first_time_ms)}"


def feedback_key(day: int, first_time_ms: int) -> str:
    """Return the key of a new feedback part under the location."""
    return f"{FEEDBACK}/date={date_text(day)}/{part_name(first_time_ms)}"


@dataclass
class PredictionBatch:
    """The rows of one predict call (many requests may be merged into it), column-wise."""

    deployment: str
    variant: str
    model_name: str
    model_version: int
    shadow: bool
    request_ids: Sequence[str]
    prediction_ids: Sequence[str]
    time_ms: Sequence[int] | int
    latency_ms: Sequence[float] | float
    ok: bool = True
    error: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Return the number of rows (one per prediction id)."""
        return len(self.prediction_ids)


def base_schema() -> Any:
    """Return the Arrow schema of the fixed prediction columns."""
    import pyarrow as pa

    types = (pa.string(),) * 2 + (pa.int64(),) + (pa.string(),) * 3 + (pa.int64(), pa.float64())
    types += (pa.bool_(), pa.string(), pa.bool_())
    return pa.schema(list(zip(BASE_COLUMNS, types, strict=True)))


def unify_schemas(schemas: Sequence[Any]) -> Any:
    """Return one schema covering all: numeric types widen, conflicting types become strings."""
    import pyarrow as pa

    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    types: dict[str, list[Any]] = {}
    for schema in schemas:
        for f in schema:
            types.setdefault(f.name, []).append(f.type)
    fields = []
    for name, found in types.items():
        try:
            one = [pa.schema([(name, t)]) for t in found]
            fields.append(pa.unify_schemas(one, promote_options="permissive").field(0))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def conform(table: Any, schema: Any) -> Any:
    """Return `table` with exactly `schema`'s columns: missing ones null, others cast."""
    import pyarrow as pa

    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        column = table[f.name]
        if column.type != f.type:
            try:
                column = column.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                texts = [None if v is None else str(v) for v in column.to_pylist()]
                column = pa.array(texts, type=f.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def concat_tables(tables: Sequence[Any]) -> Any:
    """Return the tables stacked in order, with schema promotion when their columns differ."""
    import pyarrow as pa

    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=False) for t in tables[1:]):
        return pa.concat_tables(tables)
    schema = unify_schemas([t.schema for t in tables])
    return pa.concat_tables([conform(t, schema) for t in tables])
