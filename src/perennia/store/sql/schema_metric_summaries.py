"""Metric summaries in the metadata schema (on `schema.metadata`, re-exported there; migration
0012).

A pyramid of fixed-width step buckets per (run, key): at level `l` a bucket holds the points
whose step lies in `[bucket * w, (bucket + 1) * w)` with `w = SUMMARY_WIDTHS[l]`. Each row keeps
the point count and the exact min and max points (value, step, timestamp) of its bucket, NaN
excluded (min/max stay NULL while a bucket holds only NaN). Rows are upserted in the same
transaction as the points, one statement per batch, and go with the run (cascade).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from perennia.store.limits import KEY_LENGTH
from perennia.store.sql.schema import metadata

# Level widths in steps: 2^6, 2^9, ... 2^42 (factor 8), so any step range has a level where it
# spans between max_points/2 and 4 * max_points buckets.
SUMMARY_SHIFTS = tuple(range(6, 43, 3))
SUMMARY_WIDTHS = tuple(1 << shift for shift in SUMMARY_SHIFTS)

metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("level", Integer, nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("min_value", Float(precision=53), nullable=True),
    Column("min_step", BigInteger, nullable=True),
    Column("min_timestamp", BigInteger, nullable=True),
    Column("max_value", Float(precision=53), nullable=True),
    Column("max_step", BigInteger, nullable=True),
    Column("max_timestamp", BigInteger, nullable=True),
    PrimaryKeyConstraint("run_uuid", "key", "level", "bucket", name="metric_summaries_pk"),
)
