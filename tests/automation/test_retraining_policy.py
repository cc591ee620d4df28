"""Retraining policies: everything a policy names is checked before it is stored, and the
triggers read the store since the policy's cursor (new data, schedules, performance bounds)."""

from __future__ import annotations

import pytest

from perennia.errors import InvalidInput, NotFound
from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sqlite_uri, tmp_path, monkeypatch):
    h.use_store(sqlite_uri, tmp_path, monkeypatch)
    yield sqlite_uri
    reset_tracking()


BAD = [
    ({"pipeline": "tests.automation.retraining_helpers:nope"}, InvalidInput, "has no attribute"),
    ({"pipeline": "no_such_package.x:train"}, InvalidInput, "no module"),
    ({"pipeline": "not an entrypoint"}, InvalidInput, "entrypoint"),
    ({"pipeline": f"{h.HELPERS}:MODEL"}, InvalidInput, "not a Pipeline or a function"),
    ({"triggers": [{"kind": "rumour"}]}, InvalidInput, "kind must be one of"),
    ({"triggers": [{"kind": "alert"}]}, InvalidInput, "the alert trigger needs monitor"),
    ({"triggers": [{"kind": "schedule", "cron": "0 3 * *", "x": 1}]}, InvalidInput, "no field"),
    ({"triggers": [{"kind": "schedule", "cron": "61 3 * * *"}]}, InvalidInput, "cron"),
    ({"triggers": [{"kind": "alert", "monitor": "ghost"}]}, NotFound, "ghost"),
    ({"triggers": [{"kind": "new_data", "dataset": "ghost"}]}, NotFound, "ghost"),
    ({"data": "ghost"}, NotFound, "data: "),
    ({"eval_data": "ghost@2"}, NotFound, "eval_data: "),
    ({"target": "label"}, InvalidInput, "target 'label' is not a column"),
    ({"deployment": "ghost"}, NotFound, "ghost"),
    ({"gates": ["roc_auc >>= 1"]}, InvalidInput, "roc_auc"),
    ({"alias": "latest"}, InvalidInput, "reserved"),
    ({"canary": {"stepz": [50]}}, InvalidInput, "no field 'stepz'"),
    ({"cooldown": "soon"}, InvalidInput, "cooldown"),
    ({"params": {"data": "x"}}, InvalidInput, "data="),
    ({"auto_approve": "yes"}, InvalidInput, "auto_approve"),
]


@pytest.mark.parametrize(("overrides", "error", "words"), BAD)
def test_a_bad_policy_is_rejected_and_nothing_is_stored(env, overrides, error, words) -> None:
    from perennia.automation.retraining import get_policy

    h.champion()
    with pytest.raises(error, match=words):
        h.policy(**overrides)
    with pytest.raises(NotFound):
        get_policy(h.MODEL)


def test_a_policy_for_an_unknown_model_is_rejected(env) -> None:
    from perennia.automation.retraining import set_policy

    h.register_data()
    with pytest.raises(NotFound, match="ghost"):
        set_policy("ghost", pipeline=h.GOOD, eval_data=h.EVAL, target=h.TARGET)


def test_without_gates_or_success_criteria_a_policy_is_rejected(env) -> None:
    from perennia.registry.success_criteria import clear_success_criteria

    h.champion()
    clear_success_criteria(h.MODEL)
    with pytest.raises(InvalidInput, match="no gates"):
        h.policy()
    assert h.policy(gates=["roc_auc >= 0.9"]).config["gates"] == ["roc_auc >= 0.9"]


def test_a_good_policy_is_stored_with_its_checked_parts(env) -> None:
    from perennia.automation.retraining import get_policy, list_policies

    h.champion()
    stored = h.policy(
        triggers=[
            {"kind": "schedule", "cron": " 0 3 * * * "},
            {"kind": "new_data", "dataset": h.TRAIN},
        ],
        canary={"steps": [50, 100], "min_requests": 10},
        cooldown="30min",
    )
    assert stored.cooldown_ms == 30 * 60_000
    assert stored.triggers[0] == {"kind": "schedule", "cron": "0 3 * * *"}
    assert stored.config["canary"]["steps"] == [50.0, 100.0]
    assert stored.config["gates"] is None  # the model's success criteria apply
    assert get_policy(h.MODEL).pipeline == h.GOOD
    assert [p.model_name for p in list_policies()] == [h.MODEL]


def _check(owner: str = "replica-1", now_ms: int | None = None) -> list[str]:
    from perennia.automation.retraining import check_due_policies
    from perennia.data.session import current_store

    return check_due_policies(current_store(), owner, now_ms=now_ms)


def test_a_new_data_version_starts_one_retraining_that_trains_on_it(env) -> None:
    from perennia.automation.retraining import list_retrainings, retraining_events
    from perennia.data.versions import register

    h.champion()
    h.policy(triggers=[{"kind": "new_data", "dataset": h.TRAIN}], cooldown=0)
    assert _check() == [h.MODEL]
    assert list_retrainings(h.MODEL) == []  # nothing new since the policy was set
    register(h.TRAIN, h.frames(seed=1)[0])
    _check(now_ms=_later())
    (retraining,) = list_retrainings(h.MODEL)
    assert (
        retraining.trigger["kind"] == "new_data" and retraining.trigger["version"] == "bc-train@2"
    )
    assert retraining.state == "promoted", retraining.reason
    training = [e for e in retraining_events(retraining.id) if e.state == "training"][0]
    assert training.detail["data"] == "bc-train@2"
    _check(now_ms=_later(2))
    assert len(list_retrainings(h.MODEL)) == 1  # the same version does not fire twice


def test_a_due_schedule_fires_once(env) -> None:
    from perennia.automation.retraining import list_retrainings
    from perennia.clock import now_ms

    h.champion()
    h.policy(pipeline=h.BROKEN, triggers=[{"kind": "schedule", "cron": "* * * * *"}], cooldown=0)
    _check(now_ms=now_ms())
    assert list_retrainings(h.MODEL) == []
    _check(now_ms=_later())  # more than a minute on: the cron was due
    (retraining,) = list_retrainings(h.MODEL)
    assert retraining.trigger["kind"] == "schedule" and retraining.state == "failed"


def _later(minutes: int = 1) -> int:
    from perennia.clock import now_ms

    return now_ms() + minutes * 61_000


def test_a_relative_pipeline_file_is_stored_as_an_absolute_path(env, tmp_path, monkeypatch) -> None:
    from perennia.automation.retraining import get_policy
    from perennia.automation.retraining.policy import check_target

    h.champion()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "training.py").write_text(
        f"from {h.HELPERS} import train as training\n"
    )
    monkeypatch.chdir(tmp_path)
    stored = h.policy(pipeline="project/training.py:training")
    expected = f"{(tmp_path / 'project' / 'training.py').resolve()}:training"
    assert stored.pipeline == expected and get_policy(h.MODEL).pipeline == expected
    monkeypatch.chdir(tmp_path / "project")  # the server runs from a folder of its own
    assert callable(check_target(stored.pipeline))
