"""Runs in the metadata store: create, read, update, trash, restore, heartbeats, purge."""

from __future__ import annotations

import re
import uuid

import pytest

from perennia.clock import now_ms
from perennia.entities import (
    Dataset,
    DatasetInput,
    LifecycleStage,
    MetricBatch,
    Param,
    RunStatus,
    RunTag,
)
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.testing.store_contract.helpers import artifact_entry, table_count

ACTIVE = LifecycleStage.ACTIVE.value
DELETED = LifecycleStage.DELETED.value
GENERATED_NAME = re.compile(r"^[a-z]+-[a-z]+-\d{3}$")


def _missing_id() -> str:
    return uuid.uuid4().hex


# --- create -----------------------------------------------------------------------------------


def test_create_returns_a_running_active_run_with_its_fields(store, experiment_id) -> None:
    run = store.runs.create(
        experiment_id,
        run_name="baseline",
        user_id="alice",
        start_time=1_700_000_000_000,
        source_name="train.py",
        git_commit="a" * 40,
    )
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert info.run_uuid == info.run_id
    assert info.run_name == "baseline"
    assert info.experiment_id == experiment_id
    assert info.status == RunStatus.RUNNING
    assert info.start_time == 1_700_000_000_000
    assert info.end_time is None
    assert info.user_id == "alice"
    assert info.lifecycle_stage == ACTIVE
    assert info.source_name == "train.py"
    assert info.git_commit == "a" * 40
    assert info.parent_run_id is None
    assert info.heartbeat_time == 1_700_000_000_000
    assert run.data.metrics == {} and run.data.params == {} and run.data.tags == {}
    assert run.inputs.dataset_inputs == []
    assert store.runs.get(info.run_id) == run


def test_create_without_start_time_uses_the_clock(store, experiment_id) -> None:
    before = now_ms()
    info = store.runs.create(experiment_id).info
    assert before <= info.start_time <= now_ms()


def test_create_without_name_generates_a_readable_one(store, experiment_id) -> None:
    names = {store.runs.create(experiment_id).info.run_name for _ in range(5)}
    assert all(GENERATED_NAME.match(name) for name in names), names


def test_create_gives_every_run_a_distinct_id(store, experiment_id) -> None:
    ids = {store.runs.create(experiment_id, run_name="same").info.run_id for _ in range(10)}
    assert len(ids) == 10


def test_create_with_tags_stores_them(store, experiment_id) -> None:
    run = store.runs.create(experiment_id, tags={"team": "risk", "mlflow.note": "hi"})
    assert run.data.tags == {"team": "risk", "mlflow.note": "hi"}
    assert store.runs.get(run.info.run_id).data.tags == run.data.tags


def test_create_with_parent_run_records_it(store, experiment_id) -> None:
    parent = store.runs.create(experiment_id, run_name="parent").info.run_id
    child = store.runs.create(experiment_id, run_name="child", parent_run_id=parent)
    assert child.info.parent_run_id == parent
    assert store.runs.get(child.info.run_id).info.parent_run_id == parent


def test_create_in_unknown_experiment_raises_not_found(store) -> None:
    with pytest.raises(NotFound, match="987"):
        store.runs.create("987")


def test_create_in_deleted_experiment_raises_conflict(store, experiment_id) -> None:
    store.experiments.delete(experiment_id)
    with pytest.raises(Conflict, match="deleted"):
        store.runs.create(experiment_id)
    assert table_count(store, "runs") == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"run_name": "  "},
        {"run_name": "x" * 257},
        {"parent_run_id": "not-a-run-id"},
        {"start_time": 2**63},
        {"start_time": 1.5},
        {"tags": {"../bad": "v"}},
        {"tags": {"ok": "v" * 8001}},
    ],
)
def test_create_with_invalid_arguments_is_rejected_and_creates_nothing(
    store, experiment_id, kwargs
) -> None:
    with pytest.raises(InvalidInput):
        store.runs.create(experiment_id, **kwargs)
    assert table_count(store, "runs") == 0


def test_create_with_malformed_experiment_id_is_rejected(store) -> None:
    with pytest.raises(InvalidInput):
        store.runs.create("exp-one")


# --- get --------------------------------------------------------------------------------------


def test_get_unknown_run_raises_not_found(store) -> None:
    missing = _missing_id()
    with pytest.raises(NotFound, match=missing):
        store.runs.get(missing)


