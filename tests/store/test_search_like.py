"""LIKE, ILIKE and string ordering mean the same on every backend.

LIKE is case-sensitive (SQLite compiles it to GLOB, so GLOB's `*`, `?` and `[` must stay
literals), backslash escapes `%`, `_` and itself, ILIKE folds ASCII case, and strings sort by
code point whatever the PostgreSQL database's collation.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.entities import MetricBatch, Param, RunTag
from perennia.errors import InvalidFilter
from perennia.store.sql.like import like_to_glob
from perennia.testing.store_contract.search_oracle import like_regex

VALUES = [
    "abc",
    "ABC",
    "aBc",
    "a%c",
    "a_c",
    "a*c",
    "a?c",
    "a[b]c",
    "[",
    "]",
    "a\\c",
    "a\\\\c",
    "ac",
    "",
    "%",
    "_",
    "*",
    "a\nc",
    "ab*",
    "x.y",
    "A_C",
    "a.c",
]
PATTERN_ALPHABET = ["a", "A", "b", "c", "%", "_", "*", "?", "[", "]", "\\\\", "\\%", "\\_", "."]


def quoted(value: str) -> str:
    """Return `value` as a single-quoted filter string."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def log_values(store, values: list[str]) -> tuple[str, dict[str, str]]:
    """Return (experiment id, run id -> value) after logging each value as param and tag `v`."""
    eid = store.experiments.create("like")
    ids = {}
    for value in values:
        run_id = store.runs.create(eid).info.run_id
        store.log_batch(run_id, MetricBatch(), [Param("v", value)], [RunTag("v", value)])
        ids[run_id] = value
    return eid, ids


def selected(store, eid: str, text: str) -> list[str]:
    """Return the values of the runs a filter selects, sorted."""
    return sorted(r.data.params["v"] for r in store.runs.search([eid], text))


def _ascii_lower(text: str) -> str:
    """Return `text` with only A-Z lowered."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def test_like_and_ilike_match_the_regex_oracle_on_every_backend(store) -> None:
    eid, ids = log_values(store, VALUES)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.sampled_from(PATTERN_ALPHABET), max_size=5).map("".join))
    def check(pattern: str) -> None:
        sensitive = sorted(v for v in VALUES if like_regex(pattern).fullmatch(v))
        folded = like_regex(_ascii_lower(pattern))
        insensitive = sorted(v for v in VALUES if folded.fullmatch(_ascii_lower(v)))
        for kind in ("params", "tags"):
            assert selected(store, eid, f"{kind}.v LIKE {quoted(pattern)}") == sensitive, pattern
            assert selected(store, eid, f"{kind}.v ILIKE {quoted(pattern)}") == insensitive

    check()


# LIKE patterns whose only match is a literal reading of GLOB metacharacters or escapes.
LITERAL_PATTERNS = {
    "a*c": ["a*c"],
    "a?c": ["a?c"],
    "a[b]c": ["a[b]c"],
    "[": ["["],
    "a\\%c": ["a%c"],
    "a\\_c": ["a_c"],
    "a\\\\c": ["a\\c"],
    "ABC": ["ABC"],
}


def test_glob_metacharacters_and_escapes_are_literals_in_like(store) -> None:
    eid, _ = log_values(store, VALUES)
    for pattern, expected in LITERAL_PATTERNS.items():
        assert selected(store, eid, f"params.v LIKE {quoted(pattern)}") == expected, pattern


def test_like_to_glob_escapes_every_glob_metacharacter() -> None:
    assert like_to_glob("a%b_c*d?e[f]g") == "a*b?c[*]d[?]e[[]f]g"
    assert like_to_glob("\\%\\_\\\\\\*") == "%_\\[*]"
    with pytest.raises(InvalidFilter):
        like_to_glob("abc\\")


def _pg_folds_unicode(store) -> bool:
    """Return whether the PostgreSQL database's ctype lowers non-ASCII letters."""
    from sqlalchemy import text

    from perennia.testing.store_contract.helpers import sql_engine

    with sql_engine(store).connect() as conn:
        return conn.execute(text("SELECT lower('É') = 'é'")).scalar_one()


def test_ilike_folds_non_ascii_case_too(store) -> None:
    from perennia.testing.store_contract.helpers import backend

    if backend(store) == "postgres" and not _pg_folds_unicode(store):
        pytest.skip("this PostgreSQL database's ctype folds ASCII only")
    eid, _ = log_values(store, ["École", "école", "ÉCOLE", "ecole"])
    assert selected(store, eid, "params.v ILIKE 'école'") == ["ÉCOLE", "École", "école"]


ORDERED_VALUES = ["rf", "RF", "R_f", "lr", "[ab]", "a b", "ab", "Zed", "zed", "é", "E", "_x"]


@pytest.fixture
def icu_postgres_store(postgres_template: str):
    """Yield a SqlStore on a PostgreSQL database whose default collation is ICU en-US."""
    from sqlalchemy import text

    from perennia.store.sql.store import SqlStore
    from tests.conftest import _admin_engine, _database_uri

    name = f"perennia_icu_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        try:
            conn.execute(
                text(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
        except Exception as error:  # noqa: BLE001 - older servers or builds without ICU
            pytest.skip(f"cannot create an ICU-collated database here: {error}")
    store = SqlStore(_database_uri(name))
    yield store
    store.close()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _ordered(store) -> dict[str, list[str]]:
    """Return, per order-by clause, the values in the order the store returns them."""
    eid = store.experiments.create("collation")
    for value in ORDERED_VALUES:
        run_id = store.runs.create(eid, run_name=value).info.run_id
        store.log_batch(run_id, MetricBatch(), [Param("p", value)], [RunTag("t", value)])
    result = {}
    for clause in ("params.p", "tags.t DESC", "attributes.run_name"):
        result[clause] = [r.info.run_name for r in store.runs.search([eid], order_by=[clause])]
    return result


def _code_point_orders() -> dict[str, list[str]]:
    """Return the code-point orders the store promises for `_ordered`'s clauses."""
    ascending = sorted(ORDERED_VALUES)
    return {"params.p": ascending, "tags.t DESC": ascending[::-1], "attributes.run_name": ascending}


def test_strings_sort_by_code_point_on_every_backend(store) -> None:
    assert _ordered(store) == _code_point_orders()


def test_strings_sort_by_code_point_even_under_a_linguistic_collation(icu_postgres_store) -> None:
    assert _ordered(icu_postgres_store) == _code_point_orders()
