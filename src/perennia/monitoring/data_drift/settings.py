"""How `drift` chooses its tests and decides: the stated thresholds, in one place.

Per column kind, one test gives the p-value and one effect size gates the decision:

=============  ==================================  ===========================  ========
kind           test (p-value, two-sided)           effect that must also pass   default
=============  ==================================  ===========================  ========
numeric        Kolmogorov-Smirnov                  Wasserstein / reference std   0.05
categorical    chi-square on the 2 x k table       Cramér's V                    0.05
binary         two-proportion z (= 2 x 2 chi-sq)   Cramér's V (= abs(phi))       0.05
=============  ==================================  ===========================  ========

A column drifts when its test is rejected by Benjamini-Hochberg at `alpha` across every test
of the report (column tests and missing-share tests) AND its effect reaches the threshold. With
a million rows a KS test flags a shift of a hundredth of a standard deviation; the effect
gate keeps such trivial shifts from being called drift, while a 0.1 sd shift (effect 0.1)
still is. New categories are drift on their own once their combined share of the current data
reaches `new_category_share` (and the test is rejected).

Kinds are chosen from the reference column's type only, never by hashing values: booleans are
binary; integers whose reference range is two adjacent values (0/1 flags) are binary; other
numbers are numeric; anything else (text, categoricals) is categorical. `categorical=` and
`numeric=` override per column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput

NUMERIC_METHODS = (
    "ks",
    "wasserstein",
    "psi",
    "jensen_shannon",
    "hellinger",
    "energy",
    "cramer_von_mises",
    "anderson_darling",
)
CATEGORICAL_METHODS = (
    "chi_square",
    "g_test",
    "two_proportions",
    "psi",
    "jensen_shannon",
    "hellinger",
)
AUTO_NUMERIC = ("ks", "wasserstein", "psi")
AUTO_CATEGORICAL = ("chi_square", "jensen_shannon", "psi")
AUTO_BINARY = ("two_proportions", "chi_square", "psi")


@dataclass(frozen=True)
class DriftSettings:
    """The decision thresholds of a drift report (see the module's table)."""

    alpha: float = 0.05
    min_wasserstein: float = 0.05
    min_cramers_v: float = 0.05
    new_category_share: float = 0.01
    min_null_share_change: float = 0.01
    max_out_of_range_share: float = 0.01
    psi_bins: int = 10
    shared_bins: int = 20

    def __post_init__(self) -> None:
        if not _number(self.alpha) or not 0 < self.alpha < 1:
            raise InvalidInput(f"alpha must be strictly between 0 and 1, got {self.alpha!r}")
        for name in (
            "min_wasserstein",
            "min_cramers_v",
            "new_category_share",
            "min_null_share_change",
            "max_out_of_range_share",
        ):
            value = getattr(self, name)
            if not _number(value) or not math.isfinite(value) or value < 0:
                raise InvalidInput(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("psi_bins", "shared_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
                raise InvalidInput(f"{name} must be an integer in [1, 10000], got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-able dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class MethodChoice:
    """The extra statistics to report per column kind, besides the deciding test and effect."""

    numeric: tuple[str, ...] = AUTO_NUMERIC
    categorical: tuple[str, ...] = AUTO_CATEGORICAL
    per_column: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def for_column(self, column: str, kind: str) -> tuple[str, ...]:
        """Return the methods to compute for `column` of `kind`."""
        if column in self.per_column:
            return self.per_column[column]
        if kind == "numeric":
            return self.numeric
        return (
            AUTO_BINARY
            if kind == "binary" and self.categorical == AUTO_CATEGORICAL
            else (self.categorical)
        )


def parse_methods(methods: Any) -> MethodChoice:
    """Return the method choice for `methods`: "auto", a list for every column, or a dict.

    A dict maps "numeric", "categorical" or a column name to a list of method names.
    """
    if methods is None or methods == "auto":
        return MethodChoice()
    if isinstance(methods, str):
        return MethodChoice(
            numeric=_checked([methods], NUMERIC_METHODS + CATEGORICAL_METHODS),
            categorical=_checked([methods], NUMERIC_METHODS + CATEGORICAL_METHODS),
        )
    if isinstance(methods, Mapping):
        numeric = _checked(methods.get("numeric", AUTO_NUMERIC), NUMERIC_METHODS, "numeric")
        categorical = _checked(
            methods.get("categorical", AUTO_CATEGORICAL), CATEGORICAL_METHODS, "categorical"
        )
        per_column = {
            str(name): _checked(value, NUMERIC_METHODS + CATEGORICAL_METHODS, str(name))
            for name, value in methods.items()
            if name not in ("numeric", "categorical")
        }
        return MethodChoice(numeric, categorical, per_column)
    if isinstance(methods, Iterable):
        names = list(methods)
        return MethodChoice(
            numeric=tuple(
                n
                for n in _checked(names, NUMERIC_METHODS + CATEGORICAL_METHODS)
                if n in NUMERIC_METHODS
            ),
            categorical=tuple(
                n
                for n in _checked(names, NUMERIC_METHODS + CATEGORICAL_METHODS)
                if n in CATEGORICAL_METHODS
            ),
        )
    raise InvalidInput(
        f"methods must be 'auto', a list of method names or a dict, got {type(methods).__name__}"
    )


def _checked(names: Any, allowed: tuple[str, ...], where: str = "methods") -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        names = [names]
    result = []
    for name in names:
        if name not in allowed:
            raise InvalidInput(
                f"unknown drift method {name!r} for {where}; choose from {', '.join(sorted(set(allowed)))}"
            )
        result.append(name)
    return tuple(dict.fromkeys(result))


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))
