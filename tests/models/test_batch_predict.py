"""Batch scoring: files streamed in chunks, row-exact against direct predictions, atomic output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import perennia
from perennia.errors import InvalidInput, NotFound
from perennia.models import batch
from perennia.models.batch import BatchSummary, predict_file, predict_frame
from tests.models.batch_helpers import FEATURES, make_rows, save_package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("batch") / "pkg"
    pipeline = save_package(folder)
    return folder, pipeline


class RecordingModel:
    """A real loaded model that also records each chunk's size and Arrow's live memory."""

    def __init__(self, loaded) -> None:
        self.loaded = loaded
        self.signature = loaded.signature
        self.sizes: list[int] = []
        self.arrow_bytes: list[int] = []

    def predict(self, frame):
        self.sizes.append(len(frame))
        self.arrow_bytes.append(pa.total_allocated_bytes())
        return self.loaded.predict(frame)


def test_parquet_is_scored_in_chunks_row_exact_against_direct_predictions(
    tmp_path: Path, package
) -> None:
    folder, pipeline = package
    rows = make_rows(4_500, seed=3)
    rows.to_parquet(tmp_path / "in.parquet", index=False)
    seen: list[tuple[int, int | None]] = []

    summary = predict_file(
        folder,
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        chunk_rows=1_000,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert isinstance(summary, BatchSummary)
    assert (summary.rows, summary.chunks) == (4_500, 5)
    assert summary.output == tmp_path / "out.parquet"
    assert seen == [(1000, 4500), (2000, 4500), (3000, 4500), (4000, 4500), (4500, 4500)]
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [*rows.columns, "prediction"]
    pd.testing.assert_frame_equal(out[list(rows.columns)], rows, check_dtype=False)
    np.testing.assert_array_equal(out["prediction"], pipeline.predict(rows[FEATURES]))
    # The input's Arrow types pass through untouched.
    assert pq.read_schema(tmp_path / "out.parquet").field("id").type == pa.int64()


def test_csv_is_scored_to_csv_with_a_probability_column_per_class(tmp_path: Path, package) -> None:
    folder, pipeline = package
    make_rows(2_345, seed=4).to_csv(tmp_path / "in.csv", index=False)
    rows = pd.read_csv(tmp_path / "in.csv")

    summary = predict_file(
        folder, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=500, proba=True
    )

    assert (summary.rows, summary.chunks) == (2_345, 5)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == [*rows.columns, "proba_0", "proba_1"]
    np.testing.assert_array_equal(out["id"], rows["id"])
    expected = pipeline.predict_proba(rows[FEATURES])
    np.testing.assert_allclose(out[["proba_0", "proba_1"]], expected, rtol=1e-12, atol=0)


def test_keep_copies_only_the_named_columns_beside_the_predictions(tmp_path: Path, package) -> None:
    folder, pipeline = package
    rows = make_rows(700, seed=5)
    rows.to_csv(tmp_path / "in.csv", index=False)

    predict_file(folder, tmp_path / "in.csv", tmp_path / "out.parquet", keep=["id"], chunk_rows=300)

    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["id", "prediction"]
    np.testing.assert_array_equal(out["id"], np.arange(700))
    np.testing.assert_array_equal(
        out["prediction"], pipeline.predict(pd.read_csv(tmp_path / "in.csv")[FEATURES])
    )


def test_memory_stays_flat_while_a_file_many_chunks_long_streams(tmp_path: Path, package) -> None:
    folder, _ = package
    rows = make_rows(480_000, seed=6)
    rows.to_parquet(tmp_path / "big.parquet", index=False, row_group_size=7_000)
    model = RecordingModel(perennia.models.load(folder))
    baseline = pa.total_allocated_bytes()

    summary = predict_file(
        model, tmp_path / "big.parquet", tmp_path / "out.parquet", chunk_rows=10_000
    )

    assert summary.chunks == 48
    assert model.sizes == [10_000] * 48  # row groups of 7,000 are re-cut into exact chunks
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.num_rows == 480_000
    # Arrow never holds more than a small part of the file (reading it whole, or buffering
    # its row groups ahead, holds most of it), and no more at the last chunk than at the second.
    held = [allocated - baseline for allocated in model.arrow_bytes]
    whole = pq.read_table(tmp_path / "big.parquet").nbytes
    assert max(held) < whole / 5
    assert max(held[1:]) <= held[1] + (256 << 10)


def test_csv_columns_take_the_signature_type_when_later_blocks_change_type(
    tmp_path: Path, package, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, pipeline = package
    rows = make_rows(6_000, seed=7)
    rows["amount"] = rows["amount"].round()
    text = rows.to_csv(index=False, float_format="%.0f")
    # The last rows carry decimals; small blocks make type inference see only integers first.
    later = make_rows(50, seed=8).assign(id=lambda f: f["id"] + 6_000)
    text += later.to_csv(index=False, header=False)
    (tmp_path / "in.csv").write_text(text)
    monkeypatch.setattr(batch, "_CSV_BLOCK", 16 << 10)

    summary = predict_file(folder, tmp_path / "in.csv", tmp_path / "out.parquet", chunk_rows=2_000)

    assert summary.rows == 6_050
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["amount"].dtype == np.float64
    expected = pipeline.predict(pd.read_csv(tmp_path / "in.csv")[FEATURES])
    np.testing.assert_array_equal(out["prediction"], expected)


def test_a_missing_model_column_is_named_and_no_output_appears(tmp_path: Path, package) -> None:
    folder, _ = package
    make_rows(10).drop(columns="age").to_parquet(tmp_path / "in.parquet")

    with pytest.raises(InvalidInput, match=r"in\.parquet: column 'age' the model needs is missing"):
        predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.parquet")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_a_model_without_signature_is_checked_by_its_fitted_feature_names(tmp_path: Path) -> None:
    save_package(tmp_path / "plain", signature=False)
    make_rows(10).drop(columns="city").to_csv(tmp_path / "in.csv", index=False)

    with pytest.raises(InvalidInput, match="column 'city' the model needs is missing"):
        predict_file(tmp_path / "plain", tmp_path / "in.csv", tmp_path / "out.csv")


def test_unknown_file_types_are_refused_naming_the_accepted_ones(tmp_path: Path, package) -> None:
    folder, _ = package
    (tmp_path / "in.xlsx").write_bytes(b"not a table")
    make_rows(5).to_csv(tmp_path / "in.csv", index=False)

    with pytest.raises(InvalidInput, match=r"in\.xlsx.*expected one of \.parquet"):
        predict_file(folder, tmp_path / "in.xlsx", tmp_path / "out.parquet")
    with pytest.raises(InvalidInput, match=r"out\.json.*\.parquet, \.pq or \.csv"):
        predict_file(folder, tmp_path / "in.csv", tmp_path / "out.json")
    with pytest.raises(InvalidInput, match="output_format must be 'parquet' or 'csv'"):
        predict_file(folder, tmp_path / "in.csv", tmp_path / "out", output_format="xml")


def test_an_output_in_a_missing_folder_and_a_missing_input_are_named(
    tmp_path: Path, package
) -> None:
    folder, _ = package
    make_rows(5).to_csv(tmp_path / "in.csv", index=False)

    with pytest.raises(NotFound, match=r"output folder '.*nowhere' does not exist"):
        predict_file(folder, tmp_path / "in.csv", tmp_path / "nowhere" / "out.csv")
    with pytest.raises(NotFound, match=r"input file '.*absent\.csv' does not exist"):
        predict_file(folder, tmp_path / "absent.csv", tmp_path / "out.csv")


def test_a_corrupt_input_file_is_named(tmp_path: Path, package) -> None:
    folder, _ = package
    (tmp_path / "in.parquet").write_bytes(b"PAR1 this is not parquet")

    with pytest.raises(InvalidInput, match=r"in\.parquet' is not a readable parquet file"):
        predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.csv")


def test_a_failure_mid_file_keeps_the_previous_output_and_leaves_no_partial_file(
    tmp_path: Path, package
) -> None:
    folder, _ = package
    rows = make_rows(3_000, seed=9)
    rows.loc[2_500, "city"] = "atlantis"  # a category the encoder never saw, in the third chunk
    rows.to_parquet(tmp_path / "in.parquet", index=False)
    (tmp_path / "out.parquet").write_bytes(b"yesterday's scores")

    with pytest.raises(InvalidInput, match=r"in\.parquet rows 2000-2999: .*atlantis"):
        predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=1_000)

    assert (tmp_path / "out.parquet").read_bytes() == b"yesterday's scores"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_an_input_column_named_like_the_prediction_is_refused(tmp_path: Path, package) -> None:
    folder, _ = package
    make_rows(5).assign(prediction=1).to_parquet(tmp_path / "in.parquet")

    with pytest.raises(InvalidInput, match="output column 'prediction' is also an input column"):
        predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.parquet")
    predict_file(folder, tmp_path / "in.parquet", tmp_path / "ok.parquet", keep=["id"])
    assert list(pd.read_parquet(tmp_path / "ok.parquet").columns) == ["id", "prediction"]


def test_an_empty_input_gives_an_empty_output_with_the_prediction_columns(
    tmp_path: Path, package
) -> None:
    folder, _ = package
    make_rows(5).head(0).to_parquet(tmp_path / "in.parquet", index=False)

    summary = predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.parquet", proba=True)

    assert (summary.rows, summary.chunks) == (0, 0)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert len(out) == 0
    assert list(out.columns) == [*make_rows(1).columns, "proba_0", "proba_1"]


def test_predict_frame_appends_predictions_and_keeps_the_index(package) -> None:
    folder, pipeline = package
    rows = make_rows(50, seed=10).set_index(np.arange(100, 150))

    out = predict_frame(str(folder), rows, keep=["id"], proba=True)

    assert list(out.columns) == ["id", "proba_0", "proba_1"]
    assert list(out.index) == list(range(100, 150))
    np.testing.assert_array_equal(
        out[["proba_0", "proba_1"]], pipeline.predict_proba(rows[FEATURES])
    )


def test_predict_frame_refuses_probabilities_from_a_model_without_them(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    rows = make_rows(30)
    perennia.models.save(
        LinearRegression().fit(rows[["amount", "age"]], rows["label"]), tmp_path / "reg"
    )

    with pytest.raises(InvalidInput, match="proba=True needs a classifier with predict_proba"):
        predict_frame(tmp_path / "reg", rows, columns=["amount", "age"], proba=True)
    out = predict_frame(tmp_path / "reg", rows, columns=["amount", "age"], keep=[])
    assert list(out.columns) == ["prediction"]
