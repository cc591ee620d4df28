"""The group table behind the fairness metrics: weighted confusion cells per group.

Rows are grouped by their sensitive features (one or several, combined as "a|b") and every
per-group rate is read off one weighted count per (group, y_true, y_pred) cell. How groups are
named, labelled and ordered is described in `perennia.evaluate.metrics.fairness`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import as_binary, as_weights, same_length

# The per-group columns of the report, each an attribute of the group table.
_GROUP_COLUMNS = (
    "count",
    "weight",
    "selection_rate",
    "tpr",
    "fpr",
    "precision",
    "accuracy",
    "error_rate",
    "benefit",
    "positives",
    "predicted_positives",
)


class _GroupTable:
    """Weighted confusion cells per group: columns tn, fp, fn, tp (rows = groups)."""

    def __init__(
        self, features: tuple[str, ...], labels: list[str], counts: np.ndarray, cells: np.ndarray
    ) -> None:
        self.features = features
        self.labels = labels
        self.size = len(labels)
        self.count = counts
        tn, fp, fn, tp = cells.T
        self.weight = tn + fp + fn + tp
        self.positives = fn + tp
        self.predicted_positives = fp + tp
        self.selection_rate = _rate(fp + tp, self.weight)
        self.tpr = _rate(tp, fn + tp)
        self.fpr = _rate(fp, tn + fp)
        self.precision = _rate(tp, fp + tp)
        self.accuracy = _rate(tn + tp, self.weight)
        self.error_rate = _rate(fp + fn, self.weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            benefit = self.predicted_positives / self.positives
        no_positives = self.positives == 0
        benefit[no_positives] = np.where(self.predicted_positives[no_positives] > 0, np.inf, 1.0)
        self.benefit = benefit

    @classmethod
    def build(
        cls, y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any, pos_label: Any
    ) -> _GroupTable:
        """Return the table of validated inputs; y_true None counts every row as negative."""
        pred = as_binary(y_pred, "y_pred", pos_label=pos_label)
        if y_true is None:
            truth = np.zeros(pred.size, dtype=np.bool_)
        else:
            truth = as_binary(y_true, "y_true", pos_label=pos_label)
        n = same_length(y_true=truth, y_pred=pred)
        weights = as_weights(sample_weight, n)
        features, codes, labels = _encode_groups(sensitive_features, n)
        # One integer per row naming its (group, y_true, y_pred) cell; one bincount counts all.
        cell = codes * 4
        cell[truth] += 2
        cell[pred] += 1
        size = 4 * len(labels)
        counts = np.bincount(cell, minlength=size).reshape(-1, 4)
        if weights is None:
            cells = counts.astype(np.float64)
        else:
            cells = np.bincount(cell, weights=weights, minlength=size).reshape(-1, 4)
        return cls(features, labels, counts.sum(axis=1), cells)

    def label(self, index: int | None) -> str | None:
        """Return the label of the group at `index` (None stays None)."""
        return None if index is None else self.labels[index]

    def reference_index(self, reference_group: Any) -> int:
        """Return the index of the named group, or of the highest selection rate if None."""
        if reference_group is None:
            return int(np.nanargmax(self.selection_rate))
        if isinstance(reference_group, tuple | list):
            wanted = "|".join(str(part) for part in reference_group)
        else:
            wanted = str(reference_group)
        if wanted not in self.labels:
            shown = ", ".join(repr(label) for label in self.labels[:20])
            more = f" and {self.size - 20} more" if self.size > 20 else ""
            raise InvalidInput(
                f"reference_group {reference_group!r} is not one of the groups ({shown}{more}); "
                "pass one of those labels"
            )
        return self.labels.index(wanted)

    def rows(self) -> list[dict[str, Any]]:
        """Return the group table as one plain dict per group."""
        columns = {key: getattr(self, key).tolist() for key in _GROUP_COLUMNS}
        return [
            {"group": label, **{key: values[i] for key, values in columns.items()}}
            for i, label in enumerate(self.labels)
        ]


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return numerator / denominator elementwise, NaN where the denominator is zero."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _encode_groups(
    sensitive_features: Any, n: int
) -> tuple[tuple[str, ...], np.ndarray, list[str]]:
    """Return the feature names, each row's group code and the group labels in value order."""
    import pandas as pd

    columns = _feature_columns(sensitive_features)
    codes, labels = _factorize(*columns[0], n)
    for name, values in columns[1:]:
        more_codes, more_labels = _factorize(name, values, n)
        width = len(more_labels)
        # Pair codes into one integer and renumber densely (only combinations present count);
        # each feature's codes follow its value order, so sorted pairs follow tuple order.
        codes, pairs = pd.factorize(codes * width + more_codes, sort=True)
        labels = [f"{labels[p // width]}|{more_labels[p % width]}" for p in pairs.tolist()]
        codes, labels = _merge_equal_labels(codes.astype(np.int64, copy=False), labels)
    return tuple(name for name, _ in columns), codes, labels


