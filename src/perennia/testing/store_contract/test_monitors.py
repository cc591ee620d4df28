"""The monitors contract: monitors created, read, listed, changed and deleted; each computed window
recorded as one run and a point per key, replaced (never duplicated) when recorded again; and
the points read back as time series. Claims and leases are test_monitor_leases.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perennia.clock import now_ms
from perennia.entities import Monitor, MonitorPoint, MonitorRun
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.testing.store_contract.helpers import table_count

NAME = "fraud-daily"
HOUR = 3_600_000
DAY = 24 * HOUR
FAR_FUTURE = 10**14  # a next run no test reaches


def _monitor(name: str = NAME, **changes) -> Monitor:
    return replace(Monitor(name, "datasets:/train@3", HOUR), **changes)


def _full_monitor() -> Monitor:
    return _monitor(
        deployment="fraud-api",
        model_name="fraud",
        model_version=4,
        reference="sha256:" + "ab" * 32,
        schedule_ms=DAY,
        config={
            "columns": ["age", "city"],
            "thresholds": {"psi": 0.2, "share": 0.5},
            "task": "binary",
            "probability_column": "p",
            "alerts": [{"key": "drift.share_drifted", "above": 0.3}],
            "note": "ünïcode ✓",
        },
        description="card fraud, daily windows",
    )


def _window(start: int, values: dict[str, float | None], *, name: str = NAME, **run_changes):
    """Return (run, points) of the window [start, start + HOUR) holding `values`."""
    run = MonitorRun(name, start, start + HOUR, start + HOUR + 5, "ok", {"rows": len(values)})
    run = replace(run, **run_changes)
    points = [
        MonitorPoint(name, run.window_start_ms, run.window_end_ms, key, value, run.computed_ms)
        for key, value in values.items()
    ]
    return run, points


def _record(store, start: int, values: dict[str, float | None], last: int | None = None, **kw):
    run, points = _window(start, values, **kw)
    store.monitors.record_window(kw.get("name", NAME), run, points, last)
    return run, points


# -- monitors --------------------------------------------------------------------------------


def test_a_created_monitor_reads_back_every_field(store, recorded) -> None:
    draft = _full_monitor()
    claimed = replace(
        draft,
        created_ms=5,
        updated_ms=6,
        created_by="mallory",
        last_window_end_ms=99,
        lease_owner="me",
        lease_until_ms=7,
    )
    before = now_ms()
    stored = store.monitors.create_monitor(claimed, username="ana")
    assert stored.created_by == recorded("ana")
    assert before <= stored.created_ms == stored.updated_ms <= now_ms()
    # Scheduled, and naming no first run: due at once.
    assert stored.next_run_ms == stored.created_ms
    assert (stored.last_window_end_ms, stored.lease_owner, stored.lease_until_ms) == (None,) * 3
    expected = replace(
        draft,
        created_ms=stored.created_ms,
        updated_ms=stored.updated_ms,
        created_by=stored.created_by,
        next_run_ms=stored.next_run_ms,
    )
    assert stored == expected
    assert store.monitors.get_monitor(NAME) == stored


def test_an_unscheduled_monitor_is_never_due_and_a_first_run_can_be_named(store) -> None:
    on_demand = store.monitors.create_monitor(_monitor("on-demand", next_run_ms=123))
    later = store.monitors.create_monitor(_monitor("later", schedule_ms=HOUR, next_run_ms=10**12))
    assert (on_demand.schedule_ms, on_demand.next_run_ms) == (None, None)
    assert later.next_run_ms == 10**12
    assert store.monitors.claim_due_monitors(10**12 - 1, "r1") == []
    assert [m.name for m in store.monitors.claim_due_monitors(10**12, "r1")] == ["later"]


def test_a_taken_name_is_refused_and_the_first_monitor_kept(store) -> None:
    first = store.monitors.create_monitor(_monitor(description="first"))
    with pytest.raises(AlreadyExists, match=f"monitor '{NAME}' already exists"):
        store.monitors.create_monitor(_monitor(description="second", window_ms=5))
    assert store.monitors.get_monitor(NAME) == first


def test_monitors_are_listed_by_name_a_page_at_a_time_and_by_deployment(store) -> None:
    for name, deployment in (("c", "api"), ("a", None), ("b", "api"), ("d", "other")):
        store.monitors.create_monitor(_monitor(name, deployment=deployment))
    assert [m.name for m in store.monitors.list_monitors()] == ["a", "b", "c", "d"]
    first = store.monitors.list_monitors(max_results=3)
    assert [m.name for m in first] == ["a", "b", "c"] and first.next_page_token
    rest = store.monitors.list_monitors(max_results=3, page_token=first.next_page_token)
    assert [m.name for m in rest] == ["d"] and rest.next_page_token is None
    assert [m.name for m in store.monitors.list_monitors("api")] == ["b", "c"]
    assert list(store.monitors.list_monitors("nothing-here")) == []
    for bad in (0, -1, 10**9, "10", None, True):
        with pytest.raises(InvalidInput, match="max_results"):
            store.monitors.list_monitors(max_results=bad)
    for token in ("garbage", "x" * 600):
        with pytest.raises(InvalidInput, match="page_token"):
            store.monitors.list_monitors(page_token=token)
    with pytest.raises(InvalidInput, match="deployment name"):
        store.monitors.list_monitors(deployment="a/b")


def test_an_update_changes_only_the_fields_given(store) -> None:
    created = store.monitors.create_monitor(_full_monitor())
    assert store.monitors.update_monitor(NAME) == created  # nothing asked, nothing changed
    updated = store.monitors.update_monitor(
        NAME,
        window_ms=2 * HOUR,
        reference="datasets:/train@4",
        config={"columns": ["age"]},
        description="",
    )
    assert updated.updated_ms >= created.updated_ms
    assert updated == replace(
        created,
        window_ms=2 * HOUR,
        reference="datasets:/train@4",
        config={"columns": ["age"]},
        description="",
        updated_ms=updated.updated_ms,
    )
    assert store.monitors.get_monitor(NAME) == updated


def test_the_schedule_decides_when_a_monitor_is_next_due(store) -> None:
    store.monitors.create_monitor(_monitor(schedule_ms=DAY, next_run_ms=FAR_FUTURE))
    unscheduled = store.monitors.update_monitor(NAME, schedule_ms=None)
    assert (unscheduled.schedule_ms, unscheduled.next_run_ms) == (None, None)
    before = now_ms()
    scheduled = store.monitors.update_monitor(NAME, schedule_ms=DAY)
    assert before <= scheduled.next_run_ms <= now_ms()  # scheduled again: due at once
    store.monitors.claim_due_monitors(now_ms(), "r1")
    store.monitors.release_monitor(NAME, "r1", FAR_FUTURE)
    # A shorter schedule brings the next run to at most one new period from now.
    before = now_ms()
    shorter = store.monitors.update_monitor(NAME, schedule_ms=60_000)
    assert before + 60_000 <= shorter.next_run_ms <= now_ms() + 60_000
    longer = store.monitors.update_monitor(NAME, schedule_ms=DAY)
    assert longer.next_run_ms == shorter.next_run_ms


BAD_UPDATES = [
    ({"window_ms": 0}, "window_ms"),
    ({"window_ms": None}, "window_ms"),
    ({"window_ms": 10**15}, "window_ms"),
    ({"window_ms": "3600000"}, "window_ms"),
    ({"window_ms": 1.5}, "window_ms"),
    ({"schedule_ms": -1}, "schedule_ms"),
    ({"schedule_ms": True}, "schedule_ms"),
    ({"reference": ""}, "reference"),
    ({"reference": "a b"}, "reference"),
    ({"reference": "sha256:xyz"}, "sha256"),
    ({"reference": None}, "reference"),
    ({"config": []}, "config"),
    ({"config": {"x": float("nan")}}, "config"),
    ({"config": {"big": "x" * 70_000}}, "config"),
    ({"config": None}, "config"),
    ({"description": 5}, "description"),
    ({"description": "x\x00"}, "description"),
]


def test_bad_updates_are_refused_naming_the_field_and_change_nothing(store) -> None:
    created = store.monitors.create_monitor(_full_monitor())
    for changes, field in BAD_UPDATES:
        with pytest.raises(InvalidInput, match=field):
            store.monitors.update_monitor(NAME, **changes)
    with pytest.raises(TypeError):
        store.monitors.update_monitor(NAME, deployment="other")  # not a field an update changes
    assert store.monitors.get_monitor(NAME) == created


def test_a_deleted_monitor_takes_its_runs_and_points_with_it(store) -> None:
    store.monitors.create_monitor(_monitor())
    store.monitors.create_monitor(_monitor("kept"))
    _record(store, 0, {"rows": 10.0, "psi": 0.1})
    _record(store, 0, {"rows": 3.0}, name="kept")
    store.monitors.delete_monitor(NAME)
    with pytest.raises(NotFound, match=f"no monitor named '{NAME}'"):
        store.monitors.get_monitor(NAME)
    with pytest.raises(NotFound):
        store.monitors.delete_monitor(NAME)
    again = store.monitors.create_monitor(_monitor())
    assert again.last_window_end_ms is None
    assert store.monitors.list_points(NAME) == [] and store.monitors.list_runs(NAME) == []
    assert [p.value for p in store.monitors.list_points("kept")] == [3.0]
    assert table_count(store, "monitor_points") == 1
    assert table_count(store, "monitor_runs") == 1


BAD_MONITORS = [
    ({"name": ""}, "monitor name"),
    ({"name": "a/b"}, "monitor name"),
    ({"name": ".."}, "monitor name"),
    ({"name": "../etc"}, "monitor name"),
    ({"name": "-x"}, "monitor name"),
    ({"name": "x" * 129}, "monitor name"),
    ({"name": "a b"}, "monitor name"),
    ({"name": 5}, "monitor name"),
    ({"reference": ""}, "reference"),
    ({"reference": " datasets:/x"}, "reference"),
    ({"reference": "sha256:" + "A" * 64}, "sha256"),
    ({"reference": "x" * 5000}, "reference"),
    ({"reference": 3}, "reference"),
    ({"window_ms": 0}, "window_ms"),
    ({"window_ms": -5}, "window_ms"),
    ({"window_ms": 2**70}, "window_ms"),
    ({"window_ms": "1h"}, "window_ms"),
    ({"window_ms": None}, "window_ms"),
    ({"schedule_ms": 0}, "schedule_ms"),
    ({"schedule_ms": 400 * DAY}, "schedule_ms"),
    ({"schedule_ms": 2.5}, "schedule_ms"),
    ({"deployment": "a/b"}, "deployment name"),
    ({"deployment": ""}, "deployment name"),
    ({"model_name": "a@b"}, "model name"),
    ({"model_version": 3}, "model_name"),
    ({"model_name": "fraud", "model_version": 0}, "model_version"),
    ({"model_name": "fraud", "model_version": 2**31}, "model_version"),
    ({"model_name": "fraud", "model_version": "3"}, "model_version"),
    ({"config": ["columns"]}, "config"),
    ({"config": {"t": float("inf")}}, "config"),
    ({"config": {1: "a"}}, "config"),
    ({"config": {"big": "x" * 70_000}}, "config"),
    ({"config": {"s": {1, 2}}}, "config"),
    ({"description": None}, "description"),
    ({"description": "x" * 70_000}, "description"),
    ({"next_run_ms": -1}, "next_run_ms"),
    ({"next_run_ms": 2**60}, "next_run_ms"),
]


def test_bad_monitors_are_refused_naming_the_field_and_store_nothing(store) -> None:
    # One store for every case: a fresh database per case would cost a second each on a server.
    for changes, field in BAD_MONITORS:
        with pytest.raises(InvalidInput, match=field):
            store.monitors.create_monitor(_monitor(**changes))
    with pytest.raises(InvalidInput, match="Monitor"):
        store.monitors.create_monitor({"name": NAME})  # type: ignore[arg-type]
    assert list(store.monitors.list_monitors()) == []


def test_an_unknown_monitor_is_not_found_everywhere(store) -> None:
    run, points = _window(0, {"rows": 1.0}, name="ghost")
    calls = [
        lambda: store.monitors.get_monitor("ghost"),
        lambda: store.monitors.update_monitor("ghost", description="x"),
        lambda: store.monitors.update_monitor("ghost"),
        lambda: store.monitors.delete_monitor("ghost"),
        lambda: store.monitors.record_window("ghost", run, points, None),
        lambda: store.monitors.list_points("ghost"),
        lambda: store.monitors.list_runs("ghost"),
    ]
    for call in calls:
        with pytest.raises(NotFound, match="no monitor named 'ghost'"):
            call()
    assert store.monitors.release_monitor("ghost", "r1") is False


def test_names_that_are_not_monitor_names_are_refused_on_every_method(store) -> None:
    store.monitors.create_monitor(_monitor())
    run, _ = _window(0, {"rows": 1.0})
    monitors = store.monitors
    for bad in ("..", "a/b", "x" * 200, "", "a%2Fb", None, 7):
        calls = [
            (monitors.get_monitor, (bad,)),
            (monitors.update_monitor, (bad,)),
            (monitors.delete_monitor, (bad,)),
            (monitors.record_window, (bad, replace(run, monitor=bad), [], None)),
            (monitors.list_points, (bad,)),
            (monitors.list_runs, (bad,)),
            (monitors.release_monitor, (bad, "r1")),
        ]
        for method, args in calls:
            with pytest.raises(InvalidInput, match="monitor name"):
                method(*args)
    assert store.monitors.list_points(NAME) == []


# -- windows: runs and points ------------------------------------------------------------------


def test_a_recorded_window_reads_back_as_its_run_and_points(store) -> None:
    store.monitors.create_monitor(_monitor())
    run, points = _window(
        HOUR,
        {
            "rows": 1200,
            "drift.share_drifted": 0.25,
            "feature.age.psi": 1e-300,
            "estimated.f1": None,
        },
        summary={"columns": {"age": {"psi": 0.1, "drifted": False}}, "n": [1, 2]},
    )
    store.monitors.record_window(NAME, run, points, run.window_end_ms)
    assert store.monitors.list_runs(NAME) == [run]
    stored = store.monitors.list_points(NAME)
    assert stored == sorted(
        [replace(p, value=None if p.value is None else float(p.value)) for p in points],
        key=lambda p: p.key,
    )
    assert all(type(p.value) is float for p in stored if p.value is not None)
    assert store.monitors.get_monitor(NAME).last_window_end_ms == 2 * HOUR


def test_recording_a_window_again_replaces_it_and_never_duplicates_points(store) -> None:
    store.monitors.create_monitor(_monitor())
    _record(store, 0, {"rows": 10.0, "psi": 0.5, "gone": 1.0}, last=HOUR)
    _record(store, HOUR, {"rows": 7.0}, last=2 * HOUR)
    rerun, points = _record(
        store, 0, {"rows": 12.0, "psi": None}, status="empty", summary={"again": True}
    )
    first = store.monitors.list_points(NAME, until_ms=HOUR)
    assert [(p.key, p.value) for p in first] == [("psi", None), ("rows", 12.0)]
    assert first == sorted(points, key=lambda p: p.key)
    assert store.monitors.list_runs(NAME) == [_window(HOUR, {"rows": 7.0})[0], rerun]
    assert table_count(store, "monitor_points") == 3
    assert table_count(store, "monitor_runs") == 2
    # A window that differs only in its end is another window, not a replacement.
    _record(store, 0, {"rows": 1.0}, window_end_ms=HOUR // 2, computed_ms=HOUR // 2 + 5)
    assert len(store.monitors.list_runs(NAME)) == 3


def test_the_last_window_end_only_moves_forward(store) -> None:
    store.monitors.create_monitor(_monitor())
    _record(store, 0, {"rows": 1.0}, last=None)
    assert store.monitors.get_monitor(NAME).last_window_end_ms is None
    _record(store, 5 * HOUR, {"rows": 1.0}, last=6 * HOUR)
    _record(store, HOUR, {"rows": 1.0}, last=2 * HOUR)  # a late relabel of an older window
    assert store.monitors.get_monitor(NAME).last_window_end_ms == 6 * HOUR
    _record(store, 6 * HOUR, {"rows": 1.0}, last=7 * HOUR)
    assert store.monitors.get_monitor(NAME).last_window_end_ms == 7 * HOUR


def test_a_failed_window_keeps_its_error_and_an_empty_one_may_have_no_points(store) -> None:
    store.monitors.create_monitor(_monitor())
    failed, _ = _record(store, 0, {}, status="failed", error="reference not found: ✗", summary={})
    empty, _ = _record(store, HOUR, {}, status="empty")
    assert store.monitors.list_runs(NAME) == [empty, failed]
    assert store.monitors.list_points(NAME) == []


def _bad_windows() -> list[tuple[MonitorRun, list[MonitorPoint], str]]:
    """Return (run, points, message fragment) of windows the store must refuse."""
    run, points = _window(HOUR, {"rows": 1.0, "psi": 0.2})
    one = points[0]
    return [
        (replace(run, window_end_ms=HOUR - 1), [], "before window_start_ms"),
        (replace(run, window_start_ms=-1), [], "window_start_ms"),
        (replace(run, window_end_ms=2**60), [], "window_end_ms"),
        (replace(run, window_start_ms="0"), [], "window_start_ms"),
        (replace(run, computed_ms=None), [], "computed_ms"),
        (replace(run, status="done"), [], "status"),
        (replace(run, status="failed"), [], "error"),
        (replace(run, error="boom"), [], "error"),
        (replace(run, status="failed", error="x" * 70_000), [], "error"),
        (replace(run, summary=[1]), [], "summary"),
        (replace(run, summary={"x": float("nan")}), [], "summary"),
        (replace(run, summary={"big": "x" * 1_100_000}), [], "summary"),
        (replace(run, monitor="other"), [], "other"),
        (run, [replace(one, value=float("nan"))], "record None"),
        (run, [replace(one, value=float("inf"))], "record None"),
        (run, [replace(one, value=-float("inf"))], "record None"),
        (run, [replace(one, value="1.0")], "value"),
        (run, [replace(one, value=True)], "value"),
        (run, [replace(one, value=10**400)], "too large"),
        (run, [one, replace(one, value=2.0)], "twice"),
        (run, [replace(one, key="")], "point key"),
        (run, [replace(one, key="x" * 251)], "point key"),
        (run, [replace(one, key="a\nb")], "point key"),
        (run, [replace(one, key=None)], "point key"),
        (run, [replace(one, window_start_ms=0)], "window"),
        (run, [replace(one, window_end_ms=3 * HOUR)], "window"),
        (run, [replace(one, computed_ms=1)], "computed_ms"),
        (run, [replace(one, monitor="other")], "monitor"),
        (run, [{"key": "rows", "value": 1.0}], "MonitorPoint"),
        (run, "rows", "points"),
        ({"monitor": NAME}, [], "MonitorRun"),
    ]


def test_bad_windows_are_refused_naming_the_field_and_store_nothing(store) -> None:
    store.monitors.create_monitor(_monitor())
    for run, points, fragment in _bad_windows():
        with pytest.raises(InvalidInput, match=fragment):
            store.monitors.record_window(NAME, run, points, 2 * HOUR)
    run, points = _window(HOUR, {"rows": 1.0})
    for last in (-1, 2**60, "7200000", 1.5):
        with pytest.raises(InvalidInput, match="last_window_end_ms"):
            store.monitors.record_window(NAME, run, points, last)
    assert store.monitors.list_runs(NAME) == [] and store.monitors.list_points(NAME) == []
    assert store.monitors.get_monitor(NAME).last_window_end_ms is None


def test_points_are_a_time_series_by_window_end_then_key(store) -> None:
    store.monitors.create_monitor(_monitor())
    for i in (2, 0, 1):
        _record(store, i * HOUR, {"rows": float(i), "psi": i / 10, "f1": None})
    series = store.monitors.list_points(NAME)
    assert [(p.window_end_ms, p.key) for p in series] == [
        (end, key) for end in (HOUR, 2 * HOUR, 3 * HOUR) for key in ("f1", "psi", "rows")
    ]
    rows = store.monitors.list_points(NAME, keys=["rows"])
    assert [(p.window_start_ms, p.value) for p in rows] == [(0, 0.0), (HOUR, 1.0), (2 * HOUR, 2.0)]
    both = store.monitors.list_points(NAME, keys=("rows", "psi", "missing"))
    assert [p.key for p in both] == ["psi", "rows"] * 3
    middle = store.monitors.list_points(NAME, since_ms=2 * HOUR, until_ms=2 * HOUR)
    assert {p.window_end_ms for p in middle} == {2 * HOUR} and len(middle) == 3
    assert len(store.monitors.list_points(NAME, since_ms=2 * HOUR)) == 6
    assert len(store.monitors.list_points(NAME, until_ms=2 * HOUR - 1)) == 3
    assert store.monitors.list_points(NAME, limit=4) == series[:4]


def test_runs_are_listed_newest_first_within_a_time_range(store) -> None:
    store.monitors.create_monitor(_monitor())
    runs = [_record(store, i * HOUR, {"rows": 1.0})[0] for i in range(4)]
    assert store.monitors.list_runs(NAME) == runs[::-1]
    assert store.monitors.list_runs(NAME, limit=2) == [runs[3], runs[2]]
    assert store.monitors.list_runs(NAME, since_ms=2 * HOUR, until_ms=3 * HOUR) == [
        runs[2],
        runs[1],
    ]


def test_malformed_ranges_keys_and_limits_are_refused(store) -> None:
    store.monitors.create_monitor(_monitor())
    for kwargs, field in (
        ({"since_ms": -1}, "since_ms"),
        ({"until_ms": 2**60}, "until_ms"),
        ({"since_ms": "0"}, "since_ms"),
        ({"since_ms": 5, "until_ms": 4}, "after until_ms"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**9}, "limit"),
        ({"limit": True}, "limit"),
    ):
        with pytest.raises(InvalidInput, match=field):
            store.monitors.list_points(NAME, **kwargs)
        with pytest.raises(InvalidInput, match=field):
            store.monitors.list_runs(NAME, **kwargs)
    for keys in ("rows", [], ["x" * 300], [None], [f"k{i}" for i in range(1001)]):
        with pytest.raises(InvalidInput, match="key"):
            store.monitors.list_points(NAME, keys=keys)
