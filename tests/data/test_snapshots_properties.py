"""Properties: random small frames round-trip exactly; chunk cuts match a brute-force oracle."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.artifacts.local import LocalBlobStore
from perennia.data.snapshots import load_table, write_snapshot
from perennia.data.snapshots.chunking import Chunker, ChunkSizes, boundaries

SIZES = ChunkSizes(3, 8, 20)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """Return a random small frame of ints, floats (NaN, inf), nullable strings and bools."""
    rows = draw(st.integers(0, 60))
    ints = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
    floats = draw(st.lists(st.floats(allow_nan=True, width=64), min_size=rows, max_size=rows))
    texts = draw(st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=rows, max_size=rows))
    bools = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    return pd.DataFrame(
        {
            "i": np.array(ints, dtype=np.int64),
            "f": np.array(floats, dtype=np.float64),
            "s": pd.Series(texts, dtype="str"),
            "b": np.array(bools, dtype=bool),
        }
    )


@settings(max_examples=25, deadline=None)
@given(frames())
def test_random_frames_round_trip_exactly(data: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as root:
        blobs = LocalBlobStore(Path(root))
        snapshot = write_snapshot(blobs, data, chunk_rows=(3, 8, 20), workers=2)
        assert snapshot.row_count == len(data)
        pd.testing.assert_frame_equal(load_table(blobs, snapshot.digest), data)


def oracle_ends(hashes: list[int], sizes: ChunkSizes) -> list[int]:
    """Return chunk ends by walking row by row (the definition, without numpy)."""
    ends, start = [], 0
    for row, value in enumerate(hashes):
        length = row - start + 1
        if (length >= sizes.min and value % (sizes.avg - sizes.min) == 0) or length == sizes.max:
            ends.append(row + 1)
            start = row + 1
    return ends


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300))
def test_vectorised_cuts_match_the_row_by_row_oracle(hashes: list[int]) -> None:
    array = np.array(hashes, dtype=np.uint64)
    assert boundaries(array, SIZES) == oracle_ends(hashes, SIZES)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 400), st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_chunks_do_not_depend_on_how_rows_arrive(rows: int, batch_sizes: list[int]) -> None:
    table = pa.table({"v": np.arange(rows) % 13, "w": np.arange(rows)})

    def chunk_lengths(batches: list[pa.RecordBatch]) -> list[int]:
        chunker = Chunker(table.schema, SIZES)
        out = [t.num_rows for b in batches for t in chunker.feed(b)]
        return out + [t.num_rows for t in chunker.finish()]

    whole = chunk_lengths(table.to_batches())
    pieces, start, k = [], 0, 0
    while start < rows:
        size = batch_sizes[k % len(batch_sizes)]
        pieces.extend(table.slice(start, size).to_batches())
        start, k = start + size, k + 1
    assert chunk_lengths(pieces) == whole
    assert sum(whole) == rows
