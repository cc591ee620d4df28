"""The prediction log's writer on a local folder and on S3 (boto3 against a moto server).

The oracle is what was recorded: every prediction id recorded (and not reported dropped) must
be read back exactly once, with its values, from the partition its deployment and UTC date name.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import numpy as np
import pytest

from perennia.config import Settings
from perennia.data.predlog import (
    PredictionBatch,
    PredictionLogWriter,
    check_deployment_name,
    default_location,
    new_prediction_ids,
    new_request_id,
    read_predictions,
)
from perennia.errors import InvalidInput

DAY = 86_400_000
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def make_batch(
    rows: int = 3,
    *,
    deployment: str = "fraud",
    variant: str = "stable",
    version: int = 1,
    time_ms: int | list[int] = T0,
    inputs: dict | None = None,
    outputs: dict | None = None,
    requests: int = 1,
) -> PredictionBatch:
    """Return a batch of `rows` rows split over `requests` requests, with simple default columns."""
    request_ids, prediction_ids = [], []
    sizes = [rows // requests + (1 if i < rows % requests else 0) for i in range(requests)]
    for size in sizes:
        request = new_request_id()
        request_ids += [request] * size
        prediction_ids += new_prediction_ids(request, size)
    if inputs is None:
        inputs = {"amount": np.arange(rows, dtype=np.float64), "country": ["fr"] * rows}
    if outputs is None:
        outputs = {"prediction": np.arange(rows) % 2}
    return PredictionBatch(
        deployment=deployment,
        variant=variant,
        model_name="fraud-model",
        model_version=version,
        shadow=False,
        request_ids=request_ids,
        prediction_ids=prediction_ids,
        time_ms=time_ms,
        latency_ms=2.5,
        inputs=inputs,
        outputs=outputs,
    )


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh log location: a local folder, or a prefix in a fresh moto bucket."""
    if request.param == "local":
        return str(tmp_path / "log")
    return f"s3://{request.getfixturevalue('s3_bucket')}/team/log"


