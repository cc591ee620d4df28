"""Params, tags and dataset inputs in the metadata store: immutability, overwrites, limits, dedup."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.entities import Dataset, DatasetInput, DatasetSummary, MetricBatch, Param, RunTag
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.limits import KEY_LENGTH, NAME_LENGTH, PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH
from perennia.testing.store_contract.helpers import table_count

HYPOTHESIS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BAD_KEYS = ["", "k" * (KEY_LENGTH + 1), "../up", "a/./b", "/abs", "x\x00y", "semi;colon", None, 3]


def _params(store, run_id: str) -> dict[str, str]:
    """Return the run's params as read back through the run entity."""
    return store.runs.get(run_id).data.params


def _tags(store, run_id: str) -> dict[str, str]:
    """Return the run's tags as read back through the run entity."""
    return store.runs.get(run_id).data.tags


# --- params -----------------------------------------------------------------------------------


def test_params_are_stored_as_strings(store, run_id) -> None:
    store.params.log(run_id, [Param("lr", 0.1), Param("layers", 3), Param("model", "rf")])
    assert _params(store, run_id) == {"lr": "0.1", "layers": "3", "model": "rf"}


def test_relogging_a_param_with_the_same_value_is_a_no_op(store, run_id) -> None:
    store.params.log(run_id, [Param("lr", "0.1")])
    store.params.log(run_id, [Param("lr", "0.1")])
    store.params.log(run_id, [Param("lr", 0.1)])  # the same value once stringified
    assert _params(store, run_id) == {"lr": "0.1"}
    assert table_count(store, "params", run_uuid=run_id) == 1


def test_param_relog_with_new_value_is_rejected_naming_key_and_both_values(store, run_id) -> None:
    store.params.log(run_id, [Param("lr", "0.1")])
    with pytest.raises(Conflict) as raised:
        store.params.log(run_id, [Param("lr", "0.2")])
    message = str(raised.value)
    assert "'lr'" in message and "'0.1'" in message and "'0.2'" in message
    assert _params(store, run_id) == {"lr": "0.1"}


def test_param_batch_with_one_conflict_writes_none_of_the_batch(store, run_id) -> None:
    store.params.log(run_id, [Param("lr", "0.1")])
    # Keys sort before and after the conflicting one, so neither insert order can leak a row.
    batch = [Param("alpha", "1"), Param("lr", "0.5"), Param("zeta", "2")]
    with pytest.raises(Conflict, match="'lr'"):
        store.params.log(run_id, batch)
    assert _params(store, run_id) == {"lr": "0.1"}
    assert table_count(store, "params", run_uuid=run_id) == 1


