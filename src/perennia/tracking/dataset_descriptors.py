"""Build `Dataset` descriptors from pandas, numpy, polars and pyarrow data.

The digest is a sha256 over the column names, their dtypes and pandas' stable per-row hashes of
every value, so the same content always gives the same digest and any change gives another.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from perennia._util import tables
from perennia.entities import Dataset, DatasetInput
from perennia.errors import InvalidInput

DEFAULT_NAME = "dataset"


def _logical_type(dtype: Any) -> str:
    import pandas as pd

    api = pd.api.types
    if api.is_bool_dtype(dtype):
        return "boolean"
    if api.is_integer_dtype(dtype):
        return "long"
    if api.is_float_dtype(dtype):
        return "double"
    if api.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if api.is_string_dtype(dtype):
        return "string"
    return str(dtype)


def _json_number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _profile(frame: Any) -> dict[str, Any]:
    import pandas as pd

    columns: dict[str, Any] = {}
    nulls = frame.isna().sum()
    for name in frame.columns:
        series = frame[name]
        entry: dict[str, Any] = {"null_count": int(nulls[name])}
        api = pd.api.types
        # Booleans and complex numbers have no meaningful min/max/mean as one float.
        if (
            api.is_numeric_dtype(series.dtype)
            and not api.is_bool_dtype(series.dtype)
            and not api.is_complex_dtype(series.dtype)
        ):
            finite = series.dropna()
            if len(finite):
                import numpy as np

                # Values near the float limit overflow the sum; the mean is then reported as None.
                with np.errstate(over="ignore", invalid="ignore"):
                    mean = finite.mean()
                entry.update(
                    min=_json_number(finite.min()),
                    max=_json_number(finite.max()),
                    mean=_json_number(mean),
                )
        columns[str(name)] = entry
    return {"columns": columns}


def _content_digest(frame: Any) -> str:
    import pandas as pd

    hasher = hashlib.sha256()
    # The row count is in the header so frames without columns still differ by length.
    header = [len(frame), [[str(c), str(frame[c].dtype)] for c in frame.columns]]
    hasher.update(json.dumps(header).encode())
    for name in frame.columns:
        series = frame[name]
        try:
            hashes = pd.util.hash_pandas_object(series, index=False)
        except TypeError:  # unhashable cells (lists, dicts): hash their text form
            hashes = pd.util.hash_pandas_object(series.astype(str), index=False)
        hasher.update(hashes.to_numpy().tobytes())
        if series.dtype == object:
            # pandas hashes mixed objects by their text, so 1 and "1" (or True and "True") would
            # collide; the cell types keep them apart, while every null counts as the same null.
            kinds = series.map(lambda value: type(value).__name__).astype(object)
            kinds[series.isna().to_numpy()] = "null"
            hasher.update(pd.util.hash_pandas_object(kinds, index=False).to_numpy().tobytes())
    return hasher.hexdigest()


def _describe(
    frame: Any, name: str | None, targets: Sequence[str], source: str, source_type: str
) -> Dataset:
    for label, value in (("name", name), ("source", source)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"dataset {label} must be a string, got {type(value).__name__}")
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise InvalidInput(
            f"column name(s) {duplicated[:20]} appear more than once; a dataset needs unique columns"
        )
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise InvalidInput(
            f"target column(s) {missing} are not in the data; columns are {list(map(str, frame.columns))[:20]}"
        )
    schema = [
        {"name": str(c), "type": _logical_type(frame[c].dtype), "dtype": str(frame[c].dtype)}
        for c in frame.columns
    ]
    return Dataset(
        name=name or DEFAULT_NAME,
        digest=_content_digest(frame),
        source=source,
        source_type=source_type,
        schema=schema,
        row_count=int(len(frame)),
        targets=[str(t) for t in targets],
        profile=_profile(frame),
    )


def _targets(targets: str | Sequence[str] | None) -> list[str]:
    if targets is None:
        return []
    if isinstance(targets, str):
        return [targets]
    if isinstance(targets, Sequence) and all(isinstance(t, str) for t in targets):
        return list(targets)
    raise InvalidInput(
        f"targets must be a column name or a list of column names, got {targets!r:.80}"
    )


def from_pandas(
    df: Any,
    name: str | None = None,
    targets: str | Sequence[str] | None = None,
    source: str | None = None,
) -> Dataset:
    """Return a descriptor of a pandas DataFrame (targets name its label columns)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"from_pandas needs a pandas DataFrame, got {type(df).__name__}")
    return _describe(df, name, _targets(targets), source or "pandas", "pandas")


