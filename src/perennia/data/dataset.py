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

from perennia.entities import Dataset
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
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
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
    hasher.update(json.dumps([[str(c), str(frame[c].dtype)] for c in frame.columns]).encode())
    for name in frame.columns:
        series = frame[name]
        try:
            hashes = pd.util.hash_pandas_object(series, index=False)
        except TypeError:  # unhashable cells (lists, dicts): hash their text form
            hashes = pd.util.hash_pandas_object(series.astype(str), index=False)
        hasher.update(hashes.to_numpy().tobytes())
    return hasher.hexdigest()


def _describe(
    frame: Any, name: str | None, targets: Sequence[str], source: str, source_type: str
) -> Dataset:
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
    return [targets] if isinstance(targets, str) else list(targets)


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
    import numpy as np
    import pandas as pd

    array = np.asarray(features)
    if array.ndim not in (1, 2):
        raise InvalidInput(f"from_numpy needs a 1-D or 2-D array, got shape {array.shape}")
    frame = pd.DataFrame(array.reshape(len(array), -1))
    frame.columns = [f"f{i}" for i in range(frame.shape[1])]
    target_names: list[str] = []
    if targets is not None:
        target_array = np.asarray(targets)
        if len(target_array) != len(frame):
            raise InvalidInput(
                f"targets have {len(target_array)} rows but features have {len(frame)}"
            )
        frame["target"] = target_array
        target_names = ["target"]
    return _describe(frame, name, target_names, source or "numpy", "numpy")


def from_polars(
    df: Any,
    name: str | None = None,
    targets: str | Sequence[str] | None = None,
    source: str | None = None,
) -> Dataset:
    """Return a descriptor of a polars DataFrame."""
    if not hasattr(df, "to_pandas") or type(df).__module__.split(".")[0] != "polars":
        raise InvalidInput(f"from_polars needs a polars DataFrame, got {type(df).__name__}")
    return _describe(df.to_pandas(), name, _targets(targets), source or "polars", "polars")


def from_arrow(
    table: Any,
    name: str | None = None,
    targets: str | Sequence[str] | None = None,
    source: str | None = None,
) -> Dataset:
    """Return a descriptor of a pyarrow Table."""
    if type(table).__module__.split(".")[0] != "pyarrow" or not hasattr(table, "to_pandas"):
        raise InvalidInput(f"from_arrow needs a pyarrow Table, got {type(table).__name__}")
    return _describe(table.to_pandas(), name, _targets(targets), source or "pyarrow", "pyarrow")


def from_any(
    data: Any, name: str | None = None, targets: str | Sequence[str] | None = None
) -> Dataset:
    """Return a descriptor for pandas, polars, pyarrow or numpy data, whichever `data` is."""
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.Series):
            data = data.to_frame()
        return from_pandas(data, name=name, targets=targets)
    if module == "polars":
        return from_polars(data, name=name, targets=targets)
    if module == "pyarrow":
        return from_arrow(data, name=name, targets=targets)
    return from_numpy(data, name=name)
