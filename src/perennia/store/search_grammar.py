"""The run-search filter language (MLflow's syntax, plus OR and parentheses), parsed into a tree.

    metrics.acc > 0.9 and params.model = 'rf' and tags.team LIKE 'fr%'
    attributes.status IN ('FINISHED', 'KILLED') or metrics.`val loss` <= 0.1

Backends translate the tree; none of them filters in Python. Errors point at the offending token.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

from perennia.errors import InvalidFilter

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "param", "tag", "attribute", "dataset"

_KIND_ALIASES = {
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}

# Attribute name -> (column, type). "created" is MLflow's alias for start_time.
STRING_ATTRIBUTES = {
    "run_id": "run_uuid",
    "run_uuid": "run_uuid",
    "run_name": "name",
    "status": "status",
    "user_id": "user_id",
    "experiment_id": "experiment_id",
    "lifecycle_stage": "lifecycle_stage",
    "parent_run_id": "parent_run_uuid",
    "git_commit": "git_commit",
    "source_name": "source_name",
}
NUMERIC_ATTRIBUTES = {"start_time": "start_time", "end_time": "end_time", "created": "start_time"}
DATASET_FIELDS = ("name", "digest", "context")

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NULL_OPS = ("IS NULL", "IS NOT NULL")

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|(?<![\w`"'])\.\d+(?:[eE][-+]?\d+)?))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<backtick>`[^`]*`)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<dot>\.)
  | (?P<word>[^\W\d][\w\-/:]*)
    """,
    re.VERBOSE,
)
# Times are BIGINT milliseconds; anything this large cannot be one and would overflow the column.
_MAX_MILLISECONDS = 2**63
# Bounds on what one filter may ask for: nesting is parsed recursively and every comparison
# becomes a SQL subquery, so both are capped with an error naming the limit.
MAX_FILTER_LENGTH = 100_000
MAX_FILTER_DEPTH = 32
MAX_FILTER_TERMS = 256
MAX_LIST_VALUES = 10_000
MAX_ORDER_BY = 20

