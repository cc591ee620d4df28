"""`drift(profile(ref), cur)` agrees with `drift(ref, cur)` within the bounds its module states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.data_drift import DriftReport, drift
from perennia.monitoring.profiles import DatasetProfile, NumericProfile, profile
from perennia.monitoring.stats.grid import bucket
from tests.monitoring.test_drift_engine import make_window

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def both() -> tuple[DriftReport, DriftReport]:
    """One current batch compared with its reference's data and with the reference's profile."""
    rng = np.random.default_rng(31)
    n, k = 50_000, 20_000
    ref = pd.DataFrame(
        {
            "steady": rng.normal(0.0, 1.0, n),
            "skewed": rng.lognormal(0.0, 1.0, n),
            "moved": rng.normal(0.0, 1.0, n),
            "spread": rng.normal(0.0, 1.0, n),
            "rounded": np.round(rng.normal(10.0, 3.0, n)),
            "shop": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            "tier": rng.choice(["a", "b", "c"], n),
            "paid": rng.random(n) < 0.4,
        }
    )
    cur = pd.DataFrame(
        {
            "steady": rng.normal(0.0, 1.0, k),
            "skewed": rng.lognormal(0.0, 1.0, k),
            "moved": rng.normal(0.25, 1.0, k),
            "spread": rng.normal(0.0, 1.4, k),
            "rounded": np.round(rng.normal(11.0, 3.0, k)),
            "shop": rng.choice(["north", "south", "east"], k, p=[0.4, 0.3, 0.3]),
            "tier": rng.choice(["a", "b", "c"], k),
            "paid": rng.random(k) < 0.5,
        }
    )
    stored = DatasetProfile.from_bytes(profile(ref).to_bytes())
    return drift(ref, cur), drift(stored, cur)


def test_the_same_columns_drift_against_data_and_against_its_profile(
    both: tuple[DriftReport, DriftReport],
) -> None:
    exact, approximate = both
    flags = {e.column: e.drifted for e in exact.columns}
    assert flags == {e.column: e.drifted for e in approximate.columns}
    assert flags == {
        "steady": False,
        "skewed": False,
        "moved": True,
        "spread": True,
        "rounded": True,
        "shop": True,
        "tier": False,
        "paid": True,
    }
    assert exact.drifted is approximate.drifted is True


def test_categorical_and_binary_entries_equal_the_data_ones(
    both: tuple[DriftReport, DriftReport],
) -> None:
    exact, approximate = both
    for name in ("shop", "tier", "paid"):
        ours, truth = approximate.column(name), exact.column(name)
        # The profile lists categories by count, so sums run in another order: equal to rounding.
        assert ours.test.method == truth.test.method
        assert ours.test.statistic == pytest.approx(truth.test.statistic, rel=1e-12)
        assert ours.test.p_value == pytest.approx(truth.test.p_value, rel=1e-9, abs=1e-300)
        assert ours.effect == pytest.approx(truth.effect, rel=1e-12)
    assert approximate.column("paid").test.method == "two_proportions"


def test_scores_against_the_profile_are_close_to_the_exact_ones(
    both: tuple[DriftReport, DriftReport],
) -> None:
    exact, approximate = both
    for name in ("steady", "skewed", "moved", "spread", "rounded"):
        ours, truth = approximate.column(name), exact.column(name)
        assert ours.test.statistic <= truth.test.statistic + 1e-12
        assert ours.test.statistic == pytest.approx(truth.test.statistic, abs=0.005)
        assert ours.effect == pytest.approx(truth.effect, rel=0.01, abs=1e-3)
        assert ours.out_of_range_share == truth.out_of_range_share
        assert ours.scores["psi"].statistic == pytest.approx(
            truth.scores["psi"].statistic, abs=0.01
        )


@st.composite
def reference_and_current(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """A reference and a current sample (maybe tied, maybe beyond the reference's range)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n = draw(st.integers(2, 4_000)), draw(st.integers(1, 4_000))
    a = rng.normal(0.0, 1.0, m)
    b = rng.normal(draw(st.floats(-1.5, 1.5)), draw(st.floats(0.5, 2.0)), n)
    if draw(st.booleans()):
        a, b = np.round(a * 2), np.round(b * 2)
    return a, b, draw(st.sampled_from([2, 16, 256, 4096]))


def grid_of(column: NumericProfile, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The reference's bucket counts, the current's counts on the same grid, and those below."""
    inside = b[(b >= column.lo) & (b <= column.hi)]
    cb = bucket(inside, column.lo, column.scale, column.counts.size).counts
    return column.counts.astype(np.float64), cb.astype(np.float64), int((b < column.lo).sum())


@EXAMPLES
@given(reference_and_current())
def test_ks_against_a_profile_is_conservative_and_within_one_bucket(
    sample: tuple[np.ndarray, np.ndarray, int],
) -> None:
    a, b, bins = sample
    ref_profile = profile(pd.DataFrame({"x": a}), bins=bins)
    column = ref_profile.columns["x"]
    if column.scale == 0:
        return  # a constant reference has a one-point grid; compared exactly below
    exact = drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).column("x")
    ours = drift(ref_profile, pd.DataFrame({"x": b})).column("x")
    ca, cb, _ = grid_of(column, b)
    # Inside a bucket the CDF gap moves by at most that bucket's share of either sample.
    one_bucket = float(np.maximum(ca / a.size, cb / b.size).max())
    assert ours.test.statistic <= exact.test.statistic + 1e-12
    assert exact.test.statistic - ours.test.statistic <= one_bucket + 1e-12
    assert ours.test.p_value >= exact.test.p_value - 1e-12


@EXAMPLES
@given(reference_and_current())
def test_wasserstein_against_a_profile_is_exact_except_in_crossing_buckets(
    sample: tuple[np.ndarray, np.ndarray, int],
) -> None:
    a, b, bins = sample
    ref_profile = profile(pd.DataFrame({"x": a}), bins=bins)
    column = ref_profile.columns["x"]
    if column.scale == 0:
        return
    exact = drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).column("x")
    ours = drift(ref_profile, pd.DataFrame({"x": b})).column("x")
    ca, cb, below = grid_of(column, b)
    m, n = a.size, b.size
    gap_start = (np.cumsum(ca) - ca) / m - (below + np.cumsum(cb) - cb) / n
    crossing = ~((gap_start - cb / n >= 0) | (gap_start + ca / m <= 0))
    # The module's bound: bucket width x both samples' shares, over buckets where F - G crosses 0.
    bound = float(((ca / m + cb / n)[crossing]).sum()) / column.scale
    truth = exact.scores["wasserstein"].statistic
    estimate = ours.scores["wasserstein"].statistic
    slack = 1e-9 * truth + 1e-12
    assert estimate <= truth + slack
    assert truth - estimate <= bound + slack


def test_a_constant_reference_profile_compares_exactly() -> None:
    ref = pd.DataFrame({"x": np.full(500, 2.0)})
    cur = pd.DataFrame({"x": np.r_[np.full(300, 2.0), np.full(200, 3.5)]})
    exact = drift(ref, cur).column("x")
    ours = drift(profile(ref), cur).column("x")
    assert ours.test.statistic == pytest.approx(exact.test.statistic)
    assert ours.scores["wasserstein"].statistic == pytest.approx(
        exact.scores["wasserstein"].statistic
    )
    assert ours.effect == exact.effect == float("inf")


def test_false_alarms_against_a_stored_profile_stay_near_alpha() -> None:
    rng = np.random.default_rng(123)
    stored = DatasetProfile.from_bytes(profile(make_window(rng, 20_000)).to_bytes())
    windows = 200
    alarms = sum(bool(drift(stored, make_window(rng, 2_000)).drifted) for _ in range(windows))
    rate = alarms / windows
    print(f"false-alarm rate, stored profile: {rate:.3f} ({alarms}/{windows})")
    assert rate <= 0.08


def test_a_new_category_in_a_window_is_flagged_against_a_profile() -> None:
    rng = np.random.default_rng(7)
    stored = profile(make_window(rng, 20_000))
    window = make_window(rng, 2_000)
    window.loc[window.sample(60, random_state=1).index, "colour"] = "violet"
    report = drift(stored, window)
    entry = report.column("colour")
    assert entry.new_categories == {"violet": pytest.approx(0.03)}
    assert entry.drifted is True
    assert report.drifted_columns == ["colour"]


def test_a_column_missing_or_of_another_type_is_not_computable_against_a_profile() -> None:
    rng = np.random.default_rng(8)
    stored = profile(make_window(rng, 1_000))
    window = make_window(rng, 500).drop(columns=["tier"]).assign(normal="text")
    report = drift(stored, window)
    assert "missing" in report.column("tier").reason
    assert "types differ" in report.column("normal").reason
    with pytest.raises(InvalidInput, match="not in the reference profile"):
        drift(stored, window, columns=["normal", "absent"])
    with pytest.raises(InvalidInput, match="multivariate"):
        drift(stored, window, multivariate=True)


@pytest.fixture(scope="module")
def typed() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    n = 3_000
    return pd.DataFrame(
        {
            "day": pd.to_datetime("2024-03-01") + pd.to_timedelta(rng.integers(0, 5, n), "D"),
            "zip": rng.integers(1_000, 1_010, n),
            "flag": (rng.random(n) < 0.3).astype(np.int64),
            "member": rng.random(n) < 0.5,
        }
    )


def test_a_stored_profile_of_dates_matches_the_same_dates(typed: pd.DataFrame) -> None:
    stored = DatasetProfile.from_bytes(profile(typed[["day"]]).to_bytes())
    entry = drift(stored, typed).column("day")
    # The stored labels are the dates' text; they must still meet the dates they came from.
    assert entry.new_categories == {} and entry.vanished_categories == {}
    assert entry.drifted is False
    assert entry.effect == pytest.approx(0.0, abs=1e-12)


def test_numbers_profiled_as_categories_compare_with_current_numbers(typed: pd.DataFrame) -> None:
    stored = DatasetProfile.from_bytes(profile(typed, categorical=["zip"]).to_bytes())
    entry = drift(stored, typed).column("zip")
    assert entry.computable, entry.reason
    assert entry.kind == "categorical"
    assert entry.drifted is False and entry.new_categories == {}


def test_a_flag_profile_accepts_current_flags_read_as_floats(typed: pd.DataFrame) -> None:
    current = typed.astype({"flag": np.float64})
    current.loc[:4, "flag"] = np.nan
    entry = drift(profile(typed), current).column("flag")
    assert entry.computable, entry.reason
    assert entry.test.method == "two_proportions"
    assert entry.new_categories == {} and entry.drifted is False


def test_a_boolean_profile_refuses_current_integers_like_the_data_does(typed: pd.DataFrame) -> None:
    current = typed.assign(member=typed["member"].astype(np.int64))
    against_profile = drift(profile(typed), current).column("member")
    against_data = drift(typed, current).column("member")
    assert against_profile.computable is against_data.computable is False
    assert against_profile.reason == against_data.reason
    assert "types differ" in against_profile.reason
