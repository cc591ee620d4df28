"""Build a small MLflow store (database + artifact folder) with the real mlflow client."""

from __future__ import annotations

import sys
from pathlib import Path


def build_mlflow_store(root: Path, artifact_root: str | None = None) -> tuple[str, str]:
    """Return (database URI, artifact root) of an MLflow store filled through the mlflow client."""
    import os

    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    artifacts = artifact_root or (root / "mlartifacts").as_uri()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    try:
        first = client.create_experiment("fraud", artifact_location=f"{artifacts}/1")
        second = client.create_experiment("churn", artifact_location=f"{artifacts}/2")
        client.set_experiment_tag(first, "team", "risk")
        mlflow.set_experiment(experiment_id=first)
        with mlflow.start_run(run_name="parent") as parent:
            mlflow.log_params({"lr": "0.1", "depth": 3})
            mlflow.set_tags({"owner": "ana", "stage": "dev"})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("odd", float("nan"), step=0)
            mlflow.log_text("hello", "notes/readme.txt")
            folder = root / "plots"
            folder.mkdir(exist_ok=True)
            (folder / "a.bin").write_bytes(b"\x00\x01")
            (folder / "sub").mkdir(exist_ok=True)
            (folder / "sub" / "b.txt").write_text("b")
            mlflow.log_artifacts(str(folder), "plots")
            frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
            mlflow.log_input(mlflow.data.from_pandas(frame, name="train", targets="y"), "training")
            with mlflow.start_run(run_name="child", nested=True):
                mlflow.log_metric("acc", 0.5, step=1)
            model = LogisticRegression().fit(frame[["x"]], frame["y"])
            info = mlflow.sklearn.log_model(model, name="model")
        with mlflow.start_run(run_name="broken"):
            mlflow.log_param("p", "x")
        client.set_terminated(mlflow.last_active_run().info.run_id, "FAILED")
        mlflow.set_experiment(experiment_id=second)
        for i in range(3):
            with mlflow.start_run(run_name=f"sweep-{i}"):
                mlflow.log_param("i", i)
                mlflow.log_metrics({"m": i / 10, "k": i}, step=i)
        client.create_registered_model("classifier", tags={"domain": "fraud"}, description="d")
        v1 = client.create_model_version("classifier", info.model_uri, parent.info.run_id)
        v2 = client.create_model_version(
            "classifier", info.model_uri, parent.info.run_id, description="second"
        )
        client.set_model_version_tag("classifier", v2.version, "validated", "yes")
        client.set_registered_model_alias("classifier", "champion", v1.version)
    finally:
        mlflow.set_tracking_uri(None)
    return uri, artifacts


if __name__ == "__main__":  # python -m tests.interop.mlflow_source_store FOLDER
    print(build_mlflow_store(Path(sys.argv[1])))
