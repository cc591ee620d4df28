"""A monitor window before its labels arrive: CBPE's estimate from a labelled reference window
of the log, close to the accuracy the held-back labels give, with bounds and alert flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from perennia.monitoring.monitors import evaluate_window
from perennia.monitoring.profiles import profile

DAY = 86_400_000


def _log(rng, n: int, start: int, shift: float = 0.0) -> tuple[pa.Table, np.ndarray]:
    x = rng.normal(shift, 1.0, n)
    proba = 1.0 / (1.0 + np.exp(-2.0 * x))
    truth = (rng.random(n) < proba).astype(float)  # calibrated by construction
    table = pa.table(
        {
            "prediction_id": [f"{start}-{i}" for i in range(n)],
            "time_ms": np.linspace(start, start + DAY - 1, n).astype("int64"),
            "ok": np.ones(n, dtype=bool),
            "shadow": np.zeros(n, dtype=bool),
            "input.x": x,
            "output.prediction": (proba > 0.5).astype(float),
            "output.proba": proba,
        }
    )
    return table, truth


def test_a_window_without_labels_gets_cbpe_estimates_near_the_truth():
    rng = np.random.default_rng(12)
    reference_log, reference_truth = _log(rng, 20_000, 0)
    baseline = reference_log.to_pandas().assign(ground_truth=reference_truth)
    current_log, held_back = _log(rng, 4_000, DAY, shift=0.8)  # more positives, easier cases
    inputs = profile(pd.DataFrame({"x": reference_log["input.x"].to_numpy()}))
    config = {"task": "binary", "probabilities": "output.proba"}
    result = evaluate_window(
        current_log, DAY, 2 * DAY, inputs, config=config, reference_log=baseline
    )
    values = result.values
    realised = float(np.mean(current_log["output.prediction"].to_numpy() == held_back))
    # 4 standard errors of an accuracy measured on 4,000 rows.
    assert values["estimated.accuracy"] == pytest.approx(realised, abs=4 * np.sqrt(0.25 / 4_000))
    assert values["labels.coverage"] == 0.0
    assert values["realised.accuracy"] is None
    assert values["alert.estimated.accuracy"] in (0.0, 1.0)
    assert values["drift.drifted"] == 1.0  # the input moved by 0.8 sd
    # ... and so did the scores: the outputs drift against the reference window's.
    assert values["outputs.drifted"] == 1.0
    assert values["output.proba.effect"] > 0.3 and values["output.proba.p_value"] < 1e-6


def test_a_window_counts_schema_breaks_and_missing_values_against_the_reference():
    rng = np.random.default_rng(4)
    reference = profile(
        pd.DataFrame({"x": rng.normal(size=2_000), "y": rng.normal(size=2_000), "z": ["a"] * 2_000})
    )
    n = 500
    y = rng.normal(size=n)
    y[:50] = np.nan
    log = pa.table(
        {
            "prediction_id": [str(i) for i in range(n)],
            "time_ms": np.arange(n, dtype="int64"),
            "ok": np.r_[np.ones(n - 5, dtype=bool), np.zeros(5, dtype=bool)],
            "input.y": y + 10.0,  # far outside the reference's range
            "input.z": rng.normal(size=n),  # numbers where the reference had text
        }
    )
    values = evaluate_window(log, 0, DAY, reference).values
    assert values["quality.missing_columns"] == 1.0  # x
    assert values["quality.type_mismatches"] == 1.0  # z
    assert values["quality.max_null_share"] == pytest.approx(0.1)
    assert values["quality.out_of_range_columns"] == 1.0  # y
    assert values["errors.share"] == pytest.approx(0.01)
