"""The filter grammar: MLflow's syntax parses into the right tree; mistakes point at their token.

Positions are checked against `str.index` on the input, and the caret line of the message must
sit under the same character.
"""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidFilter, PerenniaError
from perennia.store.search_grammar import (
    BoolOp,
    Comparison,
    comparisons,
    parse_filter,
    parse_order_by,
)

SETTINGS = settings(max_examples=80, deadline=None)


def single(text: str) -> tuple:
    """Return (kind, key, op, value) of a filter holding one comparison."""
    node = parse_filter(text)
    assert isinstance(node, Comparison), text
    return node.kind, node.key, node.op, node.value


def failure(text: str, parse=parse_filter) -> InvalidFilter:
    """Return the InvalidFilter that parsing `text` raises."""
    with pytest.raises(InvalidFilter) as caught:
        parse(text)
    assert isinstance(caught.value, PerenniaError)
    return caught.value


def assert_points_at(error: InvalidFilter, text: str, position: int) -> None:
    """Assert the error names `position` and draws its caret under that character."""
    message = str(error)
    assert error.position == position
    assert f"position {position}" in message
    echo, caret = message.splitlines()[-2:]
    assert echo == "  " + text  # the echo of the filter is indented by two
    assert caret.index("^") - 2 == position


def test_mlflow_style_filter_parses_into_comparisons() -> None:
    text = "metrics.acc > 0.9 and params.model = 'rf' and tags.team LIKE 'fr%'"
    assert parse_filter(text) == BoolOp(
        "AND",
        (
            Comparison("metric", "acc", ">", 0.9, text.index("metrics")),
            Comparison("param", "model", "=", "rf", text.index("params")),
            Comparison("tag", "team", "LIKE", "fr%", text.index("tags")),
        ),
    )


# Filters from MLflow's search-runs documentation, with what each must mean.
MLFLOW_EXAMPLES = [
    ("metrics.rmse < 1", ("metric", "rmse", "<", 1.0)),
    (
        "params.model_class = 'LogisticRegression'",
        ("param", "model_class", "=", "LogisticRegression"),
    ),
    ("tags.mlflow.source.type = 'LOCAL'", ("tag", "mlflow.source.type", "=", "LOCAL")),
    ('tags."mlflow.runName" = "my run"', ("tag", "mlflow.runName", "=", "my run")),
    ("metrics.`f1 score` >= 0.5", ("metric", "f1 score", ">=", 0.5)),
    ('metrics."f1 score" >= 0.5', ("metric", "f1 score", ">=", 0.5)),
    ("attributes.status = 'FINISHED'", ("attribute", "status", "=", "FINISHED")),
    ("attributes.run_name = 'my-run'", ("attribute", "run_name", "=", "my-run")),
    ("attributes.created > 1664067852747", ("attribute", "created", ">", 1664067852747)),
    ("attributes.Created > 1664067852747", ("attribute", "created", ">", 1664067852747)),
    ("attributes.end_time <= 1664067852747", ("attribute", "end_time", "<=", 1664067852747)),
    ("attributes.run_id IN ('a1', 'b2')", ("attribute", "run_id", "IN", ("a1", "b2"))),
    ("attributes.user_id != 'bob'", ("attribute", "user_id", "!=", "bob")),
    ("run_name = 'x'", ("attribute", "run_name", "=", "x")),
    ("tags.estimator_name ILIKE '%Regressor%'", ("tag", "estimator_name", "ILIKE", "%Regressor%")),
    ('params.batch_size = "2"', ("param", "batch_size", "=", "2")),
    ("datasets.name LIKE 'custom%'", ("dataset", "name", "LIKE", "custom%")),
    (
        "datasets.digest IN ('s8ds293b', 'jks834s2')",
        ("dataset", "digest", "IN", ("s8ds293b", "jks834s2")),
    ),
    ("datasets.context = 'train'", ("dataset", "context", "=", "train")),
    ("metric.acc = 1", ("metric", "acc", "=", 1.0)),
    ("parameter.p = 'x'", ("param", "p", "=", "x")),
    ("tag.t = 'x'", ("tag", "t", "=", "x")),
    ("attribute.status = 'x'", ("attribute", "status", "=", "x")),
    ("run.run_name = 'x'", ("attribute", "run_name", "=", "x")),
    ("dataset.NAME = 'x'", ("dataset", "name", "=", "x")),
]


