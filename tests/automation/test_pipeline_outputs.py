"""Outputs round-trip through their artifacts (tables, arrays, JSON, models, dataset versions),
and content hashes follow content: equal data, equal hash; any change, a new hash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import LogisticRegression

import perennia.models
from perennia.automation.pipeline import Pipeline, get_run, step
from perennia.automation.pipeline.hashing import array_hash, arrow_hash, frame_hash
from perennia.automation.pipeline.keys import code_hash
from perennia.automation.pipeline.outputs import OutputMeta, value_hash
from perennia.entities import DatasetVersion
from perennia.errors import InvalidInput
from perennia.tracking.client import Client


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5, dtype=np.int32),
            "f": [0.5, np.nan, 2.0, -1.0, 3.25],
            "s": ["a", "b", None, "d", "é"],
            "t": pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"),
            "b": [True, False, True, True, False],
        }
    )


def test_outputs_round_trip_through_artifacts(tracking: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    version = DatasetVersion("train", 3, "a" * 64, "file:///x", "table", row_count=60)

    @step(outputs=("frame", "array", "info", "model", "table", "dataset"))
    def make():
        model = LogisticRegression().fit(X, y)
        table = pa.table({"k": [1, 2, 3], "v": ["x", "y", "z"]})
        return (
            _frame(),
            X,
            {"n": 60, "tags": ["a", "b"], "nested": {"ok": True}},
            model,
            table,
            version,
        )

    result = Pipeline("round-trip", [make]).run()
    assert result.status == "FINISHED", result.error
    stored = get_run(result.run_id).outputs  # read back from the artifacts, not from memory
    pd.testing.assert_frame_equal(stored["frame"], _frame())
    np.testing.assert_array_equal(stored["array"], X)
    assert stored["array"].dtype == X.dtype
    assert stored["info"] == {"n": 60, "tags": ["a", "b"], "nested": {"ok": True}}
    assert stored["table"].equals(pa.table({"k": [1, 2, 3], "v": ["x", "y", "z"]}))
    assert stored["dataset"] == version
    np.testing.assert_array_equal(
        stored["model"].predict_proba(X), result.outputs["model"].predict_proba(X)
    )

    uri = result.model_uri("model")
    assert uri == f"runs:/{result.steps['make'].run_id}/outputs/model"
    loaded = perennia.models.load(uri)
    np.testing.assert_array_equal(loaded.predict(X), result.outputs["model"].predict(X))
    with pytest.raises(Exception, match="is a table, not a model"):
        result.model_uri("frame")


def test_dataset_version_inputs_are_logged_as_run_inputs(tracking: str) -> None:
    version = DatasetVersion("train", 3, "b" * 64, "file:///x", "table", row_count=10)

    @step
    def rows(data: DatasetVersion) -> int:
        return data.row_count

    result = Pipeline("lineage", [rows]).run({"data": version})
    run = Client().get_run(result.steps["rows"].run_id)
    assert [(d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs] == [
        ("train", "b" * 64)
    ]
    assert run.data.tags["perennia.input.data.hash"] == "dataset:" + "b" * 64


frames = st.builds(
    lambda ints, floats: pd.DataFrame(
        {"a": ints, "b": floats[: len(ints)] + [0.0] * (len(ints) - len(floats))}
    ),
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=30),
    st.lists(st.floats(allow_nan=False, width=64), max_size=30),
)


@settings(max_examples=40, deadline=None)
@given(frames)
def test_frame_hash_follows_content(frame: pd.DataFrame) -> None:
    assert frame_hash(frame) == frame_hash(frame.copy(deep=True))
    assert frame_hash(frame) == frame_hash(frame.reset_index(drop=True))
    changed = frame.copy()
    changed.iloc[0, 0] = changed.iloc[0, 0] + 1
    assert frame_hash(changed) != frame_hash(frame)
    assert frame_hash(frame.rename(columns={"a": "c"})) != frame_hash(frame)
    assert frame_hash(frame.astype({"a": "float64"})) != frame_hash(frame)
    if len(frame) > 1:
        assert frame_hash(frame.set_index(frame.index + 1)) != frame_hash(frame)  # a real index
    assert arrow_hash(pa.Table.from_pandas(frame, preserve_index=False)) == arrow_hash(
        pa.Table.from_pandas(frame.copy(), preserve_index=False)
    )


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(st.sampled_from([np.int64, np.float32]), hnp.array_shapes(max_dims=3, max_side=5))
)
def test_array_hash_covers_dtype_shape_and_bytes(array: np.ndarray) -> None:
    assert array_hash(array) == array_hash(array.copy())
    assert array_hash(np.asfortranarray(array)) == array_hash(array)  # layout is not content
    assert array_hash(array.reshape(-1)) != array_hash(array) or array.ndim == 1
    as_bytes = array.view(np.uint8) if array.size else array.astype(np.uint8)
    assert array_hash(as_bytes) != array_hash(array)


def test_string_columns_and_json_values_hash_by_content() -> None:
    left = pd.DataFrame({"s": ["x", "y", None]})
    assert frame_hash(left) == frame_hash(pd.DataFrame({"s": ["x", "y", None]}))
    assert frame_hash(left) != frame_hash(pd.DataFrame({"s": ["x", "z", None]}))
    assert value_hash({"b": 1, "a": [1, 2]}) == value_hash({"a": [1, 2], "b": 1})
    assert value_hash({"a": 1}) != value_hash({"a": 1.5})


def test_code_hash_follows_the_source_and_local_helpers() -> None:
    def helper(x):
        return x + 1

    def uses(x):
        return helper(x)

    def same(x):
        return x

    def same_again(x):
        return x

    assert code_hash(same) != code_hash(uses)
    assert code_hash(same) != code_hash(same_again)  # a different name is different source
    assert code_hash(uses) == code_hash(uses)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"file": "../../../etc/passwd"}, "must be a plain file name"),
        ({"file": "/etc/passwd"}, "must be a plain file name"),
        ({"file": "..\\secrets.json"}, "must be a plain file name"),
        ({"file": "a\0b.json"}, "must be a plain file name"),
        ({"file": ".."}, "must be a plain file name"),
        ({"file": ""}, "must be a plain file name"),
        ({"kind": "pickle"}, "kind must be one of"),
        ({"library": "cloudpickle"}, "library must be one of"),
        ({"safe": "yes"}, "safe must be true or false"),
        ({"extra": 1}, "unknown fields"),
    ],
)
def test_output_records_from_tags_are_checked(change: dict, complaint: str) -> None:
    record = {"name": "X", "kind": "json", "hash": "h", "file": "X.json", **change}
    with pytest.raises(InvalidInput, match=f"tag 'perennia.output.X'.*{complaint}"):
        OutputMeta.from_json(json.dumps(record), "perennia.output.X")
    with pytest.raises(InvalidInput, match="not JSON"):
        OutputMeta.from_json("{nope", "perennia.output.X")
    good = OutputMeta("X", "table", "h", "X.parquet", library="pandas")
    assert OutputMeta.from_json(good.to_json(), "t") == good


def test_a_tampered_output_tag_is_refused_and_never_served_from_the_cache(
    tracking: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('"read from outside the outputs folder"')

    @step
    def info(k: int) -> dict:
        return {"k": k}

    pipe = Pipeline("tampered", [info])
    first = pipe.run({"k": 1})
    step_run = first.steps["info"].run_id
    client = Client()
    tag = "perennia.output.info"
    record = json.loads(client.get_run(step_run).data.tags[tag])
    client.set_tag(step_run, tag, json.dumps({**record, "file": f"../../{outside.name}"}))

    with pytest.raises(InvalidInput, match=f"tag '{tag}'.*plain file name"):
        get_run(first.run_id)
    again = pipe.run({"k": 1})  # the tampered run cannot serve: the step runs again
    assert again.status == "FINISHED", again.error
    assert again.steps["info"].cached_from is None
    assert get_run(again.run_id).outputs["info"] == {"k": 1}
