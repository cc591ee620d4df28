"""Importable example pipelines for the automation tests (and other helpers' tests).

`training`: scikit-learn's breast-cancer data (or a dataset version, `data="train@3"`) ->
stratified split -> StandardScaler + LogisticRegression(C) -> held-out metrics; its `model`
output is a model package (`run.model_uri()`).

The small pipelines below append each step's name to the file `log` when they run, so a test
counts executions instead of timing them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd

from perennia.automation.pipeline import Pipeline, step

# -- the training pipeline ----------------------------------------------------------------------


@step(outputs="frame")
def load(data: str | None = None) -> pd.DataFrame:
    """Return the breast-cancer table (features + `target`), from a dataset version if given."""
    if data:
        import perennia.data

        return perennia.data.load(data)
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


@step(outputs=("X_train", "X_test", "y_train", "y_test"))
def split(frame: pd.DataFrame, test_size: float = 0.3, seed: int = 0):
    """Return a stratified train/test split of the features and labels."""
    from sklearn.model_selection import train_test_split

    y = frame["target"].to_numpy()
    X = frame.drop(columns=["target"])
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    return X_train, X_test, y_train, y_test


@step(outputs="model")
def train(X_train: pd.DataFrame, y_train: np.ndarray, C: float = 1.0):
    """Return a fitted StandardScaler + LogisticRegression pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(
        X_train, y_train
    )


@step(metrics="metrics")
def evaluate(model, X_test: pd.DataFrame, y_test: np.ndarray) -> dict:
    """Return held-out ROC AUC and accuracy."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    scores = model.predict_proba(X_test)[:, 1]
    return {
        "roc_auc": float(roc_auc_score(y_test, scores)),
        "accuracy": float(accuracy_score(y_test, model.predict(X_test))),
    }


training = Pipeline("training", [load, split, train, evaluate])


# -- counting pipelines ---------------------------------------------------------------------------


def note(log: str, name: str) -> None:
    """Append one execution of step `name` to the log file."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(name + "\n")


def executions(log: str | Path) -> list[str]:
    """Return the steps that ran, in order."""
    path = Path(log)
    return path.read_text(encoding="utf-8").split() if path.exists() else []


@step
def raw(log: str, n: int = 30) -> pd.DataFrame:
    note(log, "raw")
    rng = np.random.default_rng(n)
    return pd.DataFrame({"x": rng.normal(size=n), "group": [f"g{i % 3}" for i in range(n)]})


@step
def features(raw: pd.DataFrame, log: str, scale: float = 1.0) -> pd.DataFrame:
    note(log, "features")
    return raw.assign(x2=raw["x"] * scale)


@step
def labels(raw: pd.DataFrame, log: str) -> np.ndarray:
    note(log, "labels")
    return (raw["x"].to_numpy() > 0).astype(np.int64)


@step(metrics="summary")
def summarize(features: pd.DataFrame, labels: np.ndarray, log: str) -> dict:
    note(log, "summarize")
    return {"rows": float(len(features)), "positives": float(labels.sum())}


counting = Pipeline("counting", [raw, features, labels, summarize])


@step
def fragile(features: pd.DataFrame, log: str, flag: str) -> int:
    """Fail while the file `flag` holds 'raise', die by SIGKILL while it holds 'kill'."""
    note(log, "fragile")
    mode = Path(flag).read_text(encoding="utf-8").strip() if Path(flag).exists() else ""
    if mode == "raise":
        raise RuntimeError("fragile step failed on purpose")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return len(features)


@step
def after(fragile: int, log: str) -> int:
    note(log, "after")
    return fragile * 2


resumable = Pipeline("resumable", [raw, features, fragile, after])


def flaky_function(log: str, fail_times: int = 2) -> int:
    """Fail on the first `fail_times` calls (counted in the log), then return the call number."""
    before = executions(log).count("flaky")
    note(log, "flaky")
    if before < fail_times:
        raise ConnectionError(f"flaky failure number {before + 1}")
    return before + 1


def flaky_pipeline(retries: int) -> Pipeline:
    """Return a one-step pipeline retrying `flaky_function` `retries` times."""
    flaky = step(name="flaky", outputs="calls", retries=retries, retry_delay=0.01)(flaky_function)
    return Pipeline(f"flaky-{retries}", [flaky])


@step(timeout=1.0)
def sleepy(log: str, seconds: float = 20.0) -> int:
    note(log, "sleepy")
    time.sleep(seconds)
    return 1


@step
def after_sleepy(sleepy: int, log: str) -> int:
    note(log, "after_sleepy")
    return sleepy


slow = Pipeline("slow", [sleepy, after_sleepy])


@step
def gate(log: str, flag: str) -> int:
    """Wait (up to 60 s) until the file `flag` exists: the test acts meanwhile."""
    note(log, "gate")
    deadline = time.monotonic() + 60
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return 1


@step
def second(gate: int, log: str) -> int:
    note(log, "second")
    return gate + 1


@step
def third(second: int, log: str) -> int:
    note(log, "third")
    return second + 1


gated = Pipeline("gated", [gate, second, third])