_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One `kind.key OP value` clause."""

    kind: str
    key: str
    op: str
    value: float | str | tuple[str, ...] | None
    position: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    """Clauses joined by AND or OR."""

    op: str
    items: tuple[Node, ...]


Node = Union[Comparison, BoolOp]  # noqa: UP007 - a runtime alias, used by isinstance-free code


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One order-by term."""

    kind: str
    key: str
    ascending: bool


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise InvalidFilter(
                f"unexpected character {text[position]!r} at position {position}",
                text=text,
                position=position,
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    if token.kind == "backtick":
        return body
    quote = token.text[0]
    return body.replace(quote * 2, quote).replace("\\" + quote, quote).replace("\\\\", "\\")


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise InvalidFilter(
                f"filter is {len(text):,} characters long; the limit is {MAX_FILTER_LENGTH:,}"
            )
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.terms = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> InvalidFilter:
        token = token or self.current
        shown = repr(token.text) if token.kind != "end" else "end of input"
        return InvalidFilter(
            f"{message} (at {shown}, position {token.position})",
            text=self.text,
            position=token.position,
        )

    def keyword(self, *words: str) -> bool:
        token = self.current
        return token.kind == "word" and token.upper in words

    # expression := conjunction (OR conjunction)*
    def expression(self) -> Node:
        items = [self.conjunction()]
        while self.keyword("OR"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Node:
        items = [self.primary()]
        while self.keyword("AND"):
            self.advance()
            items.append(self.primary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def primary(self) -> Node:
        if self.current.kind == "lparen":
            self.depth += 1
            if self.depth > MAX_FILTER_DEPTH:
                raise self.fail(f"parentheses nest deeper than the limit of {MAX_FILTER_DEPTH}")
            self.advance()
            node = self.expression()
            self.depth -= 1
            if self.current.kind != "rparen":
                raise self.fail("expected ')'")
            self.advance()
            return node
        return self.comparison()

    def identifier(self) -> tuple[str, str, _Token]:
        """Parse `kind.key`, with the key optionally quoted; a bare attribute name is allowed."""
        start = self.current
        if start.kind != "word" or start.upper in _KEYWORDS:
            raise self.fail(
                "expected an identifier such as metrics.acc, params.model or attributes.status"
            )
        self.advance()
        if self.current.kind != "dot":
            name = start.text.lower()
            if name in STRING_ATTRIBUTES or name in NUMERIC_ATTRIBUTES:
                return ATTRIBUTE, name, start
            raise self.fail(
                f"identifier {start.text!r} needs a prefix: metrics., params., tags., attributes. or datasets.",
                start,
            )
        kind = _KIND_ALIASES.get(start.text.lower())
        if kind is None:
            raise self.fail(
                f"unknown prefix {start.text!r}; use metrics., params., tags., attributes. or datasets.",
                start,
            )
        self.advance()  # the dot
        key_token = self.current
        if key_token.kind in ("backtick", "string"):
            self.advance()
            key = _unquote(key_token)
        elif key_token.kind in ("word", "number"):
            # An unquoted key is every adjacent word, number and dot: tags.mlflow.user, loss.1.
            parts = [self.advance().text]
            while self.current.kind in ("word", "number", "dot") and (
                self.current.position == key_token.position + len("".join(parts))
            ):
                parts.append(self.advance().text)
            if parts[-1] == ".":
                raise self.fail("a key cannot end with '.'", self.tokens[self.index - 1])
            key = "".join(parts)
        else:
            raise self.fail(f"expected a key after {start.text}.")
        if not key:
            raise self.fail("empty key", key_token)
        return kind, self._check_key(kind, key, key_token), start

    def _check_key(self, kind: str, key: str, token: _Token) -> str:
        if kind == ATTRIBUTE:
            lowered = key.lower()
            if lowered not in STRING_ATTRIBUTES and lowered not in NUMERIC_ATTRIBUTES:
                known = ", ".join(sorted({*STRING_ATTRIBUTES, *NUMERIC_ATTRIBUTES}))
                raise self.fail(f"unknown attribute {key!r}; known attributes: {known}", token)
            return lowered
        if kind == DATASET and key.lower() not in DATASET_FIELDS:
            raise self.fail(
                f"unknown dataset field {key!r}; use datasets.name, datasets.digest or datasets.context",
                token,
            )
        return key.lower() if kind == DATASET else key

    def operator(self) -> tuple[str, _Token]:
        token = self.current
        if token.kind == "op":
            self.advance()
            return ("!=" if token.text == "<>" else token.text), token
        if token.kind == "word":
            word = token.upper
            if word in ("LIKE", "ILIKE", "IN"):
                self.advance()
                return word, token
            if word == "NOT" and self.tokens[self.index + 1].upper == "IN":
                self.advance()
                self.advance()
                return "NOT IN", token
            if word == "IS":
                self.advance()
                negate = self.keyword("NOT")
                if negate:
                    self.advance()
                if not self.keyword("NULL"):
                    raise self.fail("expected NULL after IS")
                self.advance()
                return ("IS NOT NULL" if negate else "IS NULL"), token
        raise self.fail(
            "expected a comparator: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL"
        )

    def comparison(self) -> Comparison:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise self.fail(
                f"the filter holds more than the limit of {MAX_FILTER_TERMS} comparisons"
            )
        kind, key, start = self.identifier()
        op, op_token = self.operator()
        numeric = kind == METRIC or (kind == ATTRIBUTE and key in NUMERIC_ATTRIBUTES)
        allowed = (_NUMERIC_OPS if numeric else _STRING_OPS) + _NULL_OPS
        if op not in allowed:
            raise self.fail(
                f"{op} cannot compare {kind} {key!r}; use one of {', '.join(allowed)}", op_token
            )
        if op in _NULL_OPS:
            return Comparison(kind, key, op, None, start.position)
        if op in ("IN", "NOT IN"):
            return Comparison(kind, key, op, self.string_list(), start.position)
        token = self.advance()
        if token.kind in ("op", "end"):
            raise self.fail(f"expected a value after {op}", token)
        if numeric:
            if token.kind != "number":
                raise self.fail(
                    f"{kind} {key!r} compares with a number, e.g. {kind}s.{key} > 0.5", token
                )
            return Comparison(kind, key, op, self._number(kind, token), start.position)
        if token.kind != "string":
            raise self.fail(f"{kind} {key!r} compares with a quoted string, e.g. = 'value'", token)
        value = _unquote(token)
        if op in ("LIKE", "ILIKE") and (len(value) - len(value.rstrip("\\"))) % 2:
            raise self.fail(
                f"{op} pattern {value!r} ends with a lone escape character '\\'; a literal "
                "backslash is four backslashes inside the quotes",
                token,
            )
        return Comparison(kind, key, op, value, start.position)

    def _number(self, kind: str, token: _Token) -> float | int:
        """Return a metric value as a float, a time in milliseconds as an exact int or float."""
        if kind == METRIC:
            return float(token.text)
        # Digits parse exactly; through a float, 2**53 + 1 would quietly become 2**53.
        value = int(token.text) if token.text.lstrip("+-").isdigit() else float(token.text)
        if not math.isfinite(value) or abs(value) >= _MAX_MILLISECONDS:
            raise self.fail(
                f"{token.text} is out of range for a time in milliseconds since the epoch", token
            )
        # A fraction stays a float: truncating 1.5 to 1 would turn `>= 1.5` into `>= 1`.
        return int(value) if float(value).is_integer() else value

    def string_list(self) -> tuple[str, ...]:
        if self.current.kind != "lparen":
            raise self.fail("expected '(' to start a list of quoted strings")
        self.advance()
        values: list[str] = []
        while True:
            token = self.advance()
            if token.kind != "string":
                raise self.fail("expected a quoted string in the list", token)
            values.append(_unquote(token))
            if len(values) > MAX_LIST_VALUES:
                raise self.fail(f"the list holds more than the limit of {MAX_LIST_VALUES} values")
            if self.current.kind == "comma":
                self.advance()
                continue
            if self.current.kind == "rparen":
                self.advance()
                return tuple(values)
            raise self.fail("expected ',' or ')' in the list")


def parse_filter(text: str | None) -> Node | None:
    """Return the parsed filter tree, or None for an empty filter; InvalidFilter on bad syntax."""
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.expression()
    if parser.current.kind != "end":
        raise parser.fail("expected AND, OR or the end of the filter")
    return node


def parse_order_by(clauses: list[str] | tuple[str, ...] | None) -> list[OrderBy]:
    """Return parsed order-by terms such as `metrics.acc DESC`; InvalidFilter on bad syntax."""
    result: list[OrderBy] = []
    if clauses is not None and len(clauses) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by has {len(clauses)} terms; the limit is {MAX_ORDER_BY}")
    for clause in clauses or ():
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidFilter(
                f"order_by entry {clause!r} must be a non-empty string like 'metrics.acc DESC'"
            )
        parser = _Parser(clause)
        kind, key, _ = parser.identifier()
        ascending = True
        if parser.keyword("ASC", "DESC"):
            ascending = parser.advance().upper == "ASC"
        if parser.current.kind != "end":
            raise parser.fail("expected ASC, DESC or the end of the order_by clause")
        result.append(OrderBy(kind, key, ascending))
    return result


def comparisons(node: Node | None) -> list[Comparison]:
    """Return every comparison in the tree, left to right."""
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node]
    return [c for item in node.items for c in comparisons(item)]