@pytest.mark.parametrize("bad_id", ["", "abc", "A" * 32, "g" * 32, None, 123])
def test_get_with_malformed_run_id_is_rejected(store, bad_id) -> None:
    with pytest.raises(InvalidInput):
        store.runs.get(bad_id)


def test_get_returns_latest_metrics_params_tags_and_inputs(store, run_id) -> None:
    store.log_batch(
        run_id,
        MetricBatch(["acc", "acc"], [0.5, 0.9], [0, 1], [10, 20]),
        params=[Param("lr", "0.1")],
        tags=[RunTag("team", "core")],
    )
    dataset = Dataset("train", "ab12", "s3://b/train.csv", "s3", [], 10)
    store.inputs.log(run_id, [DatasetInput(dataset, "training")])
    run = store.runs.get(run_id)
    assert run.data.metrics == {"acc": 0.9}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags == {"team": "core"}
    assert run.inputs.dataset_inputs == [DatasetInput(dataset, "training")]


# --- update -----------------------------------------------------------------------------------


def test_update_changes_status_end_time_name_and_error(store, run_id) -> None:
    info = store.runs.update(
        run_id, status="FAILED", end_time=1_800_000_000_000, run_name="renamed", error="boom"
    )
    assert info.status == RunStatus.FAILED
    assert info.end_time == 1_800_000_000_000
    assert info.run_name == "renamed"
    assert info.error == "boom"
    assert store.runs.get(run_id).info == info


def test_update_with_nothing_changes_nothing(store, run_id) -> None:
    before = store.runs.get(run_id).info
    assert store.runs.update(run_id) == before


def test_update_only_touches_the_given_fields(store, run_id) -> None:
    store.runs.update(run_id, run_name="kept", end_time=5)
    info = store.runs.update(run_id, status=RunStatus.FINISHED)
    assert (info.status, info.run_name, info.end_time) == ("FINISHED", "kept", 5)


@pytest.mark.parametrize("status", list(RunStatus))
def test_update_accepts_every_run_status(store, run_id, status) -> None:
    assert store.runs.update(run_id, status=status.value).status == status.value


@pytest.mark.parametrize("status", ["DONE", "", "running ", "finished"])
def test_update_with_unknown_status_is_rejected(store, run_id, status) -> None:
    with pytest.raises(InvalidInput, match="status"):
        store.runs.update(run_id, status=status)
    assert store.runs.get(run_id).info.status == RunStatus.RUNNING


@pytest.mark.parametrize(
    "kwargs", [{"end_time": 2**63}, {"end_time": "soon"}, {"run_name": ""}, {"run_name": 5}]
)
def test_update_with_invalid_values_is_rejected(store, run_id, kwargs) -> None:
    before = store.runs.get(run_id).info
    with pytest.raises(InvalidInput):
        store.runs.update(run_id, **kwargs)
    assert store.runs.get(run_id).info == before


def test_update_unknown_run_raises_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.runs.update(_missing_id(), status="FINISHED")


# --- delete and restore -----------------------------------------------------------------------


def test_delete_moves_the_run_to_the_trash_and_restore_brings_it_back(store, run_id) -> None:
    store.runs.delete(run_id)
    assert store.runs.get(run_id).info.lifecycle_stage == DELETED
    store.runs.restore(run_id)
    assert store.runs.get(run_id).info.lifecycle_stage == ACTIVE


def test_delete_keeps_the_runs_data(store, run_id) -> None:
    store.log_batch(run_id, MetricBatch(["m"], [1.0], [0], [1]), params=[Param("p", "v")])
    store.runs.delete(run_id)
    run = store.runs.get(run_id)
    assert run.data.metrics == {"m": 1.0}
    assert run.data.params == {"p": "v"}
    assert [m.value for m in store.metrics.history(run_id, "m")] == [1.0]


def test_delete_and_restore_of_unknown_run_raise_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.runs.delete(_missing_id())
    with pytest.raises(NotFound):
        store.runs.restore(_missing_id())


def test_deleting_one_run_leaves_its_siblings_alone(store, experiment_id) -> None:
    first = store.runs.create(experiment_id).info.run_id
    second = store.runs.create(experiment_id).info.run_id
    store.runs.delete(first)
    assert store.runs.get(second).info.lifecycle_stage == ACTIVE


