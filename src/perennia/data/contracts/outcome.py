"""What one expectation observed: success, counts, and a capped sample of its failing values.

Row-level outcomes follow Great Expectations' conventions: nulls are neither expected nor
unexpected (they are left out of the count the percentages and `mostly=` are taken over), except
in the null expectations themselves; with no non-null value a row-level expectation succeeds.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Failing values kept per expectation (the most frequent first), as pandera's n_failure_cases:
# a column where every row fails must not turn into a 10M-row failure table.
MAX_EXAMPLES = 20


@dataclass
class Outcome:
    """The raw result of running one expectation on one table."""

    success: bool
    observed: Any = None
    element_count: int = 0
    missing_count: int = 0
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def failed(observed: Any, rows: int = 0, **details: Any) -> Outcome:
    """Return a failed outcome that counts no rows (a missing column, an unusable type)."""
    return Outcome(False, observed=observed, element_count=rows, details=details)


def judged(
    bad: Any,
    considered: int,
    rows: int,
    mostly: float,
    fetch: Callable[[Any], Any] | None,
) -> Outcome:
    """Return the outcome of a row-level check from its mask of unexpected rows.

    `considered` is how many rows were judged (the non-null ones); `fetch(indices)` returns the
    failing values at those row positions, or None for checks without a value to show.
    """
    import numpy as np

    unexpected = int(np.count_nonzero(bad))
    passing = 1.0 if considered == 0 else (considered - unexpected) / considered
    outcome = Outcome(
        success=passing >= mostly,
        observed=passing,
        element_count=rows,
        missing_count=rows - considered,
        unexpected_count=unexpected,
        unexpected_percent=0.0 if considered == 0 else 100.0 * unexpected / considered,
    )
    if unexpected:
        index = np.flatnonzero(bad)
        values = fetch(index) if fetch is not None else None
        outcome.examples = summarise(index, values)
    return outcome


def summarise(index: Any, values: Any) -> list[dict[str, Any]]:
    """Return up to MAX_EXAMPLES distinct failing values with first row and count, most frequent first."""
    import numpy as np

    if values is None:
        first = index[:MAX_EXAMPLES]
        return [{"value": None, "row_index": int(i), "count": 1} for i in first]
    codes, uniques = _factorize(values)
    counts = np.bincount(codes, minlength=len(uniques))
    # factorize numbers values in order of first appearance, so code k first appears at the
    # k-th position where the running maximum grows.
    grows = np.empty(codes.size, dtype=bool)
    grows[0] = True
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=grows[1:])
    first = index[grows]
    keep = np.argsort(-counts, kind="stable")[:MAX_EXAMPLES]
    return [
        {"value": plain(uniques[k]), "row_index": int(first[k]), "count": int(counts[k])}
        for k in keep
    ]


def _factorize(values: Any) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    values = np.asarray(values)
    if values.ndim != 1:
        values = np.fromiter(map(tuple, values), dtype=object, count=len(values))
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, np.asarray(uniques, dtype=object)


def plain(value: Any) -> Any:
    """Return a JSON-friendly Python value: numpy scalars unwrapped, NaN as None, times as ISO text."""
    import numpy as np

    if isinstance(value, np.datetime64):
        import pandas as pd

        return None if np.isnat(value) else str(pd.Timestamp(value).isoformat())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
        return str(value)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
