"""Joining the requests of one batch into a single model input, and cutting the answer back.

Column arrays are concatenated per column (one `numpy.concatenate` each) and become one frame,
so a batch of 64 one-row requests costs one DataFrame and one `predict`, not 64 of each.
"""

from __future__ import annotations

from typing import Any


def join_columns(parsed: list[Any], names: list[str] | None = None) -> dict[str, Any] | None:
    """Return every request's columns joined (one array per column, `names` first when given),
    or None when the requests do not all carry the same columns."""
    import numpy as np

    first = parsed[0].columns
    if any(p.columns is None or p.columns.keys() != first.keys() for p in parsed):
        return None
    picked = [n for n in (names if names is not None else first) if n in first]
    if len(parsed) == 1:
        return {n: first[n] for n in picked}
    return {n: np.concatenate([p.columns[n] for p in parsed]) for n in picked}


def join_inputs(parsed: list[Any], columns: list[str] | None) -> Any:
    """Return one DataFrame (tables) or array (tensors) holding every request's rows in order."""
    import numpy as np
    import pandas as pd

    if all(p.tensor is not None for p in parsed):
        if len(parsed) == 1:
            return parsed[0].tensor
        return np.concatenate([p.tensor for p in parsed], axis=0)
    if any(p.columns is None for p in parsed):
        raise ValueError("a batch cannot mix tables and tensors")
    joined = join_columns(parsed, columns)
    if joined is None:  # requests with different columns (no signature to order them)
        return pd.concat([pd.DataFrame(p.columns, copy=False) for p in parsed], ignore_index=True)
    return pd.DataFrame(joined, copy=False)


def split_outputs(outputs: Any, sizes: list[int]) -> list[Any]:
    """Return `outputs` cut into consecutive pieces of `sizes` rows (one per request)."""
    import numpy as np

    if len(sizes) == 1:
        return [outputs]
    bounds = np.cumsum([0, *sizes])
    if hasattr(outputs, "iloc"):  # DataFrame or Series
        return [outputs.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if isinstance(outputs, dict):
        return [
            {k: v[a:b] for k, v in outputs.items()}
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    if not hasattr(outputs, "__len__") or len(outputs) != bounds[-1]:
        raise ValueError(
            f"the model returned {_length(outputs)} rows for {int(bounds[-1])} input rows"
        )
    return [outputs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _length(outputs: Any) -> str:
    return str(len(outputs)) if hasattr(outputs, "__len__") else "a scalar instead of"