@pytest.mark.parametrize(("text", "expected"), MLFLOW_EXAMPLES)
def test_mlflow_documented_filters_parse_to_their_meaning(text: str, expected: tuple) -> None:
    assert single(text) == expected


@pytest.mark.parametrize(
    ("text", "kind", "key", "op", "value"),
    [
        ("metrics.`val loss` <= -1.5e-3", "metric", "val loss", "<=", -1.5e-3),
        ('params."my.param" != "x y"', "param", "my.param", "!=", "x y"),
        ("params.`a.b c` <> 'q'", "param", "a.b c", "!=", "q"),
        ("tags.t ILIKE '%A%'", "tag", "t", "ILIKE", "%A%"),
        ("attributes.status NOT IN ('FAILED')", "attribute", "status", "NOT IN", ("FAILED",)),
        ("attributes.status not in ('a','b')", "attribute", "status", "NOT IN", ("a", "b")),
        ("metrics.acc IS NULL", "metric", "acc", "IS NULL", None),
        ("params.p is not null", "param", "p", "IS NOT NULL", None),
        ("metrics.a>.5", "metric", "a", ">", 0.5),
        ("metrics.a=-.5E+2", "metric", "a", "=", -50.0),
        ("metrics.a < +3", "metric", "a", "<", 3.0),
        ("metrics.loss.1 > 0", "metric", "loss.1", ">", 0.0),
        ("metrics.1st >= 2", "metric", "1st", ">=", 2.0),
        ("metrics.top-5/val:x < 1", "metric", "top-5/val:x", "<", 1.0),
        ("metrics.précision > 0", "metric", "précision", ">", 0.0),
        ("params.and = 'or'", "param", "and", "=", "or"),
        ("params.p = 'it''s'", "param", "p", "=", "it's"),
        ("params.p = 'a\\'b'", "param", "p", "=", "a'b"),
        ("params.p = ''", "param", "p", "=", ""),
        ("attributes.start_time >= 1700000000000", "attribute", "start_time", ">=", 1.7e12),
        ("attributes.start_time > 1.5", "attribute", "start_time", ">", 1.5),
        (
            "attributes.start_time = 9007199254740993",
            "attribute",
            "start_time",
            "=",
            9007199254740993,
        ),
    ],
)
def test_each_comparison_form_parses(text, kind, key, op, value) -> None:
    assert single(text) == (kind, key, op, value)


def test_large_integer_times_parse_exactly_not_through_a_float() -> None:
    value = single("attributes.end_time = 9007199254740993")[3]
    assert isinstance(value, int) and value == 2**53 + 1


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_written_by_repr_parses_back_to_itself(value: float) -> None:
    assert single(f"metrics.m <= {value!r}")[3] == value


@SETTINGS
@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_any_64_bit_millisecond_time_parses_exactly(value: int) -> None:
    assert single(f"attributes.start_time < {value}")[3] == value


@pytest.mark.parametrize("number", ["1e400", "-1e400", "9223372036854775808", "1e19"])
def test_times_beyond_64_bits_are_rejected_at_the_number(number: str) -> None:
    text = f"attributes.start_time > {number}"
    assert_points_at(failure(text), text, text.index(number))


_KEY_CHARS = string.ascii_letters + string.digits + "_-./: éλ"


@SETTINGS
@given(st.text(_KEY_CHARS, min_size=1, max_size=20))
def test_any_valid_key_can_be_backquoted(key: str) -> None:
    for prefix, value in (("metrics", "1"), ("params", "'v'"), ("tags", "'v'")):
        assert single(f"{prefix}.`{key}` = {value}")[1] == key


_PART = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=6)


