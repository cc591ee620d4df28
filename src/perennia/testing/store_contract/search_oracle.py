"""A seeded run population and a pure-Python oracle for the run-search filter language.

The population covers missing values, NaN, ties, mixed case, LIKE wildcards and escapes, GLOB
metacharacters (which SQLite's case-sensitive LIKE compiles to), statuses, times, parents and
dataset inputs. The oracle evaluates a parsed filter tree in plain Python.
"""

from __future__ import annotations

import math
import random
import re

from perennia.entities import Dataset, DatasetInput, MetricBatch, Param, RunTag
from perennia.store.search_grammar import DATASET, BoolOp, parse_filter

BASE = 1_700_000_000_000
MODELS = ["rf", "lr", "mlp", "R_f", "rf%x", "RF", "a\\b", "Ab"]
TEAMS = ["fraud", "Fraud", "risk", "f*x", "f?x", "[ab]", "fr_ud", "FR_UD"]
STATUSES = ["FINISHED", "FINISHED", "FAILED", "KILLED", "RUNNING"]
DIGESTS = {"train": "ab" * 32, "eval": "cd" * 32}


def _dataset(name: str) -> Dataset:
    """Return a small dataset descriptor named `name`."""
    return Dataset(name, DIGESTS[name], "memory", "pandas", [], 10)


def populate(store, n: int = 60, seed: int = 11) -> tuple[str, dict[str, dict]]:
    """Return (experiment id, run id -> the values the oracle sees) after logging n runs."""
    rng = random.Random(seed)
    eid = store.experiments.create(f"search-oracle-{seed}")
    truth: dict[str, dict] = {}
    for i in range(n):
        # Few distinct start times and one-decimal metrics, so order-by ties are common.
        start = BASE + rng.randrange(40) * 1000
        parent = rng.choice(sorted(truth)) if truth and rng.random() < 0.2 else None
        source = rng.choice([None, "train.py", "nb.ipynb"])
        run = store.runs.create(
            eid,
            run_name=f"run-{i:02d}",
            start_time=start,
            user_id=f"u{i % 3}",
            parent_run_id=parent,
            source_name=source,
        )
        run_id = run.info.run_id
        metrics = {}
        for key in ("acc", "loss", "val loss"):
            roll = rng.random()
            if roll < 0.15:
                continue
            metrics[key] = math.nan if roll < 0.22 else round(rng.uniform(-1, 1), 1) + 0.0
        params = {"model": rng.choice(MODELS)}
        if rng.random() < 0.7:
            params["depth"] = str(rng.randrange(1, 12))
        tags = {"team": rng.choice(TEAMS)} if rng.random() < 0.8 else {}
        if rng.random() < 0.3:
            tags["mlflow.note"] = rng.choice(["x", "y"])
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
            inputs.append(DatasetInput(_dataset("eval"), rng.choice(["evaluation", None])))
        if inputs:
            store.inputs.log(run_id, inputs)
        status = rng.choice(STATUSES)
        end = None
        if status != "RUNNING":
            end = start + rng.randrange(1, 50) * 1000
            store.runs.update(run_id, status=status, end_time=end)
        truth[run_id] = {
            "metric": metrics,
            "param": params,
            "tag": tags,
            "attribute": {
                "run_id": run_id,
                "run_uuid": run_id,
                "run_name": f"run-{i:02d}",
                "status": status,
                "user_id": f"u{i % 3}",
                "experiment_id": eid,
                "lifecycle_stage": "active",
                "start_time": start,
                "created": start,
                "end_time": end,
                "parent_run_id": parent,
                "source_name": source,
                "git_commit": None,
            },
            "dataset": [
                {"name": d.dataset.name, "digest": d.dataset.digest, "context": d.context or ""}
                for d in inputs
            ],
        }
    return eid, truth


def like_regex(pattern: str, flags: int = 0) -> re.Pattern:
    """Return a regex for a LIKE pattern: % and _ are wildcards, backslash escapes the next char."""
    regex, chars = [], iter(pattern)
    for char in chars:
        if char == "\\":
            regex.append(re.escape(next(chars)))
        else:
            regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(regex), flags | re.DOTALL)


def _compare(actual, op: str, expected) -> bool:
    """Return SQL's verdict on `actual op expected`, where NULL and NaN satisfy nothing."""
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return False
    if op == "ILIKE":
        # SQLite's lower() folds ASCII only, so the oracle does too.
        actual, expected = _ascii_lower(actual), _ascii_lower(expected)
    return {
        "=": lambda: actual == expected,
        "!=": lambda: actual != expected,
        "<": lambda: actual < expected,
        "<=": lambda: actual <= expected,
        ">": lambda: actual > expected,
        ">=": lambda: actual >= expected,
        "LIKE": lambda: like_regex(expected).fullmatch(actual) is not None,
        "ILIKE": lambda: like_regex(expected).fullmatch(actual) is not None,
        "IN": lambda: actual in expected,
        "NOT IN": lambda: actual not in expected,
    }[op]()


def _ascii_lower(text: str) -> str:
    """Return `text` with only A-Z lowered."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


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
    actual = run[node.kind].get(node.key)
    if node.op in ("IS NULL", "IS NOT NULL"):
        return (actual is None) == (node.op == "IS NULL")
    return _compare(actual, node.op, node.value)


def expected_ids(truth: dict[str, dict], text: str) -> set[str]:
    """Return the ids of the runs the oracle selects with filter `text`."""
    tree = parse_filter(text)
    return {rid for rid, run in truth.items() if oracle(tree, run)}


def searched_ids(store, eid: str, text: str, **kwargs) -> set[str]:
    """Return the ids of the runs the store selects with filter `text`."""
    return {r.info.run_id for r in store.runs.search([eid], text, max_results=1000, **kwargs)}


def sort_key(terms, run: dict):
    """Return a key sorting `run` as the store promises: missing/NaN last in either direction."""
    keys = []
    for term in terms:
        value = run[term.kind].get(term.key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            keys.append((1, 0))
        elif isinstance(value, str):
            # Code-point order; descending flips each code point and puts prefixes after.
            keys.append((0, value if term.ascending else (*(-ord(c) for c in value), 1)))
        else:
            keys.append((0, value if term.ascending else -value))
    attrs = run["attribute"]
    return (*keys, -attrs["start_time"], attrs["run_id"])  # ties: newest first, then id
