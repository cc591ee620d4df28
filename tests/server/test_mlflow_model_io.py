"""What MLflow 3 records around runs and logged models, through a live server and the real
mlflow client: every tag of a dataset input, the models a run consumed and produced, metric
values on a logged model (and searching models by their datasets), and dataset summaries."""

from __future__ import annotations

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
)


@pytest.fixture
def client(live_server, monkeypatch):
    url, backing = live_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return mlflow.MlflowClient(url, registry_uri=url), url, backing


def _dataset_input(*tags: tuple[str, str]) -> DatasetInput:
    data = Dataset(name="train", digest="d1", source_type="local", source="file:///t.csv")
    return DatasetInput(dataset=data, tags=[InputTag(key=k, value=v) for k, v in tags])


def test_every_tag_of_a_dataset_input_comes_back_in_order(client) -> None:
    mlflow_client, _url, backing = client
    run_id = mlflow_client.create_run(mlflow_client.create_experiment("tags")).info.run_id
    tags = (("foo", "baz"), ("mlflow.data.context", "train"))
    mlflow_client.log_inputs(run_id, [_dataset_input(*tags)])
    got = mlflow_client.get_run(run_id).inputs.dataset_inputs
    assert [(t.key, t.value) for t in got[0].tags] == list(tags)
    stored = backing.inputs.list(run_id)[0]  # Perennia's own view: the context, then the rest
    assert (stored.context, stored.tags) == ("train", {"foo": "baz"})


def test_a_run_lists_the_models_it_consumed_and_produced(client) -> None:
    mlflow_client, _url, backing = client
    eid = mlflow_client.create_experiment("io")
    run_id = mlflow_client.create_run(eid).info.run_id
    made = mlflow_client.create_logged_model(eid, name="made")
    used = mlflow_client.create_logged_model(eid, name="used")
    mlflow_client.log_outputs(run_id, [LoggedModelOutput(made.model_id, 2)])
    mlflow_client.log_inputs(run_id, models=[LoggedModelInput(model_id=used.model_id)])
    run = mlflow_client.get_run(run_id)
    assert run.outputs.model_outputs == [LoggedModelOutput(made.model_id, 2)]
    assert [m.model_id for m in run.inputs.model_inputs] == [used.model_id]
    found = mlflow_client.search_runs([eid])
    assert found[0].outputs.model_outputs == [LoggedModelOutput(made.model_id, 2)]
    assert set(backing.logged_models.run_links([run_id])) == {run_id}


def test_metrics_naming_a_model_are_kept_on_it_and_searchable_by_dataset(client) -> None:
    mlflow_client, _url, _backing = client
    eid = mlflow_client.create_experiment("model-metrics")
    run_id = mlflow_client.create_run(eid).info.run_id
    scored = mlflow_client.create_logged_model(eid, name="scored")
    mlflow_client.create_logged_model(eid, name="unscored")
    mlflow_client.log_metric(
        run_id,
        "auc",
        0.75,
        timestamp=5,
        step=1,
        dataset_name="holdout",
        dataset_digest="abc",
        model_id=scored.model_id,
    )
    [metric] = mlflow_client.get_logged_model(scored.model_id).metrics
    assert (metric.key, metric.value, metric.step, metric.run_id) == ("auc", 0.75, 1, run_id)
    assert (metric.dataset_name, metric.dataset_digest, metric.model_id) == (
        "holdout",
        "abc",
        scored.model_id,
    )
    assert mlflow_client.get_run(run_id).data.metrics == {"auc": 0.75}  # the run keeps it too
    found = mlflow_client.search_logged_models(
        experiment_ids=[eid], datasets=[{"dataset_name": "holdout", "dataset_digest": "abc"}]
    )
    assert [m.name for m in found] == ["scored"]


def test_dataset_summaries_name_each_dataset_and_context_of_an_experiment(client) -> None:
    mlflow_client, url, _backing = client
    eid = mlflow_client.create_experiment("summaries")
    run_id = mlflow_client.create_run(eid).info.run_id
    mlflow_client.log_inputs(run_id, [_dataset_input(("mlflow.data.context", "training"))])
    answer = httpx.post(
        f"{url}/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [eid]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "dataset_summaries": [
            {"experiment_id": eid, "name": "train", "digest": "d1", "context": "training"}
        ]
    }
    empty = httpx.post(f"{url}/api/2.0/mlflow/experiments/search-datasets", json={})
    assert empty.status_code == 400


@pytest.mark.parametrize("endpoint", ["log-metric", "log-batch"])
def test_a_metric_naming_an_absent_model_is_refused_before_the_run_keeps_any(
    client, endpoint
) -> None:
    mlflow_client, url, backing = client
    run_id = mlflow_client.create_run(mlflow_client.create_experiment(endpoint)).info.run_id
    point = {"key": "auc", "value": 0.5, "timestamp": 5, "step": 0}
    absent = {**point, "key": "loss", "model_id": "m-" + "0" * 32}
    body = (
        {"run_id": run_id, **absent}
        if endpoint == "log-metric"
        else {"run_id": run_id, "metrics": [point, absent]}
    )
    answer = httpx.post(f"{url}/api/2.0/mlflow/runs/{endpoint}", json=body)
    assert answer.status_code == 404, answer.text
    assert backing.runs.get(run_id).data.metrics == {}
