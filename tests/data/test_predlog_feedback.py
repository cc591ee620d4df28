"""Delayed labels: recorded as feedback parts, read latest-wins, joined to predictions by id."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from perennia.data.predlog import (
    PredictionLogWriter,
    join_feedback,
    read_feedback,
    read_predictions,
    record_feedback,
)
from perennia.errors import InvalidInput
from tests.data.test_predlog_writer import DAY, T0, location, make_batch, stored_keys

__all__ = ["location"]  # the shared fixture, imported so pytest finds it here too


def labels_of(feedback: pa.Table) -> dict:
    """Return {prediction id: ground truth} of a feedback table."""
    ids, truths = feedback["prediction_id"].to_pylist(), feedback["ground_truth"].to_pylist()
    return dict(zip(ids, truths, strict=True))


def test_the_latest_label_wins_and_joins_to_its_prediction(location: str) -> None:
    batch = make_batch(3)
    with PredictionLogWriter(location) as writer:
        writer.record(batch)
    first, second, third = batch.prediction_ids
    assert record_feedback(location, [(first, 1), (second, 0)], time_ms=T0 + 10) == 2
    assert record_feedback(location, {first: 0}, deployment="fraud", time_ms=T0 + DAY) == 1
    # An older correction arriving late does not override the newer label.
    assert record_feedback(location, [(first, 5)], time_ms=T0 + 20) == 1
    feedback = read_feedback(location)
    labels = labels_of(feedback)
    assert labels == {first: 0.0, second: 0.0}
    joined = join_feedback(read_predictions(location), feedback)
    assert joined["prediction_id"].to_pylist() == [first, second, third]
    assert joined["ground_truth"].to_pylist() == [0.0, 0.0, None]
    assert joined.column_names[:-1] == read_predictions(location).column_names
    keys = [k for k in stored_keys(location) if k.startswith("feedback/")]
    assert sorted(k.split("/")[1] for k in keys) == ["date=2023-11-14"] * 2 + ["date=2023-11-15"]


def test_later_rows_of_one_call_win_ties(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    record_feedback(location, [("p-0", "cat"), ("p-0", "dog"), ("p-1", "cow")], time_ms=T0)
    feedback = read_feedback(location)
    labels = labels_of(feedback)
    assert labels == {"p-0": "dog", "p-1": "cow"}


@pytest.mark.parametrize(
    ("labels", "arrow_type", "read_back"),
    [
        ([1, 2.5, -3], pa.float64(), [1.0, 2.5, -3.0]),
        (["spam", "", "ham"], pa.string(), ["spam", "", "ham"]),
        ([True, False, True], pa.bool_(), [True, False, True]),
    ],
)
def test_labels_keep_their_json_kind(tmp_path: Path, labels, arrow_type, read_back) -> None:
    location = str(tmp_path / "log")
    ids = [f"r-{i}" for i in range(len(labels))]
    record_feedback(location, list(zip(ids, labels, strict=True)), time_ms=T0)
    feedback = read_feedback(location)
    assert feedback.schema.field("ground_truth").type == arrow_type
    by_id = labels_of(feedback)
    assert [by_id[i] for i in ids] == read_back


def test_files_with_different_label_kinds_are_read_as_one_column(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    record_feedback(location, [("a", 1)], time_ms=T0)
    record_feedback(location, [("b", True)], time_ms=T0 + 1)
    numbers = read_feedback(location)
    assert numbers.schema.field("ground_truth").type == pa.float64()
    assert sorted(numbers["ground_truth"].to_pylist()) == [1.0, 1.0]
    record_feedback(location, [("c", "yes")], time_ms=T0 + 2)
    texts = read_feedback(location)
    by_id = labels_of(texts)
    assert by_id == {"a": "1", "b": "true", "c": "yes"}


def test_feedback_accepts_pairs_mappings_and_records(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    assert record_feedback(location, [("a", 1)], time_ms=T0) == 1
    assert record_feedback(location, {"b": 2}, time_ms=T0 + 1) == 1
    assert (
        record_feedback(location, [{"prediction_id": "c", "ground_truth": 3}], time_ms=T0 + 2) == 1
    )
    assert record_feedback(location, [], time_ms=T0 + 3) == 0
    assert sorted(read_feedback(location)["prediction_id"].to_pylist()) == ["a", "b", "c"]
    assert sorted(read_feedback(location, since_ms=T0 + 1)["prediction_id"].to_pylist()) == [
        "b",
        "c",
    ]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("a", math.nan)], "not finite"),
        ([("a", math.inf)], "not finite"),
        ([("a", None)], "number, a string or a boolean"),
        ([("a", [1])], "number, a string or a boolean"),
        ([("a", {"x": 1})], "number, a string or a boolean"),
        ([("", 1)], "prediction id ''"),
        ([("x" * 201, 1)], "at most 200"),
        ([(7, 1)], "prediction id 7"),
        ([("a", 1), ("b", "one")], "item 1 is a string but item 0 is a number"),
        ([("a", 1, 2)], "pair"),
        ([{"prediction_id": "a"}], "ground_truth"),
        ("a", "pairs or a mapping"),
    ],
)
def test_invalid_feedback_is_refused_and_writes_nothing(
    tmp_path: Path, items: object, message: str
) -> None:
    location = tmp_path / "log"
    with pytest.raises(InvalidInput, match=message):
        record_feedback(str(location), items)
    assert not location.exists()
    with pytest.raises(InvalidInput, match="deployment"):
        record_feedback(str(location), [("a", 1)], deployment="../up")


def test_join_dedupes_raw_feedback_and_replaces_an_earlier_join(tmp_path: Path) -> None:
    predictions = pa.table({"prediction_id": ["p1", "p2", "p3"], "x": [1, 2, 3]})
    raw = pa.table(
        {
            "prediction_id": ["p2", "p1", "p2"],
            "time_ms": pa.array([30, 10, 20], pa.int64()),
            "ground_truth": ["late", "only", "early"],
        }
    )
    joined = join_feedback(predictions, raw)
    assert joined["ground_truth"].to_pylist() == ["only", "late", None]
    again = join_feedback(joined, raw.slice(1, 1))
    assert again.column_names == ["prediction_id", "x", "ground_truth"]
    assert again["ground_truth"].to_pylist() == ["only", None, None]
    with pytest.raises(InvalidInput, match="ground_truth"):
        join_feedback(predictions, predictions)


def test_no_feedback_reads_as_an_empty_table(tmp_path: Path) -> None:
    feedback = read_feedback(str(tmp_path / "none"))
    assert feedback.num_rows == 0
    assert feedback.column_names == ["prediction_id", "time_ms", "ground_truth", "deployment"]
    joined = join_feedback(pa.table({"prediction_id": ["a"]}), feedback)
    assert joined["ground_truth"].to_pylist() == [None]
