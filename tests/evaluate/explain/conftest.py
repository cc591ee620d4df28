"""Small tabular problems the explanation tests share: regression, binary and three classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

COLUMNS = ["age", "income", "tenure", "noise"]


def features(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Return four numeric columns; the last carries no signal."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, len(COLUMNS))), columns=COLUMNS)


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return features()


@pytest.fixture(scope="session")
def regression_target(frame) -> np.ndarray:
    rng = np.random.default_rng(1)
    signal = 3 * frame["age"] + frame["income"] * frame["tenure"] + 0.5 * frame["tenure"]
    return (signal + rng.normal(scale=0.3, size=len(frame))).to_numpy()


@pytest.fixture(scope="session")
def binary_target(regression_target) -> np.ndarray:
    return (regression_target > 0).astype(int)


@pytest.fixture(scope="session")
def multiclass_target(regression_target) -> np.ndarray:
    return np.digitize(regression_target, np.quantile(regression_target, [1 / 3, 2 / 3]))
