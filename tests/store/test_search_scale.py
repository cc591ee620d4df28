"""Search at scale: keyset pages, index-driven top-k plans, projected frames, the bulk loader
and the Arrow answer of /search-frame, checked against the search oracle on SQLite and
PostgreSQL (the sizes that show the cost curve live in benchmarks/bench_scale.py)."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from perennia.entities import MetricBatch, ViewType
from perennia.errors import InvalidInput
from perennia.store import open_store
from perennia.store.paging import encode_keyset_token, encode_page_token
from perennia.store.search_grammar import parse_order_by
from perennia.store.sql import readers
from perennia.store.sql.bulk_runs import BulkRun, bulk_load_runs
from perennia.store.sql.engine import read_transaction
from perennia.store.sql.run_search import (
    build_search_query,
    phase_query,
    search_base,
    search_frame,
    search_run_ids,
)
from perennia.testing.store_contract.search_oracle import expected_ids, populate, sort_key

ORDERS = [
    ["metrics.acc DESC"],
    ["metrics.loss"],
    ["params.model", "tags.team DESC"],
    ["tags.team"],
    ["attributes.end_time DESC"],
    None,
]


@pytest.fixture
def sql_store(sql_store_uri: str):
    """Return an open SQL store on a fresh database, once per SQL backend."""
    store = open_store(sql_store_uri)
    yield store
    store.close()


def walk(store, eid: str, text_: str, order_by, size: int, between=None) -> list[str]:
    """Return every run id from following keyset tokens to the end (calling `between` after
    each page)."""
    walked, token = [], None
    while True:
        with read_transaction(store.engine) as conn:
            ids, token = search_run_ids(
                conn, [eid], text_, ViewType.ACTIVE_ONLY, order_by, None, size, token
            )
        assert len(ids) <= size
        walked += ids
        if token is None:
            return walked
        if between is not None:
            between()


def test_keyset_pages_follow_the_oracle_order(sql_store) -> None:
    eid, truth = populate(sql_store, n=40)
    for order_by in ORDERS:
        terms = parse_order_by(order_by)
        for text_, size in (("", 1), ("metrics.acc > -0.5 or params.model = 'cnn'", 7)):
            whole = sorted(expected_ids(truth, text_), key=lambda r: sort_key(terms, truth[r]))
            assert walk(sql_store, eid, text_, order_by, size) == whole, (order_by, size)


def test_pages_return_every_lasting_run_once_while_runs_come_and_go(sql_store) -> None:
    eid, truth = populate(sql_store, n=30)
    rng = random.Random(5)
    lasting = set(truth)
    added: list[str] = []

    def churn() -> None:
        run = sql_store.runs.create(eid, run_name="late", start_time=rng.randrange(10**12))
        batch = MetricBatch()
        batch.append("acc", rng.uniform(-1, 1), 0, 0)
        sql_store.log_batch(run.info.run_id, batch, [], [])
        added.append(run.info.run_id)
        doomed = rng.choice(sorted(lasting))
        sql_store.runs.delete(doomed)
        lasting.discard(doomed)

    for order_by in (["metrics.acc DESC"], None, ["params.model"]):
        walked = walk(sql_store, eid, "", order_by, 4, between=churn)
        assert len(walked) == len(set(walked)), order_by
        assert lasting <= set(walked), order_by
        assert set(walked) <= set(truth) | set(added)


def test_offset_tokens_from_before_keysets_still_page(sql_store) -> None:
    eid, truth = populate(sql_store, n=12)
    order_by = ["metrics.acc DESC"]
    query = build_search_query([eid], "", ViewType.ACTIVE_ONLY, order_by)
    with read_transaction(sql_store.engine) as conn:
        everything = list(conn.execute(query).scalars())
        ids, token = search_run_ids(
            conn, [eid], "", ViewType.ACTIVE_ONLY, order_by, None, 4, encode_page_token(5)
        )
    assert ids == everything[5:9] and token == encode_page_token(9)


@pytest.mark.parametrize(
    "after",
    [[0.5, 1, 2], ["x", 1, "id"], [None, 1, "id"], [0.5, "late", "id"]],
)
def test_a_keyset_token_of_another_search_is_refused(sql_store, after) -> None:
    eid, _ = populate(sql_store, n=3)
    token = encode_keyset_token(0, after)
    with read_transaction(sql_store.engine) as conn, pytest.raises(InvalidInput, match="page_"):
        search_run_ids(conn, [eid], "", ViewType.ACTIVE_ONLY, ["metrics.acc DESC"], None, 2, token)


def _bulk(n: int, seed: int = 3) -> list[BulkRun]:
    rng = random.Random(seed)
    return [
        BulkRun(
            name=f"bulk-{i}",
            start_time=1_700_000_000_000 + rng.randrange(50),
            end_time=1_700_000_100_000,
            params={"p0": rng.choice("abcd"), "long": "v" * 300 + rng.choice("xy")},
            tags={"t": rng.choice(["x", "y"])},
            metrics={"m0": rng.random(), "m1": rng.choice([rng.random(), math.nan, math.inf])},
        )
        for i in range(n)
    ]


def test_bulk_loaded_runs_read_back_as_written(sql_store) -> None:
    eid = sql_store.experiments.create("bulk")
    runs = _bulk(30)
    assert bulk_load_runs(sql_store.engine, eid, runs, batch_size=7) == 30
    for run in runs:
        got = sql_store.runs.get(run.run_id)
        assert got.info.run_name == run.name and got.info.start_time == run.start_time
        assert got.data.params == run.params and got.data.tags == run.tags
        for key, value in run.metrics.items():
            assert got.data.metrics[key] == value or (
                math.isnan(value) and math.isnan(got.data.metrics[key])
            )
            (point,) = sql_store.metrics.history(run.run_id, key)
            assert point.step == 0
    # The summaries charts read are kept by the bulk path too: they equal a rebuild.
    from perennia.store.sql.metric_summaries import rebuild_summaries

    def summaries() -> list:
        with sql_store.engine.connect() as conn:
            return sorted(conn.exec_driver_sql("SELECT * FROM metric_summaries").all())

    kept = summaries()
    with sql_store.engine.begin() as conn:
        rebuild_summaries(conn)
    assert kept and kept == summaries()
    # Long values match through the prefix index and the whole-value comparison behind it.
    wanted = {r.run_id for r in runs if r.params["long"].endswith("x") and r.params["p0"] == "a"}
    text_ = f"params.long = '{'v' * 300}x' and params.p0 = 'a'"
    assert {r.info.run_id for r in sql_store.runs.search([eid], text_)} == wanted


def test_top_k_walks_the_metric_index_and_looks_each_candidate_up(sqlite_uri) -> None:
    store = open_store(sqlite_uri)
    eid = store.experiments.create("plan")
    bulk_load_runs(store.engine, eid, _bulk(300))
    base = search_base([eid], "metrics.m0 > 0.5 and params.p0 = 'a'", ViewType.ACTIVE_ONLY, None)
    query, _ = phase_query(base, ["metrics.m1 DESC"], 0)
    sql = str(query.limit(100).compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        plan = " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    store.close()
    assert "ix_latest_metrics_key_value_run (key=?" in plan, plan
    assert "SCAN" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan


@pytest.mark.parametrize("lookup_limit", [50_000, 0])
def test_projected_frame_equals_those_columns_of_the_whole_frame(
    sql_store, lookup_limit, monkeypatch
) -> None:
    # 0: every value column is read by scanning its key (the path of large selections).
    monkeypatch.setattr(readers, "LOOKUP_LIMIT", lookup_limit)
    other = sql_store.experiments.create("other")  # its runs hold the same keys, never shown
    populate(sql_store, n=5, seed=4)
    bulk_load_runs(sql_store.engine, other, _bulk(5))
    eid, truth = populate(sql_store, n=25)
    columns = ["run_id", "params.model", "metrics.acc", "tags.team", "start_time", "end_time"]
    columns += ["experiment_id", "status", "metrics.no such key"]
    for order_by, limit in ((None, None), (["metrics.acc DESC"], 10)):
        query = build_search_query([eid], "", ViewType.ACTIVE_ONLY, order_by)
        with read_transaction(sql_store.engine) as conn:
            whole = search_frame(conn, query, limit)
            projected = search_frame(conn, query, limit, columns)
        assert list(projected.columns) == columns
        assert projected["metrics.no such key"].isna().all()
        assert projected["metrics.acc"].dtype == np.float64
        shared = columns[:-1]
        pd.testing.assert_frame_equal(projected[shared], whole[shared], check_dtype=False)


@pytest.mark.parametrize(
    "columns", [[], "run_id", ["run_id", "run_id"], ["nope"], ["metrics."], ["secrets.x"]]
)
def test_projection_refuses_unknown_or_repeated_columns(sql_store, columns) -> None:
    eid, _ = populate(sql_store, n=2)
    query = build_search_query([eid], "", ViewType.ACTIVE_ONLY, None)
    with read_transaction(sql_store.engine) as conn, pytest.raises(InvalidInput, match="columns"):
        search_frame(conn, query, None, columns)


def test_search_frame_answers_arrow_when_asked_and_json_otherwise(rest_server) -> None:
    import httpx
    import pyarrow as pa

    url, _backing, token = rest_server
    store = open_store(url, token=token)
    eid, _ = populate(store, n=15)
    body = {"experiment_ids": [eid], "order_by": ["metrics.acc DESC"]}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    arrow = httpx.post(
        f"{url}/api/v1/runs/search-frame",
        json=body,
        headers={**headers, "Accept": "application/vnd.apache.arrow.stream"},
    )
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(arrow.content).read_all()
    plain = httpx.post(f"{url}/api/v1/runs/search-frame", json=body, headers=headers).json()
    assert table.column_names == list(plain["columns"])
    assert table.column("run_id").to_pylist() == plain["columns"]["run_id"]
    assert table.column("start_time").to_pylist() == plain["columns"]["start_time"]
    assert table.schema.field("metrics.acc").type == pa.float64()
    frame = store.runs.search_frame([eid], order_by=["metrics.acc DESC"])
    assert list(frame["run_id"]) == plain["columns"]["run_id"]
    store.close()


def test_bulk_loading_on_postgres_uses_copy_and_counts_rows(postgres_uri) -> None:
    store = open_store(postgres_uri)
    eid = store.experiments.create("copy")
    bulk_load_runs(store.engine, eid, _bulk(20))
    with store.engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("runs", "params", "tags", "metrics", "latest_metrics")
        ]
    store.close()
    assert counts == [20, 40, 20, 40, 40]


def _columns_wired() -> bool:
    """Return whether the stores' search_frame takes `columns` (SqlRunStore wiring applied)."""
    import inspect

    from perennia.store.sql.runs import SqlRunStore

    return "columns" in inspect.signature(SqlRunStore.search_frame).parameters


