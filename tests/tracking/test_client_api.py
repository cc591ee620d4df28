"""`perennia.Client`: explicit, durable-on-return access to experiments, runs and their data."""

from __future__ import annotations

import pytest

import perennia
from perennia.entities import Metric, Param, RunTag, ViewType
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound

UNKNOWN_RUN = "0" * 32


@pytest.fixture
def client(tracking: str) -> perennia.Client:
    return perennia.Client()


def test_experiments_create_get_rename_tag_search_delete_restore(client) -> None:
    eid = client.create_experiment("churn", tags={"team": "growth"})
    assert client.get_experiment(eid).name == "churn"
    assert client.get_experiment_by_name("churn").tags == {"team": "growth"}
    with pytest.raises(AlreadyExists):
        client.create_experiment("churn")
    client.rename_experiment(eid, "churn-v2")
    client.set_experiment_tag(eid, "stage", "prod")
    assert client.get_experiment(eid).tags == {"team": "growth", "stage": "prod"}
    names = {e.name for e in client.search_experiments()}
    assert {"Default", "churn-v2"} <= names

    client.delete_experiment(eid)
    assert "churn-v2" not in {e.name for e in client.search_experiments()}
    assert "churn-v2" in {
        e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)
    }
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"


def test_runs_are_written_durably_and_read_back(client) -> None:
    eid = client.create_experiment("runs")
    run = client.create_run(eid, run_name="explicit", tags={"k": "v"})
    run_id = run.info.run_id
    assert run.info.status == "RUNNING" and run.data.tags["k"] == "v"
    client.log_metric(run_id, "loss", 0.5, step=1, timestamp=1_000)
    client.log_param(run_id, "lr", 0.01)
    client.set_tag(run_id, "owner", "bo")
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 0.25, 2_000, 2), Metric("acc", 0.9, 2_000, 2)],
        params=[Param("depth", "3")],
        tags=[RunTag("stage", "dev")],
    )
    client.delete_tag(run_id, "owner")
    client.set_terminated(run_id, status="FINISHED")

    stored = client.get_run(run_id)
    assert stored.info.status == "FINISHED" and stored.info.end_time is not None
    assert stored.data.metrics == {"loss": 0.25, "acc": 0.9}
    assert stored.data.params == {"lr": "0.01", "depth": "3"}
    assert "owner" not in stored.data.tags and stored.data.tags["stage"] == "dev"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(1, 0.5, 1_000), (2, 0.25, 2_000)]
    page = client.search_runs([eid], "metrics.acc > 0.5")
    assert [r.info.run_id for r in page.items] == [run_id]


def test_deleted_runs_refuse_writes_until_restored(client) -> None:
    eid = client.create_experiment("trash")
    run_id = client.create_run(eid).info.run_id
    client.log_metric(run_id, "x", 1.0)
    client.delete_run(run_id)
    with pytest.raises(Conflict):
        client.log_metric(run_id, "x", 2.0)
    assert client.search_runs([eid]).items == []
    client.restore_run(run_id)
    client.log_metric(run_id, "x", 3.0, step=1)
    assert [m.value for m in client.get_metric_history(run_id, "x")] == [1.0, 3.0]


def test_unknown_ids_raise_not_found_and_malformed_ones_invalid_input(client) -> None:
    with pytest.raises(NotFound):
        client.get_run(UNKNOWN_RUN)
    with pytest.raises(NotFound):
        client.get_experiment("424242")
    with pytest.raises(NotFound):
        client.create_run("424242")
    with pytest.raises(NotFound):
        client.log_metric(UNKNOWN_RUN, "x", 1.0)
    with pytest.raises(InvalidInput):
        client.get_run("not-a-run-id")
    with pytest.raises(InvalidInput):
        client.get_experiment("../etc")


def test_a_conflicting_param_through_the_client_keeps_the_first_value(client) -> None:
    run_id = client.create_run(client.create_experiment("params")).info.run_id
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(Conflict, match="'0.1'.*'0.2'"):
        client.log_param(run_id, "lr", "0.2")
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
