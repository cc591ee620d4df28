"""Parsing of gate conditions: the operators, the tokenizer and the recursive-descent parser.

The grammar is documented in `perennia.evaluate.gates`, which turns a parsed condition into a
`Gate` (`parse_gate`, `parse_gate_text`, `parse_gates`).
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from perennia.errors import InvalidInput

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest first, so ">=" is not read as ">" followed by "=".
_SYMBOLS = (">=", "<=", "==", "!=", "=>", "=<", ">", "<", "=", "+", "-", "*")
_EXPECTED = 'expected a comparison like ">= baseline - 0.005" or ">= 0.8"'


@dataclass(frozen=True)
class _Token:
    kind: str  # "op", "arith", "number", "word"
    text: str


class _Parser:
    """Tokenizer and recursive-descent parser for one condition; errors name the metric."""

    def __init__(self, metric: str, condition: str) -> None:
        self.metric = metric
        self.condition = condition
        self.tokens = self._tokenize()
        self.position = 0

    def parse(self) -> tuple[str, str, float, float, str]:
        """Return the condition's parts for `Gate`: op, reference, offset, scale and text."""
        if not self.tokens:
            self._fail("the condition is empty")
        op = self._take()
        if op.kind != "op":
            self._fail(f"it must start with one of {', '.join(OPERATORS)}")
        if op.text == "!=":
            self._fail("'!=' is not supported; use a floor (>=) and a ceiling (<=)")
        if op.text not in OPERATORS:
            hint = {"=>": ">=", "=<": "<=", "=": "=="}[op.text]
            self._fail(f"unknown operator '{op.text}', did you mean '{hint}'?")
        rhs, reference, offset, scale = self._rhs(op.text)
        if self.position < len(self.tokens):
            self._fail(f"unexpected '{self.tokens[self.position].text}' after '{op.text} {rhs}'")
        return op.text, reference, offset, scale, f"{self.metric} {op.text} {rhs}"

    def _rhs(self, op: str) -> tuple[str, str, float, float]:
        token = self._take(after=op)
        if token.kind == "op":
            self._fail(f"two comparison operators ('{op}' and '{token.text}')")
        if token.kind == "arith" and token.text in "+-":
            number = self._number(after=f"{op} {token.text}")
            value = self._value(number)
            return (
                f"{token.text}{number.text}",
                "absolute",
                -value if token.text == "-" else value,
                1.0,
            )
        if token.kind == "number":
            return token.text, "absolute", self._value(token), 1.0
        if token.kind == "word" and token.text == "baseline":
            if self.position == len(self.tokens):
                return "baseline", "baseline", 0.0, 1.0
            arith = self._take()
            if arith.kind != "arith":
                self._fail(f"expected +, - or * after 'baseline', got '{arith.text}'")
            number = self._number(after=f"baseline {arith.text}")
            value = self._value(number)
            rhs = f"baseline {arith.text} {number.text}"
            if arith.text == "*":
                return rhs, "baseline", 0.0, value
            return rhs, "baseline", -value if arith.text == "-" else value, 1.0
        if token.kind == "word":
            close = difflib.get_close_matches(token.text.lower(), ["baseline"], n=1)
            hint = ", did you mean 'baseline'?" if close else ""
            self._fail(f"unknown name '{token.text}'{hint}")
        self._fail(f"expected a number or 'baseline' after '{op}', got '{token.text}'")

    def _number(self, *, after: str) -> _Token:
        token = self._take(after=after)
        if token.kind != "number":
            self._fail(f"expected a number after '{after}', got '{token.text}'")
        return token

    def _value(self, token: _Token) -> float:
        value = float(token.text)
        if not math.isfinite(value):
            self._fail(f"the number {token.text} is too large")
        return value

    def _take(self, *, after: str | None = None) -> _Token:
        if self.position == len(self.tokens):
            self._fail(f"nothing after '{after}'")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _tokenize(self) -> list[_Token]:
        text, tokens, i = self.condition, [], 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is not None:
                kind = "arith" if symbol in ("+", "-", "*") else "op"
                tokens.append(_Token(kind, symbol))
                i += len(symbol)
                continue
            for kind, pattern in (("number", _NUMBER), ("word", _WORD)):
                match = pattern.match(text, i)
                if match:
                    tokens.append(_Token(kind, match.group()))
                    i = match.end()
                    break
            else:
                self._fail(f"unexpected character {text[i]!r}")
        return tokens

    def _fail(self, detail: str) -> NoReturn:
        raise InvalidInput(
            f"gate for '{self.metric}': {_EXPECTED}, got \"{_one_line(self.condition)}\" ({detail})"
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())