_DATASET = Dataset("d", "ff", "mem://d", "memory", [], 1)
_WRITES = {
    "metrics.log": lambda s, r: s.metrics.log(r, MetricBatch(["m"], [1.0], [0], [1])),
    "params.log": lambda s, r: s.params.log(r, [Param("p", "v")]),
    "tags.set": lambda s, r: s.tags.set(r, [RunTag("t", "v")]),
    "tags.delete": lambda s, r: s.tags.delete(r, "existing"),
    "inputs.log": lambda s, r: s.inputs.log(r, [DatasetInput(_DATASET, "training")]),
    "artifacts.record": lambda s, r: s.artifacts.record(r, [artifact_entry(s, r, "a.txt")]),
    "log_batch": lambda s, r: s.log_batch(r, MetricBatch(["m"], [1.0], [0], [1])),
    "runs.update": lambda s, r: s.runs.update(r, status="FINISHED"),
}


@pytest.mark.parametrize("write", list(_WRITES))
def test_writes_to_a_deleted_run_raise_conflict(store, run_id, write) -> None:
    store.tags.set(run_id, [RunTag("existing", "x")])
    store.runs.delete(run_id)
    before = store.runs.get(run_id)
    with pytest.raises(Conflict, match="deleted"):
        _WRITES[write](store, run_id)
    assert store.runs.get(run_id) == before


# What each write leaves behind, read back through the store.
_LANDED = {
    "metrics.log": lambda s, r: [m.value for m in s.metrics.history(r, "m")] == [1.0],
    "params.log": lambda s, r: s.runs.get(r).data.params == {"p": "v"},
    "tags.set": lambda s, r: s.runs.get(r).data.tags.get("t") == "v",
    "tags.delete": lambda s, r: "existing" not in s.runs.get(r).data.tags,
    "inputs.log": lambda s, r: [i.context for i in s.inputs.list(r)] == ["training"],
    "artifacts.record": lambda s, r: [e.path for e in s.artifacts.list(r)] == ["a.txt"],
    "log_batch": lambda s, r: [m.value for m in s.metrics.history(r, "m")] == [1.0],
    "runs.update": lambda s, r: s.runs.get(r).info.status == "FINISHED",
}


@pytest.mark.parametrize("write", list(_WRITES))
def test_writes_to_a_restored_run_succeed(store, run_id, write) -> None:
    store.tags.set(run_id, [RunTag("existing", "x")])
    store.runs.delete(run_id)
    store.runs.restore(run_id)
    assert not _LANDED[write](store, run_id)
    _WRITES[write](store, run_id)
    assert _LANDED[write](store, run_id)


@pytest.mark.parametrize("write", list(_WRITES))
def test_writes_to_an_unknown_run_raise_not_found(store, write) -> None:
    with pytest.raises(NotFound):
        _WRITES[write](store, _missing_id())


# --- heartbeats -------------------------------------------------------------------------------


def test_heartbeat_records_the_time_of_running_runs(store, experiment_id) -> None:
    a = store.runs.create(experiment_id, start_time=1_000).info.run_id
    b = store.runs.create(experiment_id, start_time=1_000).info.run_id
    store.runs.heartbeat([a, b], 5_000)
    assert store.runs.get(a).info.heartbeat_time == 5_000
    assert store.runs.get(b).info.heartbeat_time == 5_000


def test_heartbeat_ignores_finished_runs(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=1_000).info.run_id
    store.runs.update(rid, status="FINISHED", end_time=2_000)
    store.runs.heartbeat([rid], 9_000)
    assert store.runs.get(rid).info.heartbeat_time == 1_000


def test_heartbeat_with_no_runs_is_a_no_op(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=1_000).info.run_id
    store.runs.heartbeat([], 9_000)
    assert store.runs.get(rid).info.heartbeat_time == 1_000


def test_mark_stale_killed_kills_runs_silent_since_the_cutoff(store, experiment_id) -> None:
    stale = store.runs.create(experiment_id, start_time=1_000).info.run_id
    fresh = store.runs.create(experiment_id, start_time=1_000).info.run_id
    store.runs.heartbeat([stale], 3_000)
    store.runs.heartbeat([fresh], 9_000)
    assert store.runs.mark_stale_killed(cutoff_ms=5_000) == [stale]
    killed = store.runs.get(stale).info
    assert killed.status == RunStatus.KILLED
    assert killed.end_time == 3_000  # the last moment it was known to be alive
    alive = store.runs.get(fresh).info
    assert alive.status == RunStatus.RUNNING
    assert alive.end_time is None