@SETTINGS
@given(
    st.text(string.ascii_letters + "_", min_size=1, max_size=1),
    _PART,
    st.lists(_PART, max_size=3),
)
def test_dotted_identifier_keys_parse_without_quotes(first: str, rest: str, parts) -> None:
    key = ".".join([first + rest, *parts])
    assert single(f"tags.{key} != 'x'")[1] == key
    assert single(f"metrics.{key}>1")[1] == key


_VALUE_CHARS = string.ascii_letters + "'\"\\%_ *?[]é"


@SETTINGS
@given(st.text(_VALUE_CHARS, max_size=12))
def test_quoted_values_round_trip_through_every_escaping_style(value: str) -> None:
    backslashed = value.replace("\\", "\\\\")
    for quoted in (
        "'" + backslashed.replace("'", "\\'") + "'",
        '"' + backslashed.replace('"', '\\"') + '"',
        "'" + backslashed.replace("'", "''") + "'",
    ):
        assert single(f"params.p = {quoted}")[3] == value, quoted
        assert single(f"tags.t IN ('x', {quoted})")[3] == ("x", value), quoted


_LEAF_NAMES = [f"m{i}" for i in range(6)]


def _expressions():
    """Return a strategy for AND/OR/parenthesised expressions over leaf names."""
    leaves = st.sampled_from(_LEAF_NAMES)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "OR", "and", "Or"]), inner).map(" ".join),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=8,
    )


def _evaluate(node, truth: dict[str, bool]) -> bool:
    """Return the truth of a parsed tree whose leaves are `metrics.<name> > 0`."""
    if isinstance(node, Comparison):
        return truth[node.key]
    results = [_evaluate(item, truth) for item in node.items]
    return all(results) if node.op == "AND" else any(results)


@SETTINGS
@given(_expressions(), st.lists(st.booleans(), min_size=6, max_size=6))
def test_and_or_and_parentheses_follow_python_precedence(expression: str, bits) -> None:
    truth = dict(zip(_LEAF_NAMES, bits, strict=True))
    text = expression
    for name in _LEAF_NAMES:
        text = text.replace(name, f"metrics.{name} > 0")
    python = expression.lower()
    for name, bit in truth.items():
        python = python.replace(name, str(bit))
    assert _evaluate(parse_filter(text), truth) == eval(python)  # noqa: S307 - only True/False/and/or
    # Positions of the leaves, left to right, are where each comparison starts in the text.
    starts = [c.position for c in comparisons(parse_filter(text))]
    assert all(text.startswith("metrics.", p) for p in starts) and starts == sorted(starts)


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    flat = parse_filter("metrics.a > 1 or metrics.b > 2 and metrics.c > 3")
    assert flat.op == "OR" and flat.items[1].op == "AND"
    grouped = parse_filter("(metrics.a > 1 or metrics.b > 2) and metrics.c > 3")
    assert grouped.op == "AND" and grouped.items[0].op == "OR"


# (filter, the substring the error must point at; None for the end of input, and an
# occurrence index when the culprit appears earlier in the text too)
MALFORMED = [
    ("metrics.acc >", None),
    ("metrics.acc > 0.9 and", None),
    ("metrics.acc > 0.9 OR", None),
    ("foo.bar = 1", "foo"),
    ("bare = 1", "bare"),
    ("params.x = 'a", "'"),
    ('tags.t = "open', '"'),
    ("(metrics.a > 1", None),
    ("((metrics.a > 1)", None),
    ("metrics.a > 1)", ")"),
    ("metrics.a IN ()", "IN"),
    ("params.a IN ()", ")"),
    ("params.a IN ('x',)", ")"),
    ("params.a IN ('x' 'y')", "'y'"),
    ("params.a IN 'x'", "'x'"),
    ("metrics.a > 'x'", "'x'"),
    ("params.p = 1", "1"),
    ("params.p > 'a'", ">"),
    ("metrics.a LIKE '1'", "LIKE"),
    ("attributes.start_time LIKE '1'", "LIKE"),
    ("attributes.start_time = 'now'", "'now'"),
    ("attributes.status < 'x'", "<"),
    ("metrics.a >> 1", (">", 1)),
    ("tags.t LIKE 3", "3"),
    ("metrics.a > 1 metrics.b > 2", "metrics.b"),
    ("metrics.a > 1 AND AND metrics.b > 2", ("AND", 1)),
    ("metrics.a > 1 ; DROP TABLE runs", ";"),
    ("attributes.colour = 'red'", "colour"),
    ("datasets.size = 'x'", "size"),
    ("metrics.`` > 1", "``"),
    ("metrics. > 1", ">"),
    ("metrics.a. > 1", (".", 1)),
    ("params.p IS 'x'", "'x'"),
    ("params.p NOT 'x'", "NOT"),
    ("params.p = = 'x'", ("=", 1)),
    ("metrics.a = 1 #", "#"),
    ("AND metrics.a = 1", "AND"),
    ("params.p LIKE 'a\\\\'", "'a"),
]


