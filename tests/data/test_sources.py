"""Sources: describe_source, read_sql (SQLite and PostgreSQL), read_s3_prefix (moto), sql_over_files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from pathlib import Path

import boto3
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from perennia.clock import now_ms
from perennia.data.sources import (
    describe_source,
    read_s3_prefix,
    read_sql,
    redact_uri,
    sql_over_files,
)
from perennia.errors import InvalidInput, NotFound, StoreUnavailable
from tests.conftest import IN_CI, PG_ADMIN_URI

PASSWORD = "s3cret-Pw0rd"


def people() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "name": ["ada", "bo", "cy"], "age": [36, 41, 29]})


@pytest.mark.parametrize(
    ("frame", "library"),
    [
        (people(), "pandas"),
        (pl.from_pandas(people()), "polars"),
        (pa.Table.from_pandas(people()), "arrow"),
    ],
)
def test_a_frame_is_described_by_library_and_shape(frame, library: str) -> None:
    assert describe_source(frame) == {
        "type": "dataframe",
        "library": library,
        "rows": 3,
        "columns": 3,
    }


def test_files_and_folders_are_described_by_kind(tmp_path: Path) -> None:
    people().to_parquet(tmp_path / "p.parquet")
    people().to_csv(tmp_path / "p.csv", index=False)
    parquet = describe_source(tmp_path / "p.parquet")
    assert parquet["type"] == "parquet" and parquet["path"] == str(
        (tmp_path / "p.parquet").resolve()
    )
    assert (
        parquet["bytes"] == (tmp_path / "p.parquet").stat().st_size and parquet["modified_ms"] > 0
    )
    assert describe_source(str(tmp_path / "p.csv"))["type"] == "csv"
    dataset = tmp_path / "dataset"
    (dataset / "day=1").mkdir(parents=True)
    people().to_parquet(dataset / "day=1" / "part-0.parquet")
    (dataset / "_SUCCESS").write_text("")
    assert describe_source(dataset) == {
        "type": "parquet",
        "path": str(dataset.resolve()),
        "files": 1,
    }
    (dataset / "notes.txt").write_text("hello")
    assert describe_source(dataset) == {"type": "folder", "path": str(dataset.resolve())}
    assert describe_source(f"file://{dataset}")["type"] == "folder"


def test_s3_and_sql_uris_are_described_without_secrets() -> None:
    assert describe_source("s3://bucket/some/prefix/") == {
        "type": "s3",
        "uri": "s3://bucket/some/prefix",
    }
    source = describe_source(
        f"postgresql://ana:{PASSWORD}@db.example:5432/sales?sslmode=require&password=x"
    )
    assert source == {
        "type": "sql",
        "uri": "postgresql://ana@db.example:5432/sales?sslmode=require",
    }


def test_unknown_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"does not exist"):
        describe_source(tmp_path / "missing.csv")
    (tmp_path / "blob.bin").write_bytes(b"\0")
    with pytest.raises(InvalidInput, match=r"'blob.bin' is neither Parquet .* nor CSV"):
        describe_source(tmp_path / "blob.bin")
    with pytest.raises(InvalidInput, match=r"source is a list; pass a DataFrame"):
        describe_source([1, 2])
    with pytest.raises(InvalidInput, match=r"must not contain '\?', '#' or '\.\.'"):
        describe_source("s3://b/../x")


def sqlite_uri(tmp_path: Path) -> str:
    """Return the URI of a SQLite file holding a `people` table written with the stdlib."""
    path = tmp_path / "people.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (id INTEGER, name TEXT, age INTEGER)")
        connection.executemany(
            "INSERT INTO people VALUES (?, ?, ?)", people().itertuples(index=False)
        )
    return f"sqlite:///{path}"


def test_read_sql_on_sqlite_returns_the_rows_and_records_the_query(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path)
    before = now_ms()
    frame, source = read_sql(
        uri, "SELECT name, age FROM people WHERE age > :min ORDER BY id", params={"min": 30}
    )
    assert frame.to_dict("list") == {"name": ["ada", "bo"], "age": [36, 41]}
    assert source["type"] == "sql" and source["uri"] == uri and source["rows"] == 2
    assert source["query"].startswith("SELECT name, age") and source["params"] == {"min": 30}
    assert before <= source["queried_at"] <= now_ms()
    assert json.loads(json.dumps(source)) == source


def test_read_sql_errors_name_the_problem_without_the_password(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path)
    with pytest.raises(InvalidInput, match=r"query failed on .*no such table: nope"):
        read_sql(uri, "SELECT * FROM nope")
    with pytest.raises(InvalidInput, match=r"must be non-empty SQL text"):
        read_sql(uri, "  ")
    with pytest.raises(InvalidInput, match=r"not of the form dialect"):
        read_sql("not a uri", "SELECT 1")
    with pytest.raises(InvalidInput, match=r"cannot be opened"):
        read_sql(f"nosuchdialect://u:{PASSWORD}@h/db", "SELECT 1")
    with pytest.raises(StoreUnavailable, match=r"cannot connect to") as caught:
        read_sql(f"postgresql+psycopg://ana:{PASSWORD}@127.0.0.1:1/test", "SELECT 1")
    assert PASSWORD not in str(caught.value)


@pytest.fixture
def postgres_with_password() -> str:
    """Return a PostgreSQL URI carrying a password (trust auth ignores it), or skip if unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    engine = create_engine(PG_ADMIN_URI)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URI}: {error}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URI}")
    finally:
        engine.dispose()
    return make_url(PG_ADMIN_URI).set(password=PASSWORD).render_as_string(hide_password=False)


