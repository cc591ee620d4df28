"""Content-defined chunk boundaries over a stream of Arrow record batches.

Each row gets a 64-bit hash of its values (pandas' `hash_pandas_object`, vectorised and
deterministic across processes). A chunk ends after a row whose hash is divisible by
`avg - min`, but never before `min` rows nor after `max`. Because a boundary depends only on
the rows around it, appending rows, or changing, inserting or deleting rows in one region,
moves the boundaries of that region only: every other chunk has the same rows as before,
hence the same Parquet bytes and the same blob.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput

# About 16k rows (a megabyte or two of Parquet for ten columns): small enough that 1% of
# changed rows rewrites about 1% of a million-row table, large enough that ten million rows
# are some 600 blobs, not a blob per row group of a few rows.
MIN_ROWS = 2_048
AVG_ROWS = 16_384
MAX_ROWS = 131_072


@dataclass(frozen=True, slots=True)
class ChunkSizes:
    """The row bounds of a chunk: at least `min`, about `avg` on average, at most `max`."""

    min: int = MIN_ROWS
    avg: int = AVG_ROWS
    max: int = MAX_ROWS

    @classmethod
    def of(cls, sizes: tuple[int, int, int] | None) -> ChunkSizes:
        """Return the sizes for a (min, avg, max) tuple, the defaults for None; InvalidInput if unordered."""
        if sizes is None:
            return cls()
        if (
            not isinstance(sizes, tuple)
            or len(sizes) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes)
            or not 1 <= sizes[0] < sizes[1] <= sizes[2]
        ):
            raise InvalidInput(
                f"chunk_rows {sizes!r:.60} is not accepted; use (min, avg, max) integers with"
                " 1 <= min < avg <= max"
            )
        return cls(*sizes)


def row_hashes(batch: Any) -> Any:
    """Return a uint64 numpy array with one content hash per row of an Arrow record batch."""
    import numpy as np
    import pandas as pd

    if batch.num_columns == 0:
        return np.zeros(batch.num_rows, dtype=np.uint64)
    # ignore_metadata: the hash must depend on the values only, not on how pandas would rebuild them.
    frame = batch.to_pandas(ignore_metadata=True)
    frame.columns = range(frame.shape[1])  # duplicate or odd names must not matter
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        # Lists, dicts and other unhashable cells: hash their text form instead.
        text = pd.DataFrame({i: _hashable(frame[i]) for i in frame.columns})
        return pd.util.hash_pandas_object(text, index=False).to_numpy()


def _hashable(column: Any) -> Any:
    """Return the column itself if pandas can hash it, else its values as strings."""
    import pandas as pd

    try:
        pd.util.hash_pandas_object(column, index=False)
        return column
    except TypeError:
        return column.map(repr)


def boundaries(hashes: Any, sizes: ChunkSizes, start: int = 0) -> list[int]:
    """Return the end offsets of every chunk that is complete in `hashes`, beginning at `start`."""
    import numpy as np

    candidates = np.flatnonzero(hashes % np.uint64(sizes.avg - sizes.min) == 0)
    total = len(hashes)
    ends = []
    while True:
        k = int(np.searchsorted(candidates, start + sizes.min - 1))
        if k < len(candidates) and candidates[k] < start + sizes.max:
            end = int(candidates[k]) + 1
        elif start + sizes.max <= total:
            end = start + sizes.max
        else:
            return ends  # the next boundary depends on rows not seen yet
        ends.append(end)
        start = end


class Chunker:
    """Turns record batches of any sizes into content-defined chunks (Arrow tables)."""

    def __init__(self, schema: Any, sizes: ChunkSizes) -> None:
        import numpy as np

        self.schema = schema
        self.sizes = sizes
        self._batches: list[Any] = []
        self._hashes = np.empty(0, dtype=np.uint64)

    def feed(self, batch: Any) -> Iterator[Any]:
        """Add a batch and yield every chunk it completes."""
        import numpy as np

        if batch.num_rows == 0:
            return
        self._batches.append(batch)
        self._hashes = np.concatenate([self._hashes, row_hashes(batch)])
        yield from self._cut(final=False)

    def finish(self) -> Iterator[Any]:
        """Yield the rows still pending as the last chunks."""
        yield from self._cut(final=True)

    def _cut(self, *, final: bool) -> Iterator[Any]:
        """Yield the complete chunks (and the remainder when `final`), keeping the rest pending."""
        import pyarrow as pa

        ends = boundaries(self._hashes, self.sizes)
        if not ends and not final:
            return
        pending = pa.Table.from_batches(self._batches, schema=self.schema)
        start = 0
        for end in ends:
            yield pending.slice(start, end - start)
            start = end
        if final and start < pending.num_rows:
            yield pending.slice(start)
            start = pending.num_rows
        self._batches = pending.slice(start).to_batches()
        self._hashes = self._hashes[start:]
