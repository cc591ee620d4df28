"""Validation of 10M rows x 10 checks: Perennia's `validate` vs pandera and Great Expectations.

One frame of 10,000,000 rows (`id` a permutation, `age` int64, `income` float64, `country` a
five-value string column) is generated once, and the same ten checks run on it with each tool:
not-null x2, between x2, in-set, unique, of-type, mean between, value lengths between and regex.

- Perennia: `perennia.data.contracts.validate(frame, contract)`.
- pandera: `import pandera.pandas as pa`, a `DataFrameSchema` whose only checks are those ten
  (`nullable=True` on the columns without a not-null check so no extra check runs), validated
  with `lazy=True` so every failure is collected, as the other two do.
- Great Expectations 1.x, in this interpreter (the `bench` extra installs it: it needs no version
  change to anything the project pins): an ephemeral context, a pandas data source with a
  dataframe asset and a whole-dataframe batch definition, an ExpectationSuite of the equivalent
  `gxe.Expect...` expectations, and `batch.validate(suite)` with GX's default result format
  (SUMMARY: counts and a sample of unexpected values, as Perennia's result has).

Only the validation call is timed (contracts, schemas, suites and batches are built once).
Before timing, the script checks that all three say the clean frame passes, and that on a copy
with a few corrupted values all three fail exactly the same eight checks with the same number of
failing rows each; a broken comparison stops the benchmark. Great Expectations is the slowest
(about 10 s a call on 10M rows on a 2-core machine), so its repeats can be cut with
`BENCH_GX_REPEATS` (default: `BENCH_REPEATS`). `BENCH_VALIDATION_ROWS` shrinks the frame.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import numpy as np  # noqa: E402

from common import REPEATS, Result, emit  # noqa: E402

ROWS = int(os.environ.get("BENCH_VALIDATION_ROWS", "10000000"))
GX_REPEATS = int(os.environ.get("BENCH_GX_REPEATS", str(REPEATS)))
TARGET_S = 2.0
COUNTRIES = ["fr", "de", "us", "uk", "es"]

# (expectation, column, kwargs): the ten checks, in Great Expectations' (and Perennia's) names.
CHECKS = [
    ("expect_column_values_to_not_be_null", "income", {}),
    ("expect_column_values_to_not_be_null", "country", {}),
    ("expect_column_values_to_be_between", "age", {"min_value": 0, "max_value": 120}),
    ("expect_column_values_to_be_between", "income", {"min_value": -1000, "max_value": 1000}),
    ("expect_column_values_to_be_in_set", "country", {"value_set": COUNTRIES}),
    ("expect_column_values_to_be_unique", "id", {}),
    ("expect_column_values_to_be_of_type", "age", {"type_": "int64"}),
    ("expect_column_mean_to_be_between", "income", {"min_value": 0, "max_value": 100}),
    ("expect_column_value_lengths_to_be_between", "country", {"min_value": 2, "max_value": 2}),
    ("expect_column_values_to_match_regex", "country", {"regex": r"^[a-z]{2}$"}),
]

# What the corrupted frame must fail: (expectation, column) -> failing rows.
EXPECTED_FAILURES = {
    ("expect_column_values_to_not_be_null", "income"): 1,
    ("expect_column_values_to_not_be_null", "country"): 1,
    ("expect_column_values_to_be_between", "age"): 1,
    ("expect_column_values_to_be_between", "income"): 1,
    ("expect_column_values_to_be_in_set", "country"): 2,
    ("expect_column_values_to_be_unique", "id"): 2,
    ("expect_column_value_lengths_to_be_between", "country"): 1,
    ("expect_column_values_to_match_regex", "country"): 1,
}

Failures = dict[tuple[str, str], int]


def make_data(n: int, seed: int = 0):
    """Return the clean frame: a permuted int64 id, int64 age, float64 income, str country."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": rng.permutation(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50, 10, n),
            "country": pd.array(rng.choice(np.array(COUNTRIES), n), dtype="str"),
        }
    )


