"""A reference profile built over Spark partitions: each partition profiled on one shared grid,
the parts merged on the driver, equal to the profile of the whole data."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from perennia.monitoring.profiles import DatasetProfile, profile, union_bounds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("spark"),  # one local Spark per session, on one worker
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[1]")
        .appName("perennia-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session


def _profile_part(bounds, batches):
    frames = list(batches)
    if frames:
        part = pd.concat(frames, ignore_index=True)
        yield pd.DataFrame({"blob": [profile(part, bounds=bounds).to_bytes()]})


def test_partition_profiles_merge_into_the_profile_of_the_whole(spark):
    from pyspark.sql import functions as F

    rng = np.random.default_rng(9)
    n = 20_000
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 30.0, n),
            "age": rng.normal(40, 9, n),
            "city": rng.choice(["a", "b", "c"], n),
        }
    )
    data = spark.createDataFrame(frame).repartition(4)
    lows_highs = data.agg(
        *[F.min(c).alias(f"lo_{c}") for c in ("amount", "age")],
        *[F.max(c).alias(f"hi_{c}") for c in ("amount", "age")],
    ).first()
    bounds = union_bounds(
        {c: (lows_highs[f"lo_{c}"], lows_highs[f"hi_{c}"]) for c in ("amount", "age")}
    )
    blobs = data.mapInPandas(
        functools.partial(_profile_part, bounds), schema="blob binary"
    ).collect()
    assert len(blobs) >= 2
    parts = [DatasetProfile.from_bytes(bytes(row["blob"])) for row in blobs]
    merged = functools.reduce(DatasetProfile.merge, parts)
    whole = profile(frame, bounds=bounds)
    assert merged.rows == n and merged.exact
    for name in ("amount", "age"):
        assert np.array_equal(merged.columns[name].counts, whole.columns[name].counts)
        assert merged.columns[name].mean == pytest.approx(whole.columns[name].mean, rel=1e-12)
        assert merged.columns[name].std == pytest.approx(whole.columns[name].std, rel=1e-9)
    assert merged.columns["city"].counts == whole.columns["city"].counts
