"""Routing one request to a variant: weighted, or sticky by a request key; plus its shadows.

An `Endpoint` is an immutable snapshot of what one deployment serves. The server swaps the
whole snapshot when the deployment changes, so a request sees either the old routing or the
new one, never half of each.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from typing import Any


class Endpoint:
    """What one deployment serves right now: live variants with weights, shadows, revision."""

    def __init__(
        self,
        name: str,
        models: dict[str, Any],
        weights: dict[str, float],
        *,
        revision: int = 0,
        sticky_header: str | None = None,
        deployment: Any = None,
    ) -> None:
        self.name = name
        self.models = models  # variant name -> ServedModel (live and shadow)
        self.revision = revision
        self.deployment = deployment
        self.sticky_header = None if sticky_header is None else sticky_header.lower()
        live = [(v, w) for v, w in weights.items() if w > 0 and not models[v].shadow]
        if not live:
            raise ValueError(f"endpoint {name!r} has no variant with traffic")
        self._names = [v for v, _ in live]
        total = sum(w for _, w in live)
        cumulative, running = [], 0.0
        for _, weight in live:
            running += weight / total
            cumulative.append(running)
        cumulative[-1] = 1.0  # no request may fall past the end through rounding
        self._cumulative = cumulative
        self._sticky = None
        if self.sticky_header is not None:
            from perennia.serving.experiments import StickyRouter

            self._sticky = StickyRouter(dict(live), salt=name)
        self.shadows = [m for m in models.values() if m.shadow]
        # The names a request may call this endpoint by: its own and its models'.
        self.names = frozenset({name, *(models[v].name for v in self._names)})

    @property
    def live(self) -> list[Any]:
        """Return the ServedModels that answer requests."""
        return [self.models[v] for v in self._names]

    def pick(self, headers: Mapping[str, str] | None = None) -> Any:
        """Return the ServedModel that answers this request."""
        if len(self._names) == 1:
            return self.models[self._names[0]]
        if self._sticky is not None and headers is not None:
            key = headers.get(self.sticky_header)
            if key:
                return self.models[self._sticky.pick(key)]
        index = bisect.bisect_right(self._cumulative, random.random())
        return self.models[self._names[min(index, len(self._names) - 1)]]

    def by_version(self, version: str) -> Any | None:
        """Return the live model serving `version` (text), or None: shadows answer nobody."""
        for model in self.live:
            if model.version_label == version:
                return model
        return None
