"""One loaded model version behind the server: its batcher, its prediction log and its counters.

Requests arrive as `ParsedRequest`s (one table or tensor each). The batcher hands a list of
them to `run`, in a worker thread: the tables are joined column by column into one frame, the
model predicts once, and the answer is cut back into one slice per request. Every batch is
also written to the prediction log, with the rows' ids and latencies, off the response path.

A batch that fails is retried one request at a time, so a request the model cannot take fails
alone instead of taking its neighbours down with it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput

logger = logging.getLogger(__name__)

# Exceptions a model raises for input it cannot take; they become a 400, anything else a 500.
INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)


class ModelFailure(Exception):
    """The model raised on input that passed the signature checks (an HTTP 500)."""


@dataclass
class Item:
    """One request waiting in a batch: its input, ids and arrival time."""

    parsed: Any  # ParsedRequest
    request_id: str
    received: float  # time.perf_counter() at arrival
    prediction_ids: list[str] = field(default_factory=list)


class ServedModel:
    """A model version loaded for one variant of an endpoint, with its own batcher."""

    def __init__(
        self,
        loaded: Any,
        *,
        name: str,
        version: int | None,
        variant: str,
        deployment: str,
        shadow: bool = False,
        batching: Any = None,
        log: Any = None,
        metrics: Any = None,
        shadow_spec: Any = None,
    ) -> None:
        from perennia.entities import BatchingConfig

        self.loaded = loaded
        self.name = name
        self.version = version
        self.variant = variant
        self.deployment = deployment
        self.shadow = shadow
        self.log = log
        self.metrics = metrics
        # A shadow that predicts in its own process is never loaded here (`loaded` is None).
        self.signature = None if loaded is None else loaded.signature
        self.columns = _input_columns(self.signature)
        self.batching = batching or BatchingConfig()
        self.shadow_spec = shadow_spec  # a ShadowSpec: this shadow predicts in its own process
        self.batcher = self._batcher(self.batching)

    @property
    def batchable(self) -> bool:
        """Return False for a model whose package says its rows must not be predicted together
        (`metadata={"batchable": False}` at save time: stateful or per-request models)."""
        return (getattr(self.loaded.metadata, "metadata", None) or {}).get("batchable") is not False

    @property
    def version_label(self) -> str:
        """Return the version as text ("" when the model is not a registered version)."""
        return "" if self.version is None else str(self.version)

    def _batcher(self, config: Any) -> Any:
        from perennia.serving.batching import AdaptiveBatcher, DirectRunner

        label = f"{self.name}/{self.version_label}/{self.variant}"
        hooks: dict[str, Any] = {}
        if self.metrics is not None:
            hooks["on_batch"] = self.metrics.batch_hook(self.name, self.version_label)
        if self.shadow and self.shadow_spec is not None:
            from perennia.serving.shadow_process import ShadowProcess

            return ShadowProcess(self.shadow_spec)
        if self.shadow:
            import asyncio
            import functools

            from perennia.serving.shadow_runner import ShadowRunner

            # Predicted off the event loop, in a worker thread.
            return ShadowRunner(
                functools.partial(asyncio.to_thread, self.run_copies), size_of=_rows, **hooks
            )
        if not config.enabled or config.max_batch_size <= 1 or not self.batchable:
            batcher = DirectRunner(self.run, size_of=_rows, name=label, **hooks)
        else:
            if self.metrics is not None:
                hooks["on_shed"] = self.metrics.shed_hook(self.name, self.version_label)
            batcher = AdaptiveBatcher(
                self.run,
                max_batch_size=config.max_batch_size,
                max_wait_ms=config.max_wait_ms,
                deadline_ms=config.deadline_ms,
                size_of=_rows,
                name=label,
                **hooks,
            )
        if self.metrics is not None and not self.shadow:
            self.metrics.watch(self.name, self.version_label, batcher.stats)
        return batcher

    async def predict(self, item: Item) -> Any:
        """Return the model's outputs for one request (batched with others when it pays)."""
        result = await self.batcher.submit(item)
        if isinstance(result, BaseException):
            raise result
        return result

    def run_copies(self, items: list[Item]) -> list[Any]:
        """Return a shadow's outputs for copies of live requests (checked here, off the loop)."""
        from perennia.serving.inputs import check_columns

        checked = []
        for item in items:
            try:
                if self.signature is not None:
                    item.parsed = check_columns(self.signature, item.parsed)
                checked.append(item)
            except InvalidInput:
                continue  # the primary accepted it; this version's signature does not
        return self.run(checked) if checked else []

    def run(self, items: list[Item]) -> list[Any]:
        """Return one output (or the exception that request raised) per item, in order."""
        alone = len(items) == 1
        try:
            # A batch that fails is not logged: its requests are retried one by one below,
            # and each is logged once, with its own outcome.
            return self._run(items, log_failure=alone)
        except Exception as error:  # noqa: BLE001 - sorted out per request below
            if alone:
                return [self._failure(error)]
            return [self._run_alone(item) for item in items]

    def _run_alone(self, item: Item) -> Any:
        try:
            return self._run([item], log_failure=True)[0]
        except Exception as error:  # noqa: BLE001 - this request's own failure
            return self._failure(error)

    def _failure(self, error: Exception) -> Exception:
        """Return what the caller sees: a 400 for input the model refused, else a 500."""
        if isinstance(error, InvalidInput):
            return error
        # As `mlflow models serve` does: a model that raises a ValueError, TypeError, KeyError
        # or IndexError on a row (an unknown category, a NaN it cannot take) is refusing that
        # input, which is a 400 naming what it said. Anything else is the model's fault: 500.
        # Either way the rows are logged as failed, which is what canary analysis counts.
        if isinstance(error, INPUT_ERRORS):
            return InvalidInput(f"the model could not use this input: {error}")
        return ModelFailure(f"the model failed: {type(error).__name__}: {error}")

    def _run(self, items: list[Item], *, log_failure: bool) -> list[Any]:
        from perennia.serving.rows import join_inputs, split_outputs

        inputs = join_inputs([item.parsed for item in items], self.columns)
        try:
            outputs = self.loaded.predict(inputs)
            pieces = split_outputs(outputs, [item.parsed.n_rows for item in items])
        except Exception as error:
            if log_failure:
                self._log(items, inputs, None, error)
            raise
        self._log(items, inputs, outputs, None)
        return pieces

    def _log(self, items: list[Item], inputs: Any, outputs: Any, error: Any) -> None:
        if self.log is None:
            return
        now = time.perf_counter()
        try:
            from perennia.serving.predictions import prediction_batch

            batch = prediction_batch(self, items, inputs, outputs, error, now)
            if not self.log.record(batch) and self.metrics is not None:
                self.metrics.observe_log_dropped(sum(i.parsed.n_rows for i in items))
        except Exception:  # logging must never fail a prediction
            logger.exception("could not queue predictions for the log")

    async def close(self) -> None:
        """Finish the requests already queued, then stop the batcher."""
        await self.batcher.close()
        if self.metrics is not None and not self.shadow:
            self.metrics.unwatch(self.name, self.version_label)


def _rows(item: Item) -> int:
    return item.parsed.n_rows


def _input_columns(signature: Any) -> list[str] | None:
    if signature is None or signature.input_kind != "dataframe":
        return None
    return [spec.name for spec in signature.inputs]
