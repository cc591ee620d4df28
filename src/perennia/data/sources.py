"""Where a dataset came from: the `source` dict a registration records, and readers that make one.

`describe_source` names a frame, file, folder, S3 prefix or SQL database without reading it.
`read_sql` runs a query through SQLAlchemy (any URI it knows: postgresql://, sqlite:///, ...) and
records the URI with its password removed, the query text and when it ran. `read_s3_prefix`
copies every object under an s3:// prefix into an empty local folder and records an ETag digest,
so a later read can tell whether the prefix changed. `sql_over_files` runs DuckDB SQL over frames
and Parquet/CSV files named as tables. Every source dict is plain JSON.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from perennia.artifacts.s3 import error_code, parse_s3_uri, s3_client
from perennia.clock import now_ms
from perennia.data.prepare.frames import frame_kind, json_value, row_count
from perennia.data.snapshots.paths import check_relative_path
from perennia.errors import Conflict, InvalidInput, NotFound, StoreUnavailable

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
_SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)
_DOWNLOAD_THREADS = 8  # S3 latency, not bandwidth, bounds many small objects


def describe_source(obj_or_path: Any) -> dict[str, Any]:
    """Return the JSON-able source dict for a frame, a local path, an s3:// prefix or a SQL URI."""
    if isinstance(obj_or_path, str | os.PathLike) and not isinstance(obj_or_path, bytes):
        text = os.fspath(obj_or_path)
        if text.startswith("s3://"):
            bucket, prefix = parse_s3_uri(text, "S3 source")
            return {"type": "s3", "uri": f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"}
        if text.startswith("file://"):
            return _describe_path(Path(text[len("file://") :]))
        if "://" in text:
            return {"type": "sql", "uri": redact_uri(text)}
        return _describe_path(Path(text))
    try:
        kind = frame_kind(obj_or_path, "source")
    except InvalidInput:
        raise InvalidInput(
            f"source is a {type(obj_or_path).__name__}; pass a DataFrame (pandas, polars, Arrow), "
            "a file or folder path, an s3:// prefix or a SQL database URI"
        ) from None
    columns = obj_or_path.column_names if kind == "arrow" else list(obj_or_path.columns)
    return {
        "type": "dataframe",
        "library": kind,
        "rows": row_count(obj_or_path),
        "columns": len(columns),
    }


def redact_uri(uri: str) -> str:
    """Return a SQLAlchemy URI with its password (and any password-like query parameter) removed."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError:
        raise InvalidInput(
            "SQL source URI is not of the form dialect[+driver]://user@host/database"
        ) from None
    kept = {k: v for k, v in url.query.items() if not _SECRET_PARAMETER.search(k)}
    # URL.create, not url.set(password=None): set() reads None as "leave unchanged".
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, kept)
    return bare.render_as_string(hide_password=False)


def read_sql(
    uri: str, query: str, *, params: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Return (pandas DataFrame, source dict) for `query` run through SQLAlchemy on `uri`."""
    import pandas as pd
    from pandas.errors import DatabaseError
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    safe = redact_uri(uri)
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(f"query={query!r} must be non-empty SQL text")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(f"params={params!r} must be a dict of :name -> value, or None")
    try:
        engine = create_engine(uri)
    except (ArgumentError, NoSuchModuleError) as error:
        raise InvalidInput(
            f"SQL source {safe!r} cannot be opened: {_first_line(error, uri)}"
        ) from None
    queried_at = now_ms()
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as error:
            raise StoreUnavailable(
                f"cannot connect to {safe!r}: {_first_line(error, uri)}"
            ) from None
        with connection:
            try:
                frame = pd.read_sql(text(query), connection, params=params or {})
            except (SQLAlchemyError, DatabaseError) as error:
                raise InvalidInput(f"query failed on {safe!r}: {_first_line(error, uri)}") from None
    finally:
        engine.dispose()
    source = {
        "type": "sql",
        "uri": safe,
        "query": query,
        "queried_at": queried_at,
        "rows": len(frame),
    }
    if params:
        source["params"] = {str(k): json_value(v) for k, v in params.items()}
    return frame, source


def read_s3_prefix(uri: str, target: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Return (target folder, source dict) after downloading every object under an s3:// prefix."""
    bucket, prefix = parse_s3_uri(uri, "S3 source")
    folder = Path(target)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidInput(f"target {str(folder)!r} must be an empty folder or not exist yet")
    client = s3_client("reading an S3 source")
    objects = _list_objects(client, bucket, prefix, uri)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    try:
        with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS) as pool:
            list(pool.map(lambda item: _download(client, bucket, item, root), objects))
    except BaseException:
        _remove_written(root, objects, created)
        raise
    import hashlib

    digest = hashlib.sha256()
    for relative, _, etag, _ in sorted(objects):
        digest.update(f"{relative}\0{etag}\n".encode())
    source = {
        "type": "s3",
        "uri": f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}",
        "objects": len(objects),
        "bytes": sum(size for *_, size in objects),
        "etag_digest": digest.hexdigest(),
    }
    return folder, source


def sql_over_files(query: str, **tables: Any) -> Any:
    """Return a pandas DataFrame: DuckDB `query` over tables given as frames or Parquet/CSV paths."""
    import duckdb

    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            _register_table(connection, name, table)
        return connection.sql(query).df()
    except duckdb.Error as error:
        raise InvalidInput(f"SQL over files failed: {_first_line(error, '')}") from None
    finally:
        connection.close()


