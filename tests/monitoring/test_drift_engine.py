"""`drift(reference, current)`: what it detects, what it leaves alone, and numbers equal to scipy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.monitoring.data_drift import DriftReport, drift
from perennia.monitoring.stats.numeric import LARGE_KS, ks_p_value

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROWS = 100_000


@pytest.fixture(scope="module")
def shifted() -> tuple[pd.DataFrame, pd.DataFrame, DriftReport]:
    """100,000 rows a side; each column carries one kind of change (or none)."""
    rng = np.random.default_rng(20240601)
    n = ROWS
    ref = pd.DataFrame(
        {
            "mean_up": rng.normal(0.0, 1.0, n),
            "mean_down": rng.normal(0.0, 1.0, n),
            "wider": rng.normal(0.0, 1.0, n),
            "unchanged": rng.normal(0.0, 1.0, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "plan": rng.choice(["free", "pro", "team", "legacy"], n, p=[0.5, 0.3, 0.18, 0.02]),
            "clicked": rng.random(n) < 0.3,
            "churned": (rng.random(n) < 0.3).astype(np.int64),
            "latency": rng.normal(0.0, 1.0, n),
            "ratio": rng.uniform(0.0, 1.0, n),
        }
    )
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), n, p=[0.5, 0.3, 0.2])
    colour[rng.random(n) < 0.02] = "purple"
    latency = rng.normal(0.0, 1.0, n)
    latency[rng.random(n) < 0.05] = np.nan
    cur = pd.DataFrame(
        {
            "mean_up": rng.normal(0.1, 1.0, n),
            "mean_down": rng.normal(-0.3, 1.0, n),
            "wider": rng.normal(0.0, 1.5, n),
            "unchanged": rng.normal(0.0, 1.0, n),
            "colour": colour,
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "clicked": rng.random(n) < 0.4,
            "churned": (rng.random(n) < 0.4).astype(np.int64),
            "latency": latency,
            "ratio": rng.uniform(0.0, 1.1, n),
        }
    )
    return ref, cur, drift(ref, cur)


@pytest.mark.parametrize("column", ["mean_up", "mean_down", "wider"])
def test_location_and_scale_changes_are_detected(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport], column: str
) -> None:
    entry = shifted[2].column(column)
    assert entry.kind == "numeric"
    assert entry.test.method == "ks"
    assert entry.drifted is True
    assert entry.p_adjusted < 1e-10


def test_a_tenth_of_a_standard_deviation_gives_an_effect_near_a_tenth(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    # Wasserstein / std of a pure location shift is the shift in standard deviations.
    assert shifted[2].column("mean_up").effect == pytest.approx(0.1, abs=0.01)
    assert shifted[2].column("mean_down").effect == pytest.approx(0.3, abs=0.01)


def test_an_unchanged_column_beside_drifted_ones_is_not_flagged(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    entry = shifted[2].column("unchanged")
    assert entry.computable
    assert entry.drifted is False
    assert "unchanged" not in shifted[2].drifted_columns


def test_a_new_category_at_two_percent_is_detected_and_listed_with_its_share(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    ref, cur, report = shifted
    entry = report.column("colour")
    assert entry.kind == "categorical"
    assert entry.test.method == "chi_square"
    assert entry.drifted is True
    assert list(entry.new_categories) == ["purple"]
    assert entry.new_categories["purple"] == pytest.approx((cur["colour"] == "purple").mean())
    assert entry.new_categories["purple"] == pytest.approx(0.02, abs=0.002)
    assert entry.vanished_categories == {}


def test_a_vanished_category_is_listed_with_its_reference_share(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    ref, _, report = shifted
    entry = report.column("plan")
    assert entry.vanished_categories == {"legacy": pytest.approx((ref["plan"] == "legacy").mean())}
    assert entry.new_categories == {}
    assert entry.drifted is True


@pytest.mark.parametrize("column", ["clicked", "churned"])
def test_boolean_and_zero_one_columns_use_the_two_proportion_test(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport], column: str
) -> None:
    ref, cur, report = shifted
    entry = report.column(column)
    assert entry.kind == "binary"
    assert entry.test.method == "two_proportions"
    assert entry.drifted is True
    # The pooled z-test on a 2 x 2 table is Pearson's chi-square: z squared equals it.
    table = pd.crosstab(
        np.r_[np.zeros(len(ref)), np.ones(len(cur))], np.r_[ref[column], cur[column]]
    ).to_numpy()
    chi2 = sst.chi2_contingency(table, correction=False)
    assert entry.test.statistic**2 == pytest.approx(chi2.statistic, rel=1e-9)
    assert entry.test.p_value == pytest.approx(chi2.pvalue, rel=1e-6, abs=1e-300)


def test_a_zero_one_flag_that_gains_a_third_value_is_detected() -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"flag": (rng.random(5_000) < 0.3).astype(np.int64)})
    cur = pd.DataFrame({"flag": rng.integers(0, 3, 5_000)})
    entry = drift(ref, cur).column("flag")
    assert entry.drifted is True
    assert entry.test.method == "chi_square"
    assert list(entry.new_categories) == [2]


@pytest.mark.parametrize("library", ["pandas", "arrow"])
def test_a_zero_one_flag_read_as_floats_because_of_a_null_is_compared_by_value(
    library: str,
) -> None:
    rng = np.random.default_rng(12)
    ref = pd.DataFrame({"flag": (rng.random(4_000) < 0.3).astype(np.int64)})
    cur = pd.DataFrame({"flag": pd.array(rng.random(4_000) < 0.3, dtype="Int64")})
    cur.loc[:9, "flag"] = pd.NA
    if library == "pandas":
        cur = cur.astype({"flag": np.float64})  # pandas' own type for integers with nulls
        current = cur
    else:
        current = pa.Table.from_pandas(cur, preserve_index=False)  # int64 with nulls
    entry = drift(ref, current).column("flag")
    # 1.0 and 1 are one category: nothing is new, nothing vanished, nothing drifted.
    assert entry.kind == "binary"
    assert entry.test.method == "two_proportions"
    assert entry.new_categories == {} and entry.vanished_categories == {}
    assert entry.drifted is False
    assert entry.null_share_cur == pytest.approx(10 / 4_000)


def test_missing_values_appearing_set_the_null_shift(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    _, cur, report = shifted
    entry = report.column("latency")
    assert entry.null_share_ref == 0.0
    assert entry.null_share_cur == pytest.approx(cur["latency"].isna().mean())
    assert entry.null_shift is True
    # The values that remain follow the reference: only the missing share changed.
    assert entry.drifted is False
    assert "latency" in report.drifted_columns


def test_values_beyond_the_reference_range_are_counted(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    ref, cur, report = shifted
    entry = report.column("ratio")
    expected = ((cur["ratio"] > ref["ratio"].max()) | (cur["ratio"] < ref["ratio"].min())).mean()
    assert entry.out_of_range_share == pytest.approx(expected, rel=1e-12)
    assert entry.out_of_range_share == pytest.approx(0.1 / 1.1, abs=0.01)
    assert entry.range_violation is True
    assert report.column("unchanged").range_violation is False


def test_the_whole_report_is_json_and_flags_the_dataset(
    shifted: tuple[pd.DataFrame, pd.DataFrame, DriftReport],
) -> None:
    report = shifted[2]
    assert report.drifted is True
    assert report.share_drifted == pytest.approx(len(report.drifted_columns) / len(report.columns))
    body = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert [c["column"] for c in body["columns"]] == list(shifted[0].columns)
    assert len(report.to_frame()) == len(shifted[0].columns)


def make_window(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Rows from one fixed distribution: 5 numeric columns (some tied) and 2 categorical ones."""
    return pd.DataFrame(
        {
            "normal": rng.normal(0.0, 1.0, n),
            "skewed": rng.lognormal(0.0, 1.0, n),
            "uniform": rng.uniform(-5.0, 5.0, n),
            "rounded": np.round(rng.normal(50.0, 10.0, n)),
            "visits": rng.poisson(3.0, n).astype(np.float64),
            "colour": rng.choice(["red", "green", "blue", "grey"], n, p=[0.5, 0.3, 0.15, 0.05]),
            "tier": rng.choice(list("abcdef"), n),
        }
    )


