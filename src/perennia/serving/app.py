"""The inference server: one Starlette app speaking MLflow's scoring protocol and OIP v2.

Routes:
  MLflow:  GET /ping, /health, /version; POST /invocations
  OIP v2:  GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}][/ready];
           POST /v2/models/{name}[/versions/{v}]/infer
  Perennia: GET /metrics (Prometheus); POST /feedback (delayed labels by prediction id);
           POST /explain (per-row attributions, same bodies as /invocations)

Every answer carries `Perennia-Request-Id` (its rows' prediction ids are `<request id>-<row>`),
`Perennia-Variant` and `Perennia-Model-Version`.
"""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager
from typing import Any

from perennia.errors import InvalidInput
from perennia.serving.config import ServeConfig
from perennia.serving.state import ServingState

logger = logging.getLogger(__name__)


def create_app(config: ServeConfig) -> Any:
    """Return the ASGI app serving what `config` names."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from perennia.serving import explain_routes, inference_routes, scoring_routes

    # The model predicts in a worker thread while the event loop parses and answers; with
    # Python's default 5 ms switch interval the loop waits that long for the GIL whenever a
    # predict holds it, which measured 25% of throughput at 8 clients. 1 ms keeps both moving.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
    state = ServingState(config)

    @asynccontextmanager
    async def lifespan(app: Any):
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    routes = [
        *scoring_routes.routes(state),
        *inference_routes.routes(state),
        *explain_routes.routes(state),
        Route("/metrics", _metrics(state), methods=["GET"]),
        Route("/feedback", _feedback(state), methods=["POST"]),
    ]
    middleware = []
    if config.auth:
        from starlette.middleware import Middleware

        from perennia.serving.signin import SignInMiddleware

        middleware.append(Middleware(SignInMiddleware, state=state))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.serving = state
    return app


def app_from_env() -> Any:
    """Return the app for a uvicorn worker, configured by `perennia serve` (its factory)."""
    return create_app(ServeConfig.from_env())


async def read_body(state: ServingState, request: Any) -> bytes:
    """Return the request body, refusing one over the size limit without reading it all."""
    from perennia.serving.protocols.request import ProtocolError

    limit = state.config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(f"the body is {declared} bytes; the limit is {limit}", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"the body exceeds the limit of {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def answer_headers(answer: Any) -> dict[str, str]:
    """Return the headers naming the request id, variant and model version of an answer."""
    return {
        "perennia-request-id": answer.request_id,
        "perennia-variant": answer.served.variant,
        "perennia-model-version": answer.served.version_label,
    }


def error_headers(error: BaseException) -> dict[str, str]:
    """Return the request id, variant and version headers of a failed call, when a variant
    was picked (the rows a model refused are in the prediction log under that id)."""
    served = getattr(error, "served", None)
    if served is None:
        return {}
    return {
        "perennia-request-id": error.request_id,  # type: ignore[attr-defined]
        "perennia-variant": served.variant,
        "perennia-model-version": served.version_label,
    }


def _metrics(state: ServingState) -> Any:
    from starlette.responses import Response

    async def metrics(request: Any) -> Any:
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    return metrics


def _feedback(state: ServingState) -> Any:
    import json

    from starlette.responses import JSONResponse

    from perennia.serving.calls import status_of

    async def feedback(request: Any) -> Any:
        try:
            if state.log is None:
                raise InvalidInput("this server keeps no prediction log (start it with --log)")
            items = _feedback_items(json.loads(await read_body(state, request) or b"null"))
            deployment = state.pool.endpoint.name if state.pool.endpoint else None
            from starlette.concurrency import run_in_threadpool

            from perennia.data.predlog import record_feedback

            count = await run_in_threadpool(
                record_feedback, state.config.log_location, items, deployment=deployment
            )
        except ValueError as error:  # bad JSON
            return JSONResponse({"error": f"the body is not JSON: {error}"}, status_code=400)
        except Exception as error:
            return JSONResponse({"error": str(error)}, status_code=status_of(error))
        return JSONResponse({"recorded": count})

    return feedback


def _feedback_items(body: Any) -> list[tuple[str, Any]]:
    """Return (prediction id, ground truth) pairs from one item or a list under "feedback"."""
    if isinstance(body, dict) and "feedback" in body:
        body = body["feedback"]
    rows = body if isinstance(body, list) else [body]
    items = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or "prediction_id" not in row or "ground_truth" not in row:
            raise InvalidInput(
                f"feedback item {index} needs 'prediction_id' and 'ground_truth', got {row!r:.100}"
            )
        items.append((row["prediction_id"], row["ground_truth"]))
    if not items:
        raise InvalidInput("feedback needs at least one item")
    return items
