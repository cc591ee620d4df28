"""Run search against a Python oracle: the SQL must select and order exactly what the filter says.

The oracle (tests/store/search_oracle.py) evaluates the same parsed filter tree in plain Python,
so these tests check the SQL translation; hypothesis composes filters from real values.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.store.search_grammar import parse_order_by
from perennia.testing.store_contract.search_oracle import (
    DIGESTS,
    MODELS,
    STATUSES,
    TEAMS,
    expected_ids,
    populate,
    searched_ids,
    sort_key,
)

FILTERS = [
    "",
    "metrics.acc > 0.2",
    "metrics.acc <= -0.5 or metrics.loss >= 0.5",
    "metrics.acc != 0.1",
    "metrics.acc = 0.5",
    "metrics.`val loss` < 0",
    "metrics.acc IS NULL",
    "metrics.loss IS NOT NULL and params.depth IS NULL",
    "params.model = 'rf'",
    "params.model != 'rf'",
    "params.model LIKE 'r%'",
    "params.model LIKE 'R_f'",
    "params.model LIKE 'rf\\%x'",
    "params.model LIKE 'a\\\\\\\\b'",
    "params.model LIKE '%\\\\\\\\%'",
    "params.model ILIKE 'rf'",
    "params.model ILIKE 'R%'",
    "params.model IN ('lr', 'mlp')",
    "params.model NOT IN ('lr', 'mlp')",
    "params.depth = '3'",
    "tags.team = 'fraud'",
    "tags.team LIKE 'f%'",
    "tags.team LIKE 'f*x'",
    "tags.team LIKE 'f?x'",
    "tags.team LIKE '[ab]'",
    "tags.team LIKE '[a%'",
    "tags.team LIKE 'fr_ud'",
    "tags.team LIKE 'fr\\_ud'",
    "tags.team ILIKE 'FRAUD'",
    "tags.team ILIKE 'fr\\_ud'",
    "tags.team IS NULL",
    "tags.mlflow.note = 'x'",
    "attributes.status = 'FINISHED'",
    "attributes.status IN ('FAILED', 'RUNNING')",
    "attributes.status NOT IN ('FAILED', 'RUNNING')",
    "attributes.run_name LIKE 'run-1%'",
    "run_name ILIKE 'RUN-0_'",
    "attributes.user_id = 'u1' and metrics.acc > 0",
    "attributes.start_time > 1700000020000",
    "attributes.start_time >= 1700000020000.5",
    "attributes.created <= 1700000005000",
    "attributes.end_time IS NULL",
    "attributes.end_time < 1700000030000",
    "attributes.parent_run_id IS NOT NULL",
    "attributes.source_name = 'train.py'",
    "attributes.source_name IS NULL",
    "attributes.git_commit IS NULL",
    "attributes.lifecycle_stage = 'active'",
    "datasets.name = 'train'",
    "datasets.name != 'train'",
    "datasets.context = 'evaluation' and params.model = 'rf'",
    "datasets.context IS NULL",
    "datasets.context IS NOT NULL",
    "datasets.name IS NULL",
    "datasets.digest LIKE 'cd%'",
    "datasets.digest IN ('" + DIGESTS["eval"] + "')",
    "datasets.context NOT IN ('training')",
    "(metrics.acc > 0.5 or tags.team = 'risk') and (params.model IN ('rf', 'RF') or metrics.loss < -0.5)",
    "metrics.acc > 0 and (params.model = 'lr' or (tags.team LIKE 'f%' and attributes.status != 'FAILED'))",
    "metrics.acc IS NULL or metrics.acc < 0 or attributes.status = 'KILLED'",
]


def test_every_listed_filter_selects_exactly_what_the_oracle_selects(store) -> None:
    eid, truth = populate(store)
    for text in FILTERS:
        expected = expected_ids(truth, text)
        got = searched_ids(store, eid, text)
        assert got == expected, f"{text!r}: extra {got - expected}, missing {expected - got}"
        frame = store.runs.search_frame([eid], text)
        assert set(frame["run_id"]) == expected, text


def test_run_id_and_experiment_id_attributes_select_by_identity(store) -> None:
    eid, truth = populate(store, n=8)
    ids = sorted(truth)
    quoted = ", ".join(f"'{rid}'" for rid in ids[:3])
    assert searched_ids(store, eid, f"attributes.run_id IN ({quoted})") == set(ids[:3])
    assert searched_ids(store, eid, f"attributes.run_id NOT IN ({quoted})") == set(ids[3:])
    assert searched_ids(store, eid, f"run_id = '{ids[4]}'") == {ids[4]}
    assert searched_ids(store, eid, f"attributes.experiment_id = '{eid}'") == set(ids)
    assert searched_ids(store, eid, f"attributes.experiment_id != '{eid}'") == set()


def _comparison_texts(truth: dict[str, dict]):
    """Return a strategy for single comparisons over values the population really holds."""
    runs = list(truth.values())
    times = sorted({r["attribute"]["start_time"] for r in runs})

    def quoted(value: str) -> str:
        """Return `value` as a single-quoted filter string."""
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def pattern(values: list[str]):
        """Return LIKE patterns cut from real values: prefixes, suffixes, wildcards."""
        return (
            st.sampled_from(values)
            .flatmap(
                lambda v: st.sampled_from(
                    [v, v[:1] + "%", "%" + v[-1:], "_" + v[1:], v.upper(), v.lower(), "%"]
                )
            )
            # A backslash taken from a value must stay literal, so it is escaped for LIKE.
            .map(lambda p: p.replace("\\", "\\\\"))
        )

    metric = st.tuples(
        st.sampled_from(["metrics.acc", "metrics.loss", "metrics.`val loss`", "metrics.nope"]),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        st.sampled_from([-1, -0.5, -0.1, 0, 0.1, 0.3, 0.5, 1, 2]).map(str),
    )
    strings = {
        "params.model": MODELS,
        "params.depth": [str(d) for d in range(1, 12)],
        "tags.team": TEAMS,
        "tags.`mlflow.note`": ["x", "y"],
        "attributes.status": sorted(set(STATUSES)),
        "attributes.user_id": ["u0", "u1", "u2"],
        "attributes.run_name": [r["attribute"]["run_name"] for r in runs[:10]],
        "datasets.name": list(DIGESTS),
        "datasets.context": ["training", "evaluation"],
        "datasets.digest": list(DIGESTS.values()),
    }
    string = st.sampled_from(sorted(strings)).flatmap(
        lambda key: st.one_of(
            st.tuples(
                st.just(key),
                st.sampled_from(["=", "!="]),
                st.sampled_from(strings[key]).map(quoted),
            ),
            st.tuples(
                st.just(key), st.sampled_from(["LIKE", "ILIKE"]), pattern(strings[key]).map(quoted)
            ),
            st.tuples(
                st.just(key),
                st.sampled_from(["IN", "NOT IN"]),
                st.lists(st.sampled_from(strings[key]), min_size=1, max_size=3).map(
                    lambda vs: "(" + ", ".join(quoted(v) for v in vs) + ")"
                ),
            ),
        )
    )
    time = st.tuples(
        st.sampled_from(["attributes.start_time", "attributes.end_time", "attributes.created"]),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        st.sampled_from(times)
        .flatmap(lambda t: st.sampled_from([t, t + 1, t - 0.5, t + 5000]))
        .map(str),
    )
    null = st.tuples(
        st.sampled_from(sorted(strings) + ["metrics.acc", "attributes.end_time", "params.nope"]),
        st.sampled_from(["IS NULL", "IS NOT NULL"]),
        st.just(""),
    )
    return st.one_of(metric, string, time, null).map(lambda t: " ".join(t).strip())


def _filters(truth: dict[str, dict]):
    """Return a strategy for AND/OR/parenthesised combinations of real comparisons."""
    return st.recursive(
        _comparison_texts(truth),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" AND ", " OR ", " and ", " or "]), inner).map(
                "".join
            ),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=5,
    )


def test_generated_filters_select_exactly_what_the_oracle_selects(store) -> None:
    eid, truth = populate(store)

    @settings(max_examples=60, deadline=None)
    @given(_filters(truth))
    def check(text: str) -> None:
        expected = expected_ids(truth, text)
        got = searched_ids(store, eid, text)
        assert got == expected, f"{text!r}: extra {got - expected}, missing {expected - got}"

    check()


ORDERS = [
    ["metrics.acc DESC"],
    ["metrics.acc ASC"],
    ["metrics.loss"],
    ["metrics.`val loss` DESC", "metrics.acc"],
    ["params.model ASC", "metrics.acc DESC"],
    ["params.model DESC"],
    ["params.depth DESC", "tags.team"],
    ["attributes.start_time ASC"],
    ["attributes.end_time DESC"],
    ["attributes.run_name DESC"],
    ["attributes.status", "attributes.user_id DESC"],
    ["tags.team ASC"],
    ["tags.team DESC"],
    ["tags.mlflow.note DESC", "params.model"],
    None,
]


def test_order_by_matches_the_oracle_with_missing_values_last(store) -> None:
    eid, truth = populate(store)
    for order_by in ORDERS:
        terms = parse_order_by(order_by)
        expected = sorted(truth, key=lambda rid: sort_key(terms, truth[rid]))
        got = [r.info.run_id for r in store.runs.search([eid], "", order_by=order_by).items]
        assert got == expected, order_by
        frame = store.runs.search_frame([eid], "", order_by=order_by)
        assert list(frame["run_id"]) == expected, order_by
        # A filter only removes rows; the order of what is left is unchanged.
        text = "metrics.acc > 0 or tags.team LIKE 'f%'"
        kept = [rid for rid in expected if rid in expected_ids(truth, text)]
        got = [r.info.run_id for r in store.runs.search([eid], text, order_by=order_by).items]
        assert got == kept, order_by


def test_search_is_confined_to_the_experiments_asked_for(store) -> None:
    eid, truth = populate(store, n=6, seed=1)
    other, other_truth = populate(store, n=4, seed=2)
    assert searched_ids(store, eid, "") == set(truth)
    both = {r.info.run_id for r in store.runs.search([eid, other], "params.model LIKE '%'")}
    assert both == set(truth) | set(other_truth)
    text = f"attributes.experiment_id = '{other}'"
    assert {r.info.run_id for r in store.runs.search([eid, other], text)} == set(other_truth)