def test_mark_stale_killed_uses_start_time_when_no_heartbeat_came(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=2_000).info.run_id
    assert store.runs.mark_stale_killed(cutoff_ms=2_001) == [rid]
    assert store.runs.get(rid).info.end_time == 2_000


def test_mark_stale_killed_leaves_terminal_runs_alone(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=1_000).info.run_id
    store.runs.update(rid, status="FINISHED", end_time=1_500)
    assert store.runs.mark_stale_killed(cutoff_ms=10**12) == []
    info = store.runs.get(rid).info
    assert (info.status, info.end_time) == ("FINISHED", 1_500)


def test_mark_stale_killed_is_strict_about_the_cutoff(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=4_000).info.run_id
    assert store.runs.mark_stale_killed(cutoff_ms=4_000) == []
    assert store.runs.get(rid).info.status == RunStatus.RUNNING


def test_mark_stale_killed_twice_kills_once(store, experiment_id) -> None:
    rid = store.runs.create(experiment_id, start_time=1_000).info.run_id
    assert store.runs.mark_stale_killed(cutoff_ms=2_000) == [rid]
    assert store.runs.mark_stale_killed(cutoff_ms=2_000) == []


# --- purge ------------------------------------------------------------------------------------


def _fill(store, rid: str) -> None:
    store.log_batch(
        rid,
        MetricBatch(["m", "m"], [1.0, 2.0], [0, 1], [1, 2]),
        params=[Param("p", "v")],
        tags=[RunTag("t", "v")],
    )
    store.inputs.log(rid, [DatasetInput(_DATASET, "training")])
    store.artifacts.record(rid, [artifact_entry(store, rid, "model.bin", b"abc")])


_RUN_TABLES = ("params", "tags", "metrics", "latest_metrics", "run_inputs", "artifacts")


def test_purge_deleted_removes_the_run_and_all_its_data(store, experiment_id) -> None:
    doomed = store.runs.create(experiment_id).info.run_id
    kept = store.runs.create(experiment_id).info.run_id
    _fill(store, doomed)
    _fill(store, kept)
    store.runs.delete(doomed)
    assert store.runs.purge_deleted(older_than_ms=now_ms() + 1_000) == 1
    with pytest.raises(NotFound):
        store.runs.get(doomed)
    for table in _RUN_TABLES:
        assert table_count(store, table, run_uuid=doomed) == 0, table
        assert table_count(store, table, run_uuid=kept) > 0, table
    survivor = store.runs.get(kept)
    assert survivor.data.params == {"p": "v"}
    assert survivor.data.metrics == {"m": 2.0}


def test_purge_deleted_keeps_runs_trashed_after_the_cutoff(store, run_id) -> None:
    cutoff = now_ms()
    store.runs.delete(run_id)
    assert store.runs.purge_deleted(older_than_ms=cutoff - 1) == 0
    assert store.runs.get(run_id).info.lifecycle_stage == DELETED


def test_a_dry_run_purge_counts_what_would_go_and_removes_nothing(store, experiment_id) -> None:
    trashed = [store.runs.create(experiment_id).info.run_id for _ in range(3)]
    kept = store.runs.create(experiment_id).info.run_id
    for run_id in trashed:
        store.runs.delete(run_id)
    assert store.runs.purge_deleted(older_than_ms=2**62, dry_run=True) == 3
    assert store.runs.purge_deleted(older_than_ms=0, dry_run=True) == 0
    assert {store.runs.get(r).info.lifecycle_stage for r in trashed} == {DELETED}
    assert store.runs.purge_deleted(older_than_ms=2**62) == 3
    assert store.runs.get(kept).info.lifecycle_stage == ACTIVE


def test_purge_deleted_ignores_active_runs(store, run_id) -> None:
    assert store.runs.purge_deleted(older_than_ms=2**62) == 0
    assert store.runs.get(run_id).info.lifecycle_stage == ACTIVE


def test_purge_deleted_keeps_shared_datasets_for_other_runs(store, experiment_id) -> None:
    doomed = store.runs.create(experiment_id).info.run_id
    kept = store.runs.create(experiment_id).info.run_id
    for rid in (doomed, kept):
        store.inputs.log(rid, [DatasetInput(_DATASET, "training")])
    store.runs.delete(doomed)
    store.runs.purge_deleted(older_than_ms=now_ms() + 1_000)
    assert store.inputs.list(kept) == [DatasetInput(_DATASET, "training")]
