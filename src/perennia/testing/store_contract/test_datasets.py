"""The datasets contract: versions numbered 1, 2, 3 per name, read back whole, resolved by number,
`latest` or alias; tags, aliases and contracts with their events; lineage through parents; and
the runs that read a version (a dataset input with the version's digest).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from perennia.entities import Dataset, DatasetInput, DatasetVersion
from perennia.errors import InvalidInput, NotFound

NAME = "churn-train"


def _digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _draft(name: str = NAME, seed: str = "v", **changes) -> DatasetVersion:
    base = DatasetVersion(name, 0, _digest(f"{name}{seed}"), "file:///srv/blobs", "table")
    return replace(base, **changes)


def _full_draft() -> DatasetVersion:
    return _draft(
        row_count=1_000_000,
        file_count=4,
        size_bytes=2**40,
        new_bytes=123,
        schema=[{"name": "age", "type": "int64"}, {"name": "city", "type": "string"}],
        source={"type": "sql", "query": "select * from users", "params": {"day": 3, "x": None}},
        derivation={"rule": "split", "seed": 7, "fractions": [0.8, 0.2]},
        description="users, one row each ✓",
        tags={"owner": "ana", "pii": "no"},
        contract={"columns": {"age": {"min": 0, "max": 130.5}}, "strict": True},
    )


def _count(store, name: str = NAME) -> int:
    try:
        return len(store.datasets.versions(name))
    except NotFound:
        return 0


def test_a_registered_version_reads_back_every_field(store, recorded) -> None:
    draft = _full_draft()
    claimed = replace(draft, version=99, aliases=["x"], created_at=5, created_by="mallory")
    stored = store.datasets.create_version(claimed, username="ana")
    assert (stored.version, stored.aliases, stored.created_by) == (1, [], recorded("ana"))
    assert stored.created_at > 5
    assert replace(stored, created_at=0, created_by=None) == replace(draft, version=1)
    assert store.datasets.get_version(NAME, 1) == stored
    assert stored.ref == f"{NAME}@1"


def test_versions_of_a_name_are_numbered_one_two_three(store) -> None:
    numbers = [store.datasets.create_version(_draft(seed=str(i))).version for i in range(3)]
    other = store.datasets.create_version(_draft("other"))
    assert numbers == [1, 2, 3] and other.version == 1
    assert [v.version for v in store.datasets.versions(NAME)] == [3, 2, 1]
    listed = store.datasets.list_datasets()
    assert [(v.name, v.version) for v in listed] == [(NAME, 3), ("other", 1)]
    assert [v.name for v in store.datasets.list_datasets(max_results=1)] == [NAME]


def test_the_same_content_registered_twice_gets_two_versions(store) -> None:
    first = store.datasets.create_version(_draft())
    second = store.datasets.create_version(_draft())
    assert (first.version, second.version) == (1, 2) and first.digest == second.digest


def test_resolve_takes_a_number_latest_or_an_alias(store) -> None:
    for i in range(3):
        store.datasets.create_version(_draft(seed=str(i)))
    store.datasets.set_alias(NAME, "golden", 2)
    assert store.datasets.resolve(NAME, 1).version == 1
    assert store.datasets.resolve(NAME, "3").version == 3
    assert store.datasets.resolve(NAME, "latest").version == 3
    golden = store.datasets.resolve(NAME, "golden")
    assert golden.version == 2 and golden.aliases == ["golden"]
    assert golden == store.datasets.get_version(NAME, 2)
    with pytest.raises(NotFound, match=r"no alias 'silver'.*1 to 3.*golden"):
        store.datasets.resolve(NAME, "silver")
    with pytest.raises(NotFound, match="no version 4; its versions are 1 to 3"):
        store.datasets.resolve(NAME, 4)
    for bad in ("", "a b", "name@1", -1, 0, 2**40, True, 1.5, None):
        with pytest.raises(InvalidInput):
            store.datasets.resolve(NAME, bad)


def test_an_alias_moves_and_is_deleted_with_events(store, recorded) -> None:
    for i in range(2):
        store.datasets.create_version(_draft(seed=str(i)))
    store.datasets.set_alias(NAME, "prod", 1, username="ana")
    store.datasets.set_alias(NAME, "prod", 2, username="bo")
    assert store.datasets.get_version(NAME, 1).aliases == []
    assert store.datasets.get_version(NAME, 2).aliases == ["prod"]
    store.datasets.set_alias(NAME, "prod", 2)  # already there: no event
    moves = [e for e in store.datasets.events(NAME) if e.action == "set_alias"]
    assert [(e.detail, e.version, e.username) for e in moves] == [
        ({"alias": "prod", "from": 1, "to": 2}, 2, recorded("bo")),
        ({"alias": "prod", "from": None, "to": 1}, 1, recorded("ana")),
    ]
    store.datasets.delete_alias(NAME, "prod")
    assert store.datasets.get_version(NAME, 2).aliases == []
    with pytest.raises(NotFound, match="no alias 'prod'"):
        store.datasets.resolve(NAME, "prod")
    with pytest.raises(NotFound, match="no alias 'prod'"):
        store.datasets.delete_alias(NAME, "prod")
    assert store.datasets.events(NAME, limit=1)[0].detail == {"alias": "prod", "version": 2}


def test_reserved_and_malformed_aliases_are_refused(store) -> None:
    store.datasets.create_version(_draft())
    for alias in ["latest", "LATEST", "3", "0", "a b", "", "-x", "x" * 300, 7, None]:
        with pytest.raises(InvalidInput, match="alias"):
            store.datasets.set_alias(NAME, alias, 1)
    assert store.datasets.get_version(NAME, 1).aliases == []


def test_an_alias_needs_an_existing_version(store) -> None:
    store.datasets.create_version(_draft())
    with pytest.raises(NotFound, match="no version 2"):
        store.datasets.set_alias(NAME, "prod", 2)
    with pytest.raises(NotFound, match="no dataset named 'ghost'"):
        store.datasets.set_alias("ghost", "prod", 1)


def test_tags_are_set_replaced_and_deleted(store) -> None:
    store.datasets.create_version(_draft(tags={"a": "1"}))
    store.datasets.set_tag(NAME, 1, "b", "2")
    store.datasets.set_tag(NAME, 1, "a", "changed")
    assert store.datasets.get_version(NAME, 1).tags == {"a": "changed", "b": "2"}
    store.datasets.delete_tag(NAME, 1, "a")
    assert store.datasets.get_version(NAME, 1).tags == {"b": "2"}
    with pytest.raises(NotFound, match="no tag 'a'"):
        store.datasets.delete_tag(NAME, 1, "a")
    actions = [(e.action, e.detail) for e in store.datasets.events(NAME)]
    assert actions[:3] == [
        ("delete_tag", {"key": "a"}),
        ("set_tag", {"key": "a", "value": "changed"}),
        ("set_tag", {"key": "b", "value": "2"}),
    ]
    for key, value in (("", "v"), ("k", 5), ("x" * 300, "v"), ("k", "x" * 9000), (None, "v")):
        with pytest.raises(InvalidInput):
            store.datasets.set_tag(NAME, 1, key, value)
    with pytest.raises(NotFound):
        store.datasets.set_tag(NAME, 2, "k", "v")


def test_a_contract_is_attached_and_replaced(store) -> None:
    store.datasets.create_version(_draft())
    store.datasets.set_contract(NAME, 1, {"columns": {"age": {"min": 0}}})
    store.datasets.set_contract(NAME, 1, {"columns": {}})
    assert store.datasets.get_version(NAME, 1).contract == {"columns": {}}
    events = [e for e in store.datasets.events(NAME) if e.action == "set_contract"]
    assert [e.detail for e in events] == [{"replaced": True}, {"replaced": False}]
    for bad in ([], "x", {"x": float("nan")}, {1: "a"}, {"x": "y" * 4_100_000}):
        with pytest.raises(InvalidInput, match="contract"):
            store.datasets.set_contract(NAME, 1, bad)
    assert store.datasets.get_version(NAME, 1).contract == {"columns": {}}


def test_parents_are_kept_in_order_and_derived_versions_found(store) -> None:
    raw = store.datasets.create_version(_draft("raw"))
    labels = store.datasets.create_version(_draft("labels"))
    joined = store.datasets.create_version(
        _draft("joined", parents=["labels@1", "raw@1"], derivation={"join": ["id"]})
    )
    split = store.datasets.create_version(_draft("joined", seed="2", parents=["raw@1"]))
    assert joined.parents == ["labels@1", "raw@1"]
    assert store.datasets.get_version("joined", 1).parents == ["labels@1", "raw@1"]
    assert store.datasets.derived_from("raw", 1) == [joined, split]
    assert store.datasets.derived_from("labels", 1) == [joined]
    assert store.datasets.derived_from("joined", 2) == []
    assert raw.parents == labels.parents == []
    register = store.datasets.events("joined")[-1]
    assert (register.action, register.version) == ("register", 1)
    assert register.detail == {"digest": joined.digest, "parents": ["labels@1", "raw@1"]}


def test_a_missing_parent_refuses_the_registration_and_stores_nothing(store) -> None:
    store.datasets.create_version(_draft("raw"))
    for parents in (["raw@2"], ["ghost@1"], ["raw@1", "raw@9"]):
        with pytest.raises(NotFound, match="parent"):
            store.datasets.create_version(_draft(parents=parents))
    assert _count(store) == 0
    with pytest.raises(NotFound):
        store.datasets.events(NAME)
    assert store.datasets.create_version(_draft(parents=["raw@1"])).version == 1


def test_readers_are_the_runs_that_logged_the_versions_digest(store, experiment_id) -> None:
    version = store.datasets.create_version(_draft())
    other = store.datasets.create_version(_draft(seed="other"))
    runs = sorted(store.runs.create(experiment_id).info.run_id for _ in range(2))
    logged = Dataset("any-name", version.digest, "file:///x", "local", [], 10)
    store.inputs.log(runs[0], [DatasetInput(logged, "training"), DatasetInput(logged, "eval")])
    store.inputs.log(runs[1], [DatasetInput(replace(logged, name="renamed"))])
    store.inputs.log(runs[1], [DatasetInput(replace(logged, digest=_digest("no")), "training")])
    assert store.datasets.readers(NAME, 1) == [
        (runs[0], "eval"),
        (runs[0], "training"),
        (runs[1], None),
    ]
    assert store.datasets.readers(NAME, other.version) == []


def test_events_are_newest_first_and_limited(store, recorded) -> None:
    store.datasets.create_version(_draft(), username="ana")
    store.datasets.set_tag(NAME, 1, "k", "v", username="bo")
    store.datasets.set_alias(NAME, "prod", 1)
    store.datasets.set_contract(NAME, 1, {})
    events = store.datasets.events(NAME)
    assert [e.action for e in events] == ["set_contract", "set_alias", "set_tag", "register"]
    assert [e.event_id for e in events] == sorted((e.event_id for e in events), reverse=True)
    assert events[-1].username == recorded("ana") and events[-2].username == recorded("bo")
    assert all(e.name == NAME and e.version == 1 and e.time > 0 for e in events)
    assert [e.action for e in store.datasets.events(NAME, limit=2)] == ["set_contract", "set_alias"]
    for limit in (0, -1, 10**9, True, "3"):
        with pytest.raises(InvalidInput, match="limit"):
            store.datasets.events(NAME, limit=limit)


BAD_DRAFTS = [
    ({"name": "a/b"}, "name"),
    ({"name": "a@b"}, "name"),
    ({"name": ""}, "name"),
    ({"name": ".."}, "name"),
    ({"name": "x" * 300}, "name"),
    ({"name": 5}, "name"),
    ({"kind": "tabel"}, "kind"),
    ({"digest": "A" * 64}, "digest"),
    ({"digest": "a" * 63}, "digest"),
    ({"digest": None}, "digest"),
    ({"storage_uri": ""}, "storage_uri"),
    ({"storage_uri": "x\x00"}, "storage_uri"),
    ({"row_count": -1}, "row_count"),
    ({"row_count": 2**64}, "row_count"),
    ({"row_count": True}, "row_count"),
    ({"file_count": 1.5}, "file_count"),
    ({"size_bytes": "10"}, "size_bytes"),
    ({"new_bytes": None}, "new_bytes"),
    ({"schema": {"a": "int"}}, "schema"),
    ({"schema": ["age"]}, "schema"),
    ({"schema": [{"name": "x" * 4_100_000}]}, "schema"),
    ({"source": {"n": float("inf")}}, "source"),
    ({"source": {"big": "x" * 70_000}}, "source"),
    ({"source": {1: "a"}}, "source"),
    ({"derivation": ["seed"]}, "derivation"),
    ({"derivation": {"s": {1, 2}}}, "derivation"),
    ({"parents": "raw@1"}, "parents"),
    ({"parents": ["raw"]}, "parent"),
    ({"parents": ["raw@0"]}, "parent"),
    ({"parents": ["raw@1", "raw@1"]}, "twice"),
    ({"description": None}, "description"),
    ({"description": "x" * 70_000}, "description"),
    ({"tags": {"k": 1}}, "tag"),
    ({"tags": {"": "v"}}, "tag key"),
    ({"tags": ["k"]}, "tags"),
    ({"contract": []}, "contract"),
]


def test_bad_drafts_are_refused_naming_the_field_and_store_nothing(store) -> None:
    # One store for every case: a fresh database per case would cost a second each on a server.
    store.datasets.create_version(_draft("raw"))
    for changes, field in BAD_DRAFTS:
        with pytest.raises(InvalidInput, match=field):
            store.datasets.create_version(_draft(**changes))
    assert _count(store) == 0
    assert [v.name for v in store.datasets.list_datasets()] == ["raw"]
    assert [e.action for e in store.datasets.events("raw")] == ["register"]


def test_a_draft_of_another_type_is_refused(store) -> None:
    with pytest.raises(InvalidInput, match="DatasetVersion"):
        store.datasets.create_version({"name": NAME})  # type: ignore[arg-type]


def test_unknown_names_and_versions_are_not_found(store) -> None:
    store.datasets.create_version(_draft())
    calls = [
        lambda: store.datasets.get_version("ghost", 1),
        lambda: store.datasets.resolve("ghost", "latest"),
        lambda: store.datasets.versions("ghost"),
        lambda: store.datasets.events("ghost"),
        lambda: store.datasets.set_tag("ghost", 1, "k", "v"),
        lambda: store.datasets.delete_alias("ghost", "prod"),
        lambda: store.datasets.set_contract("ghost", 1, {}),
        lambda: store.datasets.derived_from("ghost", 1),
        lambda: store.datasets.readers("ghost", 1),
    ]
    for call in calls:
        with pytest.raises(NotFound, match="no dataset named 'ghost'"):
            call()
    for call in (
        lambda: store.datasets.get_version(NAME, 2),
        lambda: store.datasets.derived_from(NAME, 2),
        lambda: store.datasets.readers(NAME, 2),
        lambda: store.datasets.delete_tag(NAME, 2, "k"),
    ):
        with pytest.raises(NotFound, match="no version 2; its versions are 1 to 1"):
            call()
    assert store.datasets.list_datasets() == store.datasets.versions(NAME)


def test_malformed_version_numbers_and_page_sizes_are_refused(store) -> None:
    store.datasets.create_version(_draft())
    for version in (0, -1, 2**31, 10**100, "one", None, True, 1.0):
        with pytest.raises(InvalidInput, match="version"):
            store.datasets.get_version(NAME, version)
        with pytest.raises(InvalidInput, match="version"):
            store.datasets.set_alias(NAME, "prod", version)
    for max_results in (0, -5, 10**9, "10", None):
        with pytest.raises(InvalidInput, match="max_results"):
            store.datasets.list_datasets(max_results)
    assert store.datasets.get_version(NAME, 1).aliases == []
