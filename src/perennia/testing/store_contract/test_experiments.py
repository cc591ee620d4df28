"""Experiments in the metadata store: create, find, search, rename, trash, restore, tag, purge."""

from __future__ import annotations

import contextlib

import pytest

from perennia.entities import LifecycleStage, ViewType
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from perennia.testing.store_contract.helpers import next_millisecond, table_count

ACTIVE = LifecycleStage.ACTIVE.value
DELETED = LifecycleStage.DELETED.value


def _all_pages(store, **kwargs) -> list[str]:
    """Walk every page of an experiment search and return the ids in order."""
    ids: list[str] = []
    token = None
    while True:
        page = store.experiments.search(page_token=token, **kwargs)
        ids += [e.experiment_id for e in page]
        token = page.next_page_token
        if token is None:
            return ids


# --- create and get ---------------------------------------------------------------------------


def test_create_returns_id_of_an_active_experiment_with_its_fields(store) -> None:
    eid = store.experiments.create("fraud", artifact_location="/blobs/fraud", tags={"team": "risk"})
    experiment = store.experiments.get(eid)
    assert experiment.experiment_id == eid
    assert experiment.name == "fraud"
    assert experiment.artifact_location == "/blobs/fraud"
    assert experiment.lifecycle_stage == ACTIVE
    assert experiment.tags == {"team": "risk"}
    assert experiment.creation_time > 0
    assert experiment.last_update_time >= experiment.creation_time


def test_created_experiments_get_distinct_string_ids(store) -> None:
    ids = [store.experiments.create(f"exp-{i}") for i in range(5)]
    assert all(isinstance(eid, str) for eid in ids)
    assert len(set(ids)) == 5
    assert "0" not in ids


def test_experiment_name_is_stripped(store) -> None:
    eid = store.experiments.create("  padded  ")
    assert store.experiments.get(eid).name == "padded"
    assert store.experiments.get_by_name("padded").experiment_id == eid


@pytest.mark.parametrize("name", ["", "   ", "x" * 257, "nul\x00byte", None, 42])
def test_create_with_invalid_name_is_rejected(store, name) -> None:
    with pytest.raises(InvalidInput):
        store.experiments.create(name)


def test_create_with_invalid_tag_key_is_rejected_and_creates_nothing(store) -> None:
    with pytest.raises(InvalidInput):
        store.experiments.create("bad-tags", tags={"../escape": "v"})
    assert store.experiments.get_by_name("bad-tags") is None


def test_duplicate_name_raises_already_exists(store) -> None:
    store.experiments.create("dup")
    with pytest.raises(AlreadyExists, match="dup"):
        store.experiments.create("dup")
    with pytest.raises(AlreadyExists):
        store.experiments.create("  dup ")


def test_duplicate_of_a_trashed_name_raises_already_exists_with_a_hint(store) -> None:
    eid = store.experiments.create("trashed")
    store.experiments.delete(eid)
    with pytest.raises(AlreadyExists, match="trash"):
        store.experiments.create("trashed")


def test_names_differing_only_in_case_are_distinct(store) -> None:
    lower = store.experiments.create("model")
    upper = store.experiments.create("Model")
    assert lower != upper
    assert store.experiments.get_by_name("Model").experiment_id == upper


def test_get_unknown_id_raises_not_found(store) -> None:
    with pytest.raises(NotFound, match="12345"):
        store.experiments.get("12345")


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "", None])
def test_get_with_malformed_id_raises_invalid_input(store, bad_id) -> None:
    with pytest.raises(InvalidInput):
        store.experiments.get(bad_id)


@pytest.mark.parametrize("bad_id", ["99999999999999999999", "²"])
def test_get_with_out_of_range_id_raises_a_perennia_error(store, bad_id) -> None:
    with pytest.raises((NotFound, InvalidInput)):
        store.experiments.get(bad_id)


def test_get_by_name_returns_none_for_unknown_name(store) -> None:
    assert store.experiments.get_by_name("nobody") is None


def test_get_by_name_finds_trashed_experiments(store) -> None:
    eid = store.experiments.create("gone")
    store.experiments.delete(eid)
    found = store.experiments.get_by_name("gone")
    assert found.experiment_id == eid
    assert found.lifecycle_stage == DELETED


# --- the Default experiment -------------------------------------------------------------------


