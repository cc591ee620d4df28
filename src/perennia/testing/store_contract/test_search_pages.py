"""Run search paging, view types, the DataFrame form, and rejection of bad search arguments."""

from __future__ import annotations

import base64
import itertools
import json
import math

import pandas as pd
import pytest

from perennia.entities import ViewType
from perennia.errors import InvalidFilter, InvalidInput
from perennia.store.base import MAX_SEARCH_RESULTS
from perennia.store.search_grammar import parse_order_by
from perennia.testing.store_contract.helpers import table_count
from perennia.testing.store_contract.search_oracle import expected_ids, populate, sort_key


def walk(store, eid: str, text: str, order_by, size: int) -> tuple[list[str], int]:
    """Return (every run id, page count) from following page tokens to the end."""
    walked, token, pages = [], None, 0
    while True:
        page = store.runs.search([eid], text, max_results=size, order_by=order_by, page_token=token)
        assert len(page.items) <= size
        walked += [r.info.run_id for r in page.items]
        pages += 1
        token = page.next_page_token
        if token is None:
            return walked, pages


def test_pages_walk_every_match_once_in_order(store) -> None:
    eid, truth = populate(store, n=40)
    for (text, order_by), size in itertools.product(
        [
            ("metrics.acc IS NOT NULL", ["metrics.acc DESC"]),
            ("", ["params.model", "tags.team DESC"]),
            ("attributes.status != 'RUNNING' or metrics.loss < 0", None),
        ],
        [1, 7, 20],
    ):
        terms = parse_order_by(order_by)
        selected = expected_ids(truth, text)
        whole = sorted(selected, key=lambda rid: sort_key(terms, truth[rid]))
        walked, pages = walk(store, eid, text, order_by, size)
        assert walked == whole and len(set(walked)) == len(walked), (text, size)
        # No empty trailing page, even when the matches fill the last page exactly.
        assert pages == max(1, math.ceil(len(whole) / size))


def test_a_page_that_exactly_fills_max_results_has_no_next_token(store) -> None:
    eid, truth = populate(store, n=10)
    page = store.runs.search([eid], "", max_results=10)
    assert len(page.items) == 10 and page.next_page_token is None
    page = store.runs.search([eid], "", max_results=9)
    assert len(page.items) == 9 and page.next_page_token is not None
    last = store.runs.search([eid], "", max_results=9, page_token=page.next_page_token)
    assert len(last.items) == 1 and last.next_page_token is None


def test_view_type_selects_active_deleted_or_all(store) -> None:
    eid, truth = populate(store, n=12)
    doomed = sorted(truth)[:4]
    for run_id in doomed:
        store.runs.delete(run_id)
        truth[run_id]["attribute"]["lifecycle_stage"] = "deleted"

    def ids(view, text: str = "") -> set[str]:
        return {r.info.run_id for r in store.runs.search([eid], text, view)}

    assert ids(ViewType.DELETED_ONLY) == set(doomed)
    assert ids(ViewType.ACTIVE_ONLY) == set(truth) - set(doomed)
    assert ids(ViewType.ALL) == set(truth)
    assert ids("ALL") == set(truth)
    text = "metrics.acc > 0 or attributes.lifecycle_stage = 'deleted'"
    everything = expected_ids(truth, text)
    assert ids(ViewType.ALL, text) == everything
    assert ids(ViewType.DELETED_ONLY, text) == everything & set(doomed)
    assert ids(ViewType.ACTIVE_ONLY, text) == everything - set(doomed)
    frame = store.runs.search_frame([eid], "", ViewType.DELETED_ONLY)
    assert set(frame["run_id"]) == set(doomed) and set(frame["lifecycle_stage"]) == {"deleted"}


def _same(actual, expected) -> bool:
    """Return whether a frame cell holds `expected` (None and NaN both mean missing)."""
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    return actual == expected


def _ms(value) -> int | None:
    """Return a frame timestamp as milliseconds since the epoch (None for NaT)."""
    return None if pd.isna(value) else int(value.timestamp() * 1000)


