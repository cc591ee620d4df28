"""The fluent API (`perennia.start_run`, `log_*`, `search_runs`, ...) on SQLite and PostgreSQL.

Every check reads back through `perennia.Client` or a second store connection, and compares with
what the test itself logged.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perennia
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store import open_store
from perennia.store.limits import PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH

INT64 = st.integers(-(2**63), 2**63 - 1)


def _history(run_id: str, key: str) -> list[tuple[int, int, float]]:
    """Return (step, timestamp, value) of every stored point of one metric."""
    return [
        (m.step, m.timestamp, m.value) for m in perennia.Client().get_metric_history(run_id, key)
    ]


def _same_points(got: list[tuple], want: list[tuple]) -> bool:
    """Return True if two point lists match, NaN matching NaN."""
    canon = [
        [(s, t, "nan" if math.isnan(v) else v) for s, t, v in points] for points in (got, want)
    ]
    return canon[0] == canon[1]


# -- experiments -------------------------------------------------------------------------------


def test_set_experiment_creates_the_experiment_on_first_use_and_reuses_it(tracking: str) -> None:
    assert perennia.get_experiment_by_name("churn") is None
    first = perennia.set_experiment("churn")
    again = perennia.set_experiment("churn")
    assert again.experiment_id == first.experiment_id
    assert perennia.get_experiment_by_name("churn").experiment_id == first.experiment_id
    with perennia.start_run() as run:
        pass
    assert perennia.Client().get_run(run.run_id).info.experiment_id == first.experiment_id


def test_set_experiment_by_id_and_its_refusals(tracking: str) -> None:
    eid = perennia.create_experiment("by-id")
    assert perennia.set_experiment(experiment_id=eid).name == "by-id"
    with pytest.raises(InvalidInput):
        perennia.set_experiment()
    with pytest.raises(InvalidInput):
        perennia.set_experiment("by-id", experiment_id=eid)
    with pytest.raises(NotFound):
        perennia.set_experiment(experiment_id="987654")
    perennia.Client().delete_experiment(eid)
    with pytest.raises(Conflict, match="deleted"):
        perennia.set_experiment("by-id")


# -- runs ----------------------------------------------------------------------------------------


def test_a_run_used_as_a_context_manager_finishes_with_its_name_and_tags(tracking: str) -> None:
    with perennia.start_run(run_name="baseline", tags={"team": "fraud", "n": 3}) as run:
        assert perennia.active_run().run_id == run.run_id
        assert perennia.Client().get_run(run.run_id).info.status == "RUNNING"
    assert perennia.active_run() is None
    stored = perennia.Client().get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "baseline"
    assert {"team": "fraud", "n": "3"}.items() <= stored.data.tags.items()
    assert stored.info.start_time <= stored.info.end_time
    assert stored.info.error is None


def test_an_exception_inside_a_run_marks_it_failed_with_the_error_and_propagates(
    tracking: str,
) -> None:
    with pytest.raises(ValueError, match="bad batch 17"), perennia.start_run() as run:
        perennia.log_metric("before", 1.5)
        raise ValueError("bad batch 17")
    stored = perennia.Client().get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert "ValueError" in stored.info.error and "bad batch 17" in stored.info.error
    assert stored.info.end_time is not None
    assert stored.data.metrics == {"before": 1.5}


def test_the_users_exception_propagates_even_when_a_queued_write_also_fails(
    tracking: str,
) -> None:
    with pytest.raises(KeyError, match="boom") as raised, perennia.start_run() as run:
        perennia.log_param("lr", "0.1", synchronous=True)
        perennia.log_params({"lr": "0.2"})  # conflicts with the stored value at the next flush
        raise KeyError("boom")
    # The write error is not swallowed either: it is attached to the propagating exception.
    assert any("lr" in note for note in getattr(raised.value, "__notes__", []))
    stored = perennia.Client().get_run(run.run_id)
    assert stored.info.status == "FAILED" and "boom" in stored.info.error
    assert stored.data.params == {"lr": "0.1"}


def test_nested_runs_record_their_parent_at_every_level(tracking: str) -> None:
    with perennia.start_run() as outer:
        with perennia.start_run(nested=True) as middle:
            with perennia.start_run(nested=True) as inner:
                assert perennia.active_run().run_id == inner.run_id
            assert perennia.active_run().run_id == middle.run_id
        assert perennia.active_run().run_id == outer.run_id
    client = perennia.Client()
    assert client.get_run(outer.run_id).info.parent_run_id is None
    assert client.get_run(middle.run_id).info.parent_run_id == outer.run_id
    assert client.get_run(inner.run_id).info.parent_run_id == middle.run_id
    statuses = {client.get_run(r.run_id).info.status for r in (outer, middle, inner)}
    assert statuses == {"FINISHED"}


def test_a_second_top_level_run_while_one_is_active_is_refused(tracking: str) -> None:
    with perennia.start_run() as first:
        with pytest.raises(Conflict, match=f"{first.run_id}.*nested=True"):
            perennia.start_run()
        assert perennia.active_run().run_id == first.run_id
        perennia.log_metric("still", 1.0)
    assert perennia.Client().get_run(first.run_id).data.metrics == {"still": 1.0}


def test_end_run_takes_a_status_and_is_a_no_op_without_an_active_run(tracking: str) -> None:
    perennia.end_run()  # nothing active: nothing happens
    run = perennia.start_run()
    perennia.end_run("KILLED")
    assert perennia.active_run() is None
    assert perennia.Client().get_run(run.run_id).info.status == "KILLED"
    assert perennia.last_active_run().info.run_id == run.run_id


def test_ending_an_outer_run_ends_the_nested_runs_inside_it(tracking: str) -> None:
    outer = perennia.start_run()
    inner = perennia.start_run(nested=True)
    perennia.end_run(run_id=outer.run_id)
    assert perennia.active_run() is None
    client = perennia.Client()
    assert client.get_run(inner.run_id).info.status == "FINISHED"
    assert client.get_run(outer.run_id).info.status == "FINISHED"


def test_resuming_a_run_by_id_appends_to_its_history(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_metric("loss", 0.9, step=0)
    with perennia.start_run(run_id=run.run_id):
        assert perennia.Client().get_run(run.run_id).info.status == "RUNNING"
        perennia.log_metric("loss", 0.4, step=1)
    assert [(s, v) for s, _, v in _history(run.run_id, "loss")] == [(0, 0.9), (1, 0.4)]


# -- params and tags -------------------------------------------------------------------------------


def test_relogging_a_param_with_the_same_value_is_accepted(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_param("depth", 3)
        perennia.log_param("depth", "3")
        perennia.flush()
        perennia.log_params({"depth": 3})
    assert perennia.Client().get_run(run.run_id).data.params == {"depth": "3"}


def test_a_param_contradicting_a_queued_value_is_refused_at_the_call(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_param("lr", 0.1)
        with pytest.raises(Conflict, match="'0.1'.*'0.2'"):
            perennia.log_param("lr", 0.2)
    assert perennia.Client().get_run(run.run_id).data.params == {"lr": "0.1"}


def test_a_param_contradicting_a_stored_value_fails_at_flush_and_keeps_the_rest(
    tracking: str,
) -> None:
    with perennia.start_run() as run:
        perennia.log_param("lr", "0.1")
        perennia.flush()
        perennia.log_param("depth", "3")  # queued before the conflicting one: must not be lost
        perennia.log_params({"lr": "0.2", "width": "5"})
        perennia.log_metric("loss", 0.5)
        perennia.set_tag("stage", "dev")
        with pytest.raises(Conflict, match="lr"):
            perennia.flush()
        perennia.flush()  # reported once
    stored = perennia.Client().get_run(run.run_id)
    assert stored.data.params == {"lr": "0.1", "depth": "3", "width": "5"}
    assert stored.data.metrics == {"loss": 0.5}
    assert stored.data.tags["stage"] == "dev"


def test_tags_are_set_overwritten_and_deleted(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.set_tag("stage", "dev")
        perennia.set_tags({"stage": "prod", "owner": "ana", "n": 7})
        perennia.set_tag("temp", "x")
        perennia.delete_tag("temp")
    tags = perennia.Client().get_run(run.run_id).data.tags
    assert {"stage": "prod", "owner": "ana", "n": "7"}.items() <= tags.items()
    assert "temp" not in tags


BAD_PARAMS_AND_TAGS = [
    ("log_param", ("big", "x" * (PARAM_VALUE_LENGTH + 1))),
    ("log_param", ("nul", "a\x00b")),
    ("log_param", ("../escape", "v")),
    ("log_param", (None, "v")),
    ("set_tag", ("big", "x" * (TAG_VALUE_LENGTH + 1))),
    ("set_tag", ("bad\nkey", "v")),
    ("set_tag", ("nul", "a\x00b")),
]


def test_bad_params_and_tags_are_refused_at_the_call_and_lose_nothing(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_param("kept", "yes")
        perennia.set_tag("kept", "yes")
        for call, args in BAD_PARAMS_AND_TAGS:
            with pytest.raises(InvalidInput):
                getattr(perennia, call)(*args)
                pytest.fail(f"{call}{args!r:.80} was accepted")
    stored = perennia.Client().get_run(run.run_id)
    assert stored.data.params == {"kept": "yes"}
    assert stored.data.tags["kept"] == "yes"
    assert {"big", "nul"}.isdisjoint(stored.data.tags)


# -- metrics -----------------------------------------------------------------------------------------

POINTS = st.lists(
    st.tuples(st.floats(allow_nan=True, allow_infinity=True), INT64, st.integers(0, 2**63 - 1)),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=POINTS)
def test_metric_history_equals_what_was_logged(tracking: str, points: list[tuple]) -> None:
    with perennia.start_run() as run:
        for value, step, timestamp in points:
            perennia.log_metric("m", value, step=step, timestamp=timestamp)
    # The oracle: points ordered by step then timestamp, ties kept in logging order.
    expected = sorted(((s, t, v) for v, s, t in points), key=lambda p: (p[0], p[1]))
    assert _same_points(_history(run.run_id, "m"), expected)


def test_log_metrics_shares_one_step_and_timestamp_across_keys(tracking: str) -> None:
    logged = {step: {"acc": 0.5 + step / 10, "f1": 0.4 + step / 20} for step in range(4)}
    with perennia.start_run() as run:
        for step, values in logged.items():
            perennia.log_metrics(values, step=step, timestamp=1_000 + step)
    for key in ("acc", "f1"):
        want = [(step, 1_000 + step, values[key]) for step, values in logged.items()]
        assert _history(run.run_id, key) == want
    assert perennia.Client().get_run(run.run_id).data.metrics == logged[3]


BAD_VALUES = ["abc", None, object(), "1.0", [1.0], 1 + 2j, 10**400]
BAD_STEPS_AND_TIMESTAMPS = [
    ("step", "1"),
    ("step", 1.5),
    ("step", True),
    ("step", 2**63),
    ("step", -(2**63) - 1),
    ("timestamp", 2**63),
    ("timestamp", 1.0),
    ("timestamp", "now"),
]


def test_bad_metric_values_are_refused_at_the_call_and_other_points_stay(tracking: str) -> None:
    with perennia.start_run() as run:
        perennia.log_metric("loss", 0.5, step=0, timestamp=1)
        for bad in BAD_VALUES:
            with pytest.raises(InvalidInput, match="loss"):
                perennia.log_metric("loss", bad, step=1, timestamp=1)
            with pytest.raises(InvalidInput):
                perennia.log_metrics({"other": 1.0, "loss": bad}, step=1, timestamp=1)
        perennia.log_metric("loss", 0.25, step=2, timestamp=1)
    assert _history(run.run_id, "loss") == [(0, 1, 0.5), (2, 1, 0.25)]
    # log_metrics validates the whole dict first, so the good key of a bad call is not half-logged.
    assert "other" not in perennia.Client().get_run(run.run_id).data.metrics


def test_bad_steps_and_timestamps_are_refused_at_the_call_and_other_points_stay(
    tracking: str,
) -> None:
    with perennia.start_run() as run:
        perennia.log_metric("loss", 0.5, step=0, timestamp=1)
        for field, bad in BAD_STEPS_AND_TIMESTAMPS:
            arguments = {"step": 1, "timestamp": 1, field: bad}
            with pytest.raises(InvalidInput, match=field):
                perennia.log_metric("loss", 0.7, **arguments)
            with pytest.raises(InvalidInput, match=field):
                perennia.log_metrics({"loss": 0.7}, **arguments)
        perennia.log_metric("loss", 0.25, step=2, timestamp=1)
    # Nothing bad was queued, so the flush at end_run wrote the good points.
    assert _history(run.run_id, "loss") == [(0, 1, 0.5), (2, 1, 0.25)]


def test_flush_makes_queued_points_visible_to_another_connection(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour-long interval: only the explicit flush can write these points.
    monkeypatch.setenv("PERENNIA_WRITER_FLUSH_INTERVAL", "3600")
    perennia.set_tracking_uri(tracking)
    other = open_store(tracking)
    try:
        run = perennia.start_run()
        for step in range(100):
            perennia.log_metric("m", step / 7, step=step)
        perennia.log_param("p", "v")
        assert other.metrics.history(run.run_id, "m") == []
        perennia.flush()
        assert [m.value for m in other.metrics.history(run.run_id, "m")] == [
            s / 7 for s in range(100)
        ]
        assert other.runs.get(run.run_id).data.params == {"p": "v"}
        perennia.end_run()
    finally:
        other.close()


# -- datasets and search -----------------------------------------------------------------------------


def test_log_input_records_the_pandas_dataset_with_its_context(tracking: str) -> None:
    frame = pd.DataFrame(
        {"age": [31, 45, 27, 60], "income": [1.0, 2.5, 0.5, 3.0], "label": [0, 1, 0, 1]}
    )
    dataset = perennia.data.from_pandas(frame, name="customers", targets="label")
    with perennia.start_run() as run:
        perennia.log_input(dataset, context="training")
        perennia.log_input(dataset, context="training")  # idempotent
    (stored,) = perennia.Client().get_run(run.run_id).inputs.dataset_inputs
    assert stored.context == "training"
    assert stored.dataset.digest == dataset.digest
    assert (stored.dataset.name, stored.dataset.row_count, stored.dataset.targets) == (
        "customers",
        len(frame),
        ["label"],
    )
    assert [c["name"] for c in stored.dataset.schema] == [c["name"] for c in dataset.schema]


def test_search_runs_returns_a_dataframe_with_mlflow_columns_matching_each_run(
    tracking: str,
) -> None:
    perennia.set_experiment("grid")
    for depth, acc in ((2, 0.71), (4, 0.83), (8, 0.79)):
        with perennia.start_run(run_name=f"d{depth}", tags={"family": "tree"}):
            perennia.log_param("depth", depth)
            perennia.log_metric("acc", acc)
    frame = perennia.search_runs(order_by=["metrics.acc DESC"])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    expected_columns = {"run_id", "experiment_id", "status", "start_time", "end_time"}
    assert expected_columns | {"metrics.acc", "params.depth", "tags.family"} <= set(frame.columns)
    assert list(frame["metrics.acc"]) == [0.83, 0.79, 0.71]
    client = perennia.Client()
    for row in frame.to_dict("records"):
        run = client.get_run(row["run_id"])
        assert row["status"] == run.info.status == "FINISHED"
        assert row["experiment_id"] == run.info.experiment_id
        assert row["run_name"] == run.info.run_name
        assert row["params.depth"] == run.data.params["depth"]
        assert row["metrics.acc"] == run.data.metrics["acc"]
        assert row["tags.family"] == run.data.tags["family"] == "tree"
        for column in ("start_time", "end_time"):
            stamp = pd.Timestamp(getattr(run.info, column), unit="ms", tz="UTC")
            assert pd.Timestamp(row[column]) == stamp
    narrowed = perennia.search_runs(filter_string="params.depth = '4'", output_format="list")
    assert [r.info.run_name for r in narrowed] == ["d4"]
