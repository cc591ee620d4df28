"""MLflow 3 logged models in the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from perennia.entities import LoggedModelMetric, ModelLink
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store import open_store


@pytest.fixture
def store(sql_store_uri: str):
    opened = open_store(sql_store_uri)
    yield opened
    opened.close()


@pytest.fixture
def run(store):
    experiment_id = store.experiments.create("models")
    return store.runs.create(experiment_id, run_name="trainer").info


def test_a_model_is_created_pending_under_its_run_with_params_and_tags(store, run) -> None:
    created = store.logged_models.create(
        run.experiment_id,
        "model",
        source_run_id=run.run_id,
        model_type="sklearn",
        params={"C": "1.0"},
        tags={"team": "risk"},
    )
    assert created.model_id.startswith("m-") and len(created.model_id) == 34
    assert (created.status, created.lifecycle_stage, created.experiment_id) == (
        "PENDING",
        "active",
        run.experiment_id,
    )
    assert created.artifact_location == f"runs:/{run.run_id}/models/{created.model_id}"
    assert (created.params, created.tags, created.model_type) == (
        {"C": "1.0"},
        {"team": "risk"},
        "sklearn",
    )
    assert store.logged_models.get(created.model_id) == created
    runless = store.logged_models.create(run.experiment_id, "external")
    assert (runless.source_run_id, runless.artifact_location) == (None, "")


def test_creation_checks_its_experiment_run_and_names(store, run) -> None:
    models = store.logged_models
    with pytest.raises(NotFound, match="experiment '999'"):
        models.create("999", "model")
    other = store.experiments.create("elsewhere")
    with pytest.raises(InvalidInput, match="is in experiment"):
        models.create(other, "model", source_run_id=run.run_id)
    # A source run that names no run is recorded as given; such a model keeps no files.
    for claimed in ("0" * 32, "123"):
        dangling = models.create(run.experiment_id, "model", source_run_id=claimed)
        assert (dangling.source_run_id, dangling.artifact_location) == (claimed, "")
    with pytest.raises(InvalidInput, match="source_run_id"):
        models.create(run.experiment_id, "model", source_run_id="../" + run.run_id)
    with pytest.raises(InvalidInput, match="logged model name"):
        models.create(run.experiment_id, "  ")
    with pytest.raises(InvalidInput, match="param key"):
        models.create(run.experiment_id, "model", params={"": "x"})
    with pytest.raises(InvalidInput, match="tags must be a mapping"):
        models.create(run.experiment_id, "model", tags=["a"])
    store.experiments.delete(other)
    with pytest.raises(Conflict, match="deleted"):
        models.create(other, "model")


def test_finalize_sets_ready_or_failed_only(store, run) -> None:
    models = store.logged_models
    model = models.create(run.experiment_id, "model", source_run_id=run.run_id)
    assert models.finalize(model.model_id, "READY").status == "READY"
    assert models.finalize(model.model_id, "FAILED").status == "FAILED"
    with pytest.raises(InvalidInput, match="READY or FAILED"):
        models.finalize(model.model_id, "DONE")
    with pytest.raises(NotFound):
        models.finalize("m-" + "0" * 32, "READY")
    with pytest.raises(InvalidInput, match="model_id"):
        models.get("../../etc")


def test_tags_are_replaced_and_deleted_and_params_are_immutable(store, run) -> None:
    models = store.logged_models
    model_id = models.create(run.experiment_id, "model", tags={"a": "1", "b": "2"}).model_id
    models.set_tags(model_id, {"a": "3", "c": "4"})
    models.delete_tag(model_id, "b")
    assert models.get(model_id).tags == {"a": "3", "c": "4"}
    with pytest.raises(NotFound, match="no tag 'b'"):
        models.delete_tag(model_id, "b")
    models.log_params(model_id, {"lr": "0.1"})
    models.log_params(model_id, {"lr": "0.1", "depth": "3"})
    with pytest.raises(Conflict, match="cannot change"):
        models.log_params(model_id, {"lr": "0.2", "extra": "x"})
    assert models.get(model_id).params == {"lr": "0.1", "depth": "3"}


def test_search_pages_newest_first_filters_and_skips_deleted(store, run) -> None:
    models = store.logged_models
    other_run = store.runs.create(run.experiment_id).info.run_id
    made = [
        models.create(run.experiment_id, "model", source_run_id=run.run_id),
        models.create(run.experiment_id, "model", source_run_id=other_run),
        models.create(run.experiment_id, "other", source_run_id=run.run_id),
    ]
    first = models.search([run.experiment_id], max_results=2)
    second = models.search([run.experiment_id], max_results=2, page_token=first.next_page_token)
    seen = [*first, *second]
    assert second.next_page_token is None
    assert {m.model_id for m in seen} == {m.model_id for m in made}
    assert [m.creation_time for m in seen] == sorted((m.creation_time for m in seen), reverse=True)
    named = models.search([run.experiment_id], name="model", source_run_id=run.run_id)
    assert [m.model_id for m in named] == [made[0].model_id]
    models.delete(made[0].model_id)
    assert made[0].model_id not in {m.model_id for m in models.search([run.experiment_id])}
    assert models.get(made[0].model_id).lifecycle_stage == "deleted"
    with pytest.raises(Conflict, match="deleted"):
        models.set_tags(made[0].model_id, {"a": "b"})
    with pytest.raises(InvalidInput, match="max_results"):
        models.search([run.experiment_id], max_results=0)
    with pytest.raises(InvalidInput, match="experiment_ids"):
        models.search([])


def test_metrics_are_recorded_per_model_with_their_run_and_dataset(store, run) -> None:
    models = store.logged_models
    model = models.create(run.experiment_id, "model")
    other = models.create(run.experiment_id, "other")
    metrics = [
        LoggedModelMetric("auc", 0.9, 100, 1, run.run_id, "train", "abc123"),
        LoggedModelMetric("loss", math.nan, 101),
    ]
    models.log_metrics(model.model_id, metrics)
    stored = models.get(model.model_id).metrics
    assert stored[0] == metrics[0] and math.isnan(stored[1].value) and stored[1].run_id is None
    found = models.search([run.experiment_id], datasets=[("train", "abc123")])
    assert [m.model_id for m in found] == [model.model_id]
    assert [m.model_id for m in models.search([run.experiment_id], datasets=[("train", None)])] == [
        model.model_id
    ]
    assert list(models.search([run.experiment_id], datasets=[("train", "other")])) == []
    assert len(models.search([run.experiment_id])) == 2
    assert models.get(other.model_id).metrics == []  # metrics stay with the model they name
    with pytest.raises(InvalidInput, match="metric key"):
        models.log_metrics(model.model_id, [LoggedModelMetric("", 1.0, 1)])
    with pytest.raises(InvalidInput):
        models.log_metrics(model.model_id, [LoggedModelMetric("m", 1.0, 1, run_id="123")])
    with pytest.raises(NotFound):
        models.log_metrics("m-" + "0" * 32, metrics)


def test_runs_link_the_models_they_consumed_and_produced_once(store, run) -> None:
    models = store.logged_models
    made = models.create(run.experiment_id, "made")
    used = models.create(run.experiment_id, "used")
    links = [ModelLink(made.model_id, "output", 3), ModelLink(used.model_id, "input")]
    models.link_run(run.run_id, links)
    models.link_run(run.run_id, [ModelLink(made.model_id, "output", 9)])  # kept as first linked
    assert models.run_links([run.run_id, "f" * 32]) == {
        run.run_id: [ModelLink(used.model_id, "input"), ModelLink(made.model_id, "output", 3)]
    }
    with pytest.raises(NotFound, match="logged model"):
        models.link_run(run.run_id, [ModelLink("m-" + "0" * 32, "input")])
    with pytest.raises(InvalidInput, match="direction"):
        models.link_run(run.run_id, [ModelLink(made.model_id, "sideways")])
    with pytest.raises(NotFound):
        models.link_run("0" * 32, links)