def test_identical_distributions_are_not_flagged() -> None:
    rng = np.random.default_rng(5)
    report = drift(make_window(rng, 50_000), make_window(rng, 50_000))
    assert report.drifted is False
    assert report.drifted_columns == []
    assert report.share_drifted == 0.0


def test_false_alarms_on_windows_from_the_reference_stay_near_alpha() -> None:
    rng = np.random.default_rng(99)
    reference = make_window(rng, 20_000)
    windows = 200
    # Only the deciding tests: extra scores (PSI, Jensen-Shannon) never enter the verdict.
    deciding = {"numeric": ["ks"], "categorical": ["chi_square"]}
    alarms = sum(
        bool(drift(reference, make_window(rng, 2_000), methods=deciding).drifted)
        for _ in range(windows)
    )
    rate = alarms / windows
    print(f"false-alarm rate, data reference: {rate:.3f} ({alarms}/{windows})")
    assert rate <= 0.08


def test_a_trivial_shift_on_millions_of_rows_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(8)
    n = 2_000_000
    # 0.01 sd: at 200,000 rows a side KS's p-value is about 0.1; at 2,000,000 it is tiny.
    report = drift(
        pd.DataFrame({"x": rng.normal(0.0, 1.0, n)}), pd.DataFrame({"x": rng.normal(0.01, 1.0, n)})
    )
    entry = report.column("x")
    assert entry.test.p_value < 1e-6
    assert entry.p_adjusted < 1e-6
    assert entry.effect < 0.05
    assert entry.drifted is False
    assert report.drifted is False


