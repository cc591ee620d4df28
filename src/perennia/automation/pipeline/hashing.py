"""Content hashes: of plain values, arrays, tables, and the cache key of a step.

Tables are hashed column by column from their buffers (sha256 runs at memory speed with the
CPU's SHA extensions, and hashlib releases the GIL, so columns hash on several threads); a
column without a flat buffer (strings, objects, categoricals) goes through pandas' vectorised
`hash_pandas_object`. Column names and dtypes are part of the hash. A pandas index is part of
it only when it is not the default 0..n-1 range, so `reset_index(drop=True)` on a frame with a
default index changes nothing, while a meaningful index (dates, ids) counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

SCHEME = "perennia-pipeline-hash/2"  # /2: code hashes follow closures and constants
_PARALLEL_BYTES = 32 << 20  # below this, threads cost more than they save


def canonical_json(value: Any) -> str:
    """Return `value` as canonical JSON (sorted keys, no spaces); TypeError if it is not JSON."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def sha256_text(*parts: str) -> str:
    """Return the sha256 hex of the parts, each length-prefixed so no two joinings collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def array_hash(array: Any) -> str:
    """Return the content hash of a numpy array: dtype, shape and bytes."""
    import numpy as np

    contiguous = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"ndarray|{contiguous.dtype.str}|{contiguous.shape}|".encode())
    digest.update(memoryview(contiguous.reshape(-1).view(np.uint8)))
    return digest.hexdigest()


def frame_hash(frame: Any) -> str:
    """Return the content hash of a pandas DataFrame (see the module docstring for what counts)."""
    import pandas as pd

    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    names = [f"{name!r}:{frame.dtypes.iloc[i]}" for i, name in enumerate(frame.columns)]
    parts = _column_digests(columns)
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    index_part = (
        "default"
        if default
        else hashlib.sha256(pd.util.hash_pandas_object(index).to_numpy().tobytes()).hexdigest()
    )
    return sha256_text("pandas", str(frame.shape), *names, *parts, index_part)


def arrow_hash(table: Any) -> str:
    """Return the content hash of a pyarrow Table (polars frames go through Arrow)."""
    columns = [table.column(i) for i in range(table.num_columns)]
    names = [f"{field.name!r}:{field.type}" for field in table.schema]
    return sha256_text("arrow", str(table.num_rows), *names, *_arrow_digests(columns))


def _column_digests(columns: list[Any]) -> list[str]:
    total = sum(int(c.memory_usage(index=False, deep=False)) for c in columns)
    if total < _PARALLEL_BYTES or len(columns) < 2:
        return [_series_digest(c) for c in columns]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(_series_digest, columns))


def _series_digest(series: Any) -> str:
    import numpy as np
    import pandas as pd

    values = series.to_numpy() if series.dtype.kind in "biufcmM" else None
    if values is not None and values.dtype.kind in "biufcmM" and values.dtype != object:
        contiguous = np.ascontiguousarray(values)
        return hashlib.sha256(memoryview(contiguous.view(np.uint8))).hexdigest()
    hashed = pd.util.hash_pandas_object(series, index=False).to_numpy()
    return hashlib.sha256(memoryview(hashed.view(np.uint8))).hexdigest()


def _arrow_digests(columns: list[Any]) -> list[str]:
    import numpy as np

    out = []
    for column in columns:
        combined = column.combine_chunks() if hasattr(column, "combine_chunks") else column
        width = _bit_width(combined.type)
        digest = None
        if combined.null_count == 0 and width and width % 8 == 0:
            try:
                values = combined.to_numpy(zero_copy_only=True)
            except Exception:  # noqa: BLE001 - no flat buffer (decimals, extension types)
                values = None
            if values is not None and values.dtype != object:
                view = np.ascontiguousarray(values).view(np.uint8)
                digest = f"{combined.type}|" + hashlib.sha256(memoryview(view)).hexdigest()
        out.append(digest or _series_digest(combined.to_pandas()))
    return out


def _bit_width(arrow_type: Any) -> int | None:
    try:
        return arrow_type.bit_width
    except ValueError:
        return None


def cache_key(
    step_name: str,
    code: str,
    outputs: tuple[str, ...],
    params: Mapping[str, str],
    inputs: Mapping[str, str],
) -> str:
    """Return the cache key of one execution of a step: its code, param and input hashes."""
    return sha256_text(
        SCHEME,
        step_name,
        code,
        canonical_json(list(outputs)),
        canonical_json(dict(params)),
        canonical_json(dict(inputs)),
    )
