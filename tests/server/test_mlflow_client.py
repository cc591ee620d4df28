"""The unmodified `mlflow` client against a live `perennia server`: ordinary MLflow user code.

Each test points `mlflow` at the server, runs what an MLflow user writes, and then checks the
same data through Perennia's own store behind the server.
"""

from __future__ import annotations

import math
from pathlib import Path

import mlflow  # the dev extra installs it: these tests run, never skip
import pytest

from perennia.entities import Param


@pytest.fixture
def mlflow_server(live_server, monkeypatch: pytest.MonkeyPatch):
    """Yield (mlflow module, backing store) with mlflow tracking to the live server."""
    url, backing = live_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(url)
    yield mlflow, backing
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_a_full_mlflow_workflow_lands_in_the_perennia_store(mlflow_server, tmp_path: Path):
    mlflow, backing = mlflow_server
    mlflow.set_experiment("mlflow-users")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "model": "rf"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "bad": float("nan")})
        mlflow.set_tags({"team": "fraud", "stage": "dev"})
        mlflow.log_text("hello", "notes/readme.txt")
        mlflow.log_dict({"a": 1}, "config.json")
        (tmp_path / "model.bin").write_bytes(b"\x00\x01weights")
        mlflow.log_artifact(str(tmp_path / "model.bin"), artifact_path="model")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("x", 2.0)

    run = backing.runs.get(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "parent"
    assert run.data.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert run.data.metrics["acc"] == 0.9 and math.isnan(run.data.metrics["bad"])
    assert [m.value for m in backing.metrics.history(run.info.run_id, "loss")] == [
        1.0 / (s + 1) for s in range(5)
    ]
    assert run.data.tags["team"] == "fraud"
    assert backing.runs.get(child.info.run_id).info.parent_run_id == parent.info.run_id
    manifest = {e.path for e in backing.artifacts.list(run.info.run_id)}
    assert manifest == {"notes/readme.txt", "config.json", "model/model.bin"}


def test_mlflow_reads_back_what_it_logged(mlflow_server, tmp_path: Path) -> None:
    mlflow, _ = mlflow_server
    client = mlflow.MlflowClient()
    mlflow.set_experiment("reads")
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", 0.25, step=1)
        mlflow.log_param("model", "rf")
        mlflow.log_text("artifact text", "out/result.txt")
    with mlflow.start_run():
        mlflow.log_param("model", "lr")

    frame = mlflow.search_runs(filter_string="params.model = 'rf'")
    assert list(frame["run_id"]) == [run.info.run_id]
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.25)]
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["out"]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "out")] == ["out/result.txt"]
    local = client.download_artifacts(run.info.run_id, "out", str(tmp_path))
    assert (Path(local) / "result.txt").read_text() == "artifact text"
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"model": "rf"} and fetched.info.status == "FINISHED"
    experiment = client.get_experiment_by_name("reads")
    assert experiment.experiment_id == run.info.experiment_id
    assert client.get_experiment_by_name("never-created") is None


def test_mlflow_errors_keep_their_codes(mlflow_server) -> None:
    mlflow, backing = mlflow_server
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    with pytest.raises(MlflowException) as caught:
        client.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    mlflow.set_experiment("errors")
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        with pytest.raises(MlflowException) as caught:
            mlflow.log_param("lr", "0.2")
    assert backing.runs.get(run.info.run_id).data.params == {"lr": "0.1"}
    with pytest.raises(MlflowException) as caught:
        mlflow.search_runs(filter_string="metrics.acc >")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_runs_logged_by_perennia_are_visible_to_mlflow(mlflow_server) -> None:
    mlflow, backing = mlflow_server
    eid = backing.experiments.create("from-perennia")
    run = backing.runs.create(eid, run_name="native")
    backing.params.log(run.info.run_id, [Param("k", "v")])
    fetched = mlflow.MlflowClient().get_run(run.info.run_id)
    assert fetched.info.run_name == "native" and fetched.data.params == {"k": "v"}
    assert fetched.data.tags["mlflow.runName"] == "native"


def test_mlflow_dataset_inputs_and_perennia_sdk_see_the_same_run(mlflow_server, live_server):
    import pandas as pd

    import perennia

    mlflow, backing = mlflow_server
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="train", targets="label")
    mlflow.set_experiment("inputs")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_metric("acc", 0.75)
    stored = perennia.Client(tracking_uri=live_server[0]).get_run(run.info.run_id)
    (item,) = stored.inputs.dataset_inputs
    assert (item.dataset.name, item.context, item.dataset.row_count) == ("train", "training", 3)
    assert item.dataset.digest == dataset.digest
    assert stored.data.metrics == {"acc": 0.75}
    fetched = mlflow.MlflowClient().get_run(run.info.run_id)
    assert fetched.inputs.dataset_inputs[0].dataset.name == "train"


def test_mlflow_experiment_search_filters_by_name(mlflow_server) -> None:
    mlflow, _ = mlflow_server
    client = mlflow.MlflowClient()
    for name in ("fraud-a", "fraud_b", "churn"):
        client.create_experiment(name)
    like = {e.name for e in client.search_experiments(filter_string="name LIKE 'fraud%'")}
    assert like == {"fraud-a", "fraud_b"}
    exact = [e.name for e in client.search_experiments(filter_string="name = 'fraud_b'")]
    assert exact == ["fraud_b"]
    from mlflow.exceptions import MlflowException

    assert client.search_experiments(filter_string="tags.x = 'y'") == []
    with pytest.raises(MlflowException):
        client.search_experiments(filter_string="owner = 'y'")
