"""Two-sample tests for categorical columns on the 2 x k contingency table of both samples.

The reference is a sample, not the truth: the tests compare the two samples' counts against
the expected counts under one pooled distribution (as scipy's chi2_contingency does), rather
than treating the reference's shares as exact, which is anti-conservative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.stats.result import TestResult, categorical_sample

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class CategoryChanges:
    """Categories only in the current sample (`new`, with their current share) and only in the
    reference (`vanished`, with their reference share), each ordered by share, largest first."""

    new: dict[Any, float]
    vanished: dict[Any, float]


def chi_square(ref: Any, cur: Any) -> TestResult:
    """Return Pearson's two-sample chi-square test of homogeneity; effect = Cramér's V."""
    return chi_square_table(_category_counts(ref, cur)[1])


def g_test(ref: Any, cur: Any) -> TestResult:
    """Return the two-sample G-test (log-likelihood ratio); effect = Cramér's V from Pearson's chi-square."""
    return g_test_table(_category_counts(ref, cur)[1])


def chi_square_table(observed: np.ndarray) -> TestResult:
    """Return `chi_square` from a 2 x k table of counts (row 0 ref, row 1 cur, no empty column)."""
    from scipy.stats import chi2

    expected = _expected(observed)
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return _result(statistic, chi2, observed, expected, "chi_square")


def g_test_table(observed: np.ndarray) -> TestResult:
    """Return `g_test` from a 2 x k table of counts (row 0 ref, row 1 cur, no empty column)."""
    from scipy.special import xlogy
    from scipy.stats import chi2

    expected = _expected(observed)
    statistic = float(2.0 * xlogy(observed, observed / expected).sum())
    return _result(statistic, chi2, observed, expected, "g_test")


def two_proportions(ref: Any, cur: Any) -> TestResult:
    """Return the pooled two-sided two-proportion z-test; effect = share(cur) - share(ref).

    The column must hold at most two distinct values across both samples; the share is that
    of the larger value in sort order (True, 1, or the later string).
    """
    import numpy as np

    values, counts = _category_counts(ref, cur)
    if values.size > 2:
        raise InvalidInput(
            f"two_proportions needs a binary column, got {values.size} distinct values"
        )
    n_ref, n_cur = counts.sum(axis=1)
    hits = counts[:, -1] if values.size == 2 else np.zeros(2)
    return two_proportions_counts(float(hits[0]), float(n_ref), float(hits[1]), float(n_cur))


def two_proportions_counts(
    hits_ref: float, n_ref: float, hits_cur: float, n_cur: float
) -> TestResult:
    """Return `two_proportions` from the counts of hits and of rows in each sample (both > 0 rows)."""
    import math

    from scipy.stats import norm

    share_ref, share_cur = hits_ref / n_ref, hits_cur / n_cur
    pooled = (hits_ref + hits_cur) / (n_ref + n_cur)
    effect = float(share_cur - share_ref)
    variance = pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur)
    if variance == 0:
        # Every value in both samples is the same: no difference to test.
        return TestResult(statistic=0.0, p_value=1.0, effect=effect, method="two_proportions")
    z = effect / math.sqrt(variance)
    p_value = float(2.0 * norm.sf(abs(z)))
    return TestResult(statistic=float(z), p_value=p_value, effect=effect, method="two_proportions")


def new_and_vanished(ref: Any, cur: Any, min_share: float = 0.0) -> CategoryChanges:
    """Return the categories present in one sample only, with shares of at least `min_share`."""
    if isinstance(min_share, bool) or not isinstance(min_share, (int, float)):
        raise InvalidInput(f"min_share must be a number in [0, 1], got {min_share!r}")
    if not 0.0 <= min_share <= 1.0:
        raise InvalidInput(f"min_share must be a number in [0, 1], got {min_share!r}")
    values, counts = _category_counts(ref, cur)
    shares = counts / counts.sum(axis=1, keepdims=True)
    new = _listed(values, shares[1], (counts[0] == 0) & (shares[1] >= min_share))
    vanished = _listed(values, shares[0], (counts[1] == 0) & (shares[0] >= min_share))
    return CategoryChanges(new=new, vanished=vanished)


def _listed(values: np.ndarray, shares: np.ndarray, keep: np.ndarray) -> dict[Any, float]:
    import numpy as np

    chosen = np.flatnonzero(keep)
    order = chosen[np.argsort(-shares[chosen], kind="stable")]
    return {
        values[i].item() if hasattr(values[i], "item") else values[i]: float(shares[i])
        for i in order
    }


def _category_counts(ref: Any, cur: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted union of categories and a 2 x k count table (row 0 ref, row 1 cur)."""
    import numpy as np

    a = categorical_sample(ref, "ref")
    b = categorical_sample(cur, "cur")
    try:
        values, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    except TypeError:
        raise InvalidInput("ref and cur must hold categories of one comparable type") from None
    k = values.size
    counts = np.stack(
        [np.bincount(codes[: a.size], minlength=k), np.bincount(codes[a.size :], minlength=k)]
    ).astype(np.float64)
    return values, counts


def _expected(observed: np.ndarray) -> np.ndarray:
    """Return the expected counts of a 2 x k table under one pooled distribution."""
    # Every category appears in at least one sample, so no expected count is zero.
    return observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()


def _result(
    statistic: float, chi2: Any, observed: np.ndarray, expected: np.ndarray, method: str
) -> TestResult:
    import math

    dof = observed.shape[1] - 1
    if dof == 0:
        # One category in both samples: the distributions are identical.
        return TestResult(statistic=0.0, p_value=1.0, effect=0.0, method=method)
    pearson = float(((observed - expected) ** 2 / expected).sum())
    # Cramér's V for a 2 x k table: sqrt(chi2 / (n * (min(2, k) - 1))) = sqrt(chi2 / n).
    effect = math.sqrt(pearson / float(observed.sum()))
    p_value = float(chi2.sf(statistic, dof))
    return TestResult(statistic=statistic, p_value=p_value, effect=effect, method=method)
