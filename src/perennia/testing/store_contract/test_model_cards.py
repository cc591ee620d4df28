"""Model card revisions on every backend: edits merge, number from 1, and refuse stale bases."""

from __future__ import annotations

import pytest

from perennia.errors import Conflict, InvalidInput, NotFound


def test_edits_are_saved_as_numbered_revisions_that_merge_sections(store) -> None:
    store.registry.create_registered_model("fraud")
    assert store.cards.get("fraud") is None and store.cards.revisions("fraud") == []
    first = store.cards.edit(
        "fraud",
        {"intended_use": "flag card fraud", "limitations": "EU only"},
        comment="first draft",
        username="ana",
    )
    assert (first.revision, first.comment) == (1, "first draft")
    second = store.cards.edit(
        "fraud",
        {"limitations": "", "caveats_and_recommendations": "retrain"},
        expected_revision=1,
        username="bob",
    )
    assert second.revision == 2
    assert second.fields == {
        "intended_use": "flag card fraud",
        "caveats_and_recommendations": "retrain",
    }
    assert store.cards.get("fraud") == second
    assert store.cards.get("fraud", 1).fields["limitations"] == "EU only"
    assert [r.revision for r in store.cards.revisions("fraud")] == [1, 2]
    edits = [e for e in store.registry.events("fraud") if e.action == "edit_card"]
    assert [e.after["revision"] for e in edits] == [2, 1]
    assert edits[0].after["sections"] == ["caveats_and_recommendations", "limitations"]


def test_a_stale_or_bad_edit_is_refused_and_keeps_the_card(store) -> None:
    store.registry.create_registered_model("fraud")
    store.cards.edit("fraud", {"intended_use": "flag fraud"})
    with pytest.raises(Conflict, match="at revision 1, not 0"):
        store.cards.edit("fraud", {"intended_use": "other"}, expected_revision=0)
    for fields, message in (
        ({}, "non-empty"),
        ({"Intended Use": "x"}, "lowercase"),
        ({"intended_use": 3}, "must be text"),
        ({"intended_use": "x" * 20_001}, "limit is 20000"),
        ({"intended_use": "flag fraud"}, "nothing to save"),
    ):
        with pytest.raises(InvalidInput, match=message):
            store.cards.edit("fraud", fields)
    with pytest.raises(NotFound):
        store.cards.edit("missing", {"intended_use": "x"})
    with pytest.raises(NotFound, match="no revision 7"):
        store.cards.get("fraud", 7)
    assert [r.revision for r in store.cards.revisions("fraud")] == [1]
