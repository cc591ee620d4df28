"""Table sources read as a stream of Arrow record batches, and chunks encoded as Parquet bytes.

In-memory frames (pandas, polars, Arrow) are converted once; files are read batch by batch
with pyarrow (Parquet row groups, CSV blocks), so data larger than memory never loads at once.

The pandas index is dropped when it is a RangeIndex (the default `0..n-1`, or any other
range): it carries no data and a chunk could not keep a range's meaning. Any other index is
kept as columns, and pandas' metadata restores it when the table is loaded back to pandas.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perennia._util.tables import library
from perennia.errors import InvalidInput

READ_BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 16 << 20
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


@dataclass
class TableStream:
    """A table read in batches: its schema, an iterator of record batches, its rows (0 if unknown)."""

    schema: Any
    batches: Iterator[Any]
    total_rows: int


def require_pyarrow() -> None:
    """Raise InvalidInput when pyarrow, which table snapshots need, is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InvalidInput("table snapshots need pyarrow: pip install 'perennia[all]'") from None


def frame_stream(source: Any) -> TableStream:
    """Return the stream of an in-memory pandas, polars or Arrow table."""
    import pyarrow as pa

    found = library(source)
    try:
        if found == "pandas":
            import pandas as pd

            keep_index = not isinstance(source.index, pd.RangeIndex)
            table = pa.Table.from_pandas(source, preserve_index=keep_index)
        elif found == "polars":
            table = source.to_arrow()
        else:
            table = source if isinstance(source, pa.Table) else pa.Table.from_batches([source])
    except (pa.ArrowException, ValueError, TypeError) as error:
        raise InvalidInput(f"cannot store this {found} frame as a table: {error}") from None
    batches = iter(table.to_batches(max_chunksize=READ_BATCH_ROWS))
    return TableStream(table.schema, batches, table.num_rows)


def parquet_stream(paths: list[Path]) -> TableStream:
    """Return the stream of one Parquet file or of several with the same schema (in this order)."""
    files = [_open_parquet(path) for path in paths]
    schema = files[0].schema_arrow
    for path, file in zip(paths, files, strict=True):
        if not file.schema_arrow.equals(schema, check_metadata=False):
            raise InvalidInput(
                f"Parquet file {path.name!r} has schema {file.schema_arrow.to_string(show_schema_metadata=False)!r:.200};"
                f" every file of the folder must have the schema of {paths[0].name!r}"
            )
    total = sum(file.metadata.num_rows for file in files)
    return TableStream(schema, _parquet_batches(files, schema), total)


def _open_parquet(path: Path) -> Any:
    """Return a pyarrow ParquetFile, InvalidInput if the file is not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{str(path)!r} is not a readable Parquet file: {error}") from None


def _parquet_batches(files: list[Any], schema: Any) -> Iterator[Any]:
    """Yield every record batch of the files, carrying the first file's schema (and metadata)."""
    import pyarrow as pa

    for file in files:
        for batch in file.iter_batches(batch_size=READ_BATCH_ROWS):
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)


def csv_stream(path: Path) -> TableStream:
    """Return the stream of a CSV file; column types are inferred from its first block."""
    import pyarrow as pa
    import pyarrow.csv as csv

    try:
        reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES))
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{str(path)!r} is not a readable CSV file: {error}") from None
    return TableStream(reader.schema, _csv_batches(reader, path), 0)


def _csv_batches(reader: Any, path: Path) -> Iterator[Any]:
    """Yield the CSV reader's batches, turning a later parse error into InvalidInput."""
    import pyarrow as pa

    try:
        yield from reader
    except pa.ArrowException as error:
        raise InvalidInput(
            f"CSV file {str(path)!r} could not be read with the types of its first block: {error}"
        ) from None


def encode_chunk(table: Any) -> bytes:
    """Return a chunk as Parquet bytes; the same rows and schema always give the same bytes."""
    import pyarrow.parquet as pq

    # One contiguous chunk per column and one row group: page cuts then depend on the rows
    # only, not on how the input happened to be batched.
    table = table.unify_dictionaries().combine_chunks()
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        row_group_size=max(1, table.num_rows),
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        write_statistics=True,
        store_schema=True,
    )
    return buffer.getvalue()


def schema_columns(schema: Any) -> list[dict[str, str]]:
    """Return the simple schema: [{"name": ..., "type": ...}] for each Arrow field."""
    return [{"name": field.name, "type": str(field.type)} for field in schema]


def schema_to_text(schema: Any) -> str:
    """Return an Arrow schema (with its metadata) as base64 of its IPC bytes."""
    import base64

    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_text(text: str) -> Any:
    """Return the Arrow schema stored by `schema_to_text`; InvalidInput if it does not parse."""
    import base64
    import binascii

    import pyarrow as pa

    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text, validate=True)))
    except (binascii.Error, ValueError, pa.ArrowException) as error:
        raise InvalidInput(f"snapshot schema.arrow is not an Arrow schema: {error}") from None
