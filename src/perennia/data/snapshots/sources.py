"""What a snapshot source is: an in-memory table, a Parquet or CSV file, a folder of Parquet
files (all read as a table), or any other folder (stored as files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from perennia._util.tables import is_table
from perennia.data.snapshots.tables import (
    TableStream,
    csv_stream,
    frame_stream,
    parquet_stream,
    require_pyarrow,
)
from perennia.errors import InvalidInput, NotFound

KINDS = (None, "table", "files")
ACCEPTED = (
    "a pandas or polars DataFrame, a pyarrow Table, a path to a .parquet or .csv file,"
    " or a path to a folder"
)


def classify(source: Any, kind: str | None) -> tuple[str, TableStream | Path]:
    """Return ("table", its stream) or ("files", the folder) for a source; InvalidInput otherwise."""
    if kind not in KINDS:
        raise InvalidInput(
            f"kind {kind!r} is not accepted; use 'table', 'files' or None (decide from the source)"
        )
    if is_table(source):
        if kind == "files":
            raise InvalidInput(
                "kind='files' needs a folder; a DataFrame can only be stored as a table"
            )
        require_pyarrow()
        return "table", frame_stream(source)
    if isinstance(source, str | os.PathLike):
        return _classify_path(Path(source).expanduser(), kind)
    raise InvalidInput(f"cannot snapshot a {type(source).__name__}; accepted: {ACCEPTED}")


def _classify_path(path: Path, kind: str | None) -> tuple[str, TableStream | Path]:
    """Return the kind and prepared source of a file or folder path."""
    if path.is_dir():
        if kind == "files":
            return "files", path
        parquet = _flat_parquet_files(path)
        if parquet:
            require_pyarrow()
            return "table", parquet_stream(parquet)
        if kind == "table":
            raise InvalidInput(
                f"folder {str(path)!r} is not only .parquet files (or is empty, or has subfolders);"
                " kind='table' needs a folder of .parquet files, kind='files' stores any folder"
            )
        return "files", path
    if path.is_file():
        if kind == "files":
            raise InvalidInput(f"kind='files' needs a folder; {str(path)!r} is a file")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".csv"):
            require_pyarrow()
            return "table", parquet_stream([path]) if suffix == ".parquet" else csv_stream(path)
        raise InvalidInput(
            f"file {str(path)!r} is not .parquet or .csv; accepted: {ACCEPTED} (a folder holding"
            " it is stored as files)"
        )
    if not path.exists():
        raise NotFound(f"snapshot source {str(path)!r} does not exist")
    raise InvalidInput(f"snapshot source {str(path)!r} is neither a file nor a folder")


def _flat_parquet_files(folder: Path) -> list[Path]:
    """Return the folder's files sorted by name if they are all .parquet files (else [])."""
    with os.scandir(folder) as entries:
        items = list(entries)
    if not items or not all(
        e.is_file(follow_symlinks=False) and e.name.lower().endswith(".parquet") for e in items
    ):
        return []
    return sorted(Path(e.path) for e in items)
