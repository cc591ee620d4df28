"""MLflow's scoring protocol: `/ping`, `/health`, `/version` and `POST /invocations`.

Same requests, answers and status codes as `mlflow models serve`, so a client written for it
(`mlflow.deployments`, curl scripts, load balancer probes) works unchanged.
"""

from __future__ import annotations

from typing import Any

from perennia._version import __version__


def routes(state: Any) -> list[Any]:
    """Return the Starlette routes of MLflow's scoring protocol."""
    from starlette.routing import Route

    return [
        Route("/ping", _health(state), methods=["GET"]),
        Route("/health", _health(state), methods=["GET"]),
        Route("/version", _version, methods=["GET"]),
        Route("/invocations", _invocations(state), methods=["POST"]),
    ]


def _health(state: Any) -> Any:
    from starlette.responses import Response

    async def health(request: Any) -> Any:
        ready = state.pool.endpoint is not None
        # MLflow answers 200 "\n" when the model is loaded and 404 while it is not.
        return Response("\n", status_code=200 if ready else 404, media_type="application/json")

    return health


async def _version(request: Any) -> Any:
    from starlette.responses import Response

    return Response(__version__, media_type="text/plain")


def _invocations(state: Any) -> Any:
    from starlette.responses import Response

    from perennia.serving.app import answer_headers, error_headers, read_body
    from perennia.serving.calls import predict, status_of
    from perennia.serving.protocols import mlflow_scoring

    async def invocations(request: Any) -> Any:
        try:
            body = await read_body(state, request)
            content_type = request.headers.get("content-type")

            def parse(signature: Any) -> Any:
                return mlflow_scoring.parse(body, content_type, signature=signature)

            answer = await predict(state, parse, request.headers, protocol="mlflow")
            payload = mlflow_scoring.encode_predictions(answer.outputs)
        except Exception as error:
            _, body, media = mlflow_scoring.error_response(error)
            return Response(
                body, status_code=status_of(error), media_type=media, headers=error_headers(error)
            )
        return Response(payload, media_type="application/json", headers=answer_headers(answer))

    return invocations
