"""The fluent API end to end on a real store (SQLite and PostgreSQL): what a user's script does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import perennia
from perennia.errors import Conflict, InvalidInput


def test_a_run_records_params_metrics_tags_and_finishes(tracking: str) -> None:
    perennia.set_experiment("fluent")
    with perennia.start_run(run_name="baseline", tags={"team": "fraud"}) as run:
        assert perennia.active_run().run_id == run.run_id
        perennia.log_params({"n_estimators": 200, "max_depth": 8})
        assert perennia.log_param("lr", 0.1) == 0.1
        for step in range(5):
            perennia.log_metric("loss", 1.0 / (step + 1), step=step)
        perennia.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        perennia.set_tags({"stage": "dev"})
        perennia.set_tag("owner", "ana")
    assert perennia.active_run() is None

    stored = perennia.Client().get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.info.end_time >= stored.info.start_time
    assert stored.info.run_name == "baseline"
    assert stored.data.params == {"n_estimators": "200", "max_depth": "8", "lr": "0.1"}
    assert stored.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert {"team": "fraud", "stage": "dev", "owner": "ana"}.items() <= stored.data.tags.items()
    history = perennia.Client().get_metric_history(run.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    experiment = perennia.get_experiment_by_name("fluent")
    assert stored.info.experiment_id == experiment.experiment_id


def test_an_exception_inside_the_run_marks_it_failed_and_propagates(tracking: str) -> None:
    with pytest.raises(ZeroDivisionError), perennia.start_run() as run:
        perennia.log_metric("before", 1.0)
        1 / 0  # noqa: B018
    stored = perennia.Client().get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert "ZeroDivisionError" in stored.info.error
    assert stored.data.metrics == {"before": 1.0}


def test_nested_runs_record_their_parent_and_a_second_top_level_run_is_refused(
    tracking: str,
) -> None:
    with perennia.start_run() as parent:
        with pytest.raises(Conflict, match="already active"):
            perennia.start_run()
        with perennia.start_run(nested=True) as child:
            perennia.log_metric("x", 1.0)
        assert perennia.active_run().run_id == parent.run_id
    client = perennia.Client()
    assert client.get_run(child.run_id).info.parent_run_id == parent.run_id
    assert client.get_run(child.run_id).info.status == "FINISHED"


def test_logging_without_an_active_run_starts_one_like_mlflow(tracking: str) -> None:
    perennia.log_metric("orphan", 1.0)
    active = perennia.active_run()
    assert active is not None
    perennia.end_run()
    stored = perennia.Client().get_run(active.run_id)
    assert stored.data.metrics == {"orphan": 1.0} and stored.info.status == "FINISHED"


def test_a_conflicting_param_is_reported_and_the_first_value_kept(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_param("lr", "0.1")
        perennia.flush()
        perennia.log_param("lr", "0.2")
        perennia.log_metric("kept", 3.0)
        with pytest.raises(Conflict, match="lr"):
            perennia.flush()
    stored = perennia.Client().get_run(run.run_id)
    assert stored.data.params == {"lr": "0.1"}
    assert stored.data.metrics == {"kept": 3.0}


@pytest.mark.parametrize("bad", ["abc", None, object(), [1.0], {"v": 1}])
def test_a_bad_metric_value_is_refused_at_the_call_and_earlier_points_stay(
    tracking: str, bad
) -> None:
    with perennia.start_run() as run:
        perennia.log_metric("loss", 0.5, step=0)
        with pytest.raises(InvalidInput, match="loss"):
            perennia.log_metric("loss", bad, step=1)
        perennia.log_metric("loss", 0.25, step=2)
    history = perennia.Client().get_metric_history(run.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (2, 0.25)]


@pytest.mark.parametrize("bad_key", ["", "../x", "a" * 1000, "bad\nkey"])
def test_bad_keys_are_refused_at_the_call(tracking: str, bad_key: str) -> None:
    with perennia.start_run():
        with pytest.raises(InvalidInput):
            perennia.log_metric(bad_key, 1.0)
        with pytest.raises(InvalidInput):
            perennia.log_param(bad_key, "v")


def test_synchronous_logging_is_visible_before_any_flush(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_metric("now", 7.0, synchronous=True)
        store = perennia.Client().context.store
        assert store.runs.get(run.run_id).data.metrics == {"now": 7.0}


def test_artifacts_round_trip_through_the_client(tracking: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("hello")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "data.csv").write_text("a,b\n1,2\n")
    figure, axes = plt.subplots()
    axes.plot([0, 1], [0, 1])
    with perennia.start_run() as run:
        perennia.log_artifact(tmp_path / "in" / "notes.txt", artifact_path="docs")
        perennia.log_artifacts(tmp_path / "in", artifact_path="all")
        perennia.log_text("plain text", "text/readme.md")
        perennia.log_dict({"b": 2, "a": [1, 2]}, "config.json")
        perennia.log_figure(figure, "plots/line.png")
    plt.close(figure)

    client = perennia.Client()
    root = {f.path: f.is_dir for f in client.list_artifacts(run.run_id)}
    assert root == {"all": True, "config.json": False, "docs": True, "plots": True, "text": True}
    out = Path(client.download_artifacts(run.run_id, "", tmp_path / "out"))
    assert (out / "docs" / "notes.txt").read_text() == "hello"
    assert (out / "all" / "sub" / "data.csv").read_text() == "a,b\n1,2\n"
    assert (out / "text" / "readme.md").read_text() == "plain text"
    assert json.loads((out / "config.json").read_text()) == {"a": [1, 2], "b": 2}
    assert (out / "plots" / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_log_input_records_the_dataset_descriptor(tracking: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    dataset = perennia.data.from_pandas(frame, name="train", targets="label")
    with perennia.start_run() as run:
        perennia.log_input(dataset, context="training")
    inputs = perennia.Client().get_run(run.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    stored = inputs[0]
    assert stored.context == "training"
    assert (stored.dataset.name, stored.dataset.digest, stored.dataset.row_count) == (
        "train",
        dataset.digest,
        3,
    )
    assert stored.dataset.targets == ["label"]


def test_search_runs_returns_an_mlflow_shaped_dataframe(tracking: str) -> None:
    perennia.set_experiment("searchable")
    for model, acc in (("rf", 0.9), ("lr", 0.8), ("rf", 0.7)):
        with perennia.start_run():
            perennia.log_param("model", model)
            perennia.log_metric("acc", acc)
    frame = perennia.search_runs(filter_string="params.model = 'rf'", order_by=["metrics.acc DESC"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["metrics.acc"]) == [0.9, 0.7]
    assert set(frame["params.model"]) == {"rf"}
    assert {"run_id", "experiment_id", "status", "start_time", "end_time"} <= set(frame.columns)
    runs = perennia.search_runs(output_format="list", order_by=["metrics.acc ASC"])
    assert [r.data.metrics["acc"] for r in runs] == [0.7, 0.8, 0.9]
