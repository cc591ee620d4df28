"""One categorical (or binary) column's drift from the 2 x k table of both samples' counts."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from perennia._util import distances
from perennia.monitoring.data_drift.numeric_column import _missing
from perennia.monitoring.data_drift.report import ColumnDrift
from perennia.monitoring.stats.categorical import (
    chi_square_table,
    g_test_table,
    two_proportions_counts,
)
from perennia.monitoring.stats.result import TestResult

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PLOT_CATEGORIES = 12


def category_counts(series: pd.Series) -> tuple[list[Any], np.ndarray, int]:
    """Return (categories, their counts, missing count) of a column, by hashing it once."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    return [_plain(value) for value in uniques], counts[1:], int(counts[0])


def categorical_drift(
    name: str,
    kind: str,
    ref: tuple[list[Any], np.ndarray, int],
    cur: tuple[list[Any], np.ndarray, int],
    methods: tuple[str, ...],
) -> ColumnDrift:
    """Return the drift entry of a categorical or binary column from `category_counts` of each side."""
    import numpy as np

    labels, table = _aligned(ref, cur)
    ok_ref, ok_cur = int(table[0].sum()), int(table[1].sum())
    base = _missing(name, kind, ok_ref + ref[2], ok_ref, ok_cur + cur[2], ok_cur)
    if not base.computable:
        return base
    chi = chi_square_table(table)
    scores = {"chi_square": chi}
    test = chi
    # A 0/1 flag whose current data brings a third value is no longer binary: chi-square decides.
    if kind == "binary" and table.shape[1] <= 2:
        hits = table[:, -1] if table.shape[1] == 2 else np.zeros(2)
        test = two_proportions_counts(hits[0], ok_ref, hits[1], ok_cur)
        scores["two_proportions"] = test
    p, q = table[0] / ok_ref, table[1] / ok_cur
    extra = {
        "g_test": lambda: g_test_table(table),
        "psi": lambda: _distance("psi", distances.psi(p, q)),
        "jensen_shannon": lambda: _distance("jensen_shannon", distances.jensen_shannon(p, q)),
        "hellinger": lambda: _distance("hellinger", _hellinger(p, q)),
    }
    for method in methods:
        if method in extra and method not in scores:
            scores[method] = extra[method]()
    new = {labels[i]: float(q[i]) for i in np.argsort(-q) if table[0, i] == 0 and table[1, i] > 0}
    vanished = {
        labels[i]: float(p[i]) for i in np.argsort(-p) if table[1, i] == 0 and table[0, i] > 0
    }
    keep = set(methods) | {test.method}
    return replace(
        base,
        test=test,
        effect_name="cramers_v",
        effect=chi.effect,
        scores={k: v for k, v in scores.items() if k in keep},
        new_categories=new,
        vanished_categories=vanished,
        plot=_plot(labels, p, q),
    )


def _aligned(
    ref: tuple[list[Any], np.ndarray, int], cur: tuple[list[Any], np.ndarray, int]
) -> tuple[list[Any], np.ndarray]:
    """Return the union of both sides' categories and the 2 x k table of their counts."""
    import numpy as np

    labels = list(ref[0])
    position = {_key(value): i for i, value in enumerate(labels)}
    cur_positions = []
    for value in cur[0]:
        key = _key(value)
        if key not in position:
            position[key] = len(labels)
            labels.append(value)
        cur_positions.append(position[key])
    table = np.zeros((2, len(labels)), dtype=np.float64)
    table[0, : len(ref[0])] = ref[1]
    np.add.at(table[1], np.asarray(cur_positions, dtype=np.int64), cur[1])
    return labels, table


def _key(value: Any) -> tuple[str, Any]:
    # True == 1 in Python: key booleans apart, so a boolean and an integer stay two categories.
    if isinstance(value, bool):
        return ("bool", value)
    # 1 and 1.0 are one category: a 0/1 flag with a null is read as floats (pandas, Arrow).
    if isinstance(value, (int, float)):
        return ("number", value)
    # Other labels by their text: a stored profile keeps dates and the like as their text.
    return ("text", str(value))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _distance(method: str, value: float) -> TestResult:
    return TestResult(value, None, value, method)


def _hellinger(p: np.ndarray, q: np.ndarray) -> float:
    import numpy as np

    return float(np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum() / 2.0))


def _plot(labels: list[Any], p: np.ndarray, q: np.ndarray) -> dict[str, list[Any]]:
    """Return the shares of the most common categories (either side), the rest as "other"."""
    import numpy as np

    order = np.argsort(-np.maximum(p, q), kind="stable")[:PLOT_CATEGORIES]
    names = [str(labels[i]) for i in order]
    ref, cur = p[order].tolist(), q[order].tolist()
    if len(labels) > PLOT_CATEGORIES:
        names.append("(other)")
        ref.append(max(0.0, 1.0 - sum(ref)))
        cur.append(max(0.0, 1.0 - sum(cur)))
    return {"labels": names, "ref": ref, "cur": cur}
