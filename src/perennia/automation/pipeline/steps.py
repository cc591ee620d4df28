"""`@step`: a plain Python function with declared outputs, retries, a timeout and caching.

A step's inputs are its parameters: a parameter named like another step's output is a data
dependency, any other comes from the run's params or the function's default. Its outputs are
named by `outputs=` (one name, or several for a tuple return); by default one output named after
the function.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import io
import socket
import threading
import types
import typing
from collections.abc import Callable
from typing import Any

from perennia.errors import InvalidInput

_NAME_HELP = "a Python identifier such as 'train' or 'X_train'"
# Annotations that name values a step can never store: they hold a live resource or code.
_UNSTORABLE_ORIGINS = (
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.Coroutine,
    collections.abc.Awaitable,
    collections.abc.Callable,
)
_UNSTORABLE_TYPES = (
    io.IOBase,
    socket.socket,
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Thread,
    types.GeneratorType,
    types.ModuleType,
    types.FunctionType,
)


@dataclasses.dataclass(frozen=True)
class Step:
    """One step: the function, its output names and how it is retried, timed out and cached."""

    fn: Callable[..., Any]
    name: str
    outputs: tuple[str, ...]
    tuple_return: bool
    metrics: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 1.0
    backoff: float = 2.0
    timeout: float | None = None
    cache: bool = True

    @property
    def inputs(self) -> tuple[str, ...]:
        """Return the function's parameter names, in order."""
        return tuple(inspect.signature(self.fn).parameters)

    def defaults(self) -> dict[str, Any]:
        """Return the parameters that have defaults, with them."""
        return {
            name: p.default
            for name, p in inspect.signature(self.fn).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    def retry_wait(self, attempt: int) -> float:
        """Return the seconds to wait before retry number `attempt` (0 for the first retry)."""
        return self.retry_delay * self.backoff**attempt

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Return what the plain function returns (a step stays callable outside a pipeline)."""
        return self.fn(*args, **kwargs)


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    outputs: str | tuple[str, ...] | list[str] | None = None,
    metrics: str | tuple[str, ...] | list[str] = (),
    retries: int = 0,
    retry_delay: float = 1.0,
    backoff: float = 2.0,
    timeout: float | None = None,
    cache: bool = True,
) -> Any:
    """Return a Step wrapping `fn` (used as `@step` or `@step(outputs=..., retries=...)`)."""

    def wrap(function: Callable[..., Any]) -> Step:
        return make_step(
            function,
            name=name,
            outputs=outputs,
            metrics=metrics,
            retries=retries,
            retry_delay=retry_delay,
            backoff=backoff,
            timeout=timeout,
            cache=cache,
        )

    return wrap(fn) if fn is not None else wrap


def make_step(function: Callable[..., Any], **options: Any) -> Step:
    """Return the Step for `function` after checking every option; InvalidInput names the bad one."""
    if isinstance(function, Step):
        raise InvalidInput(f"{function.name!r} is already a step; apply @step once")
    if not callable(function) or not hasattr(function, "__code__"):
        raise InvalidInput(f"@step wraps a plain Python function, got {type(function).__name__}")
    label = options["name"] or function.__name__
    _check_name(label, "step name")
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise InvalidInput(
            f"step {label!r} is a generator function; a step returns its outputs (a generator "
            "cannot be stored): return a list or a DataFrame instead"
        )
    if inspect.iscoroutinefunction(function):
        raise InvalidInput(f"step {label!r} is async; steps are plain (synchronous) functions")
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise InvalidInput(
                f"step {label!r}: *{parameter.name} is not allowed; name each input so the "
                "pipeline can connect it"
            )
    metrics = _names(options["metrics"], f"step {label!r} metrics")
    declared = options["outputs"]
    if declared is None and metrics:  # @step(metrics="scores"): the metrics are the output
        declared = metrics[0] if len(metrics) == 1 else metrics
    outputs = _outputs(declared, label, function.__name__)
    unknown = sorted(set(metrics) - set(outputs[0]))
    if unknown:
        raise InvalidInput(
            f"step {label!r}: metrics {unknown} are not among its outputs {list(outputs[0])}"
        )
    created = Step(
        fn=function,
        name=label,
        outputs=outputs[0],
        tuple_return=outputs[1],
        metrics=metrics,
        retries=_count(options["retries"], label),
        retry_delay=_seconds(options["retry_delay"], "retry_delay", label, zero=True),
        backoff=_backoff(options["backoff"], label),
        timeout=None
        if options["timeout"] is None
        else _seconds(options["timeout"], "timeout", label, zero=False),
        cache=_flag(options["cache"], label),
    )
    check_return_annotation(created)
    return created


def check_return_annotation(target: Step) -> None:
    """Raise InvalidInput when the step's return annotation names a type no output can store.

    An annotation that cannot be resolved (a name only defined later, or only for type
    checkers) is not checked: the value is still checked when the step returns it.
    """
    try:
        hints = typing.get_type_hints(target.fn)
    except Exception:  # noqa: BLE001 - unresolvable forward references are not an error here
        return
    if "return" not in hints:
        return
    annotation = hints["return"]
    label = ", ".join(target.outputs)
    pairs = [(label, annotation)]
    if target.tuple_return and typing.get_origin(annotation) is tuple:
        parts = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        pairs = (
            list(zip(target.outputs, parts, strict=True))
            if len(parts) == len(target.outputs)
            else [(label, part) for part in parts]
        )
    for output, part in pairs:
        bad = _unstorable(part)
        if bad is not None:
            raise InvalidInput(
                f"step {target.name!r} output {output!r} is annotated {bad}, which cannot be "
                "stored; return a DataFrame, an array, a JSON value, a model or a DatasetVersion"
            )


def _unstorable(annotation: Any) -> str | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            bad = _unstorable(arg)
            if bad is not None:
                return bad
        return None
    candidate = origin or annotation
    if candidate in _UNSTORABLE_ORIGINS:
        return getattr(candidate, "__name__", str(candidate))
    if isinstance(candidate, type) and issubclass(candidate, _UNSTORABLE_TYPES):
        return candidate.__name__
    if candidate is typing.IO or candidate is typing.TextIO or candidate is typing.BinaryIO:
        return "IO"
    return None


def _outputs(value: Any, label: str, function_name: str) -> tuple[tuple[str, ...], bool]:
    if value is None:
        _check_name(function_name, f"step {label!r} output name")
        return (function_name,), False
    if isinstance(value, str):
        _check_name(value, f"step {label!r} output name")
        return (value,), False
    names = _names(value, f"step {label!r} outputs")
    if not names:
        raise InvalidInput(f"step {label!r}: outputs= needs at least one name")
    if len(set(names)) != len(names):
        raise InvalidInput(f"step {label!r}: outputs {list(names)} name one output twice")
    return names, True


def _names(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)):
        raise InvalidInput(f"{what} must be a name or a tuple of names, got {value!r}")
    for item in value:
        _check_name(item, what)
    return tuple(value)


def _check_name(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.isidentifier():
        raise InvalidInput(f"{what} {value!r} must be {_NAME_HELP}")


def _count(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"step {label!r}: retries must be a whole number >= 0, got {value!r}")
    return value


def _seconds(value: Any, field: str, label: str, *, zero: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or value != value or value < 0 or (not zero and value == 0):
        bound = ">= 0" if zero else "> 0"
        raise InvalidInput(
            f"step {label!r}: {field} must be a number of seconds {bound}, got {value!r}"
        )
    return float(value)


def _backoff(value: Any, label: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or value != value or value < 1:
        raise InvalidInput(f"step {label!r}: backoff must be a number >= 1, got {value!r}")
    return float(value)


def _flag(value: Any, label: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"step {label!r}: cache must be True or False, got {value!r}")
    return value
