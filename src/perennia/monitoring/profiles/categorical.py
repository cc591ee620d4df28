"""A categorical column's profile: exact counts per category (up to a cap), missing values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_CATEGORIES = 10_000
OTHER = "(other)"


@dataclass(frozen=True)
class CategoricalProfile:
    """Counts per category, most frequent first. Past `MAX_CATEGORIES`, the rarest categories
    are pooled under `OTHER` and `exact` is False (tests against it are then approximate)."""

    counts: dict[Any, int]
    missing: int
    kind: str = "categorical"  # or "binary"
    exact: bool = True

    @property
    def count(self) -> int:
        """Return the number of non-missing values."""
        return sum(self.counts.values())

    @property
    def distinct(self) -> int:
        """Return the number of distinct categories kept (exact unless `exact` is False)."""
        return len(self.counts)

    def frequent(self, k: int = 20) -> list[tuple[Any, int]]:
        """Return the k most frequent categories and their counts."""
        return list(self.counts.items())[:k]

    def as_counts(self) -> tuple[list[Any], Any, int]:
        """Return (categories, counts array, missing), the shape `category_counts` gives."""
        import numpy as np

        return list(self.counts), np.fromiter(self.counts.values(), dtype=np.int64), self.missing

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as a JSON-able dict; categories keep their JSON type."""
        return {
            "kind": self.kind,
            "categories": list(self.counts),
            "category_counts": list(self.counts.values()),
            "missing": self.missing,
            "exact": self.exact,
        }


def categorical_profile(
    labels: list[Any], counts: Any, missing: int, kind: str = "categorical"
) -> CategoricalProfile:
    """Return the profile of `category_counts` output (labels, counts, missing)."""
    return _capped(
        {label: int(n) for label, n in zip(labels, counts, strict=True)}, missing, kind, True
    )


def merge_categorical(a: CategoricalProfile, b: CategoricalProfile) -> CategoricalProfile:
    """Return the profile of both profiles' values (exact while under the cap)."""
    merged = dict(a.counts)
    for label, n in b.counts.items():
        merged[label] = merged.get(label, 0) + n
    kind = a.kind if a.kind == b.kind else "categorical"
    return _capped(merged, a.missing + b.missing, kind, a.exact and b.exact)


def _capped(counts: dict[Any, int], missing: int, kind: str, exact: bool) -> CategoricalProfile:
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    if len(ordered) > MAX_CATEGORIES:
        kept = dict(ordered[: MAX_CATEGORIES - 1])
        kept[OTHER] = kept.get(OTHER, 0) + sum(n for _, n in ordered[MAX_CATEGORIES - 1 :])
        return CategoricalProfile(kept, missing, kind, False)
    return CategoricalProfile(dict(ordered), missing, kind, exact)