def test_read_sql_on_postgresql_keeps_the_password_out_of_the_source(
    postgres_with_password: str,
) -> None:
    from sqlalchemy import create_engine, text

    table = f"perennia_sources_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_ADMIN_URI)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE {table} (id INT, name TEXT, age INT)"))
            connection.execute(
                text(f"INSERT INTO {table} VALUES (:id, :name, :age)"), people().to_dict("records")
            )
        query = f"SELECT id, name FROM {table} WHERE age < :max ORDER BY id"
        frame, source = read_sql(postgres_with_password, query, params={"max": 40})
        assert frame.to_dict("list") == {"id": [1, 3], "name": ["ada", "cy"]}
        assert PASSWORD not in json.dumps(source)
        assert (
            source["uri"] == redact_uri(postgres_with_password)
            and "@127.0.0.1:5432/test" in source["uri"]
        )
        assert source["query"] == query
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def put(bucket: str, objects: dict[str, bytes]) -> None:
    client = boto3.client("s3")
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def etag_digest_oracle(bucket: str, prefix: str) -> str:
    """Return sha256 over sorted (relative key, etag) computed straight from boto3's listing."""
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]
    entries = sorted(
        (item["Key"][len(prefix) + 1 :], item["ETag"].strip('"'))
        for item in listing
        if not item["Key"].endswith("/")
    )
    return hashlib.sha256("".join(f"{k}\0{e}\n" for k, e in entries).encode()).hexdigest()


def test_read_s3_prefix_downloads_every_object_under_the_prefix(
    s3_bucket: str, tmp_path: Path
) -> None:
    objects = {
        "data/a.csv": b"x,y\n1,2\n",
        "data/img/b.png": b"\x89PNG" * 100,
        "data/img/c/d.txt": b"d",
    }
    put(s3_bucket, {**objects, "data/empty/": b"", "database/other.txt": b"not me"})
    folder, source = read_s3_prefix(f"s3://{s3_bucket}/data", tmp_path / "copy")
    written = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert written == {key.removeprefix("data/"): body for key, body in objects.items()}
    assert source == {
        "type": "s3",
        "uri": f"s3://{s3_bucket}/data",
        "objects": 3,
        "bytes": sum(len(body) for body in objects.values()),
        "etag_digest": etag_digest_oracle(s3_bucket, "data"),
    }
    put(s3_bucket, {"data/a.csv": b"x,y\n1,3\n"})
    _, again = read_s3_prefix(f"s3://{s3_bucket}/data/", tmp_path / "second")
    assert again["etag_digest"] != source["etag_digest"] and again["objects"] == 3


