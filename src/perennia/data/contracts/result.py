"""The answer of `validate`: per-expectation results, failures as rows, HTML, and the run record."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from perennia.data.contracts.outcome import plain

FAILURE_COLUMNS = ["column", "check", "failing_value", "row_index", "count"]


@dataclass
class ExpectationResult:
    """What one expectation found: success, counts over the considered rows, and what it observed."""

    name: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    observed: Any
    element_count: int = 0
    missing_count: int = 0
    kwargs: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (the reference profile of a drift check left out)."""
        kwargs = {k: v for k, v in self.kwargs.items() if k != "reference"}
        return {
            "name": self.name,
            "column": self.column,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "observed": plain(self.observed),
            "element_count": self.element_count,
            "missing_count": self.missing_count,
            "kwargs": kwargs,
            "examples": [{k: plain(v) for k, v in e.items()} for e in self.examples],
            "details": {k: plain(v) for k, v in self.details.items()},
        }


@dataclass
class ValidationResult:
    """Every expectation's result for one table, in the contract's order."""

    results: list[ExpectationResult]
    environment: str | None = None
    contract_digest: str = ""
    contract_name: str | None = None
    row_count: int = 0

    @property
    def success(self) -> bool:
        """Return True when every expectation succeeded."""
        return all(r.success for r in self.results)

    @property
    def failed(self) -> list[ExpectationResult]:
        """Return the results that did not succeed."""
        return [r for r in self.results if not r.success]

    @cached_property
    def failures(self) -> Any:
        """Return a pandas DataFrame, one row per failing check and value (capped per check).

        Columns: column, check, failing_value, row_index (first row holding the value), count
        (rows failing with it). A check with no single value to show (a mean, a missing column)
        has one row with its observed value and no row index.
        """
        import pandas as pd

        rows = []
        for result in self.failed:
            if not result.examples:
                rows.append(
                    (
                        result.column,
                        result.name,
                        plain(result.observed),
                        None,
                        result.unexpected_count,
                    )
                )
                continue
            for example in result.examples:
                column = example.get("column", result.column)
                rows.append(
                    (column, result.name, example["value"], example["row_index"], example["count"])
                )
        frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS, dtype=object)
        for name in ("row_index", "count"):
            frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Return the whole result as a JSON-ready dict."""
        return {
            "success": self.success,
            "environment": self.environment,
            "contract_digest": self.contract_digest,
            "contract_name": self.contract_name,
            "row_count": self.row_count,
            "statistics": {
                "evaluated_expectations": len(self.results),
                "successful_expectations": len(self.results) - len(self.failed),
                "unsuccessful_expectations": len(self.failed),
            },
            "results": [r.to_dict() for r in self.results],
        }

    def to_html(self) -> str:
        """Return the result as a self-contained HTML page."""
        from perennia.data.contracts.html import render

        return render(self.to_dict())

    def log(self, run_id: str | None = None) -> str:
        """Record the result on the run (the active one by default) and return the run id."""
        from perennia.data.contracts.record import log_result

        return log_result(self, run_id)

    def __repr__(self) -> str:
        return (
            f"ValidationResult(success={self.success}, expectations={len(self.results)},"
            f" failed={len(self.failed)}, rows={self.row_count})"
        )
