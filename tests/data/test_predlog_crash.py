"""A writer process killed with SIGKILL in the middle of writing a part leaves nothing readers see.

The child writes large parts in a loop; the parent kills it the moment a temp file is visible
(so the kill lands during a write) and then reads the folder with our reader and with DuckDB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from perennia.data.predlog import read_predictions

_WRITER = """
import sys
import numpy as np
from perennia.data.predlog import PredictionBatch, PredictionLogWriter

rows = 200_000
writer = PredictionLogWriter(sys.argv[1], flush_rows=10**9, flush_interval_s=3600)
inputs = {f"x{i}": np.random.default_rng(i).random(rows) for i in range(12)}
for n in range(10**6):
    ids = [f"{sys.argv[2]}-{n}-{i}" for i in range(rows)]
    batch = PredictionBatch("fraud", "stable", "m", 1, False, ids, ids, 1_700_000_000_000 + n, 1.0,
                            inputs=inputs, outputs={"prediction": inputs["x0"]})
    writer.record(batch)
    writer.flush()
"""


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp") if p.is_file()]


def _kill_during_a_write(root: Path, attempt: int) -> bool:
    """Run the writer until a temp file shows beside a part, SIGKILL it; True if a temp remains."""
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(attempt)])
    try:
        deadline = time.monotonic() + 120
        # Kill once a part is complete and the next one is half written.
        while not (_temp_files(root) and any(root.rglob("part-*.parquet"))):
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the writer exited ({child.returncode}) or never wrote")
            time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    return bool(_temp_files(root))


@pytest.mark.slow
def test_a_writer_killed_mid_write_leaves_no_partial_part_visible(tmp_path: Path) -> None:
    root = tmp_path / "log"
    interrupted = any(_kill_during_a_write(root, attempt) for attempt in range(5))
    assert interrupted, "no kill landed during a write: the test did not exercise a partial file"
    parts = sorted(root.rglob("part-*.parquet"))
    rows = sum(pq.read_metadata(part).num_rows for part in parts)  # each part is whole
    table = read_predictions(str(root), columns=["prediction_id"])
    assert table.num_rows == rows
    assert len(set(table["prediction_id"].to_pylist())) == rows
    duckdb = pytest.importorskip("duckdb")
    counted = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{root}/predictions/**/*.parquet',"
        " hive_partitioning=true, union_by_name=true)"
    ).fetchall()
    assert counted == [(rows,)]
