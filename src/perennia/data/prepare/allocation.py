"""How many rows each part of a split gets: whole numbers that add up and stay close to the fractions.

`part_sizes` is the largest-remainder method. `stratified_sizes` rounds the class-by-part matrix
`class_count * fraction` so that every cell is the floor or the ceiling of its exact value (each
class within one row of exact in every part) *and* every part's total is its overall size. Rounding
each class alone cannot do both: with 1,000 classes of 3 rows and fractions 0.8/0.1/0.1, every class
rounds to 3/0/0 and validation and test come out empty. The matrix rounding is a small flow
problem (classes give their leftover rows to parts, at most one per part), solved with SciPy's
maximum flow; 2-D controlled rounding of this kind always has a solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def part_sizes(total: int, fractions: Sequence[float]) -> list[int]:
    """Return integer sizes summing to `total`, each the floor or ceiling of total * fraction."""
    import numpy as np

    exact = np.asarray(fractions, dtype=float) * total
    sizes = np.floor(exact).astype(np.int64)
    leftover = int(total - sizes.sum())
    # Largest remainder first; a stable sort gives ties to the earlier part, so the rule is fixed.
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:leftover]] += 1
    return [int(size) for size in sizes]


def stratified_sizes(class_counts: Sequence[int], fractions: Sequence[float]) -> Any:
    """Return a (classes x parts) int array: rows sum to class counts, columns to `part_sizes`."""
    import numpy as np

    counts = np.asarray(class_counts, dtype=np.int64)
    fractions = np.asarray(fractions, dtype=float)
    exact = counts[:, None] * fractions[None, :]
    base = np.floor(exact).astype(np.int64)
    targets = np.asarray(part_sizes(int(counts.sum()), fractions), dtype=np.int64)
    supply = counts - base.sum(axis=1)  # rows each class still has to place
    demand = targets - base.sum(axis=0)  # rows each part still needs (never negative)
    if supply.sum() == 0:
        return base
    extra = _distribute(supply, demand, exact - base > 1e-9)
    if extra is None:
        # Only reachable through floating-point edge cases: allow any cell to take one extra row.
        extra = _distribute(supply, demand, np.ones_like(base, dtype=bool))
    return base + extra


def _distribute(supply: Any, demand: Any, allowed: Any) -> Any | None:
    """Return a 0/1 matrix with row sums `supply` and column sums `demand` on `allowed` cells, or None."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    classes, parts = allowed.shape
    source, sink = classes + parts, classes + parts + 1
    cls, part = np.nonzero(allowed)
    giving = np.nonzero(supply)[0]
    taking = np.nonzero(demand)[0]
    tails = np.concatenate([np.full(len(giving), source), cls, classes + taking])
    heads = np.concatenate([giving, classes + part, np.full(len(taking), sink)])
    caps = np.concatenate([supply[giving], np.ones(len(cls), np.int64), demand[taking]])
    graph = csr_matrix((caps.astype(np.int32), (tails, heads)), shape=(sink + 1, sink + 1))
    result = maximum_flow(graph, source, sink)
    if result.flow_value != int(supply.sum()):
        return None
    flow = result.flow.tocoo()
    extra = np.zeros(allowed.shape, dtype=np.int64)
    inner = (flow.row < classes) & (flow.col >= classes) & (flow.col < source) & (flow.data > 0)
    extra[flow.row[inner], flow.col[inner] - classes] = flow.data[inner]
    return extra
