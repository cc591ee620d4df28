"""Run search against a Python oracle: the SQL must select and order exactly what the filter says.

A seeded population covers missing values, NaN, mixed case, LIKE wildcards, GLOB metacharacters
(which SQLite's case-sensitive LIKE compiles to), statuses, times and dataset inputs. The oracle
evaluates the same parsed filter tree in plain Python, so the test checks the SQL translation.
"""

from __future__ import annotations

import math
import random
import re

import pytest

from perennia.entities import Dataset, DatasetInput, MetricBatch, Param, RunTag, ViewType
from perennia.errors import InvalidFilter, InvalidInput
from perennia.store.search_grammar import (
    DATASET,
    BoolOp,
    parse_filter,
    parse_order_by,
)

BASE = 1_700_000_000_000
MODELS = ["rf", "lr", "mlp", "R_f", "rf%x", "RF"]
TEAMS = ["fraud", "Fraud", "risk", "f*x", "f?x", "[ab]", "fr_ud"]


DIGESTS = {"train": "ab" * 32, "eval": "cd" * 32}


def _dataset(name: str) -> Dataset:
    return Dataset(name, DIGESTS[name], "memory", "pandas", [], 10)


def populate(store, n: int = 48, seed: int = 11) -> tuple[str, dict[str, dict]]:
    """Return (experiment id, run id -> the values the oracle sees) after logging n runs."""
    rng = random.Random(seed)
    eid = store.experiments.create("search-oracle")
    truth: dict[str, dict] = {}
    for i in range(n):
        start = BASE + rng.randrange(10_000) * 1000
        run = store.runs.create(
            eid, run_name=f"run-{i:02d}", start_time=start, user_id="u" + str(i % 3)
        )
        run_id = run.info.run_id
        metrics = {}
        for key in ("acc", "loss"):
            roll = rng.random()
            if roll < 0.15:
                continue
            metrics[key] = math.nan if roll < 0.22 else round(rng.uniform(-1, 1), 3)
        params = {"model": rng.choice(MODELS)}
        if rng.random() < 0.7:
            params["depth"] = str(rng.randrange(1, 12))
        tags = {"team": rng.choice(TEAMS)} if rng.random() < 0.8 else {}
        batch = MetricBatch()
        for key, value in metrics.items():
            batch.append(key, value, 0, start)
        store.log_batch(
            run_id,
            batch,
            [Param(k, v) for k, v in params.items()],
            [RunTag(k, v) for k, v in tags.items()],
        )
        inputs = []
        if i % 3 == 0:
            inputs.append(DatasetInput(_dataset("train"), "training"))
        if i % 4 == 0:
            inputs.append(DatasetInput(_dataset("eval"), "evaluation"))
        if inputs:
            store.inputs.log(run_id, inputs)
        status = rng.choice(["FINISHED", "FINISHED", "FAILED", "RUNNING"])
        end = None
        if status != "RUNNING":
            end = start + rng.randrange(1, 500) * 1000
            store.runs.update(run_id, status=status, end_time=end)
        truth[run_id] = {
            "metric": metrics,
            "param": params,
            "tag": tags,
            "attribute": {
                "run_id": run_id, "run_uuid": run_id, "run_name": f"run-{i:02d}", "status": status,
                "user_id": "u" + str(i % 3), "experiment_id": eid, "lifecycle_stage": "active",
                "start_time": start, "created": start, "end_time": end,
            },
            "dataset": [
                {"name": d.dataset.name, "digest": d.dataset.digest, "context": d.context}
                for d in inputs
            ],
        }  # fmt: skip
    return eid, truth


def _like(pattern: str, flags: int = 0) -> re.Pattern:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, flags | re.DOTALL)