@st.composite
def numeric_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric samples under 10,000 values, continuous or tied, with NaNs sprinkled in."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n = draw(st.integers(2, 6_000)), draw(st.integers(2, 6_000))
    a = rng.normal(0.0, 1.0, m)
    b = rng.normal(draw(st.floats(-0.5, 0.5)), draw(st.floats(0.5, 2.0)), n)
    if draw(st.booleans()):
        a, b = np.round(a * 3), np.round(b * 3)
    a[rng.random(m) < 0.1] = np.nan
    b[rng.random(n) < 0.1] = np.nan
    return a, b


@EXAMPLES
@given(numeric_pairs())
def test_numeric_scores_equal_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    entry = drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).column("x")
    fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
    if fa.size == 0 or fb.size == 0:
        assert not entry.computable
        return
    theirs = sst.ks_2samp(fa, fb, method="asymp")
    assert abs(entry.test.statistic - theirs.statistic) <= 1e-12
    if fa.size == fb.size == 1:
        return  # scipy's effective size rounds to 0 there (NaN); ours uses 1
    assert math.isclose(entry.test.p_value, theirs.pvalue, rel_tol=1e-9, abs_tol=1e-300)
    distance = sst.wasserstein_distance(fa, fb)
    assert math.isclose(
        entry.scores["wasserstein"].statistic, distance, rel_tol=1e-9, abs_tol=1e-12
    )
    if fa.std() > 0:
        assert math.isclose(entry.effect, distance / fa.std(ddof=0), rel_tol=1e-9, abs_tol=1e-12)
    assert entry.rows_ref == fa.size and entry.rows_cur == fb.size