def corrupt(frame):
    """Return a copy of `frame` with a few bad values: it fails 8 of the 10 checks."""
    bad = frame.copy()
    bad.loc[101, "income"] = np.nan  # not null
    bad.loc[202, "income"] = 5000.0  # between (the mean stays within 0..100)
    bad.loc[303, "age"] = 150  # between (still int64: of-type passes)
    bad.loc[404, "country"] = "xx"  # in set only
    bad.loc[505, "country"] = "FRA"  # in set, lengths and regex
    bad.loc[606, "country"] = None  # not null (row checks leave nulls out)
    bad.loc[707, "id"] = bad.loc[808, "id"]  # unique: both copies are unexpected
    return bad


# -- Perennia ------------------------------------------------------------------------------------


def perennia_contract():
    """Return the ten checks as a Perennia contract."""
    from perennia.data.contracts import Contract

    contract = Contract(name="bench")
    for kind, column, kwargs in CHECKS:
        if kind == "expect_column_values_to_be_of_type":
            kwargs = {"type_": "integer"}
        contract.expect(kind, column=column, **kwargs)
    return contract


def perennia_run(frame, contract):
    """Return Perennia's result of validating `frame`."""
    from perennia.data.contracts import validate

    return validate(frame, contract)


def perennia_failures(result) -> Failures:
    """Return the failed checks of a Perennia result, with their failing rows (0 for aggregates)."""
    return {(r.name, r.column): r.unexpected_count or 0 for r in result.results if not r.success}


# -- pandera -------------------------------------------------------------------------------------


def pandera_schema():
    """Return a pandera schema holding the same ten checks and nothing else."""
    import pandera.pandas as pa

    lo, hi = CHECKS[7][2]["min_value"], CHECKS[7][2]["max_value"]
    return pa.DataFrameSchema(
        {
            "id": pa.Column(unique=True, nullable=True),
            "age": pa.Column("int64", pa.Check.in_range(0, 120), nullable=True),
            "income": pa.Column(
                checks=[
                    pa.Check.in_range(-1000, 1000),
                    pa.Check(lambda s: lo <= s.mean() <= hi, name="mean", element_wise=False),
                ],
                nullable=False,
            ),
            "country": pa.Column(
                checks=[
                    pa.Check.isin(COUNTRIES),
                    pa.Check.str_length(2, 2),
                    pa.Check.str_matches(r"^[a-z]{2}$"),
                ],
                nullable=False,
            ),
        }
    )


# pandera's failure cases name a check by its statistic, e.g. "in_range(0, 120)": match the head.
PANDERA_NAMES = {
    "not_nullable": "expect_column_values_to_not_be_null",
    "in_range": "expect_column_values_to_be_between",
    "isin": "expect_column_values_to_be_in_set",
    "field_uniqueness": "expect_column_values_to_be_unique",
    "dtype": "expect_column_values_to_be_of_type",
    "mean": "expect_column_mean_to_be_between",
    "str_length": "expect_column_value_lengths_to_be_between",
    "str_matches": "expect_column_values_to_match_regex",
}


def pandera_run(frame, schema):
    """Return None when `frame` passes, else pandera's SchemaErrors (lazy: every failure)."""
    import pandera.errors

    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return errors
    return None


def pandera_failures(errors) -> Failures:
    """Return the failed checks in pandera's failure cases, with their failing rows."""
    if errors is None:
        return {}
    out: Failures = {}
    for (column, check), cases in errors.failure_cases.groupby(["column", "check"]):
        name = PANDERA_NAMES.get(check.split("(", 1)[0])
        if name is None:
            raise AssertionError(f"pandera reported a check this benchmark does not map: {check}")
        # An aggregate check's failure case is the scalar False, not a row.
        rows = (
            0 if name == "expect_column_mean_to_be_between" else int(cases["index"].notna().sum())
        )
        out[(name, column)] = out.get((name, column), 0) + rows
    return out


# -- Great Expectations --------------------------------------------------------------------------