def stored_keys(location: str) -> list[str]:
    """Return every file or object under the location, relative to it, from disk or boto3."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        return sorted(item["Key"][len(prefix) + 1 :] for item in listing.get("Contents", []))
    root = Path(location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def quiet_writer(location: str, **options) -> PredictionLogWriter:
    """Return a writer that writes only when flushed or closed (no size or time trigger)."""
    return PredictionLogWriter(location, flush_rows=10**9, flush_interval_s=3600, **options)


def test_recorded_columns_are_read_back_with_their_values_and_types(location: str) -> None:
    batch = make_batch(
        3,
        inputs={
            "age": np.array([31, 42, 57]),
            "income": np.array([1.5, np.nan, 3.25]),
            "city": np.array(["Lyon", None, "Oslo"], dtype=object),
            "member": [True, False, True],
        },
        outputs={"prediction": np.array([0, 1, 0]), "proba": np.array([[0.9, 0.1]] * 3)},
        requests=2,
    )
    with PredictionLogWriter(location) as writer:
        assert writer.record(batch)
    table = read_predictions(location)
    types = {f.name: str(f.type) for f in table.schema}
    # Every number is float64 in the log, so Spark can merge files written from int and float.
    assert types["input.age"] == "double" and types["input.income"] == "double"
    assert types["input.city"] == "string" and types["input.member"] == "bool"
    assert types["output.prediction"] == "double" and types["model_version"] == "int64"
    assert types["time_ms"] == "int64" and types["latency_ms"] == "double"
    rows = table.to_pylist()
    assert [r["prediction_id"] for r in rows] == list(batch.prediction_ids)
    assert [r["request_id"] for r in rows] == list(batch.request_ids)
    assert [r["input.city"] for r in rows] == ["Lyon", None, "Oslo"]
    assert [r["input.age"] for r in rows] == [31, 42, 57]
    assert np.isnan(rows[1]["input.income"]) and rows[2]["input.income"] == 3.25
    assert [r["output.proba.0"] for r in rows] == [0.9] * 3
    assert {
        (r["deployment"], r["variant"], r["model_name"], r["ok"], r["error"]) for r in rows
    } == {("fraud", "stable", "fraud-model", True, None)}
    assert all(r["time_ms"] == T0 and r["latency_ms"] == 2.5 and not r["shadow"] for r in rows)


def test_parts_are_hive_partitioned_by_deployment_and_utc_date(location: str) -> None:
    midnight = (T0 // DAY + 1) * DAY
    times = [midnight - 2, midnight - 1, midnight, midnight + 5]
    with PredictionLogWriter(location) as writer:
        writer.record(make_batch(4, time_ms=times))
        writer.record(make_batch(2, deployment="churn.v2", time_ms=T0))
    keys = stored_keys(location)
    pattern = (
        r"predictions/deployment=([^/]+)/date=(\d{4}-\d\d-\d\d)/part-(\d+)-[0-9a-f]{32}\.parquet"
    )
    found = sorted(re.fullmatch(pattern, k).groups() for k in keys)
    assert found == [
        ("churn.v2", "2023-11-14", str(T0)),
        ("fraud", "2023-11-14", str(midnight - 2)),
        ("fraud", "2023-11-15", str(midnight)),
    ]
    late = read_predictions(location, deployment="fraud", since_ms=midnight)
    assert late["time_ms"].to_pylist() == [midnight, midnight + 5]


def test_threads_recording_at_once_store_every_prediction_exactly_once(location: str) -> None:
    threads, batches_each = 6, 40
    recorded: list[list[str]] = [[] for _ in range(threads)]
    writer = PredictionLogWriter(location, flush_rows=97, flush_interval_s=0.01)

    def produce(index: int) -> None:
        generator = np.random.default_rng(index)
        for i in range(batches_each):
            batch = make_batch(int(generator.integers(1, 9)), variant=f"v{index % 2}", requests=1)
            batch.time_ms = T0 + i
            assert writer.record(batch)
            recorded[index] += batch.prediction_ids

    workers = [threading.Thread(target=produce, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    writer.close()
    expected = [pid for ids in recorded for pid in ids]
    ids = read_predictions(location, columns=["prediction_id"])["prediction_id"].to_pylist()
    assert len(ids) == len(expected) == len(set(ids))
    assert set(ids) == set(expected)
    assert (writer.written_rows, writer.queued_rows, writer.dropped_rows) == (len(expected), 0, 0)


def test_a_full_queue_refuses_and_counts_rows_instead_of_blocking(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    writer = quiet_writer(location, max_queued_rows=10)
    kept = make_batch(6)
    assert writer.record(kept) is True
    assert writer.record(make_batch(6)) is False
    assert writer.record(make_batch(5)) is False
    assert (writer.queued_rows, writer.dropped_rows) == (6, 11)
    assert writer.record(make_batch(4)) is True  # exactly at the cap is still accepted
    writer.close()
    ids = read_predictions(location)["prediction_id"].to_pylist()
    assert len(ids) == 10 and set(kept.prediction_ids) <= set(ids)
    assert writer.written_rows == 10 and writer.dropped_rows == 11


def test_close_flushes_everything_queued_and_later_records_are_dropped(location: str) -> None:
    writer = quiet_writer(location)
    batch = make_batch(5)
    writer.record(batch)
    assert read_predictions(location).num_rows == 0  # nothing written before the flush
    writer.close()
    writer.close()
    assert writer.record(make_batch(2)) is False
    assert writer.dropped_rows == 2
    assert read_predictions(location)["prediction_id"].to_pylist() == batch.prediction_ids


def test_flush_returns_once_the_rows_are_readable(location: str) -> None:
    writer = quiet_writer(location)
    for _ in range(3):
        batch = make_batch(4)
        writer.record(batch)
        assert writer.flush(timeout=60) is True
        assert batch.prediction_ids[-1] in read_predictions(location)["prediction_id"].to_pylist()
    assert writer.written_rows == 12
    writer.close()


_EXIT_WITHOUT_CLOSE = """
import sys
from perennia.data.predlog import PredictionBatch, PredictionLogWriter
writer = PredictionLogWriter(sys.argv[1], flush_rows=10**9, flush_interval_s=3600)
writer.record(PredictionBatch("fraud", "stable", "m", 1, False, ["r", "r"], ["r-0", "r-1"], 5, 1.0))
"""


def test_a_process_exiting_without_close_flushes_through_atexit(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    subprocess.run([sys.executable, "-c", _EXIT_WITHOUT_CLOSE, location], check=True, timeout=120)
    assert read_predictions(location)["prediction_id"].to_pylist() == ["r-0", "r-1"]


def test_a_failed_write_is_counted_and_retried_without_losing_rows(tmp_path: Path) -> None:
    root = tmp_path / "log"
    root.mkdir()
    (root / "predictions").write_text("a file where the partition folder must go")
    writer = quiet_writer(str(root))
    batch = make_batch(7)
    writer.record(batch)
    assert writer.flush(timeout=60) is False
    assert (writer.failed_rows, writer.queued_rows, writer.written_rows) == (7, 7, 0)
    (root / "predictions").unlink()
    writer.record(make_batch(2))
    assert writer.flush(timeout=60) is True
    writer.close()
    ids = read_predictions(str(root))["prediction_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 9 and set(batch.prediction_ids) <= set(ids)
    assert (writer.failed_rows, writer.queued_rows, writer.written_rows) == (7, 0, 9)


def test_a_missing_bucket_is_retried_until_it_exists(s3_bucket: str) -> None:
    location = f"s3://{s3_bucket}-late/log"
    writer = quiet_writer(location)
    batch = make_batch(3)
    writer.record(batch)
    assert writer.flush(timeout=60) is False
    assert writer.failed_rows == 3
    boto3.client("s3").create_bucket(Bucket=f"{s3_bucket}-late")
    assert writer.flush(timeout=60) is True
    writer.close()
    assert read_predictions(location)["prediction_id"].to_pylist() == batch.prediction_ids


@pytest.mark.parametrize(
    "name", ["../x", "..", "a/b", "a\\b", ".hidden", "a..b", "a=b", "a%2Fb", "", " x", "x" * 129]
)
def test_deployment_names_that_could_escape_their_partition_are_refused(
    tmp_path: Path, name: str
) -> None:
    location = str(tmp_path / "log")
    with pytest.raises(InvalidInput, match="deployment name"):
        check_deployment_name(name)
    with PredictionLogWriter(location) as writer, pytest.raises(InvalidInput, match="deployment"):
        writer.record(make_batch(2, deployment=name))
    with pytest.raises(InvalidInput, match="deployment"):
        read_predictions(location, deployment=name)
    assert not any(tmp_path.rglob("*.parquet"))


def test_malformed_batches_are_refused_when_recorded(tmp_path: Path) -> None:
    writer = quiet_writer(str(tmp_path / "log"))
    short_ids = make_batch(3)
    short_ids.request_ids = short_ids.request_ids[:2]
    short_input = make_batch(3, inputs={"a": [1, 2]})
    error_but_ok = make_batch(3)
    error_but_ok.error = "boom"
    cube = make_batch(2, inputs={"image": np.zeros((2, 2, 2))})
    for batch, message in [
        (short_ids, "request_ids has 2"),
        (short_input, "'a' has 2 values"),
        (error_but_ok, "ok=True"),
        (cube, "1-D or 2-D"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            writer.record(batch)
    writer.close()
    assert writer.queued_rows == writer.written_rows == 0


def test_a_batch_with_bad_ids_is_dropped_alone(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    writer = quiet_writer(location)
    good, bad = make_batch(3), make_batch(2)
    bad.prediction_ids = ["x-0", ""]
    writer.record(good)
    writer.record(bad)
    writer.close()
    assert read_predictions(location)["prediction_id"].to_pylist() == good.prediction_ids
    assert (writer.written_rows, writer.dropped_rows) == (3, 2)


def test_failed_predictions_record_their_error(location: str) -> None:
    batch = make_batch(2, outputs={})
    batch.ok, batch.error = False, "ValueError: could not convert 'abc'"
    with PredictionLogWriter(location) as writer:
        writer.record(batch)
        writer.record(make_batch(1))
    table = read_predictions(location).to_pylist()
    assert [(r["ok"], r["error"]) for r in table] == [
        (False, "ValueError: could not convert 'abc'")
    ] * 2 + [(True, None)]
    assert [r["output.prediction"] for r in table] == [None, None, 0]


def test_prediction_ids_are_the_request_id_and_row() -> None:
    request = new_request_id()
    assert re.fullmatch(r"[0-9a-f]{32}", request)
    assert new_prediction_ids(request, 3) == [f"{request}-0", f"{request}-1", f"{request}-2"]
    with pytest.raises(InvalidInput, match="request id"):
        new_prediction_ids("", 1)


def test_default_location_sits_beside_the_artifact_blobs(tmp_path: Path) -> None:
    local = Settings(home=tmp_path / "home")
    assert default_location(local) == str((tmp_path / "home" / "artifacts").resolve()) + (
        "/prediction-log"
    )
    remote = Settings(home=tmp_path, artifacts_uri="s3://bucket/team/")
    assert default_location(remote) == "s3://bucket/team/prediction-log"
    with PredictionLogWriter(default_location(local)) as writer:
        writer.record(make_batch(1))
    assert read_predictions(default_location(local)).num_rows == 1
