"""The inference server's shared state: the endpoint pool, metrics, prediction log and sign-in.

One `ServingState` lives per worker process. Nothing in it is the source of truth for a
deployment: that is the store, which every replica re-reads (`watch`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from perennia.errors import InvalidInput, Unauthenticated
from perennia.serving.config import ServeConfig
from perennia.serving.loader import LoadOptions
from perennia.serving.pool import EndpointPool

logger = logging.getLogger(__name__)

_TOKEN_TTL_S = 30.0  # a revoked token stops working within this long


class ServingState:
    """Everything a worker's request handlers share."""

    def __init__(self, config: ServeConfig) -> None:
        from perennia.serving.metrics import ServingMetrics

        self.config = config
        self.metrics = ServingMetrics()
        self.log = None
        if config.log_location:
            from perennia.data.predlog import PredictionLogWriter

            self.log = PredictionLogWriter(
                config.log_location, max_queued_rows=config.log_queue_rows
            )
        options = LoadOptions(config.tracking_uri, config.allow_pickle, config.trusted_types)
        self.pool = EndpointPool(
            options,
            log=self.log,
            metrics=self.metrics,
            batching=config.batching,
            shadow_processes=config.shadow_process,
        )
        self._store: Any = None
        self._tokens: dict[str, tuple[float, Any]] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def store(self) -> Any:
        """Return the metadata store (opened on first use)."""
        if self._store is None:
            from perennia.config import Settings
            from perennia.store import open_store

            settings = Settings.from_env().with_overrides(tracking_uri=self.config.tracking_uri)
            self._store = open_store(
                settings.resolved_tracking_uri(), token=settings.tracking_token
            )
        return self._store

    async def start(self) -> None:
        """Load what the server serves; in deployment mode also start watching the store."""
        if self.config.model_uri is not None:
            await self.pool.serve_uri(self.config.model_uri, name=self.config.name)
            settle_heap()
            return
        deployment = await asyncio.to_thread(self.store.deployments.get, self.config.deployment)
        await self.pool.apply(deployment)
        settle_heap()
        self.spawn(self._watch())
        if self.config.controller:
            self.spawn(self._control())

    def spawn(self, coroutine: Any) -> None:
        """Run `coroutine` in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self) -> None:
        name = self.config.deployment
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                deployment = await asyncio.to_thread(self.store.deployments.get, name)
                await self.pool.apply(deployment)
            except Exception as error:  # the old endpoint keeps serving; try again next poll
                logger.warning("deployment %s not applied: %s", name, error)

    async def _control(self) -> None:
        from perennia.serving.rollout import advance

        while True:
            await asyncio.sleep(self.config.analysis_interval_s)
            if self.log is None:
                continue
            try:
                await asyncio.to_thread(self.log.flush)
                await asyncio.to_thread(
                    advance,
                    self.store,
                    self.config.deployment,
                    self.config.log_location,
                    no_data_after_s=self.config.no_data_after_s,
                )
            except Exception as error:
                logger.warning("rollout of %s not advanced: %s", self.config.deployment, error)

    async def stop(self) -> None:
        """Finish queued requests, flush the prediction log, release the store."""
        for task in list(self._tasks):
            task.cancel()
        await self.pool.close()
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
        if self._store is not None:
            self._store.close()

    def token_cached(self, authorization: str | None) -> bool:
        """Return True when this credential's verdict is cached (no store call needed)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return True  # refused without asking anyone
        cached = self._tokens.get(authorization[7:].strip())
        return cached is not None and cached[0] > time.monotonic()

    def authenticate(self, authorization: str | None) -> None:
        """Raise Unauthenticated (401) unless sign-in is off or the bearer token is live."""
        if not self.config.auth:
            return
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("this server needs 'Authorization: Bearer <token>'")
        secret = authorization[7:].strip()
        now = time.monotonic()
        cached = self._tokens.get(secret)
        if cached is not None and cached[0] > now:
            user = cached[1]
        else:
            users = getattr(self.store, "users", None)
            if users is None:
                raise InvalidInput(
                    "sign-in needs a database store (--tracking-uri sqlite:// or postgresql://)"
                )
            user = users.authenticate_token(secret)
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[secret] = (now + _TOKEN_TTL_S, user)
        if user is None:
            raise Unauthenticated("the bearer token is not a live Perennia token")


def settle_heap() -> None:
    """Move everything loaded so far out of the garbage collector's sight.

    The modules and the model (pandas, scikit-learn, the estimator) are hundreds of thousands
    of objects that live as long as the server; every full collection walked them all, which
    showed as the slowest requests' latency. Frozen, a collection only looks at what requests
    allocate.
    """
    import gc

    gc.collect()
    gc.freeze()
