"""Validation contracts: row/column expectations and distribution expectations in one object.

    contract = infer_contract(train, label="churned")      # propose one from data, then edit it
    contract.expect("expect_column_values_to_be_between", column="age", min_value=0, mostly=0.99)
    result = validate(batch, contract, environment="serving")
    result.success, result.failures                       # failures: one row per check and value
    result.log()                                           # metrics, tag, page and JSON on the run

Expectations keep Great Expectations' names and `mostly=`; nulls are left out of every
row-level expectation except the null one (as Great Expectations does). Environments and the
drift comparators are TFDV's.
"""

from __future__ import annotations

from perennia.data.contracts.contract import Contract, Expectation
from perennia.data.contracts.drift import DEFAULT_THRESHOLDS
from perennia.data.contracts.infer import infer_contract
from perennia.data.contracts.result import ExpectationResult, ValidationResult
from perennia.data.contracts.spec import SPECS
from perennia.data.contracts.validate import validate

EXPECTATIONS = tuple(sorted(SPECS))

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EXPECTATIONS",
    "Contract",
    "Expectation",
    "ExpectationResult",
    "ValidationResult",
    "infer_contract",
    "validate",
]
