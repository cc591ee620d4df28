"""A small scikit-learn pipeline saved as a package, shared by the batch-scoring tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["amount", "age", "city"]


def make_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Return `n` rows: an id, two numeric features, a text feature and a label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "amount": rng.normal(100, 30, n),
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["north", "south", "east"], n),
        }
    )
    frame["label"] = ((frame["amount"] > 100) ^ (frame["city"] == "east")).astype(np.int64)
    return frame


def fit_pipeline(frame: pd.DataFrame):
    """Return a scaler + one-hot + logistic regression pipeline fitted on `frame`."""
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["amount", "age"]), ("cat", OneHotEncoder(), ["city"])]
    )
    return make_pipeline(prep, LogisticRegression()).fit(frame[FEATURES], frame["label"])


def save_package(folder: Path, *, signature: bool = True):
    """Save a fitted pipeline at `folder` (with an inferred signature); return the pipeline."""
    import perennia

    pipeline = fit_pipeline(make_rows(400, seed=1))
    example = make_rows(5, seed=2)[FEATURES]
    perennia.models.save(
        pipeline,
        folder,
        input_example=example,
        signature="infer" if signature else None,
    )
    return pipeline
