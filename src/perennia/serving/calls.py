"""One prediction through the server, whatever the protocol: route, check, batch, shadow, count.

The protocol modules turn bytes into a `ParsedRequest` and outputs back into bytes; everything
between (which variant answers, the signature check, batching, the shadow copy, metrics) is
here once, so MLflow's `/invocations`, the Open Inference Protocol and the Lambda handler
behave the same.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput, NotFound, PerenniaError
from perennia.serving.served_model import Item

logger = logging.getLogger(__name__)


class Unavailable(PerenniaError):
    """The server has nothing loaded yet (HTTP 503)."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


@dataclass
class Answer:
    """What a prediction produced and who produced it."""

    outputs: Any
    request_id: str
    served: Any  # the ServedModel that answered
    parsed: Any  # the request as read and checked


def status_of(error: BaseException) -> int:
    """Return the HTTP status an error of a prediction call becomes (500 unless it says)."""
    return error.http_status if isinstance(error, PerenniaError) else 500


def pick_model(
    state: Any,
    headers: Mapping[str, str],
    name: str | None,
    version: str | None,
    *,
    routed: bool = True,
) -> Any:
    """Return the ServedModel for this request: the named version when asked, else routed
    (or, with `routed=False`, the first live variant: the stable one, for metadata)."""
    endpoint = state.pool.endpoint
    if endpoint is None:
        raise Unavailable("the model is still loading")
    if name is not None and name not in endpoint.names:
        raise NotFound(f"model {name!r} is not served here; this server serves {endpoint.name!r}")
    if version is None:
        return endpoint.pick(headers) if routed else endpoint.live[0]
    served = endpoint.by_version(version)
    if served is None:
        versions = sorted({m.version_label for m in endpoint.live})
        raise NotFound(
            f"version {version!r} of {endpoint.name!r} is not served; served: {versions}"
        )
    return served


async def predict(
    state: Any,
    parse: Callable[[Any], Any],
    headers: Mapping[str, str],
    *,
    protocol: str,
    name: str | None = None,
    version: str | None = None,
) -> Answer:
    """Return the answer to one request (parsed, routed, checked, batched, shadowed, counted).

    `parse(signature)` reads the body: the signature of the variant picked to answer is passed
    so a CSV's text columns can stay text.
    """
    started = time.perf_counter()
    served = None
    request_id = uuid.uuid4().hex  # ours, unique; OIP's own "id" is echoed as given
    try:
        served = pick_model(state, headers, name, version)
        parsed = _checked(served, parse(served.signature))
        outputs = await served.predict(Item(parsed, request_id, started))
    except BaseException as error:
        _count(state, served, protocol, status_of(error), started, error)
        if served is not None and isinstance(error, Exception):
            # For the error's headers: who refused it, and the id its logged rows carry.
            error.served, error.request_id = served, request_id  # type: ignore[attr-defined]
        raise
    _count(state, served, protocol, 200, started)
    _shadow(state, parsed, request_id, started)
    return Answer(outputs, request_id, served, parsed)


def _checked(served: Any, parsed: Any) -> Any:
    if parsed.n_rows == 0:
        # Models refuse an empty batch with their own error, which would read as a 500.
        raise InvalidInput("the request holds no rows; send at least one row to predict")
    if served.signature is None:
        return parsed
    from perennia.serving.inputs import check_columns

    return check_columns(served.signature, parsed)


def _count(
    state: Any, served: Any, protocol: str, status: int, started: float, error: Any = None
) -> None:
    if served is None:
        return
    labels = (served.name, served.version_label, served.variant)
    state.metrics.observe_request(*labels, protocol, status, time.perf_counter() - started)
    if error is not None:
        state.metrics.observe_error(*labels, error_kind(error, status))


def error_kind(error: BaseException, status: int) -> str:
    """Return the `kind` label of a failed request in the errors metric."""
    from perennia.serving.batching import Overloaded

    if isinstance(error, Overloaded):
        return "overloaded"
    if status in (401, 403):
        return "unauthorized"
    if status == 404:
        return "not_found"
    if status < 500:
        return "invalid_input"
    return "internal"


def _shadow(state: Any, parsed: Any, request_id: str, started: float) -> None:
    endpoint = state.pool.endpoint
    if endpoint is None or not endpoint.shadows:
        return
    for shadow in endpoint.shadows:
        # Queued without waiting: the shadow predicts its copies in large batches later, and
        # its answers are logged (shadow=True), never returned.
        if not shadow.batcher.put(Item(parsed, request_id, started)):
            state.metrics.observe_shadow_skipped(shadow.name, shadow.version_label)
