"""Several processes logging through one live server at once lose nothing.

Each writer is a real child interpreter using the public fluent API with
`PERENNIA_TRACKING_URI=http://...`, and a small writer batch so the processes interleave many
requests. (tests/tracking/test_concurrency.py does the same straight against SQL.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perennia.entities import Param
from perennia.errors import Conflict
from perennia.store import open_store

pytestmark = pytest.mark.slow  # eight writer processes per test; `make test-quick` leaves these out

WRITERS = 8
POINTS = 10_000

_LOGGER = """
import sys, perennia
uri, run_id, worker, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
perennia.set_tracking_uri(uri)
perennia.set_experiment("concurrency")
with perennia.start_run(run_id=None if run_id == "new" else run_id) as run:
    for i in range(points):
        step = worker * points + i
        perennia.log_metric("loss", step * 0.5, step=step)
print(run.run_id)
"""

_PARAM_WRITER = """
import sys, time, pathlib, perennia
from perennia.entities import Param
from perennia.errors import Conflict

uri, run_id, worker, go = sys.argv[1], sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
client = perennia.Client(tracking_uri=uri)
while not go.exists():
    time.sleep(0.005)
try:
    client.log_param(run_id, "lr", worker)
    print("stored")
except Conflict as error:
    print("conflict", error)
"""


def _spawn(script: str, *args: object, home: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PERENNIA_HOME=str(home),
        PERENNIA_ARTIFACTS_URI=str(home / "artifacts"),
        PERENNIA_WRITER_BATCH_SIZE="500",
        PERENNIA_WRITER_FLUSH_INTERVAL="0.05",
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(processes: list[subprocess.Popen]) -> list[str]:
    """Return each child's stdout, failing the test with its stderr if it failed."""
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-3000:]
        outputs.append(out.strip())
    return outputs


def _new_run(uri: str) -> str:
    store = open_store(uri)
    try:
        experiment = store.experiments.get_by_name("concurrency")
        eid = experiment.experiment_id if experiment else store.experiments.create("concurrency")
        return store.runs.create(eid, run_name="shared").info.run_id
    finally:
        store.close()


@pytest.mark.xdist_group("heavy")
def test_eight_processes_logging_into_one_run_lose_no_point(live_server, tmp_path: Path):
    store_uri = live_server[0]
    run_id = _new_run(store_uri)

    _finish([_spawn(_LOGGER, store_uri, run_id, w, POINTS, home=tmp_path) for w in range(WRITERS)])

    store = open_store(store_uri)
    history = store.metrics.history(run_id, "loss")
    assert [m.step for m in history] == list(range(WRITERS * POINTS))
    assert [m.value for m in history] == [step * 0.5 for step in range(WRITERS * POINTS)]
    last = WRITERS * POINTS - 1
    assert store.runs.get(run_id).data.metrics == {"loss": last * 0.5}
    store.close()


@pytest.mark.xdist_group("heavy")
def test_eight_processes_each_logging_its_own_run_lose_no_point(live_server, tmp_path: Path):
    store_uri = live_server[0]
    outputs = _finish(
        [_spawn(_LOGGER, store_uri, "new", w, POINTS, home=tmp_path) for w in range(WRITERS)]
    )

    store = open_store(store_uri)
    assert len(set(outputs)) == WRITERS
    for worker, run_id in enumerate(outputs):
        history = store.metrics.history(run_id, "loss")
        steps = range(worker * POINTS, (worker + 1) * POINTS)
        assert [m.step for m in history] == list(steps)
        assert [m.value for m in history] == [step * 0.5 for step in steps]
        assert store.runs.get(run_id).info.status == "FINISHED"
    store.close()


@pytest.mark.xdist_group("heavy")
def test_racing_writers_of_one_param_store_exactly_one_value(live_server, tmp_path: Path):
    store_uri = live_server[0]
    run_id = _new_run(store_uri)
    go = tmp_path / "go"
    processes = [
        _spawn(_PARAM_WRITER, store_uri, run_id, f"0.{w}", go, home=tmp_path)
        for w in range(WRITERS)
    ]
    go.touch()
    outputs = _finish(processes)

    stored = [out for out in outputs if out == "stored"]
    conflicts = [out for out in outputs if out.startswith("conflict")]
    assert len(stored) == 1 and len(conflicts) == WRITERS - 1, outputs
    winner = f"0.{outputs.index('stored')}"
    store = open_store(store_uri)
    assert store.runs.get(run_id).data.params == {"lr": winner}
    assert all(f"already {winner!r}" in out for out in conflicts)
    with pytest.raises(Conflict):
        store.log_batch(run_id, params=[Param("lr", "9")])
    store.close()
