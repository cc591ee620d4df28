"""`validate(data, contract)`: run each expectation once over numpy/Arrow views of the columns.

The data is never copied as a frame: `Columns` converts a column the first time an expectation
reads it and keeps it for the next one, so ten expectations on one column cost one conversion.
"""

from __future__ import annotations

from typing import Any

from perennia.data.contracts.columns import Columns
from perennia.data.contracts.contract import CUSTOM, Contract, Expectation
from perennia.data.contracts.drift import drift
from perennia.data.contracts.outcome import Outcome, failed
from perennia.data.contracts.result import ExpectationResult, ValidationResult
from perennia.data.contracts.row_checks import ROW_CHECKS, custom
from perennia.data.contracts.table_checks import TABLE_CHECKS
from perennia.errors import InvalidInput

DRIFT = "expect_column_drift_to_be_below"


def validate(data: Any, contract: Contract, *, environment: str | None = None) -> ValidationResult:
    """Return the result of checking `data` (pandas, polars, Arrow or a mapping of columns) against `contract`."""
    if not isinstance(contract, Contract):
        raise InvalidInput(f"contract must be a Contract, got {type(contract).__name__}")
    absent = contract.absent_in(environment)
    cols = Columns(data)
    results = [
        _result(expectation, run(expectation, cols, contract, absent))
        for expectation in contract.expectations_for(environment)
    ]
    return ValidationResult(
        results=results,
        environment=environment,
        contract_digest=contract.digest,
        contract_name=contract.name,
        row_count=cols.rows,
    )


def run(expectation: Expectation, cols: Columns, contract: Contract, absent: list[str]) -> Outcome:
    """Return the outcome of one expectation on the table (a missing column is a failure)."""
    kind, kw = expectation.type, expectation.kwargs
    missing = [c for c in expectation.columns if not cols.has(c)]
    if missing and kind != "expect_column_to_exist":
        return failed(None, cols.rows, missing_columns=missing)
    if kind in ROW_CHECKS:
        return ROW_CHECKS[kind](kw, cols, expectation.mostly)
    if kind in TABLE_CHECKS:
        return TABLE_CHECKS[kind](kw, cols, absent)
    if kind == DRIFT:
        return drift(kw, cols, absent)
    if kind == CUSTOM:
        return custom(kw, cols, expectation.mostly, contract.check_function(kw["check"]))
    raise InvalidInput(f"expectation {kind!r} has no implementation")  # pragma: no cover


def _result(expectation: Expectation, outcome: Outcome) -> ExpectationResult:
    columns = expectation.columns
    return ExpectationResult(
        name=expectation.type,
        column=",".join(columns) if columns else None,
        success=outcome.success,
        unexpected_count=outcome.unexpected_count,
        unexpected_percent=outcome.unexpected_percent,
        observed=outcome.observed,
        element_count=outcome.element_count,
        missing_count=outcome.missing_count,
        kwargs=expectation.kwargs,
        examples=outcome.examples,
        details=outcome.details,
    )
