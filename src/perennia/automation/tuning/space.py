"""Declared search spaces: tuples or Optuna distributions, checked before any trial, suggested in order.

A space maps each parameter name to one of

- `("float", low, high)` or `("float", low, high, {"log": True})` / `{"step": 0.1}`
- `("int", low, high)` or `("int", low, high, {"log": True})` / `{"step": 2}`
- `("categorical", [choice, ...])`
- an `optuna.distributions` object (`FloatDistribution`, `IntDistribution`, ...)

and is suggested through the trial's own `suggest_*` calls in the dict's order, so a declared
space and the same `suggest_*` calls written by hand sample exactly the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perennia.errors import InvalidInput
from perennia.store.validation import validate_key

_KINDS = ("float", "int", "categorical")
_EXAMPLE = '("float", 1e-3, 10, {"log": True}), ("int", 2, 8) or ("categorical", ["a", "b"])'


def check_space(space: Any) -> dict[str, Any]:
    """Return the space as {name: optuna distribution}, or raise InvalidInput naming the bad entry."""
    if space is None:
        return {}
    if not isinstance(space, Mapping):
        raise InvalidInput(
            f"space must be a dict of parameter name to distribution, got {type(space).__name__}"
        )
    return {_name(name): _distribution(name, entry) for name, entry in space.items()}


def suggest(trial: Any, distributions: dict[str, Any]) -> dict[str, Any]:
    """Return {name: value} suggested by `trial` for every declared distribution, in order."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    params: dict[str, Any] = {}
    for name, dist in distributions.items():
        # The public suggest_* calls, not trial._suggest: identical draws to hand-written code.
        if isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        elif isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        else:  # pragma: no cover - check_space admits only the three kinds
            raise InvalidInput(f"space entry {name!r} has an unsupported distribution {dist!r}")
    return params


def _name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"space keys must be parameter names (str), got {name!r}")
    return validate_key(name, "space parameter name")


def _distribution(name: str, entry: Any) -> Any:
    """Return the Optuna distribution an entry declares (built by Optuna, so its checks apply)."""
    from optuna import distributions as od

    if isinstance(entry, od.FloatDistribution | od.IntDistribution | od.CategoricalDistribution):
        return entry
    if isinstance(entry, od.BaseDistribution):
        raise InvalidInput(
            f"space entry {name!r} is a {type(entry).__name__}; use FloatDistribution, "
            "IntDistribution or CategoricalDistribution"
        )
    if not isinstance(entry, tuple | list) or not entry or entry[0] not in _KINDS:
        raise InvalidInput(
            f"space entry {name!r} is not a distribution: got {entry!r:.80}; use {_EXAMPLE} "
            "or an optuna.distributions object"
        )
    kind, *rest = entry
    try:
        if kind == "categorical":
            return _categorical(name, rest)
        return _numeric(name, kind, rest)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"space entry {name!r} {entry!r:.80} is invalid: {error}") from None


def _categorical(name: str, rest: list[Any]) -> Any:
    from optuna.distributions import CategoricalDistribution

    if len(rest) != 1 or isinstance(rest[0], str | bytes) or not hasattr(rest[0], "__iter__"):
        raise InvalidInput(
            f'space entry {name!r} needs one list of choices: ("categorical", ["a", "b"])'
        )
    choices = tuple(rest[0])
    if not choices:
        raise InvalidInput(f"space entry {name!r} has no choices; give at least one")
    return CategoricalDistribution(choices)


def _numeric(name: str, kind: str, rest: list[Any]) -> Any:
    from optuna.distributions import FloatDistribution, IntDistribution

    options: dict[str, Any] = {}
    if len(rest) == 3 and isinstance(rest[2], Mapping):
        options = dict(rest[2])
        rest = rest[:2]
    if len(rest) != 2:
        raise InvalidInput(
            f'space entry {name!r} needs ("{kind}", low, high) with an optional dict of '
            '{"log": bool, "step": number}'
        )
    unknown = set(options) - {"log", "step"}
    if unknown:
        raise InvalidInput(
            f"space entry {name!r} has unknown options {sorted(unknown)}; use 'log' or 'step'"
        )
    low, high = rest
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise InvalidInput(f"space entry {name!r} bounds must be numbers, got {bound!r}")
    if kind == "int":
        if not all(isinstance(b, int) for b in (low, high)):
            raise InvalidInput(f"space entry {name!r} is 'int' but its bounds are not integers")
        return IntDistribution(
            low, high, log=options.get("log", False), step=options.get("step", 1)
        )
    return FloatDistribution(
        float(low), float(high), log=options.get("log", False), step=options.get("step")
    )
