"""Delayed labels ("feedback") for logged predictions: written, read latest-wins, joined by id.

Feedback is low volume (one call per label upload), so `record_feedback` writes its own part
file directly instead of going through the prediction writer's queue.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from perennia.clock import now_ms
from perennia.data.predlog_format import (
    FEEDBACK,
    MAX_ID_LENGTH,
    check_deployment_name,
    concat_tables,
    day_of,
    feedback_key,
)
from perennia.data.predlog_reader import check_window, date_folders, part_keys
from perennia.data.predlog_sinks import open_sink
from perennia.errors import InvalidInput

MAX_LABEL_LENGTH = 10_000


def _kind(value: Any, position: int) -> str:
    """Return "number", "bool" or "string" for a JSON scalar label; InvalidInput otherwise."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise InvalidInput(
                f"ground truth {value!r} (item {position}) is not finite; give a finite number"
            )
        return "number"
    if isinstance(value, str):
        if len(value) > MAX_LABEL_LENGTH:
            raise InvalidInput(
                f"ground truth of item {position} has {len(value)} characters;"
                f" at most {MAX_LABEL_LENGTH} are accepted"
            )
        return "string"
    raise InvalidInput(
        f"ground truth {value!r} (item {position}) must be a number, a string or a boolean"
    )


def _pairs(items: Any) -> list[tuple[Any, Any]]:
    """Return (prediction id, ground truth) pairs from a mapping, pairs, or dicts with both keys."""
    if isinstance(items, Mapping):
        return list(items.items())
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InvalidInput(
            "feedback must be a list of (prediction_id, ground_truth) pairs or a mapping"
        )
    pairs = []
    for position, item in enumerate(items):
        if isinstance(item, Mapping):
            if "prediction_id" not in item or "ground_truth" not in item:
                raise InvalidInput(
                    f"feedback item {position} needs the keys 'prediction_id' and 'ground_truth'"
                )
            pairs.append((item["prediction_id"], item["ground_truth"]))
        elif isinstance(item, tuple | list) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            raise InvalidInput(
                f"feedback item {position} must be a (prediction_id, ground_truth) pair"
            )
    return pairs


def _label_array(labels: list[Any], kinds: list[str]) -> Any:
    """Return the labels as one Arrow array: float64, bool or string (one kind per call)."""
    import pyarrow as pa

    if len(set(kinds)) > 1:
        position = next(i for i, k in enumerate(kinds) if k != kinds[0])
        raise InvalidInput(
            f"ground truth of item {position} is a {kinds[position]} but item 0 is a"
            f" {kinds[0]}; one call takes labels of one kind (numbers, strings or booleans)"
        )
    if kinds[0] == "number":
        return pa.array([float(v) for v in labels], type=pa.float64())
    if kinds[0] == "bool":
        return pa.array([bool(v) for v in labels], type=pa.bool_())
    return pa.array(labels, type=pa.string())


def record_feedback(
    location: str,
    items: Any,
    *,
    deployment: str | None = None,
    time_ms: int | None = None,
    client: Any = None,
) -> int:
    """Return the number of labels written as one new feedback part (0 writes nothing)."""
    import pyarrow as pa

    pairs = _pairs(items)
    if not pairs:
        return 0
    if deployment is not None:
        check_deployment_name(deployment)
    if time_ms is None:
        time_ms = now_ms()
    elif isinstance(time_ms, bool) or not isinstance(time_ms, int):
        raise InvalidInput(f"time_ms={time_ms!r} must be epoch milliseconds (an integer)")
    ids, labels, kinds = [], [], []
    for position, (prediction_id, label) in enumerate(pairs):
        if not isinstance(prediction_id, str) or not 0 < len(prediction_id) <= MAX_ID_LENGTH:
            raise InvalidInput(
                f"prediction id {prediction_id!r} (item {position}) must be a non-empty string"
                f" of at most {MAX_ID_LENGTH} characters"
            )
        ids.append(prediction_id)
        labels.append(label)
        kinds.append(_kind(label, position))
    n = len(ids)
    table = pa.table(
        {
            "prediction_id": pa.array(ids, type=pa.string()),
            "time_ms": pa.repeat(time_ms, n).cast(pa.int64()),
            "ground_truth": _label_array(labels, kinds),
            "deployment": pa.repeat(deployment, n).cast(pa.string()),
        }
    )
    sink = open_sink(location, client)
    sink.write_table(feedback_key(day_of(time_ms), time_ms), table)
    return n


def _unify_labels(tables: list[Any]) -> list[Any]:
    """Return the tables with one ground-truth type: theirs if shared, else float64 or string."""
    import pyarrow as pa

    types = {t.schema.field("ground_truth").type for t in tables}
    if len(types) <= 1:
        return tables
    # Booleans and numbers meet as numbers (True is 1.0); anything with strings becomes text.
    target = pa.string() if pa.string() in types else pa.float64()
    return [
        t.set_column(
            t.schema.get_field_index("ground_truth"), "ground_truth", t["ground_truth"].cast(target)
        )
        for t in tables
    ]


def latest_per_id(feedback: Any) -> Any:
    """Return one row per prediction id: the latest by `time_ms`, later rows winning ties."""
    import numpy as np

    if feedback.num_rows == 0:
        return feedback
    order = np.argsort(feedback["time_ms"].to_numpy(), kind="stable")[::-1]
    newest_first = feedback.take(order)
    codes = newest_first["prediction_id"].combine_chunks().dictionary_encode().indices
    _, first = np.unique(codes.to_numpy(), return_index=True)
    return newest_first.take(np.sort(first)[::-1])


def read_feedback(location: str, *, since_ms: int | None = None, client: Any = None) -> Any:
    """Return the latest label per prediction id (recorded at or after `since_ms`) as a table."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    check_window(since_ms, None)
    sink = open_sink(location, client)
    keys = part_keys(sink, date_folders(sink, FEEDBACK, since_ms, None), None)
    tables = []
    for key in keys:
        table = pq.ParquetFile(sink.open(key)).read().replace_schema_metadata(None)
        if since_ms is not None:
            table = table.filter(pc.greater_equal(table["time_ms"], since_ms))
        if table.num_rows:
            tables.append(table)
    if not tables:
        schema = [("prediction_id", pa.string()), ("time_ms", pa.int64())]
        schema += [("ground_truth", pa.float64()), ("deployment", pa.string())]
        return pa.schema(schema).empty_table()
    return latest_per_id(concat_tables(_unify_labels(tables)))


def join_feedback(predictions: Any, feedback: Any) -> Any:
    """Return `predictions` with a `ground_truth` column (the latest label per id, else null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for label, table in (("predictions", predictions), ("feedback", feedback)):
        if not isinstance(table, pa.Table) or "prediction_id" not in table.column_names:
            raise InvalidInput(f"{label} must be an Arrow table with a 'prediction_id' column")
    if "ground_truth" not in feedback.column_names:
        raise InvalidInput("feedback must have a 'ground_truth' column")
    if "time_ms" in feedback.column_names:
        feedback = latest_per_id(feedback)
    index = pc.index_in(predictions["prediction_id"], value_set=feedback["prediction_id"])
    truth = feedback["ground_truth"].take(index)
    if "ground_truth" in predictions.column_names:
        predictions = predictions.drop_columns(["ground_truth"])
    return predictions.append_column("ground_truth", truth)
