"""The pipeline's graph, read from data dependencies: who produces each output, who needs it.

Every check here runs before anything is stored or executed: a cycle, an input nobody provides,
two steps producing one output name, two steps with one name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from perennia.automation.pipeline.steps import Step
from perennia.errors import InvalidInput

_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Graph:
    """Steps by name in a topological order, with each output's producer and each step's edges."""

    steps: dict[str, Step]
    order: tuple[str, ...]
    producer: dict[str, str]  # output name -> step name
    upstream: dict[str, tuple[str, ...]]  # step -> the steps whose outputs it takes
    params: frozenset[str]  # every parameter not fed by an output

    def downstream(self, names: Iterable[str]) -> set[str]:
        """Return `names` and every step that depends on them, directly or not."""
        found = set(names)
        for name in self.order:  # topological: a step's producers come before it
            if any(up in found for up in self.upstream[name]):
                found.add(name)
        return found

    def step_params(self, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Return the plain-value inputs of step `name`: given params, else its defaults."""
        target = self.steps[name]
        defaults = target.defaults()
        out: dict[str, Any] = {}
        for parameter in target.inputs:
            if parameter in self.producer:
                continue
            value = given.get(parameter, defaults.get(parameter, _MISSING))
            if value is not _MISSING:  # build() proved a missing one cannot happen
                out[parameter] = value
        return out


def build(name: str, steps: Iterable[Any]) -> Graph:
    """Return the graph of `steps`, or raise InvalidInput naming the first problem found."""
    by_name: dict[str, Step] = {}
    for item in steps:
        if not isinstance(item, Step):
            raise InvalidInput(
                f"pipeline {name!r}: {item!r:.80} is not a step; decorate the function with @step"
            )
        if item.name in by_name:
            raise InvalidInput(f"pipeline {name!r}: two steps are named {item.name!r}; rename one")
        by_name[item.name] = item
    if not by_name:
        raise InvalidInput(f"pipeline {name!r} has no steps")
    producer = _producers(name, by_name)
    upstream = {
        key: tuple(dict.fromkeys(producer[i] for i in item.inputs if i in producer))
        for key, item in by_name.items()
    }
    for key, ups in upstream.items():
        if key in ups:
            raise InvalidInput(
                f"pipeline {name!r}: cycle: {key} -> {key} (it takes its own output)"
            )
    order = _topological(name, list(by_name), upstream)
    params = frozenset(i for item in by_name.values() for i in item.inputs if i not in producer)
    return Graph(by_name, order, producer, upstream, params)


def check_params(pipeline: str, graph: Graph, given: Mapping[str, Any]) -> None:
    """Raise InvalidInput for an unknown param or an input with no producer, param or default."""
    unknown = sorted(set(given) - graph.params)
    if unknown:
        known = ", ".join(sorted(graph.params)) or "none"
        outputs = [key for key in unknown if key in graph.producer]
        verb = "is" if len(outputs) == 1 else "are"
        why = f" ({', '.join(outputs)} {verb} produced by a step, not a param)" if outputs else ""
        raise InvalidInput(
            f"pipeline {pipeline!r}: unknown param(s) {', '.join(unknown)}{why}; params: {known}"
        )
    for key in graph.order:
        target = graph.steps[key]
        defaults = target.defaults()
        for parameter in target.inputs:
            if parameter in graph.producer or parameter in given or parameter in defaults:
                continue
            raise InvalidInput(
                f"pipeline {pipeline!r}: step {key!r} needs input {parameter!r}, which no step "
                f"produces and has no default; pass params={{'{parameter}': ...}} or add a step "
                f"that outputs it"
            )


def _producers(name: str, steps: dict[str, Step]) -> dict[str, str]:
    producer: dict[str, str] = {}
    for key, item in steps.items():
        for output in item.outputs:
            if output in producer:
                raise InvalidInput(
                    f"pipeline {name!r}: output {output!r} is produced by both "
                    f"{producer[output]!r} and {key!r}; give one a different output name"
                )
            producer[output] = key
    return producer


def _topological(
    name: str, keys: list[str], upstream: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """Return a topological order (declaration order among ready steps), or raise on a cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    order: list[str] = []

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = [*path[path.index(key) :], key]
            raise InvalidInput(f"pipeline {name!r}: cycle: {' -> '.join(cycle)}")
        state[key] = 1
        for up in upstream[key]:
            visit(up, [*path, key])
        state[key] = 2
        order.append(key)

    for key in keys:
        visit(key, [])
    return tuple(order)
