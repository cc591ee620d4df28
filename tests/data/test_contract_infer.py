"""infer_contract: a frame passes its own contract, and a corrupted copy fails exactly where corrupted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from perennia.data.contracts import Contract, infer_contract, validate
from perennia.errors import InvalidInput


def reference(n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": rng.permutation(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50, 10, n),
            "country": pd.array(rng.choice(["fr", "de", "us"], n), dtype="str"),
            "member": rng.random(n) > 0.3,
            "note": pd.array([None if i % 7 == 0 else f"n{i}" for i in range(n)], dtype="str"),
            "churned": rng.integers(0, 2, n),
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return reference()


@pytest.fixture(scope="module")
def contract(frame: pd.DataFrame) -> Contract:
    return infer_contract(frame, label="churned", name="churn")


def kinds(contract: Contract, column: str) -> set[str]:
    return {e.type for e in contract.expectations if column in e.columns}


def test_inferred_contract_proposes_what_the_data_shows(contract: Contract) -> None:
    assert "expect_column_values_to_be_unique" in kinds(contract, "id")
    assert "expect_column_drift_to_be_below" not in kinds(contract, "id")
    assert "expect_column_values_to_be_in_set" in kinds(contract, "country")
    assert "expect_column_values_to_not_be_null" not in kinds(contract, "note")
    assert "expect_column_drift_to_be_below" not in kinds(contract, "churned")
    assert "expect_column_drift_to_be_below" in kinds(contract, "income")
    between = next(
        e
        for e in contract.expectations
        if e.type == "expect_column_values_to_be_between" and e.columns == ["age"]
    )
    assert between.kwargs["min_value"] >= 18 and between.kwargs["max_value"] <= 89
    assert contract.environments == {"training": [], "serving": ["churned"]}


@pytest.mark.parametrize(
    "convert",
    [lambda f: f, pl.from_pandas, pa.Table.from_pandas],
    ids=["pandas", "polars", "arrow"],
)
def test_the_reference_passes_its_own_contract_in_every_library(frame, contract, convert) -> None:
    result = validate(convert(frame), contract, environment="training")
    assert result.success, result.failures


def test_a_corrupted_copy_fails_exactly_on_the_corrupted_columns(frame, contract) -> None:
    bad = frame.copy()
    bad.loc[10, "age"] = 150
    bad.loc[[3, 4], "country"] = "xx"
    bad.loc[7, "id"] = bad.loc[8, "id"]
    bad["income"] = bad["income"] + 25  # shifted: range and drift
    result = validate(bad, contract)
    assert set(result.failures["column"]) == {"age", "country", "id", "income"}
    country = result.failures[result.failures["column"] == "country"]
    assert country.iloc[0].to_dict() | {} == {
        "column": "country",
        "check": "expect_column_values_to_be_in_set",
        "failing_value": "xx",
        "row_index": 3,
        "count": 2,
    }
    checks = set(result.failures.loc[result.failures["column"] == "income", "check"])
    assert "expect_column_drift_to_be_below" in checks


def test_serving_environment_drops_the_label(frame, contract) -> None:
    serving = frame.drop(columns="churned")
    assert validate(serving, contract, environment="serving").success
    everything = validate(serving, contract)
    assert set(everything.failures["column"].dropna()) == {"churned"}
    served = {r.column for r in validate(serving, contract, environment="serving").results}
    assert "churned" not in served


def test_infer_with_extra_environments_and_bad_label(frame) -> None:
    contract = infer_contract(frame, environments={"batch": ["note"]})
    assert contract.environments == {"batch": ["note"]}
    with pytest.raises(InvalidInput, match="label='target' is not a column"):
        infer_contract(frame, label="target")


def test_inferred_contract_survives_json(contract, frame) -> None:
    again = Contract.from_json(contract.to_json())
    assert again.digest == contract.digest
    assert validate(frame, again).success