def test_search_frame_holds_the_runs_values_in_mlflow_like_columns(store) -> None:
    eid, truth = populate(store, n=24)
    frame = store.runs.search_frame([eid])
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(truth)
    keys = {
        kind: set().union(*(run[kind] for run in truth.values()))
        for kind in ("metric", "param", "tag")
    }
    expected_columns = {"run_id", "experiment_id", "status", "start_time", "end_time"}
    expected_columns |= {f"metrics.{k}" for k in keys["metric"]}
    expected_columns |= {f"params.{k}" for k in keys["param"]}
    expected_columns |= {f"tags.{k}" for k in keys["tag"]}
    assert expected_columns <= set(frame.columns)
    assert not {c for c in frame.columns if c.split(".")[0] in ("metrics", "params", "tags")} - (
        expected_columns
    )
    assert frame["start_time"].dt.tz is not None  # UTC-aware, like every time in the API
    for row in frame.set_index("run_id").itertuples():
        run = truth[row.Index]
        cells = row._asdict()
        attrs = run["attribute"]
        assert cells["experiment_id"] == eid and cells["status"] == attrs["status"]
        assert cells["run_name"] == attrs["run_name"] and cells["user_id"] == attrs["user_id"]
        assert _same(cells["parent_run_id"], attrs["parent_run_id"])
        assert _ms(cells["start_time"]) == attrs["start_time"]
        assert _ms(cells["end_time"]) == attrs["end_time"]
        for prefix, kind in (("metrics", "metric"), ("params", "param"), ("tags", "tag")):
            for key in keys[kind]:
                actual = frame.loc[frame["run_id"] == row.Index, f"{prefix}.{key}"].iloc[0]
                assert _same(actual, run[kind].get(key)), (row.Index, prefix, key)


def test_search_frame_honours_filter_order_and_max_results(store) -> None:
    eid, truth = populate(store, n=20)
    order_by = ["metrics.acc DESC", "params.model"]
    text = "metrics.acc IS NOT NULL"
    terms = parse_order_by(order_by)
    whole = sorted(expected_ids(truth, text), key=lambda rid: sort_key(terms, truth[rid]))
    frame = store.runs.search_frame([eid], text, order_by=order_by, max_results=5)
    assert list(frame["run_id"]) == whole[:5]
    empty = store.runs.search_frame([eid], "params.model = 'no such model'")
    assert len(empty) == 0 and {"run_id", "experiment_id", "status"} <= set(empty.columns)


MALFORMED = [
    "metrics.acc >",
    "params.model = 1",
    "nope.x = 'a'",
    "(metrics.a > 1",
    "metrics.a > 1 and",
    "datasets.size = 'x'",
    "attributes.start_time > 1e400",
    "params.model LIKE 'x\\\\'",
]


def test_malformed_filters_raise_invalid_filter_and_change_nothing(store) -> None:
    eid, truth = populate(store, n=5)
    for bad in MALFORMED:
        for call in (store.runs.search, store.runs.search_frame):
            with pytest.raises(InvalidFilter):
                call([eid], bad)
    with pytest.raises(InvalidFilter):
        store.runs.search([eid], "", order_by=["metrics.acc SIDEWAYS"])
    assert {r.info.run_id for r in store.runs.search([eid])} == set(truth)
    assert table_count(store, "runs") == 5


def _token(payload) -> str:
    """Return a well-formed base64 token around an arbitrary JSON payload."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


BAD_PAGING = [
    {"max_results": 0},
    {"max_results": -1},
    {"max_results": MAX_SEARCH_RESULTS + 1},
    {"max_results": 10**30},
    {"max_results": 2.5},
    {"max_results": "10"},
    {"max_results": True},
    {"page_token": "garbage"},
    {"page_token": "!!!!"},
    {"page_token": _token({"offset": -1})},
    {"page_token": _token({"offset": "3"})},
    {"page_token": _token({"offset": 1.5})},
    {"page_token": _token({"offset": True})},
    {"page_token": _token({"offset": 10**30})},
    {"page_token": _token({"offset": 2**63})},
    {"page_token": _token([3])},
    {"page_token": _token({})},
    {"page_token": base64.urlsafe_b64encode(b"\xff\xfe").decode()},
]


def _rejected(store, eid: str, kwargs: dict) -> bool:
    """Return whether search refuses `kwargs` with InvalidInput (other errors propagate)."""
    try:
        store.runs.search([eid], "", **kwargs)
    except InvalidInput:
        return True
    return False


def test_bad_paging_arguments_raise_invalid_input(store) -> None:
    eid, truth = populate(store, n=2)
    assert [kwargs for kwargs in BAD_PAGING if not _rejected(store, eid, kwargs)] == []
    assert len(store.runs.search([eid]).items) == 2


def test_the_largest_max_results_and_a_far_page_token_are_accepted(store) -> None:
    eid, truth = populate(store, n=3)
    assert len(store.runs.search([eid], "", max_results=MAX_SEARCH_RESULTS).items) == 3
    far = store.runs.search([eid], "", page_token=_token({"offset": 10**6}))
    assert far.items == [] and far.next_page_token is None


def test_bad_view_type_or_experiment_id_raise_invalid_input(store) -> None:
    eid, truth = populate(store, n=2)
    for kwargs in ({"experiment_ids": ["not-an-id"]}, {"experiment_ids": ["-5"]}):
        with pytest.raises(InvalidInput):
            store.runs.search(filter_string="", **kwargs)
    with pytest.raises(InvalidInput):
        store.runs.search([eid], "", view_type="BOGUS")
