"""The contract: row/column expectations and distribution expectations in one object, as JSON.

JSON layout (`format` 1)::

    {"format": "perennia.contract/1", "name": "churn", "meta": {...},
     "environments": {"training": [], "serving": ["label"]},
     "expectations": [{"type": "expect_column_values_to_be_between",
                       "kwargs": {"column": "age", "min_value": 0, "max_value": 120, "mostly": 0.99},
                       "meta": {}}, ...]}

Environments are TFDV's: each names the columns absent in it (the label at serving); validating
in an environment skips the expectations that read those columns and leaves them out of
`expect_table_columns_to_match_set`. Custom checks are Python functions, so the JSON records
only their names; `from_dict`/`from_json` need them again as `checks={name: function}`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perennia.data.contracts.spec import check_kwargs, columns_of
from perennia.errors import InvalidInput

FORMAT = "perennia.contract/1"
CUSTOM = "expect_custom_check"


@dataclass(frozen=True)
class Expectation:
    """One named assertion with its parameters, e.g. Expectation("expect_column_to_exist", column="id")."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]

    def __init__(self, type: str, /, *, meta: Mapping[str, Any] | None = None, **kwargs: Any):
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "kwargs", check_kwargs(type, kwargs))
        if meta is not None and not isinstance(meta, Mapping):
            raise InvalidInput(f"{type}: meta={meta!r} must be a mapping")
        object.__setattr__(self, "meta", dict(meta or {}))

    @property
    def columns(self) -> list[str]:
        """Return the data columns this expectation reads."""
        return columns_of(self.type, self.kwargs)

    @property
    def mostly(self) -> float:
        """Return the fraction of considered rows that must pass (1.0 unless set)."""
        return self.kwargs.get("mostly", 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the expectation as a JSON-ready dict."""
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectation:
        """Return the expectation a `to_dict()` answer describes."""
        if not isinstance(data, Mapping) or "type" not in data:
            raise InvalidInput(f"an expectation must be a mapping with a 'type', got {data!r}")
        kwargs = data.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise InvalidInput(f"{data['type']}: kwargs must be a mapping, got {kwargs!r}")
        return cls(data["type"], meta=data.get("meta"), **kwargs)


@dataclass
class Contract:
    """Expectations about a table, its environments, and the custom checks they name."""

    expectations: list[Expectation] = field(default_factory=list)
    environments: dict[str, list[str]] = field(default_factory=dict)
    name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Callable[[Any], Any]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.expectations = [_expectation(e) for e in self.expectations]
        self.environments = _environments(self.environments)
        if self.name is not None and not isinstance(self.name, str):
            raise InvalidInput(f"contract name={self.name!r} must be a string or None")
        for label, fn in self.checks.items():
            if not isinstance(label, str) or not callable(fn):
                raise InvalidInput(f"checks[{label!r}] must map a name to a function frame -> mask")

    # -- building -------------------------------------------------------------------------------

    def expect(
        self, type: str, /, *, meta: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Contract:
        """Add an expectation (Great Expectations' name and kwargs) and return the contract."""
        self.expectations.append(Expectation(type, meta=meta, **kwargs))
        return self

    def add_check(
        self,
        name: str,
        function: Callable[[Any], Any],
        *,
        column: str | None = None,
        mostly: float = 1.0,
    ) -> Contract:
        """Register `function(frame) -> boolean mask` under `name`, add its expectation, return self."""
        if not callable(function):
            raise InvalidInput(f"check {name!r}: {function!r} is not callable")
        kwargs: dict[str, Any] = {"check": name, "mostly": mostly}
        if column is not None:
            kwargs["column"] = column
        self.expectations.append(Expectation(CUSTOM, **kwargs))
        self.checks[name] = function
        return self

    # -- reading --------------------------------------------------------------------------------

    def absent_in(self, environment: str | None) -> list[str]:
        """Return the columns absent in `environment` (none for None); raise for an unknown one."""
        if environment is None:
            return []
        if environment not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none defined"
            raise InvalidInput(
                f"environment {environment!r} is not in the contract; known: {known}"
            )
        return list(self.environments[environment])

    def expectations_for(self, environment: str | None = None) -> list[Expectation]:
        """Return the expectations that apply in `environment` (all of them for None)."""
        absent = set(self.absent_in(environment))
        return [e for e in self.expectations if not absent.intersection(e.columns)]

    def check_function(self, name: str) -> Callable[[Any], Any]:
        """Return the function registered for custom check `name`."""
        if name not in self.checks:
            raise InvalidInput(
                f"custom check {name!r} has no function; pass checks={{{name!r}: function}}"
                " when building or loading the contract"
            )
        return self.checks[name]

    # -- serialisation --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the contract as a JSON-ready dict (custom checks by name only)."""
        return {
            "format": FORMAT,
            "name": self.name,
            "meta": dict(self.meta),
            "environments": {k: list(v) for k, v in self.environments.items()},
            "expectations": [e.to_dict() for e in self.expectations],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, checks: Mapping[str, Callable[[Any], Any]] | None = None
    ) -> Contract:
        """Return the contract a `to_dict()` answer describes; `checks` supplies custom checks' functions."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"a contract must be a mapping, got {type(data).__name__}")
        if data.get("format", FORMAT) != FORMAT:
            raise InvalidInput(
                f"contract format={data.get('format')!r} is not accepted; expected {FORMAT!r}"
            )
        unknown = sorted(set(data) - {"format", "name", "meta", "environments", "expectations"})
        if unknown:
            raise InvalidInput(
                f"contract: unknown field {unknown[0]!r}; accepted: format, name, meta, environments, expectations"
            )
        items = data.get("expectations", [])
        if not isinstance(items, list):
            raise InvalidInput(f"contract: expectations must be a list, got {type(items).__name__}")
        contract = cls(
            expectations=[Expectation.from_dict(item) for item in items],
            environments=data.get("environments") or {},
            name=data.get("name"),
            meta=dict(data.get("meta") or {}),
            checks=dict(checks or {}),
        )
        for expectation in contract.expectations:
            if expectation.type == CUSTOM:
                contract.check_function(expectation.kwargs["check"])
        return contract

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the contract as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(
        cls, text: str | bytes, *, checks: Mapping[str, Callable[[Any], Any]] | None = None
    ) -> Contract:
        """Return the contract in JSON `text`; `checks` supplies custom checks' functions."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"contract JSON does not parse: {exc}") from None
        return cls.from_dict(data, checks=checks)

    @property
    def digest(self) -> str:
        """Return the sha256 hex digest of the canonical JSON (sorted keys, no spaces)."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _expectation(item: Any) -> Expectation:
    if isinstance(item, Expectation):
        return item
    if isinstance(item, Mapping):
        return Expectation.from_dict(item)
    raise InvalidInput(f"expectations must be Expectation objects or dicts, got {item!r}")


def _environments(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"environments={value!r} must map an environment name to the columns absent in it"
        )
    out = {}
    for env, absent in value.items():
        if not isinstance(env, str) or not env:
            raise InvalidInput(f"environment name {env!r} must be a non-empty string")
        if isinstance(absent, str) or not isinstance(absent, Iterable):
            raise InvalidInput(f"environments[{env!r}]={absent!r} must be a list of column names")
        absent = list(absent)
        if not all(isinstance(c, str) and c for c in absent):
            raise InvalidInput(f"environments[{env!r}]={absent!r} must be a list of column names")
        out[env] = absent
    return out