def _compare(actual, op: str, expected) -> bool:
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return False  # SQL: NULL never satisfies a comparison
    if op in ("=", "<>") and isinstance(expected, str) and not isinstance(actual, str):
        actual = str(actual)
    return {
        "=": lambda: actual == expected,
        "!=": lambda: actual != expected,
        "<": lambda: actual < expected,
        "<=": lambda: actual <= expected,
        ">": lambda: actual > expected,
        ">=": lambda: actual >= expected,
        "LIKE": lambda: _like(expected).fullmatch(actual) is not None,
        "ILIKE": lambda: _like(expected, re.IGNORECASE).fullmatch(actual) is not None,
        "IN": lambda: actual in expected,
        "NOT IN": lambda: actual not in expected,
    }[op]()


def oracle(node, run: dict) -> bool:
    """Return whether the parsed filter selects `run`, evaluated in Python."""
    if node is None:
        return True
    if isinstance(node, BoolOp):
        results = [oracle(item, run) for item in node.items]
        return all(results) if node.op == "AND" else any(results)
    if node.kind == DATASET:
        if node.op in ("IS NULL", "IS NOT NULL"):
            has = any(d[node.key] for d in run["dataset"])
            return has if node.op == "IS NOT NULL" else not has
        return any(_compare(d[node.key], node.op, node.value) for d in run["dataset"])
    values = run[node.kind]
    present = values.get(node.key) is not None
    if node.op == "IS NULL":
        return not present
    if node.op == "IS NOT NULL":
        return present
    return _compare(values.get(node.key), node.op, node.value)


FILTERS = [
    "",
    "metrics.acc > 0.2",
    "metrics.acc <= -0.5 or metrics.loss >= 0.5",
    "metrics.acc != 0.1",
    "metrics.loss < 0",
    "metrics.acc IS NULL",
    "metrics.loss IS NOT NULL and params.depth IS NULL",
    "params.model = 'rf'",
    "params.model != 'rf'",
    "params.model LIKE 'r%'",
    "params.model LIKE 'R_f'",
    "params.model LIKE 'rf%'",
    "params.model ILIKE 'rf'",
    "params.model IN ('lr', 'mlp')",
    "params.model NOT IN ('lr', 'mlp')",
    "params.depth = '3'",
    "tags.team = 'fraud'",
    "tags.team LIKE 'f%'",
    "tags.team LIKE 'f*x'",
    "tags.team LIKE 'f?x'",
    "tags.team LIKE '[ab]'",
    "tags.team LIKE 'fr_ud'",
    "tags.team ILIKE 'FRAUD'",
    "tags.team IS NULL",
    "attributes.status = 'FINISHED'",
    "attributes.status IN ('FAILED', 'RUNNING')",
    "attributes.run_name LIKE 'run-1%'",
    "attributes.user_id = 'u1' and metrics.acc > 0",
    "attributes.start_time > 1700005000000",
    "attributes.end_time IS NULL",
    "attributes.end_time < 1700003000000",
    "datasets.name = 'train'",
    "datasets.context = 'evaluation' and params.model = 'rf'",
    "datasets.digest LIKE 'cd%'",
    "(metrics.acc > 0.5 or tags.team = 'risk') and (params.model IN ('rf', 'RF') or metrics.loss < -0.5)",
    "metrics.acc > 0 and (params.model = 'lr' or (tags.team LIKE 'f%' and attributes.status != 'FAILED'))",
]


def test_every_filter_selects_exactly_what_the_oracle_selects(store) -> None:
    eid, truth = populate(store)
    for text in FILTERS:
        tree = parse_filter(text)
        expected = {rid for rid, run in truth.items() if oracle(tree, run)}
        got = {r.info.run_id for r in store.runs.search([eid], text, max_results=1000).items}
        assert got == expected, (
            f"filter {text!r}: extra {len(got - expected)}, missing {len(expected - got)}"
        )
        frame = store.runs.search_frame([eid], text)
        assert set(frame["run_id"]) == expected, text


def _sort_key(order, run: dict):
    """Return a key sorting `run` as SQL does: missing/NaN last in either direction."""
    keys = []
    for term in order:
        value = run[term.kind].get(term.key)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing:
            keys.append((1, 0))
        elif isinstance(value, str):
            keys.append((0, tuple(-ord(c) for c in value) + (1,) if not term.ascending else value))
        else:
            keys.append((0, value if term.ascending else -value))
    attrs = run["attribute"]
    return (*keys, -attrs["start_time"], attrs["run_id"])


