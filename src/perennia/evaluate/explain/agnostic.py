"""Model-agnostic attributions: shap's explainers on the model's output, or occlusion without shap.

Both see the model only through its output function (`model_access.output_function`): a
binary classifier's positive-class probability, a multiclass one's probabilities, or the
predictions.

shap's maskers mix rows as numbers, so a table with text or category columns is coded first
(`TableCodec`) and decoded back into the model's own column types before each predict.

Occlusion is the fallback when shap is not installed. It is NOT SHAP: each feature's value is
the change in output when that feature alone is replaced by a reference value (the
background's mean for numbers, rounded for integers; its most frequent value for text,
categories and booleans), so interactions are counted once per feature involved and the
values need not add up to anything; `base_values` holds the output for the reference row.
"""

from __future__ import annotations

from typing import Any

from perennia.evaluate.explain import model_access as access
from perennia.evaluate.explain.result import Attributions

# Up to this many features Kernel SHAP evaluates every coalition (2**11 = 2048 per row and
# background row); beyond, exact values cost too much and the permutation explainer samples.
EXACT_FEATURES = 11


class TableCodec:
    """A DataFrame's columns as one float matrix and back: numeric and boolean columns as their
    values, any other column as codes into the values it takes in the frames it was built on."""

    def __init__(self, *frames: Any) -> None:
        import pandas as pd

        first = frames[0]
        self.columns = list(first.columns)
        self.dtypes = list(first.dtypes)
        self.categories: dict[int, Any] = {}
        for i, dtype in enumerate(self.dtypes):
            if not _is_numeric(dtype):
                seen = pd.concat([frame.iloc[:, i] for frame in frames], ignore_index=True)
                self.categories[i] = pd.Index(seen.dropna().unique())

    def encode(self, frame: Any) -> Any:
        """Return the frame as a float matrix (codes for coded columns; NaN for nulls)."""
        import numpy as np

        out = np.empty(frame.shape, dtype=np.float64)
        for i in range(frame.shape[1]):
            column = frame.iloc[:, i]
            if i in self.categories:
                codes = self.categories[i].get_indexer(column.astype(object)).astype(np.float64)
                codes[codes < 0] = np.nan
                out[:, i] = codes
            else:
                out[:, i] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def decode(self, matrix: Any) -> Any:
        """Return a float matrix as a DataFrame with the original columns and types."""
        import numpy as np
        import pandas as pd

        columns = {}
        for i, dtype in enumerate(self.dtypes):
            values = matrix[:, i]
            if i in self.categories:
                known = ~np.isnan(values)
                picked = np.full(len(values), None, dtype=object)
                picked[known] = self.categories[i].to_numpy(dtype=object)[values[known].astype(int)]
                values = picked
            series = pd.Series(values)
            columns[i] = series if series.dtype == dtype else series.astype(dtype)
        frame = pd.DataFrame(columns)
        frame.columns = self.columns
        return frame


def _is_numeric(dtype: Any) -> bool:
    from pandas.api import types

    return types.is_bool_dtype(dtype) or types.is_numeric_dtype(dtype)


def shap_values(
    model: Any, data: Any, background: Any, names: list[str], random_state: int
) -> Attributions:
    """Return shap's model-agnostic attributions of `data` against `background` rows.

    Up to EXACT_FEATURES features, Kernel SHAP evaluates every coalition, which makes its
    values the exact Shapley values and draws nothing at random. Wider inputs get shap's
    permutation explainer (seeded; additive by construction), whose first use in a process
    costs a few seconds while numba compiles shap's masking code.
    """
    import numpy as np
    import shap

    output_of, output = access.output_function(model)
    if hasattr(data, "iloc"):
        codec = TableCodec(data, background)
        rows, reference = codec.encode(data), codec.encode(background)

        def explained(matrix: Any) -> Any:
            return output_of(codec.decode(matrix))
    else:
        rows, reference, explained = np.asarray(data), np.asarray(background), output_of
    if len(names) <= EXACT_FEATURES:
        kernel = shap.KernelExplainer(explained, reference, feature_names=names)
        found = kernel.shap_values(rows, nsamples=2 ** len(names), l1_reg=False, silent=True)
        values, base, method = np.asarray(found), kernel.expected_value, "shap_kernel"
    else:
        masker = shap.maskers.Independent(reference, max_samples=len(reference))
        explainer = shap.PermutationExplainer(explained, masker, seed=random_state)
        explanation = explainer(rows, silent=True)
        values, base, method = explanation.values, explanation.base_values, "shap_permutation"
    values = np.asarray(values, dtype=np.float64)
    base = np.array(np.broadcast_to(base, values.shape[:1] + values.shape[2:]), dtype=np.float64)
    classes = access.classes_of(model) if values.ndim == 3 else None
    return Attributions(values, base, names, method, output, classes)


def occlusion(model: Any, data: Any, background: Any, names: list[str]) -> Attributions:
    """Return each feature's occlusion effect: the output minus the output with that feature
    replaced by its reference value (not SHAP; see the module docstring)."""
    import numpy as np

    output_of, output = access.output_function(model)
    n, width = len(data), len(names)
    reference = _reference_row(background)
    # Every occluded copy in one frame: one predict call instead of one per feature.
    copies = _repeat(data, width)
    for j in range(width):
        _set_column(copies, j, slice(j * n, (j + 1) * n), reference[j])
    full = output_of(data)
    occluded = output_of(copies).reshape(width, n, *np.shape(full)[1:])
    values = np.moveaxis(full[None, ...] - occluded, 0, 1)  # (rows, features[, outputs])
    base_row = output_of(_one_row(data, reference))
    base = np.broadcast_to(base_row[0], (n, *np.shape(base_row)[1:])).astype(np.float64)
    classes = access.classes_of(model) if values.ndim == 3 else None
    return Attributions(values.astype(np.float64), base, names, "occlusion", output, classes)


def _reference_row(background: Any) -> list[Any]:
    """Return one reference value per column: the mean of numbers (rounded for integer
    columns), the most frequent value of anything else (text, categories, booleans)."""
    import numpy as np
    import pandas as pd

    frame = background if hasattr(background, "iloc") else pd.DataFrame(np.asarray(background))
    values = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if pd.api.types.is_float_dtype(column.dtype):
            values.append(float(column.mean()))
        elif pd.api.types.is_integer_dtype(column.dtype) and column.notna().any():
            values.append(int(round(float(column.mean()))))  # stays an integer column
        else:
            modes = column.mode(dropna=True)
            values.append(modes.iloc[0] if len(modes) else None)
    return values


def _repeat(data: Any, times: int) -> Any:
    import numpy as np
    import pandas as pd

    if hasattr(data, "iloc"):
        return pd.concat([data] * times, ignore_index=True)
    return np.concatenate([np.asarray(data)] * times, axis=0)


def _set_column(rows: Any, j: int, where: slice, value: Any) -> None:
    if hasattr(rows, "iloc"):
        rows.iloc[where, j] = value
    else:
        rows[where, j] = value


def _one_row(data: Any, reference: list[Any]) -> Any:
    import numpy as np
    import pandas as pd

    if hasattr(data, "iloc"):
        # Each value in its column's own type, so a category column stays a category.
        columns = {
            i: pd.Series([value]).astype(dtype) if value is not None else pd.Series([None])
            for i, (value, dtype) in enumerate(zip(reference, data.dtypes, strict=True))
        }
        row = pd.DataFrame(columns)
        row.columns = data.columns
        return row
    return np.asarray([reference], dtype=np.asarray(data).dtype)
