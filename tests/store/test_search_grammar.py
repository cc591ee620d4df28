"""The filter grammar: MLflow's syntax parses into the right tree; mistakes point at their token."""

from __future__ import annotations

import pytest

from perennia.errors import InvalidFilter, PerenniaError
from perennia.store.search_grammar import BoolOp, Comparison, parse_filter, parse_order_by


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


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    flat = parse_filter("metrics.a > 1 or metrics.b > 2 and metrics.c > 3")
    assert flat.op == "OR" and flat.items[1].op == "AND"
    grouped = parse_filter("(metrics.a > 1 or metrics.b > 2) and metrics.c > 3")
    assert grouped.op == "AND" and grouped.items[0].op == "OR"


@pytest.mark.parametrize(
    ("text", "kind", "key", "op", "value"),
    [
        ("metrics.`val loss` <= -1.5e-3", "metric", "val loss", "<=", -1.5e-3),
        ('params."my.param" != "x y"', "param", "my.param", "!=", "x y"),
        ("tags.t ILIKE '%A%'", "tag", "t", "ILIKE", "%A%"),
        ("attributes.status IN ('FINISHED', 'KILLED')", "attribute", "status", "IN",
         ("FINISHED", "KILLED")),
        ("attributes.status NOT IN ('FAILED')", "attribute", "status", "NOT IN", ("FAILED",)),
        ("metrics.acc IS NULL", "metric", "acc", "IS NULL", None),
        ("params.p IS NOT NULL", "param", "p", "IS NOT NULL", None),
        ("attributes.start_time >= 1700000000000", "attribute", "start_time", ">=", 1.7e12),
        ("datasets.context = 'training'", "dataset", "context", "=", "training"),
        ("metric.acc = 1", "metric", "acc", "=", 1.0),
        ("run.run_name = 'x'", "attribute", "run_name", "=", "x"),
    ],
)  # fmt: skip
def test_each_comparison_form_parses(text, kind, key, op, value) -> None:
    node = parse_filter(text)
    assert (node.kind, node.key, node.op, node.value) == (kind, key, op, value)


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("metrics.acc >", None),  # end of input
        ("metrics.acc > 0.9 and", None),
        ("foo.bar = 1", "foo"),
        ("params.x = 'a", "'"),
        ("(metrics.a > 1", None),
        ("metrics.a IN ()", "IN"),
        ("metrics.a > 'x'", "'x'"),
        ("params.p = 1", "1"),
        ("metrics.a >> 1", ">>"),
        ("tags.t LIKE 3", "3"),
        ("metrics.a > 1 metrics.b > 2", "metrics.b"),
        ("attributes.colour = 'red'", "colour"),
    ],
)
def test_malformed_filters_point_at_the_offending_token(text: str, culprit: str | None) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert isinstance(caught.value, PerenniaError)
    expected = len(text) if culprit is None else text.index(culprit)
    if culprit == ">>":
        expected += 1  # the first '>' is a fine operator; the second is the mistake
    assert f"position {expected}" in message
    caret_line = message.splitlines()[-1]
    assert caret_line.index("^") - 2 == expected  # the echo of the filter is indented by two
    assert message.splitlines()[-2].strip() == text.strip()


def test_empty_filter_means_everything() -> None:
    assert parse_filter("") is None and parse_filter(None) is None and parse_filter("  ") is None


def test_order_by_parses_direction_and_rejects_garbage() -> None:
    terms = parse_order_by(["metrics.acc DESC", "params.model", "attributes.start_time ASC"])
    assert [(t.kind, t.key, t.ascending) for t in terms] == [
        ("metric", "acc", False),
        ("param", "model", True),
        ("attribute", "start_time", True),
    ]
    for bad in (["metrics.acc SIDEWAYS"], ["nope.x"], ["metrics.acc DESC extra"]):
        with pytest.raises(InvalidFilter):
            parse_order_by(bad)
