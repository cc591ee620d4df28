"""What a second dataset version costs: new bytes stored when 1% of a 5M-row table changes.

The issue's acceptance: the second version of a large table with 1% changed stores about 1%
new bytes. One table of 5,000,000 rows (five columns, about 120 MB of Parquet) is snapshotted,
then three second versions against it: 1% of rows appended, 1% of rows changed in one region,
and, for the record, 1% of rows changed at random places (content-defined chunks cannot help
there: every chunk holds a changed row). The anchor column is the bytes a full copy stores.
"""

from __future__ import annotations

import os
import shutil

from common import Result, emit, fresh_dir

ROWS = int(os.environ.get("BENCH_DEDUP_ROWS", "5000000"))


def _table(rows: int, start: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + rows),
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 1000, rows),
            "c": rng.choice(["x", "y", "z"], rows),
            "d": rng.normal(size=rows),
        }
    )


def main() -> list[Result]:
    """Return the new-bytes share of each kind of second version."""
    import numpy as np
    import pandas as pd

    from perennia.artifacts.local import LocalBlobStore
    from perennia.data.snapshots import write_snapshot

    folder = fresh_dir("dedup")
    blobs = LocalBlobStore(str(folder))
    base = _table(ROWS, 0, 0)
    first = write_snapshot(blobs, base)
    region = base.copy()
    middle = ROWS // 2
    region.loc[middle : middle + ROWS // 100 - 1, "a"] += 1.0
    scattered = base.copy()
    rows = np.random.default_rng(1).choice(ROWS, ROWS // 100, replace=False)
    scattered.loc[rows, "a"] += 1.0
    cases = [
        (
            "1% rows appended",
            pd.concat([base, _table(ROWS // 100, ROWS, 2)], ignore_index=True),
            0.02,
        ),
        ("1% rows changed in one region", region, 0.03),
        ("1% rows changed at random", scattered, None),
    ]
    results = []
    for label, frame, limit in cases:
        second = write_snapshot(blobs, frame, previous=first.digest)
        share = second.new_bytes / second.size_bytes
        results.append(
            Result(
                f"dataset v2, {label}",
                second.new_bytes / 2**20,
                second.size_bytes / 2**20,
                "MiB",
                "a full copy",
                "record only" if limit is None else f"<= {limit:.0%} of the version",
                True if limit is None else share <= limit,
                f"{share:.2%} of {second.size_bytes / 2**20:.0f} MiB stored new ({ROWS:,} rows)",
            )
        )
    shutil.rmtree(folder, ignore_errors=True)
    return results


if __name__ == "__main__":
    emit(main())
