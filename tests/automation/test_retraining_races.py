"""Advances racing on one retraining: every move is a compare-and-set on the state it was read
in, so of two advances from "triggered" exactly one runs the pipeline; a retraining found
"training" is left alone while its pipeline run lives and retrained once that run is dead."""

from __future__ import annotations

import threading

import pytest

from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sql_store_uri, tmp_path, monkeypatch):
    h.use_store(sql_store_uri, tmp_path, monkeypatch)
    yield sql_store_uri
    reset_tracking()


@pytest.mark.parametrize("sql_store_uri", ["postgres"], indirect=True)
def test_two_advances_racing_from_triggered_run_the_pipeline_once(env, tmp_path) -> None:
    from perennia.automation.retraining import advance, retraining_events, trigger

    log = tmp_path / "trainings.txt"
    h.champion()
    h.policy(pipeline=h.COUNTED, params={"C": 1.0, "log": str(log)})
    started = trigger(h.MODEL)
    barrier = threading.Barrier(2)
    after: dict[int, str] = {}

    def replica(i: int) -> None:
        barrier.wait()
        after[i] = advance(started.id).state

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert h.trainings(log) == 1
    assert sorted(after) == [0, 1]  # both returned: the loser quietly, with what it read
    states = [e.state for e in retraining_events(started.id)]
    assert states.count("triggered") == 1 and "evaluating" in states
    assert len([e for e in retraining_events(started.id) if "started" in e.message]) == 1


def _training(retraining_id: int, run_id: str) -> None:
    """Move the retraining to "training" with `run_id` as its live pipeline run, as `train`
    does when another process's pipeline starts."""
    from perennia.data.session import current_store

    retrainings = current_store().retraining
    retrainings.update_retraining(
        retraining_id, "training", "pipeline started", expected_state="triggered"
    )
    retrainings.update_retraining(
        retraining_id,
        "training",
        f"pipeline run {run_id} started",
        pipeline_run_id=run_id,
        detail={"live_run": run_id},
        expected_state="training",
    )


def _run() -> str:
    """Return a new RUNNING tracking run with no heartbeat thread behind it (a process that
    died has none)."""
    from perennia.data.session import current_store
    from perennia.tracking import fluent

    store = current_store()
    return store.runs.create(fluent._default_experiment_id(), run_name="pipeline").info.run_id


@pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True)
def test_a_live_pipeline_run_holds_the_training_and_a_silent_one_is_retrained(
    env, tmp_path
) -> None:
    from perennia.automation.retraining import advance, retraining_events, trigger
    from perennia.clock import now_ms
    from perennia.data.session import current_store

    log = tmp_path / "trainings.txt"
    h.champion()
    h.policy(pipeline=h.COUNTED, params={"C": 1.0, "log": str(log)})
    started = trigger(h.MODEL)
    run_id = _run()
    _training(started.id, run_id)
    current_store().runs.heartbeat([run_id], now_ms())
    assert advance(started.id).state == "training"  # alive: nobody trains it again
    assert h.trainings(log) == 0
    current_store().runs.heartbeat([run_id], now_ms() - 10 * 60_000)  # silent for 10 minutes
    moved = advance(started.id)
    assert h.trainings(log) == 1
    assert moved.state != "training" and moved.pipeline_run_id != run_id
    messages = [e.message for e in retraining_events(started.id)]
    assert any(f"its pipeline run {run_id} sent no heartbeat" in m for m in messages)
    assert any(m.endswith("started again (the previous attempt did not finish)") for m in messages)


@pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True)
def test_an_ended_pipeline_run_nobody_followed_up_is_retrained(env, tmp_path, monkeypatch) -> None:
    from perennia.automation.retraining import advance, flow, retraining_events, trigger
    from perennia.data.session import current_store

    log = tmp_path / "trainings.txt"
    h.champion()
    h.policy(pipeline=h.COUNTED, params={"C": 1.0, "log": str(log)})
    started = trigger(h.MODEL)
    run_id = _run()
    _training(started.id, run_id)
    current_store().runs.update(run_id, status="KILLED")
    assert advance(started.id).state == "training"  # its advance may still be registering
    monkeypatch.setattr(flow, "HANDOFF_MS", 0)  # ... but not for ever
    advance(started.id)
    assert h.trainings(log) == 1
    messages = [e.message for e in retraining_events(started.id)]
    assert any(f"its pipeline run {run_id} ended KILLED" in m for m in messages)
