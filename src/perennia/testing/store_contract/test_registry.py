"""The registry contract: models, versions, tags, aliases and events.

`recorded(claimed)` (a fixture) says who a backend records for a claimed username: a server
records the signed-in user instead. The engines' own locking races are in the project's tests.
"""

from __future__ import annotations

import pytest

from perennia.entities import VersionState
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from perennia.testing.store_contract.helpers import next_millisecond

RUN = "a" * 32
DIGEST = "b" * 64


def test_models_are_created_read_listed_and_names_are_unique(store) -> None:
    created = store.registry.create_registered_model(
        "fraud", "detects fraud", {"team": "risk"}, owner="ana"
    )
    assert (created.name, created.description, created.owner) == ("fraud", "detects fraud", "ana")
    assert created.tags == {"team": "risk"} and created.latest_version is None
    assert store.registry.get_registered_model("fraud") == created
    with pytest.raises(AlreadyExists, match="'fraud' already exists"):
        store.registry.create_registered_model("fraud")
    for name in ("churn", "credit", "fraud-v2"):
        store.registry.create_registered_model(name)
    first = store.registry.search_registered_models(max_results=2)
    second = store.registry.search_registered_models(
        max_results=2, page_token=first.next_page_token
    )
    assert [m.name for m in first] + [m.name for m in second] == [
        "churn",
        "credit",
        "fraud",
        "fraud-v2",
    ]
    assert second.next_page_token is None
    assert [m.name for m in store.registry.search_registered_models("fraud%")] == [
        "fraud",
        "fraud-v2",
    ]


def test_registered_model_name_like_is_case_sensitive_on_every_backend(store) -> None:
    for name in ("Fraud", "fraud-v2"):
        store.registry.create_registered_model(name)
    assert [m.name for m in store.registry.search_registered_models("fraud%")] == ["fraud-v2"]
    assert [m.name for m in store.registry.search_registered_models("F%")] == ["Fraud"]
    assert store.registry.search_registered_models("%FRAUD%").items == []


def test_version_search_orders_as_asked_and_filters_names_case_sensitively(store) -> None:
    for name in ("alpha", "beta", "Alpha-x"):
        store.registry.create_registered_model(name)
    for name in ("alpha", "beta", "alpha", "Alpha-x"):
        store.versions.create_model_version(name, f"runs:/{RUN}/model")
    next_millisecond()  # a tie with the last creation would put "Alpha-x" first (by name)
    store.versions.update_model_version("beta", 1, description="touched last")

    def found(**options):
        page = store.versions.search_model_versions(max_results=2, **options)
        token = page.next_page_token
        rest = store.versions.search_model_versions(page_token=token, **options) if token else []
        return [(v.name, v.version) for v in [*page, *rest]]

    alphas = {"name_like": "alpha%"}
    assert found(**alphas) == [("alpha", 2), ("alpha", 1)]  # by name, newest version first
    assert found(**alphas, order_by=[("version", False)]) == [("alpha", 1), ("alpha", 2)]
    newest = found(order_by=[("last_updated_time", True)])
    assert newest[0] == ("beta", 1) and len(newest) == 4
    assert found(name_like="%a-x") == [("Alpha-x", 1)]
    assert found(name_like="ALPHA%") == []
    with pytest.raises(InvalidInput, match="order_by"):
        store.versions.search_model_versions(order_by=[("source", True)])


def test_versions_number_from_one_and_carry_their_source_run_and_digest(store, recorded):
    store.registry.create_registered_model("fraud")
    first = store.versions.create_model_version(
        "fraud",
        f"runs:/{RUN}/model",
        run_id=RUN,
        digest=DIGEST,
        description="first",
        tags={"stage": "dev"},
        username="ana",
    )
    second = store.versions.create_model_version("fraud", f"runs:/{RUN}/model2")
    assert (first.version, second.version) == (1, 2)
    assert (first.run_id, first.digest, first.user_id, first.status, first.state) == (
        RUN,
        DIGEST,
        recorded("ana"),
        "READY",
        "active",
    )
    assert store.versions.get_model_version("fraud", "1") == first
    assert store.versions.get_latest_version("fraud").version == 2
    assert store.registry.get_registered_model("fraud").latest_version == 2
    assert [v.version for v in store.versions.search_model_versions("fraud")] == [2, 1]
    assert [v.version for v in store.versions.search_model_versions(run_id=RUN)] == [1]
    with pytest.raises(NotFound, match="no version 3"):
        store.versions.get_model_version("fraud", 3)
    with pytest.raises(NotFound, match="'ghost' does not exist"):
        store.versions.create_model_version("ghost", "runs:/x/y")


