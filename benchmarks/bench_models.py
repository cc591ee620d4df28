"""Model packages side by side: Perennia (skops, sha256-verified) vs MLflow (pickle) on one pipeline.

The same fitted scikit-learn pipeline (scaler + logistic regression, 30 float columns) is
saved with an inferred signature and an input example by both tools, loaded back, and asked
for predictions through each tool's loaded-model interface, signature enforcement included.
Perennia verifies the sha256 of every file on each load; MLflow checks nothing. Loading by
alias goes through each registry on its own SQLite store. Predictions must agree exactly.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from common import (
    REPEATS,
    Result,
    emit,
    fresh_dir,
    median_seconds,
    quiet_mlflow,
    use_mlflow_store,
    use_perennia_store,
)

ROWS = int(os.environ.get("BENCH_MODEL_ROWS", "10000"))
SINGLE_CALLS = 300  # single-row predictions per timing sample (serving's hot path)


def make_model():
    """Return (pipeline, features): a fitted scaler + logistic regression and its input frame."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(ROWS, 30)), columns=[f"f{i}" for i in range(30)])
    y = (X["f0"] + X["f1"] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X


class Saver:
    """Saves the model to numbered folders so each timing sample writes a fresh package."""

    def __init__(self, folder: Path, model, X) -> None:
        self.folder, self.model, self.X, self.count = folder, model, X, 0

    def perennia(self) -> Path:
        """Return the folder of a new Perennia package."""
        import perennia

        self.count += 1
        path = self.folder / f"perennia-{self.count}"
        perennia.models.save(self.model, path, signature="infer", input_example=self.X.head(5))
        return path

    def mlflow(self) -> Path:
        """Return the folder of a new MLflow model."""
        import mlflow.sklearn
        from mlflow.models import infer_signature

        self.count += 1
        path = self.folder / f"mlflow-{self.count}"
        example = self.X.head(5)
        signature = infer_signature(example, self.model.predict(example))
        mlflow.sklearn.save_model(self.model, str(path), signature=signature, input_example=example)
        return path


def single_row_seconds(predict, row) -> float:
    """Return the median time of one single-row prediction."""
    return median_seconds(lambda: [predict(row) for _ in range(SINGLE_CALLS)]) / SINGLE_CALLS


def by_alias(model, X) -> tuple[float, float]:
    """Return (Perennia, MLflow) median seconds to load `models:/bench@champion`."""
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

    import perennia

    use_perennia_store(fresh_dir("models-perennia"))
    with perennia.start_run():
        info = perennia.log_model(
            model,
            name="model",
            signature="infer",
            input_example=X.head(5),
            registered_model_name="bench",
        )
    perennia.registry.set_alias("bench", "champion", info.registered_version)
    ours = median_seconds(lambda: perennia.models.load("models:/bench@champion"))
    use_mlflow_store(fresh_dir("models-mlflow"))
    with mlflow.start_run():
        logged = mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))
    version = mlflow.register_model(logged.model_uri, "bench").version
    mlflow.MlflowClient().set_registered_model_alias("bench", "champion", version)
    theirs = median_seconds(lambda: mlflow.pyfunc.load_model("models:/bench@champion"))
    return ours, theirs


def main() -> list[Result]:
    """Return the save, load, predict and load-by-alias comparisons."""
    import mlflow.pyfunc

    import perennia

    quiet_mlflow()
    warnings.filterwarnings("ignore")
    model, X = make_model()
    saver = Saver(fresh_dir("models"), model, X)
    save_ours, save_theirs = median_seconds(saver.perennia), median_seconds(saver.mlflow)
    ours_path, theirs_path = saver.perennia(), saver.mlflow()
    load_ours = median_seconds(lambda: perennia.models.load(ours_path))
    load_theirs = median_seconds(lambda: mlflow.pyfunc.load_model(str(theirs_path)))
    ours, theirs = perennia.models.load(ours_path), mlflow.pyfunc.load_model(str(theirs_path))
    assert np.array_equal(np.asarray(ours.predict(X)), np.asarray(theirs.predict(X)))
    row = X.head(1)
    one_ours, one_theirs = (
        single_row_seconds(ours.predict, row),
        single_row_seconds(theirs.predict, row),
    )
    bulk_ours = median_seconds(lambda: ours.predict(X))
    bulk_theirs = median_seconds(lambda: theirs.predict(X))
    alias_ours, alias_theirs = by_alias(model, X)
    note = f"median of {REPEATS}; predictions agree on {ROWS:,} rows"
    anchor = "MLflow 3 (pickle, no digest check)"
    return [
        Result(
            "save a model package",
            save_ours,
            save_theirs,
            "s",
            anchor,
            ">= 2x",
            save_theirs / save_ours >= 2,
            note,
        ),
        Result(
            "load a package (every file's sha256 verified)",
            load_ours,
            load_theirs,
            "s",
            anchor,
            ">= 2x",
            load_theirs / load_ours >= 2,
            note,
        ),
        Result(
            "predict 1 row, signature enforced",
            one_ours,
            one_theirs,
            "s",
            anchor,
            ">= 1.5x",
            one_theirs / one_ours >= 1.5,
            f"median over {SINGLE_CALLS} calls x {REPEATS}",
        ),
        Result(
            f"predict {ROWS:,} rows, signature enforced",
            bulk_ours,
            bulk_theirs,
            "s",
            anchor,
            ">= 1x",
            bulk_theirs / bulk_ours >= 1,
            note,
        ),
        Result(
            "load models:/bench@champion from the registry",
            alias_ours,
            alias_theirs,
            "s",
            anchor + ", SQLite registry",
            ">= 2x",
            alias_theirs / alias_ours >= 2,
            note,
        ),
    ]


if __name__ == "__main__":
    emit(main())