def test_default_experiment_with_id_0_exists(store) -> None:
    default = store.experiments.get("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == ACTIVE
    assert store.experiments.get_by_name("Default").experiment_id == "0"


def test_default_experiment_cannot_be_deleted(store) -> None:
    with pytest.raises(Conflict):
        store.experiments.delete("0")
    assert store.experiments.get("0").lifecycle_stage == ACTIVE


def test_runs_can_be_created_in_the_default_experiment(store) -> None:
    run = store.runs.create("0")
    assert run.info.experiment_id == "0"


# --- search -----------------------------------------------------------------------------------


def test_search_orders_by_id_and_respects_view_type(store) -> None:
    a = store.experiments.create("a")
    b = store.experiments.create("b")
    c = store.experiments.create("c")
    store.experiments.delete(b)

    def ids(view):
        return [e.experiment_id for e in store.experiments.search(view_type=view)]

    assert ids(ViewType.ACTIVE_ONLY) == ["0", a, c]
    assert ids(ViewType.DELETED_ONLY) == [b]
    assert ids(ViewType.ALL) == ["0", a, b, c]
    assert ids("ALL") == ["0", a, b, c]


def test_search_returns_tags(store) -> None:
    eid = store.experiments.create("tagged", tags={"k": "v"})
    (found,) = [e for e in store.experiments.search() if e.experiment_id == eid]
    assert found.tags == {"k": "v"}


def test_search_name_like_filters_with_sql_wildcards(store) -> None:
    store.experiments.create("fraud-v1")
    store.experiments.create("fraud-v2")
    store.experiments.create("churn")
    assert [e.name for e in store.experiments.search(name_like="fraud%")] == [
        "fraud-v1",
        "fraud-v2",
    ]
    assert [e.name for e in store.experiments.search(name_like="%-v_")] == [
        "fraud-v1",
        "fraud-v2",
    ]
    assert [e.name for e in store.experiments.search(name_like="churn")] == ["churn"]
    assert list(store.experiments.search(name_like="nothing%")) == []


def test_search_name_like_is_case_sensitive_on_every_backend(store) -> None:
    store.experiments.create("fraud")
    assert list(store.experiments.search(name_like="FRAUD%")) == []


def test_search_pages_walk_every_experiment_exactly_once(store) -> None:
    created = [store.experiments.create(f"paged-{i:02d}") for i in range(11)]
    first = store.experiments.search(max_results=4)
    assert len(first) == 4
    assert first.next_page_token is not None
    assert _all_pages(store, max_results=4) == ["0", *created]
    assert _all_pages(store, max_results=3, name_like="paged-%") == created


def test_search_orders_by_the_fields_asked_then_by_id(store) -> None:
    next_millisecond()  # after the Default experiment's creation time
    older = store.experiments.create("b-older")
    next_millisecond()
    newer = store.experiments.create("a-newer")
    next_millisecond()
    twin = store.experiments.create("c-twin")
    newest = [("creation_time", True)]
    assert _all_pages(store, max_results=2, order_by=newest) == [twin, newer, older, "0"]
    by_name = _all_pages(store, max_results=1, name_like="%-%", order_by=[("name", False)])
    assert by_name == [newer, older, twin]
    assert _all_pages(store, order_by=[("experiment_id", True)]) == [twin, newer, older, "0"]
    with pytest.raises(InvalidInput, match="order_by"):
        store.experiments.search(order_by=[("artifact_location", False)])


def test_search_last_page_has_no_token(store) -> None:
    store.experiments.create("one")
    page = store.experiments.search(max_results=2)  # Default + one: exactly fits
    assert len(page) == 2
    assert page.next_page_token is None


@pytest.mark.parametrize("max_results", [0, -1, 50_001, True, 2.5, "10", None])
def test_search_max_results_out_of_bounds_is_rejected(store, max_results) -> None:
    with pytest.raises(InvalidInput, match="max_results"):
        store.experiments.search(max_results=max_results)


def test_search_max_results_at_bounds_is_accepted(store) -> None:
    assert len(store.experiments.search(max_results=1)) == 1
    assert len(store.experiments.search(max_results=50_000)) == 1


@pytest.mark.parametrize("token", ["not-a-token", "e30=", "WzEsMl0=", "eyJvZmZzZXQiOiAtMX0="])
def test_search_with_bad_page_token_is_rejected(store, token) -> None:
    # "e30=" is {}, "WzEsMl0=" is [1,2], the last one is {"offset": -1}.
    with pytest.raises(InvalidInput, match="page_token"):
        store.experiments.search(page_token=token)


# --- rename -----------------------------------------------------------------------------------


def test_rename_changes_the_name_and_frees_the_old_one(store) -> None:
    eid = store.experiments.create("old")
    before = store.experiments.get(eid)
    next_millisecond()
    store.experiments.rename(eid, "new")
    after = store.experiments.get(eid)
    assert after.name == "new"
    assert after.last_update_time > before.last_update_time
    assert store.experiments.get_by_name("old") is None
    assert store.experiments.create("old") != eid


def test_rename_to_a_taken_name_raises_already_exists(store) -> None:
    store.experiments.create("taken")
    eid = store.experiments.create("mine")
    with pytest.raises(AlreadyExists, match="taken"):
        store.experiments.rename(eid, "taken")
    assert store.experiments.get(eid).name == "mine"


def test_rename_unknown_experiment_raises_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.experiments.rename("999", "whatever")


def test_rename_to_invalid_name_is_rejected(store) -> None:
    eid = store.experiments.create("keep")
    with pytest.raises(InvalidInput):
        store.experiments.rename(eid, "  ")
    assert store.experiments.get(eid).name == "keep"


# --- delete and restore -----------------------------------------------------------------------


def test_delete_moves_experiment_and_its_runs_to_the_trash(store) -> None:
    eid = store.experiments.create("doomed")
    run_ids = [store.runs.create(eid).info.run_id for _ in range(3)]
    store.experiments.delete(eid)
    assert store.experiments.get(eid).lifecycle_stage == DELETED
    for rid in run_ids:
        assert store.runs.get(rid).info.lifecycle_stage == DELETED
    assert list(store.runs.search([eid])) == []
    assert len(store.runs.search([eid], view_type=ViewType.DELETED_ONLY)) == 3


def test_delete_leaves_runs_of_other_experiments_alone(store) -> None:
    doomed = store.experiments.create("doomed")
    kept = store.experiments.create("kept")
    store.runs.create(doomed)
    survivor = store.runs.create(kept).info.run_id
    store.experiments.delete(doomed)
    assert store.runs.get(survivor).info.lifecycle_stage == ACTIVE


def test_delete_unknown_experiment_raises_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.experiments.delete("4242")


def test_restore_brings_back_the_experiment_and_the_runs_trashed_with_it(store) -> None:
    eid = store.experiments.create("phoenix")
    run_ids = [store.runs.create(eid).info.run_id for _ in range(2)]
    store.experiments.delete(eid)
    store.experiments.restore(eid)
    assert store.experiments.get(eid).lifecycle_stage == ACTIVE
    for rid in run_ids:
        info = store.runs.get(rid).info
        assert info.lifecycle_stage == ACTIVE
    assert len(store.runs.search([eid])) == 2


def test_restore_keeps_runs_that_were_deleted_before_the_experiment_in_the_trash(store) -> None:
    eid = store.experiments.create("mixed")
    kept = store.runs.create(eid).info.run_id
    trashed_alone = store.runs.create(eid).info.run_id
    store.runs.delete(trashed_alone)
    next_millisecond()
    store.experiments.delete(eid)
    store.experiments.restore(eid)
    assert store.runs.get(kept).info.lifecycle_stage == ACTIVE
    assert store.runs.get(trashed_alone).info.lifecycle_stage == DELETED


def test_restore_after_deleting_twice_brings_back_the_runs(store) -> None:
    eid = store.experiments.create("twice")
    rid = store.runs.create(eid).info.run_id
    store.experiments.delete(eid)
    next_millisecond()
    with contextlib.suppress(Conflict):  # refusing the second delete would be fine too
        store.experiments.delete(eid)
    store.experiments.restore(eid)
    assert store.runs.get(rid).info.lifecycle_stage == ACTIVE


def test_restore_after_renaming_a_trashed_experiment_brings_back_its_runs(store) -> None:
    eid = store.experiments.create("renamed-in-trash")
    rid = store.runs.create(eid).info.run_id
    store.experiments.delete(eid)
    next_millisecond()
    with contextlib.suppress(Conflict):  # refusing to rename a trashed experiment would be fine
        store.experiments.rename(eid, "renamed-while-deleted")
    store.experiments.restore(eid)
    assert store.runs.get(rid).info.lifecycle_stage == ACTIVE


def test_restoring_an_active_experiment_does_not_revive_runs_deleted_on_their_own(store) -> None:
    eid = store.experiments.create("active")
    rid = store.runs.create(eid).info.run_id
    next_millisecond()
    store.runs.delete(rid)
    store.experiments.restore(eid)
    assert store.runs.get(rid).info.lifecycle_stage == DELETED


def test_restore_unknown_experiment_raises_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.experiments.restore("4242")


def test_runs_cannot_be_created_in_a_trashed_experiment(store) -> None:
    eid = store.experiments.create("closed")
    store.experiments.delete(eid)
    with pytest.raises(Conflict):
        store.runs.create(eid)


# --- tags -------------------------------------------------------------------------------------


def test_set_tag_adds_and_overwrites(store) -> None:
    eid = store.experiments.create("tags", tags={"a": "1"})
    store.experiments.set_tag(eid, "b", "2")
    store.experiments.set_tag(eid, "a", "one")
    assert store.experiments.get(eid).tags == {"a": "one", "b": "2"}


def test_tags_belong_to_one_experiment(store) -> None:
    first = store.experiments.create("first")
    second = store.experiments.create("second")
    store.experiments.set_tag(first, "k", "v")
    assert store.experiments.get(second).tags == {}


def test_set_tag_on_unknown_experiment_raises_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.experiments.set_tag("777", "k", "v")


@pytest.mark.parametrize(
    ("key", "value"), [("", "v"), ("../k", "v"), ("/abs", "v"), ("k" * 251, "v"), ("k", "v" * 8001)]
)
def test_set_tag_with_invalid_key_or_value_is_rejected(store, key, value) -> None:
    eid = store.experiments.create("strict")
    with pytest.raises(InvalidInput):
        store.experiments.set_tag(eid, key, value)
    assert store.experiments.get(eid).tags == {}


def test_delete_tag_removes_one_tag_and_keeps_the_others(store) -> None:
    eid = store.experiments.create("tagged", tags={"keep": "1", "drop": "2"})
    store.experiments.delete_tag(eid, "drop")
    assert store.experiments.get(eid).tags == {"keep": "1"}
    with pytest.raises(NotFound, match="drop"):
        store.experiments.delete_tag(eid, "drop")
    assert store.experiments.get(eid).tags == {"keep": "1"}


@pytest.mark.parametrize("key", ["", "../k", "/abs", "k" * 251, None, 3])
def test_delete_tag_with_a_bad_key_or_experiment_changes_nothing(store, key) -> None:
    eid = store.experiments.create("strict", tags={"keep": "1"})
    with pytest.raises(InvalidInput):
        store.experiments.delete_tag(eid, key)
    with pytest.raises(NotFound):
        store.experiments.delete_tag("777", "keep")
    assert store.experiments.get(eid).tags == {"keep": "1"}


# --- purge ------------------------------------------------------------------------------------


def test_purge_deleted_removes_trashed_experiments_older_than_the_cutoff(store) -> None:
    doomed = store.experiments.create("doomed", tags={"k": "v"})
    kept = store.experiments.create("kept")
    store.experiments.delete(doomed)
    deleted_at = store.experiments.get(doomed).last_update_time
    assert store.experiments.purge_deleted(older_than_ms=deleted_at) == 0
    assert store.experiments.get(doomed).lifecycle_stage == DELETED
    assert store.experiments.purge_deleted(older_than_ms=deleted_at + 1) == 1
    with pytest.raises(NotFound):
        store.experiments.get(doomed)
    assert table_count(store, "experiment_tags", experiment_id=int(doomed)) == 0
    assert store.experiments.get(kept).lifecycle_stage == ACTIVE
    assert store.experiments.get("0").name == "Default"


def test_a_dry_run_purge_counts_experiments_and_removes_nothing(store) -> None:
    doomed = store.experiments.create("doomed")
    store.runs.create(doomed)
    store.experiments.delete(doomed)
    assert store.experiments.purge_deleted(older_than_ms=2**62, dry_run=True) == 1
    assert store.experiments.get(doomed).lifecycle_stage == DELETED
    assert len(store.runs.search([doomed], view_type=ViewType.ALL).items) == 1
    assert store.experiments.purge_deleted(older_than_ms=2**62) == 1


def test_purge_deleted_removes_the_runs_and_their_data(store) -> None:
    from perennia.entities import MetricBatch, Param, RunTag

    eid = store.experiments.create("doomed")
    rid = store.runs.create(eid).info.run_id
    store.log_batch(
        rid,
        MetricBatch(["m"], [1.0], [0], [1]),
        params=[Param("p", "1")],
        tags=[RunTag("t", "1")],
    )
    store.experiments.delete(eid)
    cutoff = store.experiments.get(eid).last_update_time + 1
    assert store.experiments.purge_deleted(older_than_ms=cutoff) == 1
    with pytest.raises(NotFound):
        store.runs.get(rid)
    for table in ("params", "tags", "metrics", "latest_metrics"):
        assert table_count(store, table, run_uuid=rid) == 0


def test_purged_name_can_be_reused(store) -> None:
    eid = store.experiments.create("recycled")
    store.experiments.delete(eid)
    store.experiments.purge_deleted(older_than_ms=store.experiments.get(eid).last_update_time + 1)
    new_id = store.experiments.create("recycled")
    assert store.experiments.get(new_id).lifecycle_stage == ACTIVE
    assert store.experiments.get_by_name("recycled").experiment_id == new_id


def test_purged_experiment_ids_are_never_reused(store) -> None:
    eid = store.experiments.create("first-owner")
    store.experiments.delete(eid)
    store.experiments.purge_deleted(older_than_ms=store.experiments.get(eid).last_update_time + 1)
    assert store.experiments.create("second-owner") != eid


def test_purge_deleted_ignores_active_experiments(store) -> None:
    eid = store.experiments.create("alive")
    assert store.experiments.purge_deleted(older_than_ms=2**62) == 0
    assert store.experiments.get(eid).lifecycle_stage == ACTIVE
