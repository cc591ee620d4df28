"""`perennia.Client` on SQLite and PostgreSQL: experiments, runs, histories, artifacts, the trash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perennia
from perennia.entities import Metric, Param, RunTag, ViewType
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from perennia.store import open_store

UNKNOWN_RUN = "e" * 32
UNKNOWN_EXPERIMENT = "777777"


@pytest.fixture
def client(tracking: str) -> perennia.Client:
    return perennia.Client()


def _all_pages(fetch) -> list:
    """Return every item of a paged search, following next_page_token."""
    items, token = [], None
    while True:
        page = fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items


# -- experiments ---------------------------------------------------------------------------------


def test_experiments_are_created_read_and_refused_when_the_name_is_taken(
    client, tmp_path: Path
) -> None:
    location = str(tmp_path / "elsewhere")
    eid = client.create_experiment(
        "churn", artifact_location=location, tags={"team": "growth", "v": 2}
    )
    experiment = client.get_experiment(eid)
    assert (experiment.name, experiment.artifact_location) == ("churn", location)
    assert experiment.tags == {"team": "growth", "v": "2"}
    assert experiment.lifecycle_stage == "active"
    assert client.get_experiment_by_name("churn").experiment_id == eid
    assert client.get_experiment_by_name("no-such-experiment") is None
    with pytest.raises(AlreadyExists):
        client.create_experiment("churn")
    assert client.get_experiment(eid).tags == {"team": "growth", "v": "2"}


def test_search_experiments_pages_through_every_experiment_once(client) -> None:
    created = {client.create_experiment(f"exp-{i:02d}") for i in range(7)}
    found = _all_pages(lambda token: client.search_experiments(max_results=3, page_token=token))
    ids = [e.experiment_id for e in found]
    assert len(ids) == len(set(ids))
    assert set(ids) == created | {"0"}  # plus the Default experiment
    named = client.search_experiments(name_like="exp-0%")
    assert {e.name for e in named} == {f"exp-{i:02d}" for i in range(7)}


def test_deleting_an_experiment_trashes_its_runs_and_restoring_brings_them_back(client) -> None:
    eid = client.create_experiment("trash-me")
    kept = client.create_run(eid).info.run_id
    trashed_alone = client.create_run(eid).info.run_id
    client.delete_run(trashed_alone)
    client.delete_experiment(eid)

    assert eid not in {e.experiment_id for e in client.search_experiments()}
    assert eid in {e.experiment_id for e in client.search_experiments(ViewType.DELETED_ONLY)}
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert client.get_run(kept).info.lifecycle_stage == "deleted"
    with pytest.raises(Conflict):
        client.create_run(eid)

    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([eid]).items] == [kept]
    # A run trashed on its own before the experiment stays in the trash.
    assert client.get_run(trashed_alone).info.lifecycle_stage == "deleted"


def test_the_default_experiment_cannot_be_deleted(client) -> None:
    with pytest.raises(Conflict):
        client.delete_experiment("0")
    assert client.get_experiment("0").lifecycle_stage == "active"


# -- runs ----------------------------------------------------------------------------------------


def test_search_runs_filters_orders_and_pages_like_a_python_oracle(client) -> None:
    eid = client.create_experiment("grid")
    logged = {}
    for i, (lr, acc) in enumerate(
        [(0.1, 0.7), (0.01, 0.9), (0.1, 0.8), (0.001, 0.6), (0.01, 0.75)]
    ):
        run_id = client.create_run(eid, run_name=f"r{i}").info.run_id
        client.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0)], params=[Param("lr", str(lr))])
        logged[run_id] = (str(lr), acc)

    found = _all_pages(
        lambda token: client.search_runs(
            [eid],
            "metrics.acc >= 0.7",
            order_by=["metrics.acc DESC"],
            max_results=2,
            page_token=token,
        )
    )
    oracle = sorted(
        (r for r, (_, acc) in logged.items() if acc >= 0.7), key=lambda r: -logged[r][1]
    )
    assert [r.info.run_id for r in found] == oracle
    by_param = client.search_runs(eid, "params.lr = '0.1'").items
    assert {r.info.run_id for r in by_param} == {r for r, (lr, _) in logged.items() if lr == "0.1"}


def test_set_terminated_and_update_run_change_status_name_and_end_time(client) -> None:
    run_id = client.create_run(client.create_experiment("life"), start_time=1_000).info.run_id
    info = client.update_run(run_id, name="renamed")
    assert (info.run_name, info.status) == ("renamed", "RUNNING")
    info = client.set_terminated(run_id, status="FAILED", end_time=5_000)
    assert (info.status, info.end_time) == ("FAILED", 5_000)
    stored = client.get_run(run_id).info
    assert (stored.run_name, stored.status, stored.start_time, stored.end_time) == (
        "renamed",
        "FAILED",
        1_000,
        5_000,
    )
    with pytest.raises(InvalidInput, match="DONE"):
        client.set_terminated(run_id, status="DONE")
    assert client.get_run(run_id).info.status == "FAILED"


def test_set_terminated_first_writes_what_the_fluent_api_queued(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERENNIA_WRITER_FLUSH_INTERVAL", "3600")
    perennia.set_tracking_uri(tracking)
    run = perennia.start_run()
    for step in range(50):
        perennia.log_metric("queued", float(step), step=step)
    perennia.Client().set_terminated(run.run_id)
    other = open_store(tracking)
    try:
        assert [m.value for m in other.metrics.history(run.run_id, "queued")] == [
            float(s) for s in range(50)
        ]
        assert other.runs.get(run.run_id).info.status == "FINISHED"
    finally:
        other.close()
        perennia.end_run()


def test_deleted_runs_are_hidden_refuse_writes_and_come_back_intact(client) -> None:
    eid = client.create_experiment("runs-trash")
    run_id = client.create_run(eid).info.run_id
    client.log_batch(run_id, [Metric("m", 1.0, 1, 0)], [Param("p", "v")], [RunTag("t", "x")])
    client.delete_run(run_id)
    assert client.search_runs([eid]).items == []
    assert [
        r.info.run_id for r in client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)
    ] == [run_id]
    for write in (
        lambda: client.log_metric(run_id, "m", 2.0, step=1),
        lambda: client.log_param(run_id, "q", "w"),
        lambda: client.set_tag(run_id, "t", "y"),
    ):
        with pytest.raises(Conflict, match="deleted"):
            write()
    client.restore_run(run_id)
    restored = client.get_run(run_id)
    assert restored.info.lifecycle_stage == "active"
    assert (restored.data.metrics, restored.data.params, restored.data.tags["t"]) == (
        {"m": 1.0},
        {"p": "v"},
        "x",
    )
    assert [r.info.run_id for r in client.search_runs([eid]).items] == [run_id]


# -- metric history ------------------------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
POINT = st.tuples(FINITE, st.integers(-(10**12), 10**12), st.integers(0, 2**62))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(single=st.lists(POINT, max_size=10), batched=st.lists(POINT, max_size=40))
def test_get_metric_history_equals_the_points_logged(client, single, batched) -> None:
    run_id = client.create_run("0").info.run_id
    for value, step, timestamp in single:
        client.log_metric(run_id, "m", value, timestamp=timestamp, step=step)
    client.log_batch(run_id, metrics=[Metric("m", v, t, s) for v, s, t in batched])
    logged = [Metric("m", v, t, s) for v, s, t in single + batched]
    # The oracle: step, then timestamp, ties in logging order (Python's sort is stable).
    assert client.get_metric_history(run_id, "m") == sorted(
        logged, key=lambda m: (m.step, m.timestamp)
    )
    assert client.get_metric_history(run_id, "other") == []


def test_a_batch_with_one_bad_point_is_refused_whole(client) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, step=0, timestamp=1)
    with pytest.raises(InvalidInput):
        client.log_batch(
            run_id,
            metrics=[Metric("m", 2.0, 1, 1), Metric("m", "bad", 1, 2)],  # type: ignore[arg-type]
            params=[Param("p", "v")],
        )
    with pytest.raises(InvalidInput):
        client.log_batch(run_id, metrics=[Metric("m", 2.0, 1, 2**63)], tags=[RunTag("t", "v")])
    stored = client.get_run(run_id)
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "m")] == [(0, 1.0)]
    assert stored.data.params == {} and "t" not in stored.data.tags


# -- artifacts -----------------------------------------------------------------------------------


def test_client_artifacts_list_and_download_with_matching_digests(client, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    files = {"model.pkl": bytes(range(256)) * 3, "sub/meta.json": b'{"k": 1}'}
    for name, data in files.items():
        (source / name).write_bytes(data)
    client.log_artifacts(run_id, source, artifact_path="model")
    client.log_artifact(run_id, source / "model.pkl")
    client.log_text(run_id, "hello", "notes.txt")
    client.log_dict(run_id, {"a": 1}, "params.json")

    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {
        ("model", True),
        ("model.pkl", False),
        ("notes.txt", False),
        ("params.json", False),
    }
    inner = {f.path: f for f in client.list_artifacts(run_id, "model")}
    assert inner["model/model.pkl"].digest == hashlib.sha256(files["model.pkl"]).hexdigest()
    assert inner["model/model.pkl"].file_size == len(files["model.pkl"])
    assert inner["model/sub"].is_dir

    out = Path(client.download_artifacts(run_id, "model", tmp_path / "out"))
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert client.read_artifact(run_id, "notes.txt") == b"hello"
    with pytest.raises(NotFound):
        client.download_artifacts(run_id, "no/such/file", tmp_path / "none")
    with pytest.raises(NotFound):
        client.read_artifact(run_id, "missing.txt")


# -- unknown and malformed ids -------------------------------------------------------------------

UNKNOWN_CALLS = {
    "get_run": lambda c: c.get_run(UNKNOWN_RUN),
    "update_run": lambda c: c.update_run(UNKNOWN_RUN, name="x"),
    "set_terminated": lambda c: c.set_terminated(UNKNOWN_RUN),
    "delete_run": lambda c: c.delete_run(UNKNOWN_RUN),
    "restore_run": lambda c: c.restore_run(UNKNOWN_RUN),
    "get_metric_history": lambda c: c.get_metric_history(UNKNOWN_RUN, "m"),
    "log_metric": lambda c: c.log_metric(UNKNOWN_RUN, "m", 1.0),
    "log_param": lambda c: c.log_param(UNKNOWN_RUN, "p", "v"),
    "set_tag": lambda c: c.set_tag(UNKNOWN_RUN, "t", "v"),
    "list_artifacts": lambda c: c.list_artifacts(UNKNOWN_RUN),
    "download_artifacts": lambda c: c.download_artifacts(UNKNOWN_RUN),
    "log_text": lambda c: c.log_text(UNKNOWN_RUN, "x", "x.txt"),
    "get_experiment": lambda c: c.get_experiment(UNKNOWN_EXPERIMENT),
    "create_run": lambda c: c.create_run(UNKNOWN_EXPERIMENT),
    "delete_experiment": lambda c: c.delete_experiment(UNKNOWN_EXPERIMENT),
    "restore_experiment": lambda c: c.restore_experiment(UNKNOWN_EXPERIMENT),
    "rename_experiment": lambda c: c.rename_experiment(UNKNOWN_EXPERIMENT, "new"),
    "set_experiment_tag": lambda c: c.set_experiment_tag(UNKNOWN_EXPERIMENT, "k", "v"),
}


def test_unknown_ids_raise_not_found(client) -> None:
    for name, call in UNKNOWN_CALLS.items():
        with pytest.raises(NotFound):
            call(client)
            pytest.fail(f"{name} accepted an unknown id")


def test_malformed_run_and_experiment_ids_raise_invalid_input(client) -> None:
    for bad_run in ["not-a-run", "E" * 32, "../" * 11, "", "a" * 33]:
        with pytest.raises(InvalidInput):
            client.get_run(bad_run)
        with pytest.raises(InvalidInput):
            client.get_metric_history(bad_run, "m")
    for bad_experiment in ["abc", "-1", "1.5", "../0", str(2**40)]:
        with pytest.raises(InvalidInput):
            client.get_experiment(bad_experiment)
        with pytest.raises(InvalidInput):
            client.create_run(bad_experiment)
