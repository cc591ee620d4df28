"""Cache keys of a large input: the content hash of a 1,000,000 x 20 DataFrame.

Prefect users report 20 s hashes and cache misses on DataFrames (prefect#17547, prefect#3276).
Perennia's pipeline hasher (`perennia.automation.pipeline.hashing.frame_hash`: sha256 over each
column's buffer, on threads, with names, dtypes and a non-default index) against the two usual
alternatives on the same frame in the same process: `joblib.hash` (what scikit-learn's memory
cache uses) and a naive key, sha256 of the pickled frame. Medians of BENCH_REPEATS runs.
"""

from __future__ import annotations

import hashlib
import os
import pickle

from common import Result, emit, median_seconds

ROWS = int(os.environ.get("BENCH_HASH_ROWS", "1000000"))


def _frame():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {f"f{i}": rng.normal(size=ROWS) for i in range(16)}
    columns.update({f"i{i}": rng.integers(0, 10_000, ROWS) for i in range(3)})
    columns["label"] = rng.choice(["fraud", "ok", "review"], ROWS)  # one text column
    return pd.DataFrame(columns)


def main() -> list[Result]:
    """Return the hasher's median time against joblib.hash and pickle + sha256."""
    import joblib

    from perennia.automation.pipeline.hashing import frame_hash

    frame = _frame()
    assert frame_hash(frame) == frame_hash(frame.copy())  # a key, not a timer of random work
    ours = median_seconds(lambda: frame_hash(frame))
    anchors = [
        ("joblib.hash", median_seconds(lambda: joblib.hash(frame))),
        (
            "pickle + sha256",
            median_seconds(lambda: hashlib.sha256(pickle.dumps(frame, protocol=5)).hexdigest()),
        ),
    ]
    size = frame.memory_usage(deep=True).sum() / 2**20
    return [
        Result(
            f"hash a {ROWS:,} x 20 DataFrame",
            ours,
            seconds,
            "s",
            name,
            "faster than the anchor",
            ours < seconds,
            f"{size:.0f} MiB in memory (16 float, 3 int, 1 text column)",
        )
        for name, seconds in anchors
    ]


if __name__ == "__main__":
    emit(main())