def test_log_batch_with_a_param_conflict_writes_no_metrics_params_or_tags(store, run_id) -> None:
    store.params.log(run_id, [Param("lr", "0.1")])
    with pytest.raises(Conflict, match="'lr'"):
        store.log_batch(
            run_id,
            MetricBatch(["loss"], [0.5], [0], [1]),
            params=[Param("new", "x"), Param("lr", "0.9")],
            tags=[RunTag("stage", "train")],
        )
    run = store.runs.get(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.tags == {} and run.data.metrics == {}
    assert table_count(store, "metrics", run_uuid=run_id) == 0


def test_log_batch_writes_metrics_params_and_tags_together(store, run_id) -> None:
    store.log_batch(
        run_id,
        MetricBatch(["loss", "loss"], [0.5, 0.25], [0, 1], [1, 2]),
        params=[Param("lr", "0.1")],
        tags=[RunTag("stage", "train")],
    )
    run = store.runs.get(run_id)
    assert run.data.metrics == {"loss": 0.25}
    assert run.data.params == {"lr": "0.1"} and run.data.tags == {"stage": "train"}


def test_same_param_twice_in_one_batch_is_fine_with_one_value_and_rejected_with_two(
    store, run_id
) -> None:
    store.params.log(run_id, [Param("a", "1"), Param("a", "1")])
    with pytest.raises(Conflict, match="'b'"):
        store.params.log(run_id, [Param("c", "3"), Param("b", "1"), Param("b", "2")])
    assert _params(store, run_id) == {"a": "1"}


def test_param_value_at_the_limit_is_stored_whole(store, run_id) -> None:
    value = "é" * (PARAM_VALUE_LENGTH - 1) + "x"
    store.params.log(run_id, [Param("long", value), Param("empty", "")])
    assert _params(store, run_id) == {"long": value, "empty": ""}


@pytest.mark.parametrize("value", ["v" * (PARAM_VALUE_LENGTH + 1), "a\x00b"], ids=["long", "nul"])
def test_bad_param_value_is_rejected_and_the_batch_is_dropped(store, run_id, value) -> None:
    with pytest.raises(InvalidInput, match="'big'"):
        store.params.log(run_id, [Param("ok", "1"), Param("big", value)])
    assert table_count(store, "params") == 0


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_param_key_is_rejected(store, run_id, key) -> None:
    with pytest.raises(InvalidInput, match="param key"):
        store.params.log(run_id, [Param("ok", "1"), Param(key, "v")])
    assert table_count(store, "params") == 0


@HYPOTHESIS
@given(value=st.text(max_size=60))
def test_any_text_param_value_round_trips_or_is_rejected_for_nul(store, experiment_id, value):
    run_id = store.runs.create(experiment_id).info.run_id
    if "\x00" in value:
        with pytest.raises(InvalidInput, match="NUL"):
            store.params.log(run_id, [Param("p", value)])
        assert _params(store, run_id) == {}
    else:
        store.params.log(run_id, [Param("p", value)])
        assert _params(store, run_id) == {"p": value}


def test_params_to_unknown_run_raise_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.params.log("0" * 32, [Param("a", "1")])


# --- tags -------------------------------------------------------------------------------------


def test_tags_can_be_overwritten_without_touching_the_others(store, run_id) -> None:
    store.tags.set(run_id, [RunTag("stage", "train"), RunTag("team", "risk")])
    store.tags.set(run_id, [RunTag("stage", "eval")])
    assert _tags(store, run_id) == {"stage": "eval", "team": "risk"}


def test_later_tag_in_one_batch_wins(store, run_id) -> None:
    store.tags.set(run_id, [RunTag("k", "first"), RunTag("k", "second")])
    assert _tags(store, run_id) == {"k": "second"}


def test_non_string_tag_values_are_stringified(store, run_id) -> None:
    store.tags.set(run_id, [RunTag("n", 3), RunTag("f", 0.5), RunTag("b", True)])
    assert _tags(store, run_id) == {"n": "3", "f": "0.5", "b": "True"}


def test_deleting_a_tag_removes_only_it_and_it_can_be_set_again(store, run_id) -> None:
    store.tags.set(run_id, [RunTag("a", "1"), RunTag("b", "2")])
    store.tags.delete(run_id, "a")
    assert _tags(store, run_id) == {"b": "2"}
    store.tags.set(run_id, [RunTag("a", "3")])
    assert _tags(store, run_id) == {"a": "3", "b": "2"}


def test_deleting_an_unknown_tag_raises_not_found_and_keeps_the_rest(store, run_id) -> None:
    store.tags.set(run_id, [RunTag("a", "1")])
    with pytest.raises(NotFound, match="'missing'"):
        store.tags.delete(run_id, "missing")
    store.tags.delete(run_id, "a")
    with pytest.raises(NotFound, match="'a'"):
        store.tags.delete(run_id, "a")
    assert _tags(store, run_id) == {}


def test_tags_of_one_run_leave_another_alone(store, experiment_id) -> None:
    first = store.runs.create(experiment_id).info.run_id
    second = store.runs.create(experiment_id).info.run_id
    store.tags.set(first, [RunTag("k", "1")])
    store.tags.set(second, [RunTag("k", "2")])
    store.tags.delete(first, "k")
    assert _tags(store, first) == {} and _tags(store, second) == {"k": "2"}


def test_tag_value_at_the_limit_is_stored_whole(store, run_id) -> None:
    value = "ü" * TAG_VALUE_LENGTH
    store.tags.set(run_id, [RunTag("long", value)])
    assert _tags(store, run_id) == {"long": value}


@pytest.mark.parametrize("value", ["v" * (TAG_VALUE_LENGTH + 1), "a\x00b"], ids=["long", "nul"])
def test_bad_tag_value_is_rejected_and_the_batch_is_dropped(store, run_id, value) -> None:
    store.tags.set(run_id, [RunTag("kept", "old")])
    with pytest.raises(InvalidInput, match="'big'"):
        store.tags.set(run_id, [RunTag("kept", "new"), RunTag("big", value)])
    assert _tags(store, run_id) == {"kept": "old"}


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_tag_key_is_rejected_by_set_and_delete(store, run_id, key) -> None:
    with pytest.raises(InvalidInput, match="tag key"):
        store.tags.set(run_id, [RunTag("ok", "1"), RunTag(key, "v")])
    with pytest.raises(InvalidInput, match="tag key"):
        store.tags.delete(run_id, key)
    assert table_count(store, "tags") == 0


# --- dataset inputs ---------------------------------------------------------------------------


def _dataset(name: str = "train.csv", digest: str = "ab" * 32, **fields) -> Dataset:
    """Return a dataset description with sensible defaults."""
    values = {
        "source": f"file:///data/{name}",
        "source_type": "local",
        "schema": [{"name": "x", "type": "double"}, {"name": "y", "type": "long"}],
        "row_count": 1000,
        "targets": ["y"],
        "profile": {"x": {"mean": 0.5, "nulls": 0}},
    }
    values.update(fields)
    return Dataset(name=name, digest=digest, **values)


def test_dataset_inputs_round_trip_with_every_field(store, run_id) -> None:
    train = _dataset()
    evaluation = _dataset("eval.csv", "cd" * 32, profile={}, targets=[])
    inputs = [DatasetInput(train, "training"), DatasetInput(evaluation, None)]
    store.inputs.log(run_id, inputs)
    listed = store.inputs.list(run_id)
    assert listed == sorted(inputs, key=lambda item: item.dataset.name)
    assert store.runs.get(run_id).inputs.dataset_inputs == listed


def test_every_tag_of_an_input_is_kept_in_the_order_given(store, run_id) -> None:
    tagged = DatasetInput(_dataset(), "training", {"foo": "baz", "split": "", "a": "1"})
    untagged = DatasetInput(_dataset("eval.csv", "cd" * 32), None, {"only": "tag"})
    store.inputs.log(run_id, [tagged, untagged])
    listed = store.inputs.list(run_id)
    assert listed == [untagged, tagged]
    assert list(listed[1].tags) == ["foo", "split", "a"]
    assert store.runs.get(run_id).inputs.dataset_inputs == listed
    with pytest.raises(InvalidInput):
        store.inputs.log(run_id, [DatasetInput(_dataset(), "t", {"": "empty key"})])


def test_dataset_summaries_list_each_experiments_dataset_uses_once(store, experiment_id) -> None:
    other = store.experiments.create("summaries-elsewhere")
    first, second = (store.runs.create(experiment_id).info.run_id for _ in range(2))
    train, evaluation = _dataset(), _dataset("eval.csv", "cd" * 32)
    store.inputs.log(first, [DatasetInput(train, "training"), DatasetInput(evaluation, None)])
    store.inputs.log(second, [DatasetInput(train, "training"), DatasetInput(train, "tuning")])
    store.inputs.log(store.runs.create(other).info.run_id, [DatasetInput(train, "training")])
    expected = [
        DatasetSummary(experiment_id, evaluation.name, evaluation.digest, None),
        DatasetSummary(experiment_id, train.name, train.digest, "training"),
        DatasetSummary(experiment_id, train.name, train.digest, "tuning"),
    ]
    assert store.inputs.summaries([experiment_id]) == expected
    assert len(store.inputs.summaries([experiment_id, other])) == 4
    assert store.inputs.summaries([experiment_id], max_results=1) == expected[:1]
    with pytest.raises(InvalidInput):
        store.inputs.summaries([])


def test_logging_the_same_input_twice_stores_it_once(store, run_id) -> None:
    item = DatasetInput(_dataset(), "training")
    store.inputs.log(run_id, [item, item])
    store.inputs.log(run_id, [item])
    assert store.inputs.list(run_id) == [item]
    assert table_count(store, "datasets") == 1 and table_count(store, "run_inputs") == 1


def test_one_dataset_in_two_contexts_is_stored_once_and_linked_twice(store, run_id) -> None:
    data = _dataset()
    store.inputs.log(run_id, [DatasetInput(data, "training"), DatasetInput(data, "validation")])
    assert [i.context for i in store.inputs.list(run_id)] == ["training", "validation"]
    assert table_count(store, "datasets") == 1 and table_count(store, "run_inputs") == 2


def test_runs_share_one_stored_dataset(store, experiment_id) -> None:
    data = _dataset()
    runs = [store.runs.create(experiment_id).info.run_id for _ in range(3)]
    for run_id in runs:
        store.inputs.log(run_id, [DatasetInput(data, "training")])
    assert all(store.inputs.list(r) == [DatasetInput(data, "training")] for r in runs)
    assert table_count(store, "datasets") == 1 and table_count(store, "run_inputs") == 3


def test_a_dataset_identity_keeps_its_first_description(store, run_id) -> None:
    first = _dataset(source="s3://bucket/a.csv")
    store.inputs.log(run_id, [DatasetInput(first, "training")])
    store.inputs.log(run_id, [DatasetInput(_dataset(source="s3://elsewhere/b.csv"), "eval")])
    assert [i.dataset for i in store.inputs.list(run_id)] == [first, first]


def test_new_digest_under_the_same_name_is_a_new_dataset_version(store, run_id) -> None:
    v1, v2 = _dataset(digest="01" * 32), _dataset(digest="02" * 32)
    store.inputs.log(run_id, [DatasetInput(v1, "training"), DatasetInput(v2, "training")])
    assert {i.dataset.digest for i in store.inputs.list(run_id)} == {v1.digest, v2.digest}
    assert table_count(store, "datasets") == 2


def test_dataset_inputs_of_a_deleted_run_stay_readable(store, run_id) -> None:
    item = DatasetInput(_dataset(), "training")
    store.inputs.log(run_id, [item])
    store.runs.delete(run_id)
    assert store.inputs.list(run_id) == [item]


def test_dataset_inputs_of_an_unknown_run_raise_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.inputs.list("f" * 32)
    with pytest.raises(NotFound):
        store.inputs.log("f" * 32, [DatasetInput(_dataset(), "training")])
    assert table_count(store, "datasets") == 0


class _Opaque:
    """An object JSON cannot encode."""


@pytest.mark.parametrize(
    ("dataset_fields", "context"),
    [
        # Digests are the client's fingerprints (MLflow's are any short id-like text), so only
        # text that could not be an id is refused.
        pytest.param({"digest": "a b"}, "training", id="digest-with-space"),
        pytest.param({"digest": "../x"}, "training", id="path-like-digest"),
        pytest.param({"digest": "a" * 65}, "training", id="digest-too-long"),
        pytest.param({"digest": ""}, "training", id="empty-digest"),
        pytest.param({"name": " "}, "training", id="blank-name"),
        pytest.param({"name": "n" * (NAME_LENGTH + 1)}, "training", id="name-too-long"),
        pytest.param({}, "../escape", id="traversal-context"),
        pytest.param({}, "", id="empty-context"),
        pytest.param({}, "c" * 65, id="context-too-long"),
        pytest.param({"row_count": -1}, "training", id="negative-rows"),
        pytest.param({"row_count": 1.5}, "training", id="float-rows"),
        pytest.param({"row_count": True}, "training", id="bool-rows"),
        pytest.param({"row_count": 2**63}, "training", id="rows-beyond-int64"),
        pytest.param({"source": None}, "training", id="no-source"),
        pytest.param({"source": "file:///a\x00b"}, "training", id="nul-in-source"),
        pytest.param({"source_type": "t" * 65}, "training", id="source-type-too-long"),
        pytest.param({"schema": [{"x": _Opaque()}]}, "training", id="schema-not-json"),
        pytest.param({"profile": {"mean": {1, 2}}}, "training", id="profile-not-json"),
    ],
)
def test_bad_dataset_input_is_rejected_and_nothing_of_the_call_is_stored(
    store, run_id, dataset_fields, context
) -> None:
    fields = {"name": "bad.csv", "digest": "ee" * 32} | dataset_fields
    good = DatasetInput(_dataset(), "training")
    with pytest.raises(InvalidInput):
        store.inputs.log(run_id, [good, DatasetInput(_dataset(**fields), context)])
    assert store.inputs.list(run_id) == []
    assert table_count(store, "datasets") == 0 and table_count(store, "run_inputs") == 0


def test_dataset_schema_and_profile_survive_json_exactly(store, run_id) -> None:
    profile = {"x": {"mean": 0.1 + 0.2, "hist": [1, 2, 3], "label": "ünï"}, "n": None}
    store.inputs.log(run_id, [DatasetInput(_dataset(profile=profile), "training")])
    assert store.inputs.list(run_id)[0].dataset.profile == json.loads(json.dumps(profile))
