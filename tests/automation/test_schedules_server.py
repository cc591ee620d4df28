"""Automation through `perennia server`: who may do what over HTTP (a schedule names code the
server runs, so only administrators store one; reads follow the model's roles), and schedules
firing once across two real server processes sharing one PostgreSQL database."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from perennia.entities import RetrainingPolicy, Schedule, to_dict
from tests.server.probe import SECRET, ok, serve

TARGETS = Path(__file__).parent / "schedule_targets.py"


@pytest.fixture
def probe(tmp_path: Path):
    """A staged server with sign-in on and no default role: root is an administrator, the owner
    holds a model, the stranger holds nothing."""
    served = serve(f"sqlite:///{tmp_path / 'perennia.db'}", tmp_path)
    yield served
    served.close()


def _schedule(name: str) -> dict:
    return {"schedule": to_dict(Schedule(name, "pkg.pipes:train", "0 3 * * *", next_run_ms=1))}


def test_only_administrators_store_schedules_and_policies_or_move_retrainings(probe) -> None:
    model = probe.ids["model"]
    policy = {"policy": to_dict(RetrainingPolicy(model, "pkg.pipes:train", cooldown_ms=0))}
    claim = {"now_ms": 10, "owner": "r1"}
    writes = [
        ("POST", "/api/v1/schedules", {"json": _schedule("nightly")}),
        ("PATCH", "/api/v1/schedules/nightly", {"json": {"enabled": False}}),
        ("POST", "/api/v1/schedules/claim-due", {"json": claim}),
        ("POST", "/api/v1/schedules/nightly/release", {"json": {"owner": "r1"}}),
        ("DELETE", "/api/v1/schedules/nightly", {}),
        ("PUT", f"/api/v1/retraining-policies/{model}", {"json": policy}),
        ("POST", "/api/v1/retraining-policies/claim-due", {"json": claim}),
        (
            "POST",
            "/api/v1/retrainings",
            {"json": {"model_name": model, "trigger": {"kind": "manual"}, "now_ms": 5}},
        ),
        ("PATCH", "/api/v1/retrainings/1", {"json": {"state": "failed", "message": "x"}}),
        ("DELETE", f"/api/v1/retraining-policies/{model}", {}),
    ]
    for who in ("owner", "stranger"):
        for method, path, arguments in writes:
            answer = probe.clients[who].request(method, path, **arguments)
            assert answer.status_code == 403, (who, method, path, answer.text)
            assert "administrator" in answer.json()["message"]
    assert probe.backing.schedules.list_schedules().items == []
    assert probe.backing.retraining.list_retraining_policies().items == []
    # The administrator may; a stranger then reads schedules but not the owner's model's policy.
    ok(probe.root.post("/api/v1/schedules", json=_schedule("nightly")))
    ok(probe.root.put(f"/api/v1/retraining-policies/{model}", json=policy))
    started = ok(
        probe.root.post(
            "/api/v1/retrainings",
            json={"model_name": model, "trigger": {"kind": "manual"}, "now_ms": 5},
        )
    )["retraining"]
    assert [s["name"] for s in ok(probe.stranger.get("/api/v1/schedules"))["items"]] == ["nightly"]
    assert ok(probe.stranger.get("/api/v1/schedules/nightly"))["cron"] == "0 3 * * *"
    for path in (
        f"/api/v1/retraining-policies/{model}",
        f"/api/v1/retrainings/{started['id']}",
        f"/api/v1/retrainings/{started['id']}/events",
    ):
        assert probe.stranger.get(path).status_code == 403, path
        assert probe.owner.get(path).status_code == 200, path
    hidden = probe.stranger.get("/api/v1/retraining-policies")
    assert ok(hidden)["items"] == [] and SECRET not in hidden.text
    assert ok(probe.stranger.get("/api/v1/retrainings"))["retrainings"] == []
    assert [
        p["model_name"] for p in ok(probe.owner.get("/api/v1/retraining-policies"))["items"]
    ] == [model]
    anonymous = httpx.get(f"{probe.url}/api/v1/schedules")
    assert anonymous.status_code == 401


def test_bad_bodies_answer_400_naming_the_field(probe) -> None:
    bad = _schedule("nightly")
    bad["schedule"]["cron"] = 5
    answer = probe.root.post("/api/v1/schedules", json=bad)
    assert answer.status_code == 400 and "cron" in answer.text
    bad = _schedule("nightly")
    bad["schedule"]["params"] = {"x": "y" * 70_000}
    answer = probe.root.post("/api/v1/schedules", json=bad)
    assert answer.status_code == 400 and "params" in answer.text
    answer = probe.root.post(
        "/api/v1/retrainings",
        json={"model_name": "m", "trigger": {"kind": "manual"}, "now_ms": 5, "extra": 1},
    )
    assert answer.status_code == 400
    assert probe.root.get("/api/v1/retrainings/0").status_code in (400, 422)
    assert probe.root.get("/api/v1/schedules/nope").status_code == 404


@pytest.mark.slow
def test_a_schedule_fires_once_across_two_server_processes(postgres_uri, tmp_path) -> None:
    from perennia.store import open_store
    from tests.server_process import start_server

    out = tmp_path / "firings"
    env = {
        "PERENNIA_AUTOMATION_SCHEDULING": "true",
        "PERENNIA_AUTOMATION_INTERVAL_S": "0.1",
        "PERENNIA_WEBHOOK_DISPATCH": "false",
    }
    servers = [
        start_server(
            ["--backend-store-uri", postgres_uri, "--artifacts-uri", str(tmp_path / "artifacts")],
            tmp_path / f"home-{i}",
            env=env,
            log=tmp_path / f"server-{i}.log",
        )
        for i in range(2)
    ]
    store = open_store(postgres_uri)
    try:
        from perennia.automation.schedules import next_fire_ms
        from perennia.clock import now_ms

        cron = "* * * * * */2"
        draft = Schedule(
            "every-2s",
            f"{TARGETS}:record_firing",
            cron,
            {"path": str(out)},
            next_run_ms=next_fire_ms(cron, now_ms()),
        )
        store.schedules.create_schedule(draft)
        deadline = time.monotonic() + 15
        while _count(out) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        store.schedules.update_schedule("every-2s", enabled=False)
        time.sleep(0.5)  # a firing under way finishes writing its line
        assert all(process.poll() is None for process, _ in servers)
    finally:
        store.close()
        for process, _url in servers:
            process.send_signal(signal.SIGINT)
        for process, _url in servers:
            try:
                process.wait(15)
            except Exception:  # noqa: BLE001 - a server that will not stop is killed
                process.kill()
    lines = [line.split() for line in out.read_text().splitlines()]
    times = [int(t) for t, _pid in lines]
    assert len(times) >= 4, (tmp_path / "server-0.log").read_text()[-2000:]
    assert len(times) == len(set(times))  # every firing ran exactly once
    assert all(t % 2000 == 0 for t in times)  # on the cron's grid
    server_pids = {str(process.pid) for process, _ in servers}
    assert {pid for _t, pid in lines} <= server_pids


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0
