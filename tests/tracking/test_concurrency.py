"""Acceptance: 8 processes logging 10,000 points each to one store lose none (SQLite and PostgreSQL).

The writers are real child interpreters using the public fluent API, with small writer batches
so their transactions really interleave. Results are checked row by row against the values each
worker computed, and the row counts straight from SQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perennia.entities import Metric, Param
from perennia.errors import Conflict
from perennia.store import open_store
from perennia.testing.store_contract.helpers import table_count
from tests.tracking.helpers import child_env, finish, spawn

pytestmark = pytest.mark.slow  # eight writer processes per test; `make test-quick` leaves these out

WORKERS = 8
POINTS = 10_000

# Each worker logs POINTS points of its own key; value and timestamp are functions of
# (worker, step), so the parent can recompute every row.
_LOGGER = """
import sys, perennia
run_id, worker, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
perennia.set_experiment("concurrency")
with perennia.start_run(run_id=None if run_id == "own" else run_id) as run:
    key = f"w{worker}" if run_id != "own" else "loss"
    for step in range(points):
        perennia.log_metric(key, worker * 1e6 + step / 8, step=step, timestamp=1_000 + worker + step)
print(run.run_id)
"""

# Every worker tries to own each param key with its own value, in its own order.
_PARAM_RACER = """
import json, random, sys, time, pathlib, perennia
from perennia.errors import Conflict

run_id, worker, keys, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pathlib.Path(sys.argv[4])
order = list(range(keys))
random.Random(worker).shuffle(order)
won, lost = [], {}
with perennia.start_run(run_id=run_id):
    while not go.exists():
        time.sleep(0.002)
    perennia.log_param("same", "agreed", synchronous=True)
    for k in order:
        try:
            perennia.log_param(f"k{k}", f"w{worker}", synchronous=True)
            won.append(k)
        except Conflict as error:
            lost[k] = str(error)
print(json.dumps({"won": won, "lost": lost}))
"""


def _expected(worker: int, key: str) -> list[Metric]:
    """Return the points worker `worker` logged under `key`, in history order."""
    return [Metric(key, worker * 1e6 + s / 8, 1_000 + worker + s, s) for s in range(POINTS)]


def _env(home: Path, uri: str) -> dict[str, str]:
    """Return a child environment with small, frequent writer batches."""
    return child_env(home, uri, writer_batch_size="1000", writer_flush_interval="0.05")


def _shared_run(uri: str) -> str:
    """Return the id of a fresh run that several workers will write into."""
    store = open_store(uri)
    try:
        return store.runs.create(store.experiments.create("shared"), run_name="shared").info.run_id
    finally:
        store.close()


@pytest.mark.xdist_group("heavy")
def test_eight_processes_logging_into_one_run_lose_no_point(sql_store_uri: str, tmp_path: Path):
    run_id = _shared_run(sql_store_uri)
    env = _env(tmp_path, sql_store_uri)

    outputs = finish([spawn(_LOGGER, run_id, w, POINTS, env=env) for w in range(WORKERS)])

    assert outputs == [run_id] * WORKERS
    store = open_store(sql_store_uri)
    try:
        assert table_count(store, "metrics", run_uuid=run_id) == WORKERS * POINTS
        for worker in range(WORKERS):
            assert store.metrics.history(run_id, f"w{worker}") == _expected(worker, f"w{worker}")
        latest = store.runs.get(run_id).data.metrics
        assert latest == {f"w{w}": w * 1e6 + (POINTS - 1) / 8 for w in range(WORKERS)}
    finally:
        store.close()


@pytest.mark.xdist_group("heavy")
def test_eight_processes_each_logging_its_own_run_lose_no_point(sql_store_uri: str, tmp_path: Path):
    env = _env(tmp_path, sql_store_uri)

    run_ids = finish([spawn(_LOGGER, "own", w, POINTS, env=env) for w in range(WORKERS)])

    assert len(set(run_ids)) == WORKERS
    store = open_store(sql_store_uri)
    try:
        assert table_count(store, "metrics") == WORKERS * POINTS
        (experiment_id,) = {store.runs.get(r).info.experiment_id for r in run_ids}
        assert store.experiments.get(experiment_id).name == "concurrency"  # created once, shared
        for worker, run_id in enumerate(run_ids):
            assert table_count(store, "metrics", run_uuid=run_id) == POINTS
            assert store.metrics.history(run_id, "loss") == _expected(worker, "loss")
            assert store.runs.get(run_id).info.status == "FINISHED"
    finally:
        store.close()


@pytest.mark.xdist_group("heavy")
def test_racing_param_writers_leave_exactly_one_value_per_key(sql_store_uri: str, tmp_path: Path):
    keys = 20
    run_id = _shared_run(sql_store_uri)
    go = tmp_path / "go"
    env = child_env(tmp_path, sql_store_uri)
    processes = [spawn(_PARAM_RACER, run_id, w, keys, go, env=env) for w in range(WORKERS)]
    go.touch()
    results = [json.loads(out) for out in finish(processes)]

    store = open_store(sql_store_uri)
    try:
        params = store.runs.get(run_id).data.params
        assert params.pop("same") == "agreed"  # identical values never conflict
        assert set(params) == {f"k{k}" for k in range(keys)}
        for k in range(keys):
            winners = [w for w, result in enumerate(results) if k in result["won"]]
            assert len(winners) == 1, (k, winners)
            assert params[f"k{k}"] == f"w{winners[0]}"
            losers = [result["lost"][str(k)] for result in results if str(k) in result["lost"]]
            assert len(losers) == WORKERS - 1
            assert all(f"already 'w{winners[0]}'" in message for message in losers)
        assert table_count(store, "params", run_uuid=run_id) == keys + 1
        with pytest.raises(Conflict):
            store.log_batch(run_id, params=[Param("k0", "late")])
    finally:
        store.close()
