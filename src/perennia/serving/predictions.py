"""Turning one predicted batch into the prediction log's columnar record (`data.predlog`).

The log's format belongs to `perennia.data.predlog`; this module only maps what the server
holds after a batch (the joined input frame, the model's answer, the requests' ids and arrival
times) onto it, column-wise, so logging costs a few array operations per batch.
"""

from __future__ import annotations

import time
from typing import Any


def prediction_batch(
    served: Any, items: list[Any], inputs: Any, outputs: Any, error: Any, now: float
) -> Any:
    """Return the PredictionBatch recording `items` (one row per predicted row)."""
    import numpy as np

    from perennia.data.predlog import PredictionBatch, new_prediction_ids

    request_ids: list[str] = []
    prediction_ids: list[str] = []
    latencies: list[float] = []
    for item in items:
        n = item.parsed.n_rows
        if not item.prediction_ids:
            item.prediction_ids = new_prediction_ids(item.request_id, n)
        prediction_ids.extend(item.prediction_ids)
        request_ids.extend([item.request_id] * n)
        latencies.extend([(now - item.received) * 1000.0] * n)
    return PredictionBatch(
        deployment=served.deployment,
        variant=served.variant,
        model_name=served.name,
        model_version=-1 if served.version is None else served.version,
        shadow=served.shadow,
        request_ids=request_ids,
        prediction_ids=prediction_ids,
        time_ms=int(time.time() * 1000),
        latency_ms=np.asarray(latencies),
        ok=error is None,
        error=None if error is None else f"{type(error).__name__}: {error}"[:2000],
        inputs=input_columns(inputs),
        outputs={} if outputs is None else output_columns(outputs, len(prediction_ids)),
    )


def input_columns(inputs: Any) -> dict[str, Any]:
    """Return the model input as named 1-D columns (a 2-D tensor's columns are "0".."k-1")."""
    if hasattr(inputs, "columns"):
        return {str(c): inputs[c].to_numpy() for c in inputs.columns}
    if getattr(inputs, "ndim", 0) == 2:
        return {str(i): inputs[:, i] for i in range(inputs.shape[1])}
    if getattr(inputs, "ndim", 0) == 1:
        return {"0": inputs}
    return {}  # higher-rank tensors (images) are not logged column-wise


def output_columns(outputs: Any, rows: int) -> dict[str, Any]:
    """Return the model output as named 1-D columns ("prediction" for a single column)."""
    import numpy as np

    if isinstance(outputs, dict):
        return {str(k): np.asarray(v) for k, v in outputs.items()}
    if hasattr(outputs, "columns"):  # DataFrame
        return {str(c): outputs[c].to_numpy() for c in outputs.columns}
    if hasattr(outputs, "to_numpy"):  # Series
        return {"prediction": outputs.to_numpy()}
    array = np.asarray(outputs)
    if array.ndim == 1 and len(array) == rows:
        return {"prediction": array}
    if array.ndim == 2 and len(array) == rows:
        if array.shape[1] == 1:
            return {"prediction": array[:, 0]}
        return {str(i): array[:, i] for i in range(array.shape[1])}
    return {}