def test_read_s3_prefix_refuses_keys_that_would_escape_the_target(
    s3_bucket: str, tmp_path: Path
) -> None:
    put(s3_bucket, {"data/ok.txt": b"ok", "data/../escaped.txt": b"evil"})
    with pytest.raises(
        InvalidInput, match=r"S3 key 'data/\.\./escaped\.txt' is not a safe file name"
    ):
        read_s3_prefix(f"s3://{s3_bucket}/data", tmp_path / "copy")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "copy").exists()


def test_read_s3_prefix_keeps_names_a_local_folder_may_hold(s3_bucket: str, tmp_path: Path) -> None:
    # '%', '#' and '?' are refused in artifact paths (they travel in URLs), not in file names.
    objects = {"data/50% off.csv": b"a", "data/notes #1.txt": b"b", "data/why?.md": b"c"}
    put(s3_bucket, objects)
    folder, source = read_s3_prefix(f"s3://{s3_bucket}/data", tmp_path / "copy")
    written = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert written == {key.removeprefix("data/"): body for key, body in objects.items()}
    assert source["objects"] == 3


def test_read_s3_prefix_refuses_a_busy_target_and_an_empty_prefix(
    s3_bucket: str, tmp_path: Path
) -> None:
    put(s3_bucket, {"data/ok.txt": b"ok"})
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "old.txt").write_text("old")
    with pytest.raises(InvalidInput, match=r"must be an empty folder"):
        read_s3_prefix(f"s3://{s3_bucket}/data", tmp_path / "busy")
    with pytest.raises(NotFound, match=r"no objects under"):
        read_s3_prefix(f"s3://{s3_bucket}/nothing-here", tmp_path / "copy")
    with pytest.raises(NotFound, match=r"bucket .* does not exist"):
        read_s3_prefix("s3://no-such-bucket-perennia/data", tmp_path / "copy")


def test_sql_over_files_joins_frames_parquet_and_csv(tmp_path: Path) -> None:
    people().to_parquet(tmp_path / "people.parquet")
    pd.DataFrame({"id": [1, 1, 3], "amount": [5.0, 7.0, 2.5]}).to_csv(
        tmp_path / "orders.csv", index=False
    )
    cities = pl.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"]})
    result = sql_over_files(
        "SELECT p.name, c.city, sum(o.amount) AS total FROM people p JOIN orders o USING (id) "
        "JOIN cities c USING (id) GROUP BY ALL ORDER BY p.name",
        people=tmp_path / "people.parquet",
        orders=str(tmp_path / "orders.csv"),
        cities=cities,
    )
    assert result.to_dict("list") == {
        "name": ["ada", "cy"],
        "city": ["Oslo", "Pune"],
        "total": [12.0, 2.5],
    }


def test_sql_over_files_reads_a_folder_of_parquet(tmp_path: Path) -> None:
    for part in range(3):
        (tmp_path / "ds" / f"part={part}").mkdir(parents=True)
        people().to_parquet(tmp_path / "ds" / f"part={part}" / "data.parquet")
    result = sql_over_files("SELECT count(*) AS n FROM ds", ds=tmp_path / "ds")
    assert result["n"].tolist() == [9]


def test_sql_over_files_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"table t=.* does not exist"):
        sql_over_files("SELECT * FROM t", t=tmp_path / "missing.parquet")
    with pytest.raises(InvalidInput, match=r"SQL over files failed"):
        sql_over_files("SELECT nope FROM t", t=people())
    with pytest.raises(InvalidInput, match=r"table t is a dict"):
        sql_over_files("SELECT 1", t={"a": 1})
