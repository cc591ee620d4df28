"""Synthetic prediction logs whose scores are calibrated by construction (labels ~ Bernoulli(p))."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86_400_000


def binary_log(
    rng: np.random.Generator,
    n: int,
    *,
    a: float = 1.5,
    b: float = 2.0,
    start_ms: int = 0,
    days: int = 5,
    prefix: str = "p",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return (a prediction log with `output.proba.0/1`, the labels drawn from its p)."""
    p = rng.beta(a, b, n)
    y = (rng.random(n) < p).astype(np.float64)
    times = start_ms + np.sort(rng.integers(0, days * DAY, n))
    log = pd.DataFrame(
        {
            "prediction_id": [f"{prefix}-{i}" for i in range(n)],
            "time_ms": times,
            "ok": True,
            "output.proba.0": 1.0 - p,
            "output.proba.1": p,
        }
    )
    return log, y


def labels_for(log: pd.DataFrame, y: np.ndarray, rows: np.ndarray | slice) -> pd.DataFrame:
    """Return a feedback table labelling the given rows of the log."""
    return pd.DataFrame(
        {"prediction_id": log["prediction_id"].to_numpy()[rows], "ground_truth": y[rows]}
    )


def bootstrap_sd(p: np.ndarray, predicted: np.ndarray, draws: int = 400, seed: int = 0) -> dict:
    """Return the standard deviation of each realised metric when labels ~ Bernoulli(p).

    The realised metric of a window is random even when the model is perfectly calibrated;
    redrawing the labels many times from the same p gives its spread exactly (no formula for
    each ratio metric needed), and that spread is the tolerance an unbiased estimate earns.
    """
    rng = np.random.default_rng(seed)
    y = rng.random((draws, p.size)) < p
    tp = (y & predicted).sum(1)
    fp = (~y & predicted).sum(1)
    fn = (y & ~predicted).sum(1)
    tn = (~y & ~predicted).sum(1)
    # ROC AUC by the rank-sum formula (midranks handle ties as scikit-learn does).
    ranks = pd.Series(p).rank().to_numpy()
    positives = y.sum(1)
    negatives = p.size - positives
    auc = (y @ ranks - positives * (positives + 1) / 2) / (positives * negatives)
    values = {
        "accuracy": (tp + tn) / p.size,
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "specificity": tn / (tn + fp),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "roc_auc": auc,
    }
    return {name: float(np.std(v)) for name, v in values.items()}