def from_numpy(
    features: Any, targets: Any = None, name: str | None = None, source: str | None = None
) -> Dataset:
    """Return a descriptor of a numpy feature array (and optional target array)."""
    import pandas as pd

    array = _as_array(features, "features")
    if array.ndim not in (1, 2):
        raise InvalidInput(f"from_numpy needs a 1-D or 2-D array, got shape {array.shape}")
    # reshape(n, -1) cannot infer the width of an empty array, so widen 1-D arrays explicitly.
    frame = pd.DataFrame(array[:, None] if array.ndim == 1 else array)
    frame.columns = [f"f{i}" for i in range(frame.shape[1])]
    target_names: list[str] = []
    if targets is not None:
        target_array = _as_array(targets, "targets")
        if target_array.ndim not in (1, 2) or len(target_array) != len(frame):
            raise InvalidInput(
                f"targets must be a 1-D or 2-D array with one row per feature row ({len(frame)}),"
                f" got shape {target_array.shape}"
            )
        if target_array.ndim == 1:
            target_names = ["target"]
            frame["target"] = target_array
        else:
            target_names = [f"target{i}" for i in range(target_array.shape[1])]
            for i, target in enumerate(target_names):
                frame[target] = target_array[:, i]
    return _describe(frame, name, target_names, source or "numpy", "numpy")


def _as_array(values: Any, label: str) -> Any:
    """Return `values` as a numpy array, or raise InvalidInput for ragged or odd input."""
    try:
        return tables.to_numpy(values, label)
    except (ValueError, TypeError) as error:
        raise InvalidInput(str(error)) from None


def from_polars(
    df: Any,
    name: str | None = None,
    targets: str | Sequence[str] | None = None,
    source: str | None = None,
) -> Dataset:
    """Return a descriptor of a polars DataFrame."""
    if tables.library(df) != "polars" or not tables.is_table(df):
        raise InvalidInput(f"from_polars needs a polars DataFrame, got {type(df).__name__}")
    frame = tables.to_pandas(df)
    return _describe(frame, name, _targets(targets), source or "polars", "polars")


def from_arrow(
    table: Any,
    name: str | None = None,
    targets: str | Sequence[str] | None = None,
    source: str | None = None,
) -> Dataset:
    """Return a descriptor of a pyarrow Table (or RecordBatch)."""
    if tables.library(table) != "pyarrow" or not tables.is_table(table):
        raise InvalidInput(f"from_arrow needs a pyarrow Table, got {type(table).__name__}")
    frame = tables.to_pandas(table)
    return _describe(frame, name, _targets(targets), source or "pyarrow", "pyarrow")


def from_any(
    data: Any, name: str | None = None, targets: str | Sequence[str] | None = None
) -> Dataset:
    """Return a descriptor for pandas, polars, pyarrow or numpy data, whichever `data` is."""
    module = tables.library(data)
    kind = type(data).__name__
    if module in ("pandas", "polars") and not tables.is_table(data) and hasattr(data, "to_frame"):
        data = data.to_frame()  # a Series is a one-column table
    if module == "pandas":
        return from_pandas(data, name=name, targets=targets)
    if module == "polars":
        return from_polars(data, name=name, targets=targets)
    if module == "pyarrow":
        return from_arrow(data, name=name, targets=targets)
    if data is None or isinstance(data, (str, bytes, dict)):
        raise InvalidInput(
            f"from_any needs a pandas, polars or pyarrow table or a numpy array, got {kind}"
        )
    if targets is not None:
        raise InvalidInput(
            "array data has no column names to use as targets; pass the target array instead:"
            " from_numpy(features, targets=y)"
        )
    return from_numpy(data, name=name)


# MLflow keeps an input's context ("training", "eval") as this input tag.
MLFLOW_CONTEXT_TAG = "mlflow.data.context"


def from_mlflow_dataset(
    name: str, digest: str, source: str, source_type: str, schema: Any, profile: Any, tags: dict
) -> DatasetInput:
    """Return the DatasetInput an MLflow dataset (its parsed schema and profile) and its input
    tags describe: the one translation the server's MLflow adapter and `perennia import mlflow`
    share."""
    tags = dict(tags)
    context = tags.pop(MLFLOW_CONTEXT_TAG, None)
    columns = schema.get("mlflow_colspec", []) if isinstance(schema, dict) else schema
    profile = profile if isinstance(profile, dict) else {}
    dataset = Dataset(
        name=str(name or ""),
        digest=str(digest or ""),
        source=str(source or ""),
        source_type=str(source_type or ""),
        schema=columns if isinstance(columns, list) else [],
        row_count=int(profile.get("num_rows", 0) or 0),
        profile=profile,
    )
    return DatasetInput(dataset, context, tags)
