"""Reading a table of logged predictions (and their delayed labels) into per-row arrays.

The table has the prediction log's columns (`data.predlog`): `prediction_id`, `time_ms`,
`output.<name>` and, for a 2-D output such as class probabilities, `output.<name>.0` ..
`output.<name>.<k-1>`. Labels come either as a column of the table (`ground_truth`, as
`join_feedback` adds it) or as a separate table of `prediction_id, ground_truth[, time_ms]`
joined here by id with the log's latest-label-wins rule. Rows whose `ok` is false (failed
predictions, which have no output) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Columns:
    """Which columns hold the predicted label or value, the scores, the label and the time."""

    prediction: str | None = None  # default "output.prediction" unless scores decide
    probabilities: str | None = None  # a column, or the prefix n of columns n.0 .. n.<k-1>
    label: str = "ground_truth"
    time: str = "time_ms"


@dataclass(frozen=True, eq=False)
class Prepared:
    """One table's rows as arrays: labels where known, predictions and scores everywhere."""

    frame: pd.DataFrame  # the rows kept, in their order (positions index the arrays)
    task: str
    labelled: np.ndarray  # bool: the row has a label
    truth: np.ndarray  # binary: bool; multiclass: labels; regression: float (valid where labelled)
    predicted: np.ndarray  # binary: bool; multiclass: labels; regression: float
    scores: np.ndarray | None  # binary: (n,) of the positive class; multiclass: (n, k)
    classes: np.ndarray | None  # multiclass: the class of each score column

    @property
    def n(self) -> int:
        """Return the number of rows."""
        return int(self.labelled.size)


def prepare(
    predictions: Any,
    labels: Any = None,
    *,
    task: str,
    columns: Columns | None = None,
    pos_label: Any = 1,
    threshold: float = 0.5,
    classes: Any = None,
    name: str = "predictions",
) -> Prepared:
    """Return the rows of `predictions` (with `labels` joined by id) as arrays for `task`."""
    import numpy as np

    from perennia._util import tables

    if task not in TASKS:
        raise InvalidInput(f"task={task!r} is not one of {', '.join(TASKS)}")
    columns = columns or Columns()
    try:
        frame = tables.to_pandas(predictions, name)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None
    if "ok" in frame.columns:
        frame = frame[frame["ok"].fillna(False).to_numpy(dtype=bool)]
    frame = frame.reset_index(drop=True)
    raw, labelled = _labels(frame, labels, columns.label, name)
    scores = _scores(frame, columns.probabilities, task, name)
    if task == "regression":
        predicted = _numbers(frame, columns.prediction or "output.prediction", name)
        truth = _label_numbers(raw, labelled, columns.label)
        return Prepared(frame, task, labelled, truth, predicted, None, None)
    if task == "binary":
        _check_threshold(threshold)
        truth = np.zeros(len(frame), dtype=bool)
        if labelled.any():
            truth[labelled] = _as_binary(raw[labelled], columns.label, pos_label)
        if columns.prediction is None and scores is not None:
            predicted = scores >= threshold
        else:
            values = _column(frame, columns.prediction or "output.prediction", name)
            predicted = _as_binary(typed_labels(values), columns.prediction, pos_label)
        return Prepared(frame, task, labelled, truth, predicted, scores, None)
    return _multiclass(frame, raw, labelled, scores, columns, classes, name)


def _multiclass(
    frame: pd.DataFrame,
    raw: np.ndarray,
    labelled: np.ndarray,
    scores: np.ndarray | None,
    columns: Columns,
    classes: Any,
    name: str,
) -> Prepared:
    import numpy as np

    truth = typed_labels(raw)
    values = None
    if columns.prediction is not None or scores is None:
        values = typed_labels(_column(frame, columns.prediction or "output.prediction", name))
        _refuse_missing(values, columns.prediction or "output.prediction")
    if classes is not None:
        found = np.asarray(classes)
        if found.ndim != 1 or found.size < 2 or np.unique(found).size != found.size:
            raise InvalidInput("classes must list at least two distinct class labels")
    else:
        seen = np.concatenate([truth[labelled]] + ([] if values is None else [values]))
        try:
            found = np.unique(seen) if seen.size else None
        except TypeError:
            raise InvalidInput(
                "labels and predictions mix types (e.g. text and numbers); pass classes="
            ) from None
    if scores is not None and (found is None or found.size != scores.shape[1]):
        count = 0 if found is None else found.size
        raise InvalidInput(
            f"{columns.probabilities!r} has {scores.shape[1]} score columns but {count}"
            " classes are known from the labels; pass classes= naming each column's class"
        )
    predicted = values if values is not None else found[np.argmax(scores, axis=1)]
    return Prepared(frame, "multiclass", labelled, truth, predicted, scores, found)


def _labels(frame: pd.DataFrame, labels: Any, label: str, name: str) -> tuple[Any, Any]:
    """Return (label per row, bool mask of rows with a label)."""
    import numpy as np
    import pandas as pd

    if labels is None:
        if label not in frame.columns:
            return np.full(len(frame), None, dtype=object), np.zeros(len(frame), dtype=bool)
        values = _column(frame, label, name)
        return values, ~np.asarray(pd.isna(values), dtype=bool)
    return _joined(frame, labels, label, name)


