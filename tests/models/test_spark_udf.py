"""`spark_udf`: a package scored by local PySpark gives the same predictions as the model itself."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perennia.errors import InvalidInput
from perennia.models.spark import spark_udf
from tests.models.batch_helpers import FEATURES, make_rows, save_package

pytestmark = [
    pytest.mark.slow,  # a JVM starts once per session (about 10 s)
    pytest.mark.xdist_group("spark"),  # ... on one worker only
    # PySpark 4.0 warns about pandas 3 on every conversion; the results are checked here.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    # Executors' Python must be this interpreter, with perennia and scikit-learn installed.
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
    session.stop()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("spark") / "pkg"
    return folder, save_package(folder)


def test_udf_predictions_equal_direct_predictions(spark, package) -> None:
    folder, pipeline = package
    rows = make_rows(600, seed=20)
    frame = spark.createDataFrame(rows).repartition(3)

    udf = spark_udf(spark, str(folder), result_type="long")
    scored = frame.withColumn("prediction", udf(*FEATURES)).toPandas().sort_values("id")

    expected = pipeline.predict(rows[FEATURES])
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), expected)


def test_udf_without_columns_reads_the_signature_columns_and_gives_probabilities(
    spark, package
) -> None:
    folder, pipeline = package
    rows = make_rows(300, seed=21)
    frame = spark.createDataFrame(rows)

    udf = spark_udf(spark, folder, proba=True)
    scored = frame.select("id", udf().alias("proba")).toPandas().sort_values("id")

    expected = pipeline.predict_proba(rows[FEATURES])
    np.testing.assert_allclose(np.stack(scored["proba"].to_numpy()), expected, rtol=1e-12)


def test_udf_loads_from_a_shared_folder_without_shipping(spark, package) -> None:
    folder, pipeline = package
    rows = make_rows(100, seed=22)

    udf = spark_udf(spark, folder, ship=False)
    scored = spark.createDataFrame(rows).select("id", udf().alias("p")).toPandas()

    np.testing.assert_allclose(
        scored.sort_values("id")["p"].to_numpy(), pipeline.predict(rows[FEATURES]).astype(float)
    )


def test_udf_refuses_an_unknown_result_type_and_a_tampered_package(
    spark, package, tmp_path: Path
) -> None:
    import shutil

    from perennia.errors import IntegrityError

    folder, _ = package
    with pytest.raises(InvalidInput, match="result_type 'decimal' is not supported"):
        spark_udf(spark, folder, result_type="decimal")
    copy = tmp_path / "pkg"
    shutil.copytree(folder, copy)
    (copy / "model.skops").write_bytes(b"changed")
    with pytest.raises(IntegrityError, match="altered after it was saved"):
        spark_udf(spark, copy)


def test_udf_on_a_frame_of_pandas_rows_matches_the_batch_scorer(spark, package, tmp_path) -> None:
    from perennia.models.batch import predict_file

    folder, _ = package
    rows = make_rows(250, seed=23)
    rows.to_parquet(tmp_path / "in.parquet", index=False)
    predict_file(folder, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=100)

    udf = spark_udf(spark, folder, result_type="long")
    scored = spark.read.parquet(str(tmp_path / "in.parquet")).select("id", udf().alias("p"))

    batch = pd.read_parquet(tmp_path / "out.parquet")
    merged = scored.toPandas().merge(batch[["id", "prediction"]], on="id")
    assert len(merged) == 250
    assert (merged["p"] == merged["prediction"]).all()