@EXAMPLES
@given(st.integers(0, 2**32 - 1), st.integers(2, 8), st.integers(20, 5_000), st.integers(20, 5_000))
def test_categorical_scores_equal_scipy_chi2_contingency(seed: int, k: int, m: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    labels = [f"c{i}" for i in range(k)]
    ref = rng.choice(labels, m, p=rng.dirichlet(np.ones(k)))
    cur = rng.choice(labels, n, p=rng.dirichlet(np.ones(k)))
    entry = drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur})).column("c")
    present = sorted(set(ref) | set(cur))
    table = np.array([[np.sum(ref == v) for v in present], [np.sum(cur == v) for v in present]])
    if len(present) == 1:
        assert entry.test.p_value == 1.0 and entry.effect == 0.0
        return
    theirs = sst.chi2_contingency(table, correction=False)
    assert entry.test.method == "chi_square"
    assert math.isclose(entry.test.statistic, theirs.statistic, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(entry.test.p_value, theirs.pvalue, rel_tol=1e-9, abs_tol=1e-300)
    cramers_v = sst.contingency.association(table, method="cramer")
    assert math.isclose(entry.effect, cramers_v, rel_tol=1e-9, abs_tol=1e-12)


@EXAMPLES
@given(st.integers(1, LARGE_KS), st.integers(1, LARGE_KS), st.floats(0.0, 1.0))
def test_ks_p_value_equals_scipy_kstwo_up_to_the_large_size(m: int, n: int, d: float) -> None:
    effective = round(m * n / (m + n))
    if effective == 0:
        return  # one value a side: scipy is undefined there, see the function's comment
    assert math.isclose(
        ks_p_value(d, m, n), float(sst.kstwo.sf(d, effective)), rel_tol=1e-9, abs_tol=1e-300
    )


@pytest.mark.parametrize("effective", [LARGE_KS + 1, 20_000, 40_000])
@pytest.mark.parametrize("target", [1.2e-4, 1e-3, 0.01, 0.045])
def test_ks_p_value_above_the_large_size_stays_within_its_stated_error(
    effective: int, target: float
) -> None:
    # Equal sizes 2e give the effective size e; d is chosen so the p-value is near `target`.
    d = math.sqrt(-math.log(target / 2.0) / (2.0 * effective))
    exact = float(sst.kstwo.sf(d, effective))
    assert 1e-4 <= exact <= 0.05
    # The comment in ks_p_value states under 1e-3, relatively, for p-values above 1e-4.
    assert math.isclose(ks_p_value(d, 2 * effective, 2 * effective), exact, rel_tol=1e-3)


@pytest.fixture(scope="module")
def mixed_types() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same data in pandas' nullable types: floats with NaN, ints and text with nulls."""
    rng = np.random.default_rng(3)

    def side(shift: float, n: int) -> pd.DataFrame:
        score = rng.normal(shift, 1.0, n)
        score[rng.random(n) < 0.05] = np.nan
        count = pd.array(rng.poisson(4.0 + shift, n), dtype="Int64")
        count[rng.random(n) < 0.03] = pd.NA
        city = pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype=object)
        city[rng.random(n) < 0.02] = None
        return pd.DataFrame(
            {
                "score": score,
                "count": count,
                "city": city,
                "active": rng.random(n) < 0.5 + shift / 10,
                "flag": (rng.random(n) < 0.2).astype(np.int64),
            }
        )

    return side(0.0, 4_000), side(0.3, 3_000)


def test_pandas_polars_arrow_and_parquet_inputs_give_the_same_report(
    mixed_types: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    ref, cur = mixed_types
    expected = drift(ref, cur).to_dict()
    ref_arrow = pa.Table.from_pandas(ref, preserve_index=False)
    cur_arrow = pa.Table.from_pandas(cur, preserve_index=False)
    pq.write_table(ref_arrow, tmp_path / "ref.parquet", row_group_size=1_000)
    pq.write_table(cur_arrow, tmp_path / "cur.parquet")
    inputs = {
        "arrow": (ref_arrow, cur_arrow),
        "polars": (pl.from_arrow(ref_arrow), pl.from_arrow(cur_arrow)),
        "parquet": (tmp_path / "ref.parquet", str(tmp_path / "cur.parquet")),
    }
    for name, (r, c) in inputs.items():
        assert drift(r, c).to_dict() == expected, name
    assert expected["columns"][1]["kind"] == "numeric"
    assert expected["columns"][4]["kind"] == "binary"
    assert expected["drifted"] is True