def test_tags_set_replace_and_delete(store) -> None:
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "s")
    store.registry.set_registered_model_tag("fraud", "team", "risk")
    store.registry.set_registered_model_tag("fraud", "team", "payments")
    store.versions.set_model_version_tag("fraud", 1, "validated", "yes")
    assert store.registry.get_registered_model("fraud").tags == {"team": "payments"}
    assert store.versions.get_model_version("fraud", 1).tags == {"validated": "yes"}
    store.versions.delete_model_version_tag("fraud", 1, "validated")
    store.registry.delete_registered_model_tag("fraud", "team")
    assert store.registry.get_registered_model("fraud").tags == {}
    with pytest.raises(NotFound, match="no tag 'team'"):
        store.registry.delete_registered_model_tag("fraud", "team")


def test_aliases_move_by_compare_and_set(store) -> None:
    store.registry.create_registered_model("fraud")
    for _ in range(3):
        store.versions.create_model_version("fraud", "s")
    assert store.aliases.set_alias("fraud", "champion", 1, expected_version=None) is None
    assert store.aliases.set_alias("fraud", "champion", 2, expected_version=1) == 1
    with pytest.raises(Conflict, match="points at version 2 now, not 1"):
        store.aliases.set_alias("fraud", "champion", 3, expected_version=1)
    assert store.aliases.get_version_by_alias("fraud", "champion").version == 2
    assert store.versions.get_model_version("fraud", 2).aliases == ["champion"]
    assert store.registry.get_registered_model("fraud").aliases == {"champion": 2}
    store.aliases.set_alias("fraud", "challenger", 3)
    store.aliases.delete_alias("fraud", "challenger")
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        store.aliases.get_version_by_alias("fraud", "challenger")


@pytest.mark.parametrize("alias", ["", "latest", "v3", "has space", "1st", "a/b", None])
def test_bad_aliases_are_refused(store, alias) -> None:
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "s")
    with pytest.raises(InvalidInput):
        store.aliases.set_alias("fraud", alias, 1)


def test_archiving_keeps_aliased_versions_safe(store) -> None:
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "s")
    store.versions.create_model_version("fraud", "s")
    store.aliases.set_alias("fraud", "champion", 1)
    with pytest.raises(Conflict, match="move them before archiving"):
        store.versions.update_model_version("fraud", 1, state="archived")
    archived = store.versions.update_model_version("fraud", 2, state="archived")
    assert archived.state == VersionState.ARCHIVED
    with pytest.raises(Conflict, match="archived"):
        store.aliases.set_alias("fraud", "champion", 2)
    with pytest.raises(InvalidInput, match="state must be one of"):
        store.versions.update_model_version("fraud", 1, state="retired")


def test_rename_carries_versions_tags_and_aliases(store) -> None:
    store.registry.create_registered_model("fraud", tags={"team": "risk"})
    store.versions.create_model_version("fraud", "s", tags={"k": "v"})
    store.aliases.set_alias("fraud", "champion", 1)
    renamed = store.registry.rename_registered_model("fraud", "fraud-detector")
    assert renamed.tags == {"team": "risk"} and renamed.aliases == {"champion": 1}
    assert store.versions.get_model_version("fraud-detector", 1).tags == {"k": "v"}
    with pytest.raises(NotFound):
        store.registry.get_registered_model("fraud")
    store.registry.create_registered_model("other")
    with pytest.raises(AlreadyExists):
        store.registry.rename_registered_model("other", "fraud-detector")


def test_every_change_is_an_event_with_before_and_after(store, recorded) -> None:
    store.registry.create_registered_model("fraud", username="ana")
    store.versions.create_model_version("fraud", "s", username="ana")
    store.versions.create_model_version("fraud", "s", username="ana")
    store.aliases.set_alias("fraud", "champion", 1, username="bo")
    store.aliases.set_alias("fraud", "champion", 2, username="bo")
    store.versions.update_model_version("fraud", 1, state="archived", username="bo")
    store.aliases.delete_alias("fraud", "champion", username="cy")
    events = store.registry.events("fraud")
    assert [e.action for e in events] == [
        "delete_alias",
        "archive_model_version",
        "set_alias",
        "set_alias",
        "create_model_version",
        "create_model_version",
        "create_registered_model",
    ]
    move = events[2]
    assert (move.username, move.before, move.after) == (
        recorded("bo"),
        {"alias": "champion", "version": 1},
        {"alias": "champion", "version": 2},
    )
    assert events[1].before["state"] == "active" and events[1].after["state"] == "archived"
    assert events[0].after is None and events[0].username == recorded("cy")


def test_failed_changes_leave_no_event_and_no_change(store) -> None:
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "s")
    store.aliases.set_alias("fraud", "champion", 1)
    count = len(store.registry.events("fraud"))
    with pytest.raises(Conflict):
        store.aliases.set_alias("fraud", "champion", 1, expected_version=None)
    with pytest.raises(InvalidInput):
        store.versions.create_model_version("fraud", "")
    assert len(store.registry.events("fraud")) == count
    assert store.versions.get_latest_version("fraud").version == 1


