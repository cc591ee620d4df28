"""A model as a Spark pandas UDF, like `mlflow.pyfunc.spark_udf`, for data one machine cannot hold.

The driver resolves the URI (folder, `runs:/`, `models:/`), verifies the package and broadcasts
it as one byte string, so executors need neither the driver's files nor access to the tracking
store or the artifact store. Each executor's Python worker unpacks it once, checks it against
the manifest digest the driver read, and keeps the loaded model for every later batch (the UDF
is the iterator form, so even a fresh worker loads once per task, not once per batch).

On a cluster the executors need perennia and the package's requirements installed (the same
environment as the driver); the broadcast holds the model bytes in each executor's memory, so
for very large packages prefer a package folder every executor can read (e.g. a shared mount)
and `ship=False`, which loads from that path on each executor instead.

    udf = perennia.models.spark_udf(spark, "models:/fraud@champion")
    scored = frame.withColumn("prediction", udf("amount", "country"))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from perennia.errors import InvalidInput

# Spark's result types this UDF can return, with the numpy/pandas dtype each needs.
_SCALARS = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "bigint": "int64",
    "int": "int32",
    "integer": "int32",
    "boolean": "bool",
    "string": "str",
}
_ARRAYS = ("array<double>", "array<float>")


def spark_udf(
    spark: Any,
    model_uri: Any,
    *,
    result_type: str = "double",
    proba: bool = False,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
    ship: bool = True,
) -> Any:
    """Return a function of columns giving a Spark Column of the model's predictions.

    Call it with the feature columns (names or Columns): `udf("a", "b")`, or with none to use
    the model's own feature names. `result_type` is a Spark type name (double, float, long,
    int, boolean, string, array<double>); `proba=True` returns class probabilities as
    array<double>.
    """
    from pyspark.sql.functions import pandas_udf, struct

    kind = "array<double>" if proba else _result_type(result_type)
    payload = _payload(spark, model_uri, ship)
    names = _feature_names(payload, allow_pickle, trusted_types)
    options = (allow_pickle, list(trusted_types or []), proba, kind)
    batches_udf = pandas_udf(_udf_function(payload, options), kind)

    def predict(*cols: Any) -> Any:
        """Return the Column of predictions for the given feature columns."""
        chosen = cols or tuple(names or ())
        if not chosen:
            raise InvalidInput(
                "the model names no feature columns (no signature, no feature_names_in_); "
                "call the UDF with the columns it reads, e.g. udf('a', 'b')"
            )
        # A struct keeps the column names, which pipelines select their features by.
        return batches_udf(struct(*chosen))

    predict.__doc__ = f"Predictions of {model_uri!s} as a Spark column of {kind}."
    return predict


def _result_type(result_type: str) -> str:
    kind = str(result_type).strip().lower().replace(" ", "")
    if kind not in _SCALARS and kind not in _ARRAYS:
        raise InvalidInput(
            f"result_type {result_type!r} is not supported; use one of "
            f"{', '.join([*_SCALARS, *_ARRAYS])}"
        )
    return kind


def _payload(spark: Any, model_uri: Any, ship: bool) -> tuple[str, Any, str | None]:
    """Return ("packed", broadcast bytes, digest) or ("path", folder, digest or None)."""
    from perennia.models.archive import packed_package

    if ship:
        data, digest = packed_package(model_uri)
        return "packed", spark.sparkContext.broadcast(data), digest
    from perennia.models.uri import local_folder

    # Resolved once on the driver (a models:/ or runs:/ URI becomes a folder); executors then
    # read that folder by its absolute path, as their working folder may differ.
    folder, digest = local_folder(str(model_uri))
    return "path", str(folder.resolve()), digest


def _feature_names(
    payload: tuple[str, Any, str | None], allow_pickle: bool, trusted: Any
) -> list[str] | None:
    """Return the model's input column names, read on the driver."""
    from perennia.models.batch import model_columns

    return model_columns(_load(payload, allow_pickle, list(trusted or [])), None)[1]


def _load(payload: tuple[str, Any, str | None], allow_pickle: bool, trusted: list[str]) -> Any:
    """Return the LoadedModel the payload names (a shipped one is unpacked once per process)."""
    how, value, digest = payload
    if how == "packed":
        from perennia.models.archive import load_packed

        return load_packed(value.value, digest, allow_pickle=allow_pickle, trusted_types=trusted)
    from perennia.models.package import load_folder

    return load_folder(
        value, allow_pickle=allow_pickle, trusted_types=trusted, expected_digest=digest
    )


def _udf_function(payload: tuple[str, Any, str | None], options: tuple) -> Any:
    """Return the iterator-of-frames function Spark runs on each executor."""
    import pandas as pd

    allow_pickle, trusted, proba, kind = options

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        model = _load(payload, allow_pickle, trusted)
        for frame in batches:
            yield _as_series(model.predict_proba(frame) if proba else model.predict(frame), kind)

    # Spark picks the UDF's form from real type objects; this module's annotations are strings.
    run.__annotations__ = {"batches": Iterator[pd.DataFrame], "return": Iterator[pd.Series]}
    return run


def _as_series(values: Any, kind: str) -> Any:
    """Return predictions as a pandas Series of the dtype Spark's `kind` needs."""
    import numpy as np
    import pandas as pd

    array = np.asarray(values)
    if kind in _ARRAYS:
        if array.ndim == 1:
            array = array[:, None]
        dtype = "float64" if kind == "array<double>" else "float32"
        return pd.Series(list(array.astype(dtype)))
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInput(
            f"the model returns {array.shape[1]} values per row; use result_type='array<double>'"
        )
    if _SCALARS[kind] == "str":
        return pd.Series(array.astype(str), dtype=object)
    return pd.Series(array.astype(_SCALARS[kind]))