def _describe_path(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise NotFound(f"source path {str(path)!r} does not exist")
    resolved = str(path.resolve())
    if path.is_dir():
        files = _parquet_files(path)
        if files:
            return {"type": "parquet", "path": resolved, "files": files}
        return {"type": "folder", "path": resolved}
    name = path.name.lower()
    stat = path.stat()
    facts = {"path": resolved, "bytes": stat.st_size, "modified_ms": stat.st_mtime_ns // 1_000_000}
    if name.endswith(PARQUET_SUFFIXES):
        return {"type": "parquet", **facts}
    if name.endswith(CSV_SUFFIXES):
        return {"type": "csv", **facts}
    raise InvalidInput(
        f"source file {path.name!r} is neither Parquet ({', '.join(PARQUET_SUFFIXES)}) nor CSV "
        f"({', '.join(CSV_SUFFIXES)}); pass its folder to record it as a folder of files"
    )


def _parquet_files(folder: Path) -> int:
    """Return how many Parquet files a folder holds if it holds nothing else (marker files aside), else 0."""
    count = 0
    for _, _, names in os.walk(folder):
        for name in names:
            if name.startswith((".", "_")):
                continue  # _SUCCESS, _metadata, .crc: what Spark and Arrow write beside the parts
            if not name.lower().endswith(PARQUET_SUFFIXES):
                return 0
            count += 1
    return count


def _list_objects(
    client: Any, bucket: str, prefix: str, uri: str
) -> list[tuple[str, str, str, int]]:
    """Return (relative path, key, etag, size) for each object under the prefix, names checked."""
    from botocore.exceptions import ClientError

    base = f"{prefix}/" if prefix else ""
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for item in page.get("Contents", []):
                relative = item["Key"][len(base) :]
                if not relative or (relative.endswith("/") and item["Size"] == 0):
                    continue  # a "folder" marker some tools write
                found.append(
                    (
                        _safe_relative(relative, item["Key"]),
                        item["Key"],
                        item["ETag"].strip('"'),
                        item["Size"],
                    )
                )
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise NotFound(f"S3 bucket {bucket!r} of {uri!r} does not exist") from None
        raise StoreUnavailable(f"cannot list {uri!r}: {error}") from None
    if not found:
        raise NotFound(f"no objects under {uri!r}")
    files = {relative for relative, *_ in found}
    for relative in files:
        parent = relative.rpartition("/")[0]
        while parent:
            if parent in files:
                raise InvalidInput(
                    f"S3 objects {parent!r} and {relative!r} under {uri!r} cannot both be files"
                )
            parent = parent.rpartition("/")[0]
    return found


def _safe_relative(relative: str, key: str) -> str:
    # The snapshot's path rule, which the downloaded folder meets next: an S3 prefix accepts
    # exactly the names a local folder would (see perennia.data.snapshots.paths).
    try:
        return check_relative_path(relative)
    except InvalidInput as error:
        raise InvalidInput(f"S3 key {key!r} is not a safe file name here: {error}") from None


def _download(client: Any, bucket: str, item: tuple[str, str, str, int], root: Path) -> None:
    relative, key, etag, _ = item
    destination = (root / relative).resolve()
    if not destination.is_relative_to(root):
        raise InvalidInput(f"S3 key {key!r} would be written outside {str(root)!r}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    response = client.get_object(Bucket=bucket, Key=key)
    if response["ETag"].strip('"') != etag:
        raise Conflict(f"S3 object {key!r} changed while it was being read; read the prefix again")
    with open(destination, "wb") as out:
        for chunk in response["Body"].iter_chunks(1 << 20):
            out.write(chunk)


def _remove_written(root: Path, objects: list[tuple[str, str, str, int]], created: bool) -> None:
    import shutil

    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for relative, *_ in objects:
        (root / relative).unlink(missing_ok=True)


def _register_table(connection: Any, name: str, table: Any) -> None:
    if isinstance(table, str | os.PathLike):
        path = Path(table)
        if not path.exists():
            raise NotFound(f"table {name}={str(path)!r} does not exist")
        lower = path.name.lower()
        if path.is_dir():
            relation = connection.read_parquet(str(path / "**" / "*.parquet"))
        elif lower.endswith(PARQUET_SUFFIXES):
            relation = connection.read_parquet(str(path))
        elif lower.endswith(CSV_SUFFIXES):
            relation = connection.read_csv(str(path))
        else:
            raise InvalidInput(
                f"table {name}={path.name!r} must be a .parquet or .csv file, or a folder of Parquet"
            )
        relation.create_view(name)
        return
    try:
        frame_kind(table, f"table {name}")
    except InvalidInput:
        raise InvalidInput(
            f"table {name} is a {type(table).__name__}; pass a DataFrame (pandas, polars, Arrow) or a path"
        ) from None
    connection.register(name, table)


def _first_line(error: BaseException, uri: str) -> str:
    """Return the first line of an error's text, with the URI's password blanked if it appears."""
    # pandas wraps SQLAlchemy's error, which wraps the driver's: the driver's text is the useful one.
    cause = error.__cause__ if error.__cause__ is not None else error
    original = getattr(error, "orig", None) or getattr(cause, "orig", None) or error
    line = (str(original).strip().splitlines() or [type(error).__name__])[0]
    password = _password(uri)
    return line.replace(password, "***") if password else line


def _password(uri: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).password if uri else None
    except ArgumentError:
        return None