def _culprit_position(text: str, culprit) -> int:
    """Return where `culprit` (a substring, or (substring, occurrence)) sits in `text`."""
    if culprit is None:
        return len(text)
    needle, skip = (culprit, 0) if isinstance(culprit, str) else culprit
    position = text.index(needle)
    for _ in range(skip):
        position = text.index(needle, position + 1)
    return position


@pytest.mark.parametrize(("text", "culprit"), MALFORMED)
def test_malformed_filters_point_at_the_offending_token(text: str, culprit) -> None:
    assert_points_at(failure(text), text, _culprit_position(text, culprit))


def test_empty_filter_means_everything() -> None:
    assert parse_filter("") is None and parse_filter(None) is None and parse_filter("  \n") is None


def test_order_by_parses_direction_aliases_and_quoted_keys() -> None:
    terms = parse_order_by(
        [
            "metrics.acc DESC",
            "params.model",
            "attributes.start_time asc",
            "tags.`a b` Desc",
            "metric.`x.y`",
            "run_name DESC",
            "tags.mlflow.runName",
        ]
    )
    assert [(t.kind, t.key, t.ascending) for t in terms] == [
        ("metric", "acc", False),
        ("param", "model", True),
        ("attribute", "start_time", True),
        ("tag", "a b", False),
        ("metric", "x.y", True),
        ("attribute", "run_name", False),
        ("tag", "mlflow.runName", True),
    ]
    assert parse_order_by(None) == [] and parse_order_by([]) == []


@pytest.mark.parametrize(
    ("clause", "culprit"),
    [
        ("metrics.acc SIDEWAYS", "SIDEWAYS"),
        ("nope.x", "nope"),
        ("metrics.acc DESC extra", "extra"),
        ("metrics.acc > 1", ">"),
        ("attributes.colour", "colour"),
        ("DESC", "DESC"),
    ],
)
def test_bad_order_by_clauses_point_at_their_token(clause: str, culprit: str) -> None:
    error = failure([clause], parse_order_by)
    assert_points_at(error, clause, clause.index(culprit))


@pytest.mark.parametrize("bad", [[""], ["  "], [None], [3], [["metrics.a"]]])
def test_order_by_entries_must_be_non_empty_strings(bad) -> None:
    assert "order_by" in str(failure(bad, parse_order_by))


def test_comparisons_lists_every_clause_left_to_right() -> None:
    text = "(metrics.a > 1 or params.b = 'x') and (tags.c IS NULL or attributes.status = 'y')"
    found = comparisons(parse_filter(text))
    assert [c.key for c in found] == ["a", "b", "c", "status"]
    assert [c.position for c in found] == [
        text.index("metrics.a"),
        text.index("params.b"),
        text.index("tags.c"),
        text.index("attributes.status"),
    ]
    assert comparisons(None) == []


def test_numbers_keep_their_sign_and_magnitude() -> None:
    for text in ("-0.0", "1e-300", "-1.7976931348623157e308", "123456789.125"):
        value = single(f"metrics.m > {text}")[3]
        assert value == float(text) and math.copysign(1, value) == math.copysign(1, float(text))