@pytest.mark.skipif(not _columns_wired(), reason="SqlRunStore.search_frame takes no columns yet")
def test_search_frame_returns_only_the_columns_asked_for_on_every_backend(store) -> None:
    eid, _ = populate(store, n=12)
    columns = ["run_id", "params.model", "metrics.acc", "tags.team", "start_time"]
    order_by = ["metrics.acc DESC"]
    frame = store.runs.search_frame([eid], order_by=order_by, columns=columns)
    whole = store.runs.search_frame([eid], order_by=order_by)
    assert list(frame.columns) == columns
    pd.testing.assert_frame_equal(frame, whole[columns], check_dtype=False)
    with pytest.raises(InvalidInput, match="columns"):
        store.runs.search_frame([eid], columns=["nope"])


def test_downsampled_history_route_needs_sign_in_and_refuses_bad_input(rest_server) -> None:
    import httpx

    url, _backing, token = rest_server
    store = open_store(url, token=token)
    eid, _ = populate(store, n=1)
    run_id = store.runs.search([eid])[0].info.run_id
    route = f"{url}/api/v1/runs/{run_id}/metrics/downsampled"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    good = httpx.get(route, params={"key": "acc", "max_points": 10}, headers=headers)
    assert good.status_code == 200 and len(good.json()["values"]) == 1
    if token:  # the access rule: a caller who has not signed in reads nothing
        assert httpx.get(route, params={"key": "acc"}).status_code == 401
    for bad in ({"key": "acc", "max_points": 1}, {"key": "acc", "start": 9, "end": 1}):
        refused = httpx.get(route, params=bad, headers=headers)
        assert (
            refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        )
    store.close()
