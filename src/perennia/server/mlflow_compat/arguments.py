"""Reading MLflow request arguments: text fields, {key, value} lists, page sizes and filters.

Shared by the tracking, registry and logged-model adapters, so a bad argument gets the same
INVALID_PARAMETER_VALUE message whichever endpoint received it. The messages are MLflow's own
texts (`missing`, `invalid`): MLflow clients and scripts match on them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Body, Request

from perennia.errors import InvalidInput

Payload = Body(default_factory=dict)
# `[attributes.]field op 'value'`, or `tags.<key>` / tags.`<key>` op 'value'; quotes doubled inside.
_CLAUSE = re.compile(
    r"""^\s*(?:attributes?\.)?(?P<field>tags?\.(?:`[^`]+`|[\w.\-]+)|\w+)\s*(?P<op>!=|=|I?LIKE)\s*"""
    r"""(?:'(?P<sq>(?:[^']|'')*)'|"(?P<dq>(?:[^"]|"")*)")\s*$""",
    re.I,
)


# Ids MLflow clients may send as JSON numbers; every other text field must be a string.
_NUMERIC_IDS = frozenset({"experiment_id", "version"})


def missing(name: str) -> InvalidInput:
    """Return MLflow's error for a required parameter that is absent."""
    return InvalidInput(
        f"Missing value for required parameter '{name}'. "
        "See the API docs for more information about request parameters."
    )


def invalid(name: str, value: Any) -> InvalidInput:
    """Return MLflow's error for a parameter of the wrong type or range."""
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return InvalidInput(
        f"Invalid value {shown[:200]} for parameter '{name}' supplied. Hint: Value was of type "
        f"'{type(value).__name__}'. See the API docs for more information about request parameters."
    )


def args_of(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Return the request's arguments: MLflow sends GETs as query strings, the rest as JSON."""
    return {**dict(request.query_params), **body}


def text(args: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """Return a string argument (experiment ids and versions may be ints), None when absent."""
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    numeric = name in _NUMERIC_IDS and isinstance(value, int) and not isinstance(value, bool)
    if not isinstance(value, str) and not numeric:
        raise invalid(name, value)
    return str(value)


def objects(items: Any, what: str) -> list[dict[str, Any]]:
    """Return a list of JSON objects ([] when absent), or raise InvalidInput naming `what`."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid(what, items)
    return items


def key_values(items: Any, what: str) -> dict[str, str]:
    """Return MLflow's [{key, value}] list as a dict, or raise InvalidInput naming `what`."""
    pairs = {}
    for item in objects(items, what):
        key, value = item.get("key"), item.get("value", "")
        if not isinstance(key, str) or not _scalar(value):
            raise InvalidInput(
                f"'{what}' must be a list of {{key, value}} objects with a string key and a "
                f"text value, got {item!r:.80}"
            )
        pairs[key] = value if isinstance(value, str) else json_scalar(value)
    return pairs


def ids(args: dict[str, Any], name: str) -> list[str]:
    """Return a list of ids ([] when absent): strings or integers, never one bare string."""
    value = args.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(_id(v) for v in value):
        raise InvalidInput(f"'{name}' must be a list of ids (strings), got {_kind(value)}")
    return [str(v) for v in value]


def strings(args: dict[str, Any], name: str) -> list[str] | None:
    """Return a list of strings (None when absent), or raise InvalidInput naming the field."""
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"'{name}' must be a list of strings, got {_kind(value)}")
    return value


def page_token(args: dict[str, Any]) -> str | None:
    """Return the page token (None when absent), or raise InvalidInput if it is not a string."""
    value = args.get("page_token")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'page_token' must be a string, got {_kind(value)}")
    return value


def integer(args: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """Return an integer argument (JSON number or digits; `default` when absent)."""
    value = args.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
        raise invalid(name, value)
    return value


def max_results(value: Any, default: int, limit: int) -> int:
    """Return a page size from 1 to `limit` (`default` when absent), or raise InvalidInput."""
    number = integer({"max_results": value}, "max_results", default)
    if not 1 <= number <= limit:
        raise invalid("max_results", number)
    return number


def json_scalar(value: Any) -> str:
    """Return a JSON number or boolean as the text MLflow's client would have sent."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)  # booleans included: they are ints


def _id(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.40}"


@dataclass(frozen=True)
class Where:
    """A parsed filter: the store-side fields, and tag conditions checked per item."""

    fields: dict[str, tuple[str, str]]  # field -> (operator, value), e.g. name -> ("=", "x")
    tags: list[tuple[str, str, str]]  # (key, operator, value); in `keeps`, "!=" matches no tag

    def keeps(self, tags: dict[str, str]) -> bool:
        """Return whether an item with these tags meets every tag condition."""
        return all((tags.get(k) == v) == (op == "=") for k, op, v in self.tags)

    def value(self, field: str) -> str | None:
        """Return the value a field is compared with, or None when the filter leaves it free."""
        return self.fields[field][1] if field in self.fields else None

    def matches(self, field: str, value: str | None) -> bool:
        """Return whether `value` meets the filter's condition on `field` (True when free);
        LIKE is case-sensitive, ILIKE ignores case."""
        if field not in self.fields:
            return True
        op, wanted = self.fields[field]
        if op in ("=", "!="):
            return (value == wanted) == (op == "=")
        return value is not None and like(value, wanted, fold=op == "ILIKE")


def like(value: str, pattern: str, *, fold: bool = False) -> bool:
    """Return whether `value` matches the SQL LIKE `pattern` (`%`, `_`; ILIKE with `fold`)."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if fold else 0)) is not None


def parse_filter(
    text_: Any,
    allowed: dict[str, set[str]],
    *,
    tags: bool = True,
    tag_ops: set[str] | None = None,
) -> Where:
    """Return the filter `a = 'x' AND b LIKE 'y' AND tags.`k` != 'z'`, fields within `allowed`.

    Tag conditions take = and != (`tags`), or the operators in `tag_ops`.
    """
    tag_ops = tag_ops or ({"=", "!="} if tags else set())
    where = Where({}, [])
    if not text_:
        return where
    if not isinstance(text_, str):
        raise InvalidInput("'filter' must be a string")
    for clause in re.split(r"\s+AND\s+", text_.strip(), flags=re.I):
        match = _CLAUSE.match(clause)
        field, op = (match["field"].lower(), match["op"].upper()) if match else ("", "")
        value = (match["sq"] if match["sq"] is not None else match["dq"]) if match else ""
        value = value.replace("''", "'").replace('""', '"')
        if match and field.startswith("tag") and op in tag_ops:
            where.tags.append((match["field"].split(".", 1)[1].strip("`"), op, value))
        elif match and op in allowed.get(field, set()):
            where.fields[field] = (op, value)
        else:
            accepted = " and ".join(f"{f} {'/'.join(sorted(o))} '...'" for f, o in allowed.items())
            extra = " and tags.<key> = or != '...'" if tags else ""
            raise InvalidInput(
                f"filter {text_[:120]!r} is not supported; use {accepted}{extra}, joined by AND"
            )
    return where


def order_clauses(order_by: list[Any], fields: Any) -> list[tuple[str, bool]]:
    """Return (field, descending) pairs of MLflow `order_by` clauses over `fields`, or raise."""
    order = []
    for clause in order_by:
        words = clause.split() if isinstance(clause, str) else []
        field = words[0].removeprefix("attributes.").removeprefix("attribute.") if words else ""
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if field not in fields or len(words) > 2 or direction not in ("ASC", "DESC"):
            raise invalid("order_by", clause)
        order.append((field, direction == "DESC"))
    return order
