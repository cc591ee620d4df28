"""The server's current endpoint, swapped without dropping a request.

A new deployment state loads its new versions beside the ones serving (in a worker thread, so
requests keep flowing), then replaces the endpoint snapshot in one assignment. Variants that
did not change keep their loaded model and batcher. A model no longer routed to is closed only
after its queued requests finish, so in-flight requests complete on the version they started on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from perennia.serving.loader import LoadedVersion, LoadOptions, load_uri, load_version
from perennia.serving.routing import Endpoint
from perennia.serving.served_model import ServedModel

logger = logging.getLogger(__name__)


class EndpointPool:
    """Holds the endpoint requests are routed through, and changes it safely."""

    def __init__(
        self,
        options: LoadOptions,
        *,
        log: Any = None,
        metrics: Any = None,
        batching: Any = None,
        shadow_processes: bool = False,
    ) -> None:
        self.options = options
        self.shadow_processes = shadow_processes  # shadows predict in child processes
        self.log = log
        self.metrics = metrics
        self.batching = batching  # a BatchingConfig that overrides the deployment's, or None
        self.endpoint: Endpoint | None = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task] = set()

    async def serve_uri(self, uri: str, *, name: str | None = None) -> Endpoint:
        """Load the model at `uri` as the endpoint's only variant; return the endpoint."""
        loaded: LoadedVersion = await asyncio.to_thread(load_uri, uri, self.options)
        endpoint_name = name or loaded.name
        model = self._served(loaded, "default", endpoint_name, False, self.batching)
        endpoint = Endpoint(endpoint_name, {"default": model}, {"default": 100.0})
        await self._install(endpoint)
        return endpoint

    async def apply(self, deployment: Any) -> bool:
        """Route through `deployment`'s variants from now on; return False if nothing changed."""
        async with self._lock:
            current = self.endpoint
            if current is not None and current.revision == deployment.revision:
                return False
            models = await self._models_for(deployment, current)
            weights = {v.name: (0.0 if v.shadow else v.weight) for v in deployment.variants}
            endpoint = Endpoint(
                deployment.name,
                models,
                weights,
                revision=deployment.revision,
                sticky_header=deployment.sticky_header,
                deployment=deployment,
            )
            await self._install(endpoint)
            return True

    async def _models_for(self, deployment: Any, current: Endpoint | None) -> dict[str, Any]:
        batching = self.batching or deployment.batching
        served_now = {} if current is None else current.models
        # A version already in memory under another variant (a canary being promoted to
        # stable) is wrapped again, not downloaded and digest-checked a second time.
        in_memory = {m.version: m for m in served_now.values() if m.loaded is not None}
        models: dict[str, Any] = {}
        for variant in deployment.variants:
            old = served_now.get(variant.name)
            if (
                old is not None
                and old.version == variant.version
                and old.shadow == variant.shadow
                and old.batching == batching
            ):
                models[variant.name] = old
                continue
            spec = self._shadow_spec(deployment, variant) if variant.shadow else None
            known = in_memory.get(variant.version)
            if spec is not None:  # the child process loads it; this one never predicts with it
                loaded = LoadedVersion(None, deployment.model_name, variant.version)
            elif known is not None:
                loaded = LoadedVersion(known.loaded, known.name, known.version)
            else:
                loaded = await asyncio.to_thread(
                    load_version, deployment.model_name, variant.version, self.options
                )
            models[variant.name] = self._served(
                loaded, variant.name, deployment.name, variant.shadow, batching, spec
            )
        return models

    def _shadow_spec(self, deployment: Any, variant: Any) -> Any:
        if not self.shadow_processes:
            return None
        from perennia.serving.shadow_process import ShadowSpec

        location = None if self.log is None else self.log.location
        return ShadowSpec(
            deployment.model_name,
            variant.version,
            variant.name,
            deployment.name,
            self.options,
            location,
        )

    def _served(
        self,
        loaded: LoadedVersion,
        variant: str,
        deployment: str,
        shadow: bool,
        batching: Any,
        shadow_spec: Any = None,
    ) -> ServedModel:
        return ServedModel(
            loaded.model,
            name=loaded.name,
            version=loaded.version,
            variant=variant,
            deployment=deployment,
            shadow=shadow,
            batching=batching,
            log=self.log,
            metrics=self.metrics,
            shadow_spec=shadow_spec,
        )

    async def _install(self, endpoint: Endpoint) -> None:
        old, self.endpoint = self.endpoint, endpoint
        kept = {id(m) for m in endpoint.models.values()}
        retired = [] if old is None else [m for m in old.models.values() if id(m) not in kept]
        for model in retired:
            task = asyncio.create_task(model.close())  # drains its queue, then stops
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if self.metrics is not None:
            for name, model in endpoint.models.items():
                self.metrics.set_loaded(model.name, model.version_label, name, True)
            for model in retired:
                self.metrics.set_loaded(model.name, model.version_label, model.variant, False)
        logger.info("serving %s (revision %s)", endpoint.name, endpoint.revision)

    async def close(self) -> None:
        """Finish every queued request and stop all batchers."""
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            await asyncio.gather(*(m.close() for m in endpoint.models.values()))
        if self._closing:
            await asyncio.gather(*self._closing)
