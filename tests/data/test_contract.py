"""The contract object: building, JSON round trips, the digest, environments and bad contracts."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.data.contracts import EXPECTATIONS, Contract, Expectation, validate
from perennia.errors import InvalidInput

NAMES = st.text("abcxyz_", min_size=1, max_size=6)
NUMBER = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def expectations(draw) -> Expectation:
    column = draw(NAMES)
    low = draw(NUMBER)
    mostly = draw(st.floats(0, 1))
    choices = [
        Expectation("expect_column_to_exist", column=column),
        Expectation(
            "expect_column_values_to_be_between",
            column=column,
            min_value=low,
            max_value=low + draw(st.floats(0, 10)),
            mostly=mostly,
        ),
        Expectation(
            "expect_column_values_to_be_in_set",
            column=column,
            value_set=draw(
                st.lists(st.one_of(NAMES, st.integers(), st.booleans(), st.none()), max_size=5)
            ),
        ),
        Expectation(
            "expect_column_values_to_match_regex",
            column=column,
            regex=draw(st.sampled_from([r"^\d+$", "a|b", ".*"])),
        ),
        Expectation("expect_table_row_count_to_be_between", min_value=draw(st.integers(0, 100))),
        Expectation(
            "expect_compound_columns_to_be_unique",
            column_list=draw(st.lists(NAMES, min_size=1, max_size=3)),
        ),
        Expectation(
            "expect_column_drift_to_be_below",
            column=column,
            metric="psi",
            threshold=draw(st.floats(0.01, 1)),
            reference={"kind": "numeric", "edges": [low], "proportions": [0.25, 0.75], "count": 4},
        ),
    ]
    return draw(st.sampled_from(choices))


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(expectations(), max_size=6),
    envs=st.dictionaries(NAMES, st.lists(NAMES, max_size=3), max_size=2),
    name=st.one_of(st.none(), NAMES),
)
def test_json_round_trip_is_exact(items, envs, name) -> None:
    contract = Contract(expectations=items, environments=envs, name=name, meta={"owner": "data"})
    again = Contract.from_json(contract.to_json())
    assert again == contract
    assert again.to_dict() == contract.to_dict()
    assert again.digest == contract.digest
    assert (
        Contract.from_dict(json.loads(json.dumps(contract.to_dict()))).to_json()
        == contract.to_json()
    )


def test_digest_is_sha256_of_the_canonical_json_and_follows_changes() -> None:
    contract = Contract(name="c").expect("expect_column_to_exist", column="a")
    canonical = json.dumps(contract.to_dict(), sort_keys=True, separators=(",", ":"))
    assert contract.digest == hashlib.sha256(canonical.encode()).hexdigest()
    before = contract.digest
    contract.expect("expect_column_values_to_not_be_null", column="a")
    assert contract.digest != before


def test_every_listed_expectation_is_known() -> None:
    wanted = {
        "expect_column_to_exist",
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_value_lengths_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_proportion_of_non_null_values_to_be_between",
        "expect_column_pair_values_A_to_be_greater_than_B",
        "expect_column_drift_to_be_below",
    }
    assert wanted <= set(EXPECTATIONS)


@pytest.mark.parametrize(
    ("name", "kwargs", "words"),
    [
        (
            "expect_column_values_to_be_purple",
            {"column": "a"},
            ["expect_column_values_to_be_purple", "accepted"],
        ),
        (
            "expect_column_values_to_be_between",
            {"column": "a", "min_value": "abc"},
            ["min_value='abc'", "finite number"],
        ),
        (
            "expect_column_values_to_be_between",
            {"column": "a", "min_value": 0, "mostly": 1.5},
            ["mostly=1.5", "[0, 1]"],
        ),
        (
            "expect_column_values_to_be_between",
            {"column": "a", "min_value": 0, "mostly": -0.1},
            ["mostly=-0.1"],
        ),
        ("expect_column_values_to_be_between", {"column": "a"}, ["min_value, max_value"]),
        (
            "expect_column_values_to_be_between",
            {"column": "a", "min_value": 3, "max_value": 1},
            ["greater than"],
        ),
        (
            "expect_column_values_to_be_in_set",
            {"column": "a"},
            ["missing required parameter 'value_set'"],
        ),
        (
            "expect_column_values_to_be_in_set",
            {"value_set": [1]},
            ["missing required parameter 'column'"],
        ),
        (
            "expect_column_values_to_be_of_type",
            {"column": "a", "type_": "complex"},
            ["type_='complex'", "integer, float"],
        ),
        (
            "expect_column_values_to_match_regex",
            {"column": "a", "regex": "("},
            ["regex='('", "regular expression"],
        ),
        (
            "expect_column_mean_to_be_between",
            {"column": "a", "min_value": 0, "mostly": 0.5},
            ["'mostly'", "row-level"],
        ),
        ("expect_column_to_exist", {"column": "a", "colum": "b"}, ["unknown parameter 'colum'"]),
        (
            "expect_table_row_count_to_be_between",
            {"min_value": 1.5},
            ["min_value=1.5", "non-negative integer"],
        ),
        (
            "expect_column_drift_to_be_below",
            {"column": "a", "metric": "kl", "threshold": 0.1, "reference": {}},
            ["metric='kl'", "jensen_shannon"],
        ),
        (
            "expect_column_drift_to_be_below",
            {
                "column": "a",
                "metric": "psi",
                "threshold": 0.1,
                "reference": {"kind": "numeric", "edges": [1], "proportions": [1]},
            },
            ["missing 'count'"],
        ),
    ],
)
def test_bad_expectations_name_the_field_and_what_is_accepted(name, kwargs, words) -> None:
    with pytest.raises(InvalidInput) as caught:
        Expectation(name, **kwargs)
    for word in words:
        assert word in str(caught.value)
    with pytest.raises(InvalidInput):
        Contract.from_dict({"expectations": [{"type": name, "kwargs": kwargs}]})


def test_bad_contract_shapes_are_refused() -> None:
    for data in (
        [],
        {"expectations": {}},
        {"format": "other/2"},
        {"expectation": []},
        {"environments": {"serving": "label"}},
    ):
        with pytest.raises(InvalidInput):
            Contract.from_dict(data)
    with pytest.raises(InvalidInput, match="does not parse"):
        Contract.from_json("{nope")


def test_custom_checks_are_saved_by_name_and_needed_again_on_load() -> None:
    contract = Contract().add_check("positive", lambda df: df["v"] > 0, column="v")
    text = contract.to_json()
    assert "positive" in text and "lambda" not in text
    with pytest.raises(
        InvalidInput, match=r"custom check 'positive' has no function; pass checks="
    ):
        Contract.from_json(text)
    loaded = Contract.from_json(text, checks={"positive": lambda df: df["v"] > 0})
    assert loaded == contract
    assert not validate(pd.DataFrame({"v": [1, -1]}), loaded).success


def test_environment_drops_the_expectations_on_its_absent_columns() -> None:
    contract = Contract(environments={"training": [], "serving": ["label"]})
    contract.expect("expect_table_columns_to_match_set", column_set=["x", "label"])
    contract.expect("expect_column_values_to_not_be_null", column="label")
    contract.expect("expect_column_values_to_not_be_null", column="x")
    serving = pd.DataFrame({"x": [1.0, 2.0]})
    assert validate(serving, contract, environment="serving").success
    training = validate(serving, contract, environment="training")
    assert {r.name for r in training.failed} == {
        "expect_table_columns_to_match_set",
        "expect_column_values_to_not_be_null",
    }
    assert len(validate(serving, contract).results) == 3
    with pytest.raises(
        InvalidInput, match="environment 'batch' is not in the contract; known: serving, training"
    ):
        validate(serving, contract, environment="batch")


def test_validate_refuses_what_is_not_a_table() -> None:
    with pytest.raises(InvalidInput, match="must be"):
        validate([1, 2, 3], Contract())
    with pytest.raises(InvalidInput, match="contract must be a Contract"):
        validate(pd.DataFrame({"a": [1]}), {"expectations": []})