def test_deleting_a_model_keeps_its_events_in_the_log_but_not_for_a_new_model_of_that_name(
    store,
) -> None:
    store.registry.create_registered_model("fraud")
    store.versions.create_model_version("fraud", "s")
    store.aliases.set_alias("fraud", "champion", 1)
    store.registry.delete_registered_model("fraud")
    with pytest.raises(NotFound):
        store.versions.get_model_version("fraud", 1)
    with pytest.raises(NotFound):
        store.registry.events("fraud")  # no such model now; its history stays in the whole log
    assert [(e.action, e.model_name) for e in store.registry.events(limit=1)] == [
        ("delete_registered_model", "fraud")
    ]
    store.registry.create_registered_model("fraud")
    assert store.versions.create_model_version("fraud", "s").version == 1
    # A new model under an old name starts its own history.
    assert [e.action for e in store.registry.events("fraud")] == [
        "create_model_version",
        "create_registered_model",
    ]


def test_names_with_punctuation_work_everywhere(store) -> None:
    for name in ("fraud.v2", "fraud-detector_2", "a b", "100%", "what?#x", "._.", "...x", "ünï"):
        store.registry.create_registered_model(name, tags={"k": "v"})
        store.versions.create_model_version(name, "s")
        store.versions.set_model_version_tag(name, 1, "k", "v")
        store.aliases.set_alias(name, "champion", 1, expected_version=None)
        assert store.aliases.get_version_by_alias(name, "champion").name == name
        assert store.registry.get_registered_model(name).aliases == {"champion": 1}
        assert [v.name for v in store.versions.search_model_versions(name)] == [name]
        assert store.registry.events(name)[0].model_name == name
        store.registry.delete_registered_model(name)
        with pytest.raises(NotFound):
            store.registry.get_registered_model(name)


@pytest.mark.parametrize("name", [".", "..", "...", "a\\b", "..\\..\\etc"])
def test_path_like_model_names_are_refused(store, name) -> None:
    with pytest.raises(InvalidInput, match="may not be '.' or '..'"):
        store.registry.create_registered_model(name)
    assert store.registry.search_registered_models().items == []


def test_an_alias_moves_unconditionally_without_an_expectation(store) -> None:
    store.registry.create_registered_model("fraud")
    for _ in range(2):
        store.versions.create_model_version("fraud", "s")
    assert store.aliases.set_alias("fraud", "champion", 1) is None
    assert store.aliases.set_alias("fraud", "champion", 2) == 1
    with pytest.raises(Conflict, match="points at version 2 now, not None"):
        store.aliases.set_alias("fraud", "champion", 1, expected_version=None)
    assert store.aliases.rollback_alias("fraud", "champion").version == 1
    assert store.registry.events("fraud")[0].action == "rollback_alias"


def test_model_and_version_fields_change_and_deleting_a_version_drops_its_aliases(
    store,
) -> None:
    store.registry.create_registered_model("fraud", "old")
    store.versions.create_model_version("fraud", "s")
    store.versions.create_model_version("fraud", "s")
    model = store.registry.update_registered_model("fraud", description="new", owner="bo")
    assert (model.description, model.owner) == ("new", "bo")
    updated = store.versions.update_model_version(
        "fraud",
        "1",
        description="d",
        status="FAILED_REGISTRATION",
        status_message="bad",
        state="deprecated",
    )
    assert (updated.description, updated.status, updated.status_message, updated.state) == (
        "d",
        "FAILED_REGISTRATION",
        "bad",
        "deprecated",
    )
    store.aliases.set_alias("fraud", "champion", 2)
    store.versions.delete_model_version("fraud", 2)
    assert store.registry.get_registered_model("fraud").aliases == {}
    assert store.versions.get_latest_version("fraud").version == 1
    with pytest.raises(NotFound):
        store.aliases.delete_alias("fraud", "champion")


def test_versions_page_across_models_and_events_span_every_model(store) -> None:
    for name in ("churn", "fraud"):
        store.registry.create_registered_model(name)
        for _ in range(2):
            store.versions.create_model_version(name, "s", run_id=RUN)
    first = store.versions.search_model_versions(run_id=RUN, max_results=3)
    rest = store.versions.search_model_versions(
        run_id=RUN, max_results=3, page_token=first.next_page_token
    )
    assert [(v.name, v.version) for v in [*first, *rest]] == [
        ("churn", 2),
        ("churn", 1),
        ("fraud", 2),
        ("fraud", 1),
    ]
    assert {e.model_name for e in store.registry.events()} == {"churn", "fraud"}
    assert len(store.registry.events(limit=2)) == 2
    assert len(store.registry.events("fraud", limit=0)) == 1  # limits are clamped, not refused
    with pytest.raises(InvalidInput):
        store.registry.search_registered_models(max_results=0)