class GreatExpectations:
    """An ephemeral GX context with a pandas dataframe asset and the suite of the ten checks."""

    def __init__(self) -> None:
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.version = gx.__version__
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("bench")
        asset = source.add_dataframe_asset("frame")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        suite = gx.ExpectationSuite(name="bench")
        for kind, column, kwargs in CHECKS:
            cls = getattr(gxe, "".join(word.capitalize() for word in kind.split("_")))
            suite.add_expectation(cls(column=column, **kwargs))
        self.suite = self.context.suites.add(suite)

    def batch(self, frame):
        """Return a GX batch over `frame`."""
        return self.batch_definition.get_batch(batch_parameters={"dataframe": frame})

    @staticmethod
    def failures(result) -> Failures:
        """Return the failed checks of a GX result; raise when an expectation raised."""
        out: Failures = {}
        for r in result.results:
            kind, column = r.expectation_config.type, r.expectation_config.kwargs.get("column")
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise AssertionError(f"GX raised on {kind}({column}): {r.exception_info}")
            if not r.success:
                out[(kind, column)] = int(r.result.get("unexpected_count") or 0)
        return out


# -- the benchmark -------------------------------------------------------------------------------


def timed(fn, repeats: int):
    """Return (median seconds, every sample, the last answer) of `fn()` over `repeats` calls."""
    samples, answer = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        answer = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples, answer


def check_agreement(clean, bad, contract, schema, gx: GreatExpectations) -> None:
    """Raise AssertionError unless all three pass `clean` and fail the same checks of `bad`."""
    for label, frame, want in (("clean", clean, {}), ("corrupted", bad, EXPECTED_FAILURES)):
        got = {
            "perennia": perennia_failures(perennia_run(frame, contract)),
            "pandera": pandera_failures(pandera_run(frame, schema)),
            "great_expectations": gx.failures(gx.batch(frame).validate(gx.suite)),
        }
        for tool, failures in got.items():
            assert failures == want, f"{label} frame: {tool} fails {failures}, expected {want}"


def _fmt(samples: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in samples)


def main() -> list[Result]:
    """Return Perennia's validation time against pandera's and Great Expectations'."""
    clean = make_data(ROWS)
    bad = corrupt(clean)
    contract, schema, gx = perennia_contract(), pandera_schema(), GreatExpectations()
    check_agreement(clean, bad, contract, schema, gx)
    del bad

    ours, ours_s, result = timed(lambda: perennia_run(clean, contract), REPEATS)
    assert result.success
    pandera_t, pandera_s, errors = timed(lambda: pandera_run(clean, schema), REPEATS)
    assert errors is None
    batch = gx.batch(clean)
    gx_t, gx_s, gx_result = timed(lambda: batch.validate(gx.suite), GX_REPEATS)
    assert gx_result.success

    print(f"perennia            median {ours:.3f} s  samples [{_fmt(ours_s)}]")
    print(f"pandera             median {pandera_t:.3f} s  samples [{_fmt(pandera_s)}]")
    print(f"great_expectations  median {gx_t:.3f} s  samples [{_fmt(gx_s)}]")
    print(f"ratio pandera/perennia {pandera_t / ours:.1f}x, GX/perennia {gx_t / ours:.1f}x")

    size = f"{ROWS:,} rows x {len(CHECKS)} checks"
    agree = (
        "all three pass the clean frame and fail the same 8 checks (same failing rows) "
        "on the corrupted one"
    )
    return [
        Result(
            f"validate {size}",
            ours,
            pandera_t,
            "s",
            "pandera, lazy=True",
            f"< {TARGET_S:g} s and faster",
            ours < TARGET_S and ours < pandera_t,
            f"{agree}; median of {REPEATS}",
        ),
        Result(
            f"validate {size}",
            ours,
            gx_t,
            "s",
            f"Great Expectations {gx.version}",
            f"< {TARGET_S:g} s and faster",
            ours < TARGET_S and ours < gx_t,
            f"batch.validate(suite), SUMMARY result format; GX median of {GX_REPEATS}, "
            f"Perennia of {REPEATS}",
        ),
    ]


if __name__ == "__main__":
    emit(main())