def _joined(frame: pd.DataFrame, labels: Any, label: str, name: str) -> tuple[Any, Any]:
    import numpy as np
    import pyarrow as pa

    from perennia._util import tables
    from perennia.data.predlog_feedback import join_feedback

    try:
        feedback = tables.to_pandas(labels, "labels")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None
    for table, table_name in ((frame, name), (feedback, "labels")):
        if "prediction_id" not in table.columns:
            raise InvalidInput(f"{table_name} needs a 'prediction_id' column to join labels by")
    if label not in feedback.columns:
        raise InvalidInput(f"labels has no {label!r} column; pass label= naming the label column")
    keep = [c for c in ("prediction_id", "time_ms") if c in feedback.columns]
    feedback = feedback[[*keep, label]].rename(columns={label: "ground_truth"})
    try:
        left = pa.table({"prediction_id": pa.array(frame["prediction_id"].astype(str))})
        right = pa.Table.from_pandas(feedback, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"labels could not be read as one type per column: {exc}") from None
    truth = join_feedback(left, right)["ground_truth"]
    labelled = ~np.asarray(truth.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return truth.to_numpy(zero_copy_only=False), labelled


def _scores(frame: pd.DataFrame, spec: str | None, task: str, name: str) -> np.ndarray | None:
    """Return the binary positive-class scores (n,) or the multiclass score matrix (n, k)."""
    import numpy as np

    if spec is None:
        return None
    if task == "regression":
        raise InvalidInput("probabilities= applies to classification; drop it for regression")
    if spec in frame.columns:
        names = [spec]
    else:
        names = []
        while f"{spec}.{len(names)}" in frame.columns:
            names.append(f"{spec}.{len(names)}")
        if not names:
            outputs = [c for c in frame.columns if str(c).startswith("output.")][:8]
            raise InvalidInput(
                f"{name} has neither a {spec!r} column nor {spec}.0, {spec}.1, ...; output"
                f" columns found: {outputs}"
            )
    matrix = np.column_stack([_numbers(frame, n, name) for n in names])
    if matrix.size and (matrix.min() < 0.0 or matrix.max() > 1.0):
        bad = matrix.min() if matrix.min() < 0.0 else matrix.max()
        raise InvalidInput(
            f"{spec!r} must hold probabilities in [0, 1], found {float(bad)!r};"
            " log predict_proba output, not decision_function"
        )
    if task == "binary":
        if matrix.shape[1] > 2:
            raise InvalidInput(
                f"{spec!r} has {matrix.shape[1]} columns; a binary task takes the positive"
                " class's probability (one column) or two columns ordered (negative, positive)"
            )
        return matrix[:, -1]
    if matrix.shape[1] < 2:
        raise InvalidInput(f"{spec!r} must have one column per class (at least 2) for multiclass")
    return matrix


def _column(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    from perennia._util import tables

    if column not in frame.columns:
        outputs = [c for c in frame.columns if str(c).startswith("output.")][:8]
        raise InvalidInput(
            f"{name} has no {column!r} column (output columns: {outputs});"
            " pass prediction= or probabilities= naming the model's output"
        )
    return tables.column(frame, column, name)


def _numbers(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    import numpy as np

    values = _column(frame, column, name)
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{column!r} must hold numbers, found {values.dtype} values") from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            f"{column!r} is {values[row]!r} at row {row}; drop rows without a finite output first"
        )
    return values


def _label_numbers(raw: np.ndarray, labelled: np.ndarray, label: str) -> np.ndarray:
    import numpy as np

    truth = np.full(raw.size, np.nan)
    try:
        truth[labelled] = np.asarray(raw[labelled], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{label!r} must hold numbers for a regression task") from None
    if not np.isfinite(truth[labelled]).all():
        raise InvalidInput(f"{label!r} holds an infinite label; labels must be finite numbers")
    return truth


def _as_binary(values: np.ndarray, name: str | None, pos_label: Any) -> np.ndarray:
    from perennia.evaluate.metrics._validation import as_binary

    if values.size == 0:
        return values.astype(bool)
    return as_binary(values, name or "output.prediction", pos_label=pos_label)


def typed_labels(values: np.ndarray) -> np.ndarray:
    """Return an object array of plain labels as numpy's own type for them (bool, float, str)."""
    import numpy as np

    if values.dtype != object:
        return values
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, str) for v in present):
        return np.array([v if v is not None else None for v in values], dtype=object)
    try:
        return np.array(values.tolist())
    except (TypeError, ValueError):
        return values


def _refuse_missing(values: np.ndarray, column: str) -> None:
    import numpy as np
    import pandas as pd

    missing = np.asarray(pd.isna(values), dtype=bool)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InvalidInput(f"{column!r} is missing at row {row}; drop rows without an output")


def _check_threshold(threshold: Any) -> None:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 <= threshold <= 1.0
    ):
        raise InvalidInput(f"threshold={threshold!r} must be a probability between 0 and 1")
