"""`drift` on awkward input: each column says why it could not be compared, or the call refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.stats as sst

from perennia.errors import InvalidInput, NotFound
from perennia.monitoring.data_drift import DriftSettings, drift

ALL_METHODS = [
    "ks",
    "wasserstein",
    "psi",
    "jensen_shannon",
    "hellinger",
    "energy",
    "cramer_von_mises",
    "anderson_darling",
    "chi_square",
    "g_test",
]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0, 15.0, 500),
            "country": rng.choice(["fr", "de", "it"], 500),
            "age": rng.integers(18, 90, 500),
        }
    )


def json_roundtrip(report) -> dict:
    return json.loads(json.dumps(report.to_dict(), allow_nan=False))


def test_a_column_missing_from_the_current_data_is_not_computable(
    reference: pd.DataFrame,
) -> None:
    report = drift(reference, reference.drop(columns=["country"]))
    entry = report.column("country")
    assert entry.computable is False
    assert "missing" in entry.reason
    assert entry.drifted is None
    assert report.column("amount").computable
    assert report.drifted is False


@pytest.mark.parametrize("library", ["pandas", "arrow"])
def test_an_empty_current_side_makes_every_column_not_computable(
    reference: pd.DataFrame, library: str
) -> None:
    empty = reference.iloc[:0]
    current = pa.Table.from_pandas(empty, preserve_index=False) if library == "arrow" else empty
    report = drift(reference, current)
    assert [e.computable for e in report.columns] == [False, False, False]
    assert all("no rows" in e.reason for e in report.columns)
    assert report.drifted is None
    assert report.share_drifted is None
    assert report.drifted_columns == []
    json_roundtrip(report)


def test_an_empty_reference_makes_every_column_not_computable(reference: pd.DataFrame) -> None:
    report = drift(reference.iloc[:0], reference)
    assert all(not e.computable and "reference has no rows" in e.reason for e in report.columns)
    assert report.drifted is None


@pytest.mark.parametrize("side", ["reference", "current"])
def test_an_all_null_column_on_either_side_is_not_computable(
    reference: pd.DataFrame, side: str
) -> None:
    nulls = reference.assign(amount=np.nan, country=None)
    ref, cur = (nulls, reference) if side == "reference" else (reference, nulls)
    report = drift(ref, cur)
    for name in ("amount", "country"):
        entry = report.column(name)
        assert entry.computable is False
        assert f"every {side} value is missing" == entry.reason
    assert report.column("age").computable
    json_roundtrip(report)


def test_numbers_against_text_are_not_computable_and_say_types_differ(
    reference: pd.DataFrame,
) -> None:
    report = drift(reference, reference.assign(amount=reference["country"], country=1.5))
    for name in ("amount", "country"):
        entry = report.column(name)
        assert entry.computable is False
        assert "types differ" in entry.reason
    assert "numbers in the reference, text in the current" in report.column("amount").reason


def test_a_requested_column_absent_from_the_reference_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="'income' is not in the reference"):
        drift(reference, reference, columns=["amount", "income"])


@pytest.mark.parametrize(
    "methods",
    ["kolmogorov", ["ks", "kolmogorov"], {"numeric": ["kolmogorov"]}, {"amount": ["kolmogorov"]}],
)
def test_an_unknown_method_is_refused_by_name(reference: pd.DataFrame, methods: object) -> None:
    with pytest.raises(InvalidInput, match="'kolmogorov'"):
        drift(reference, reference, methods=methods)


def test_a_categorical_only_method_for_numbers_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="'chi_square' for numeric"):
        drift(reference, reference, methods={"numeric": ["chi_square"]})


@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], {"amount": [1.0, 2.0]}, np.zeros((3, 2)), 42])
def test_unsupported_input_types_are_refused(reference: pd.DataFrame, bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be a pandas or polars DataFrame"):
        drift(reference, bad)
    with pytest.raises(InvalidInput, match="reference must be"):
        drift(bad, reference)


def test_a_parquet_path_that_does_not_exist_is_not_found(
    reference: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match="no Parquet file"):
        drift(tmp_path / "absent.parquet", reference)


def test_a_folder_is_refused(reference: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a folder"):
        drift(reference, tmp_path)


def test_a_file_that_is_not_parquet_is_refused(reference: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_text("amount,country\n1,fr\n")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        drift(reference, path)


def test_nan_and_infinities_are_counted_as_missing(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(100.0, 15.0, 400)
    values[:12] = [np.nan, np.inf, -np.inf] * 4
    entry = drift(reference, pd.DataFrame({"amount": values})).column("amount")
    assert entry.computable
    assert entry.null_share_cur == pytest.approx(12 / 400)
    assert entry.rows_cur == 388
    finite = values[12:]
    expected = sst.ks_2samp(reference["amount"], finite, method="asymp")
    assert entry.test.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert entry.test.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert entry.null_test is not None and entry.null_test.effect == pytest.approx(12 / 400)


def test_a_one_row_current_side_is_compared(reference: pd.DataFrame) -> None:
    report = drift(reference, reference.iloc[:1], methods=ALL_METHODS)
    assert all(e.computable for e in report.columns)
    entry = report.column("amount")
    assert entry.rows_cur == 1
    expected = sst.ks_2samp(reference["amount"], reference["amount"].iloc[:1], method="asymp")
    assert entry.test.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert entry.test.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    json_roundtrip(report)


def test_tests_that_need_more_values_report_nan_instead_of_failing() -> None:
    # One reference row and two current ones: too few for Cramér-von Mises (two a side) and
    # Anderson-Darling (four in all), which are then reported as not a number.
    ref = pd.DataFrame({"x": [1.0]})
    cur = pd.DataFrame({"x": [2.0, 3.0]})
    entry = drift(ref, cur, methods=ALL_METHODS).column("x")
    assert entry.computable
    assert np.isnan(entry.scores["anderson_darling"].statistic)
    assert np.isnan(entry.scores["cramer_von_mises"].statistic)
    assert entry.scores["energy"].statistic > 0
    body = json_roundtrip(drift(ref, cur, methods=ALL_METHODS))
    assert body["columns"][0]["scores"]["anderson_darling"]["statistic"] is None


def test_a_constant_reference_gives_infinite_effect_and_still_valid_json() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"level": np.full(300, 3.0), "same": np.full(300, 3.0)})
    cur = pd.DataFrame({"level": rng.normal(3.0, 1.0, 300), "same": np.full(300, 3.0)})
    report = drift(ref, cur)
    level = report.column("level")
    assert level.effect == float("inf")
    assert level.drifted is True
    same = report.column("same")
    assert same.effect == 0.0 and same.drifted is False
    body = json_roundtrip(report)
    assert body["columns"][0]["effect"] is None
    assert body["columns"][0]["test"]["statistic"] == pytest.approx(level.test.statistic)


def test_a_numeric_column_forced_categorical_is_compared_as_categories(
    reference: pd.DataFrame,
) -> None:
    entry = drift(reference, reference, categorical=["age"]).column("age")
    assert entry.kind == "categorical"
    assert entry.test.method == "chi_square"
    assert entry.drifted is False


def test_a_column_forced_both_ways_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="both categorical and numeric"):
        drift(reference, reference, categorical=["age"], numeric=["age"])


def test_text_forced_numeric_is_not_computable(reference: pd.DataFrame) -> None:
    entry = drift(reference, reference, numeric=["country"]).column("country")
    assert entry.computable is False
    assert "not numbers" in entry.reason


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(InvalidInput, match="alpha"):
        DriftSettings(alpha=1.5)
    with pytest.raises(InvalidInput, match="min_wasserstein"):
        DriftSettings(min_wasserstein=float("nan"))


def test_values_too_far_apart_to_grid_are_still_compared_exactly() -> None:
    rng = np.random.default_rng(3)
    # The pooled range overflows to infinity, so the engine sorts instead of gridding.
    a = rng.uniform(-1.0, 1.0, 1_000) * 1.5e308
    b = rng.uniform(0.5, 1.0, 1_000) * 1.5e308
    entry = drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).column("x")
    assert entry.test.statistic == pytest.approx(sst.ks_2samp(a, b).statistic, abs=1e-12)
    assert entry.scores["wasserstein"].statistic == pytest.approx(
        sst.wasserstein_distance(a / 1e300, b / 1e300) * 1e300, rel=1e-9
    )
    # The reference's spread (about 0.58 x 1.5e308) is found without overflowing.
    assert entry.effect == pytest.approx(
        entry.scores["wasserstein"].statistic / ((a / 1e300).std() * 1e300), rel=1e-9
    )
    assert entry.drifted is True


def test_a_column_that_went_entirely_missing_makes_the_data_drift():
    import numpy as np
    import pandas as pd

    from perennia.monitoring import drift

    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=2_000), "y": rng.normal(size=2_000)})
    cur = pd.DataFrame({"x": np.full(2_000, np.nan), "y": rng.normal(size=2_000)})
    report = drift(ref, cur)
    x = report.column("x")
    assert not x.computable and x.null_shift
    assert report.drifted is True and report.share_drifted == 0.5
    only = drift(ref[["x"]], cur[["x"]])
    assert only.drifted is True and only.drifted_columns == ["x"]