@pytest.mark.parametrize(
    "order_by",
    [
        ["metrics.acc DESC"],
        ["metrics.acc ASC"],
        ["metrics.loss"],
        ["params.model ASC", "metrics.acc DESC"],
        ["params.model DESC"],
        ["attributes.start_time ASC"],
        ["attributes.end_time DESC"],
        ["tags.team ASC"],
        None,
    ],
)
def test_order_by_matches_the_oracle_with_missing_values_last(store, order_by) -> None:
    eid, truth = populate(store, n=36)
    terms = parse_order_by(order_by)
    expected = sorted(truth, key=lambda rid: _sort_key(terms, truth[rid]))
    got = [r.info.run_id for r in store.runs.search([eid], "", order_by=order_by).items]
    assert got == expected
    frame = store.runs.search_frame([eid], "", order_by=order_by)
    assert list(frame["run_id"]) == expected


def test_pages_walk_every_match_once_in_order(store) -> None:
    eid, truth = populate(store, n=40)
    query = "metrics.acc IS NOT NULL"
    whole = [
        r.info.run_id for r in store.runs.search([eid], query, order_by=["metrics.acc DESC"]).items
    ]
    walked, token, pages = [], None, 0
    while True:
        page = store.runs.search(
            [eid], query, max_results=7, order_by=["metrics.acc DESC"], page_token=token
        )
        walked += [r.info.run_id for r in page.items]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert walked == whole and len(set(walked)) == len(walked)
    assert pages == max(1, math.ceil(len(whole) / 7))


def test_view_type_selects_active_deleted_or_all(store) -> None:
    eid, truth = populate(store, n=12)
    doomed = sorted(truth)[:4]
    for run_id in doomed:
        store.runs.delete(run_id)
    ids = lambda view: {r.info.run_id for r in store.runs.search([eid], "", view).items}  # noqa: E731
    assert ids(ViewType.DELETED_ONLY) == set(doomed)
    assert ids(ViewType.ACTIVE_ONLY) == set(truth) - set(doomed)
    assert ids(ViewType.ALL) == set(truth)


def test_search_frame_holds_the_runs_values(store) -> None:
    eid, truth = populate(store, n=20)
    frame = store.runs.search_frame([eid]).set_index("run_id")
    for run_id, run in truth.items():
        row = frame.loc[run_id]
        assert row["run_name"] == run["attribute"]["run_name"]
        assert row["status"] == run["attribute"]["status"]
        assert int(row["start_time"].timestamp() * 1000) == run["attribute"]["start_time"]
        for key, value in run["metric"].items():
            assert (math.isnan(value) and math.isnan(row[f"metrics.{key}"])) or row[
                f"metrics.{key}"
            ] == value
        for key, value in run["param"].items():
            assert row[f"params.{key}"] == value
        for key, value in run["tag"].items():
            assert row[f"tags.{key}"] == value


@pytest.mark.parametrize(
    "bad",
    ["metrics.acc >", "params.model = 1", "nope.x = 'a'", "(metrics.a > 1", "metrics.a > 1 and"],
)
def test_malformed_filters_raise_invalid_filter_and_change_nothing(store, bad: str) -> None:
    eid, truth = populate(store, n=5)
    with pytest.raises(InvalidFilter):
        store.runs.search([eid], bad)
    assert len(store.runs.search([eid]).items) == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_results": 0},
        {"max_results": -1},
        {"max_results": 10**9},
        {"page_token": "garbage"},
        {"page_token": "eyJvIjogLTF9"},
    ],
)
def test_bad_paging_arguments_raise_invalid_input(store, kwargs) -> None:
    eid = store.experiments.create("paging")
    with pytest.raises(InvalidInput):
        store.runs.search([eid], "", **kwargs)