def _feature_columns(sensitive_features: Any) -> list[tuple[str, Any]]:
    """Return (name, values) for each sensitive feature in the order given."""
    features = sensitive_features
    if features is None:
        raise InvalidInput(
            "sensitive_features is missing; pass an array (or several) naming each row's group"
        )
    if isinstance(features, Mapping):
        columns = [(str(name), values) for name, values in features.items()]
    elif hasattr(features, "columns") and getattr(features, "ndim", 2) == 2:
        columns = [(str(name), features[name]) for name in features.columns]
    elif isinstance(features, np.ndarray) and features.ndim == 2:
        columns = [(f"feature_{i}", features[:, i]) for i in range(features.shape[1])]
    elif isinstance(features, list | tuple) and features and all(map(_is_column, features)):
        columns = [(_name(values, i), values) for i, values in enumerate(features)]
    else:
        columns = [(_name(features, 0), features)]
    if not columns:
        raise InvalidInput("sensitive_features holds no feature; pass at least one column")
    return columns


def _is_column(value: Any) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str | bytes)


def _name(values: Any, index: int) -> str:
    name = getattr(values, "name", None)
    return f"feature_{index}" if name is None else str(name)


def _factorize(name: str, values: Any, n: int) -> tuple[np.ndarray, list[str]]:
    """Return each row's code for one feature and the label of each code."""
    import pandas as pd

    if not isinstance(values, pd.Series | pd.Index | pd.Categorical):
        values = tables.to_numpy(values, f"sensitive feature {name!r}")
        if values.ndim != 1:
            raise InvalidInput(
                f"sensitive feature {name!r} must be one-dimensional, got shape {values.shape}"
            )
        if values.dtype.kind in "US":
            values = values.astype(object)
    if len(values) != n:
        raise InvalidInput(
            f"sensitive feature {name!r} has {len(values)} rows but y_pred has {n}; "
            "pass one value per row"
        )
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64, copy=False)
    labels = [str(value) for value in uniques]
    try:
        order = sorted(range(len(labels)), key=list(uniques).__getitem__)
    except TypeError:  # values of mixed types do not compare; their labels do
        order = sorted(range(len(labels)), key=labels.__getitem__)
    position = np.empty(len(labels) + 1, dtype=np.int64)
    position[order] = np.arange(len(labels))
    # The NaN sentinel -1 reads the last slot: the "missing" group, listed last.
    position[-1] = len(labels)
    codes = position[codes]
    labels = [labels[i] for i in order]
    if (codes == len(labels)).any():
        labels.append("missing")
    return _merge_equal_labels(codes, labels)


def _merge_equal_labels(codes: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Return codes where values printing alike (1 and "1", NaN and "missing") are one group."""
    if len(set(labels)) == len(labels):
        return codes, labels
    import pandas as pd

    renumber, distinct = pd.factorize(np.array(labels, dtype=object))
    return renumber[codes], list(distinct)
