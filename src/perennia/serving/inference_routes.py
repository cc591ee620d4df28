"""The Open Inference Protocol v2 (KServe, Triton, MLServer): health, metadata and infer.

Readiness answers 200 `{"ready": true}` or 503 `{"ready": false}`: the status code is what
probes read (see serving.md on the spec's copy error). Infer takes tensors, a table
(`parameters.content_type = "pd"`), and the binary tensor extension.
"""

from __future__ import annotations

from typing import Any

from perennia._version import __version__

SERVER_NAME = "perennia"


def routes(state: Any) -> list[Any]:
    """Return the Starlette routes of the Open Inference Protocol v2."""
    from starlette.routing import Route

    return [
        Route("/v2", _server_metadata, methods=["GET"]),
        Route("/v2/health/live", _live, methods=["GET"]),
        Route("/v2/health/ready", _ready(state), methods=["GET"]),
        Route("/v2/models/{name}", _metadata(state), methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", _metadata(state), methods=["GET"]),
        Route("/v2/models/{name}/ready", _model_ready(state), methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", _model_ready(state), methods=["GET"]),
        Route("/v2/models/{name}/infer", _infer(state), methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", _infer(state), methods=["POST"]),
    ]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(data, status_code=status, headers=headers)


def _error(error: BaseException) -> Any:
    from starlette.responses import Response

    from perennia.serving.app import error_headers
    from perennia.serving.calls import status_of
    from perennia.serving.protocols import open_inference

    return Response(
        open_inference.error_body(str(error)),
        status_code=status_of(error),
        media_type="application/json",
        headers=error_headers(error),
    )


async def _server_metadata(request: Any) -> Any:
    from perennia.serving.protocols import oip_metadata

    return _json(oip_metadata.server_metadata(SERVER_NAME, __version__))


async def _live(request: Any) -> Any:
    return _json({"live": True})


def _ready(state: Any) -> Any:
    async def ready(request: Any) -> Any:
        is_ready = state.pool.endpoint is not None
        return _json({"ready": is_ready}, 200 if is_ready else 503)

    return ready


def _metadata(state: Any) -> Any:
    from perennia.serving.calls import pick_model
    from perennia.serving.protocols import oip_metadata

    async def metadata(request: Any) -> Any:
        params = request.path_params
        try:
            served = pick_model(
                state, request.headers, params["name"], params.get("version"), routed=False
            )
        except Exception as error:
            return _error(error)
        endpoint = state.pool.endpoint
        versions = sorted({m.version_label for m in endpoint.live if m.version_label})
        body = oip_metadata.model_metadata(
            params["name"], versions, served.signature, _platform(served)
        )
        return _json(body)

    return metadata


def _platform(served: Any) -> str:
    manifest = served.loaded.metadata
    return f"{manifest.framework}_{manifest.flavor}"


def _model_ready(state: Any) -> Any:
    from perennia.serving.calls import Unavailable, pick_model

    async def model_ready(request: Any) -> Any:
        params = request.path_params
        try:
            pick_model(state, request.headers, params["name"], params.get("version"))
        except Exception as error:
            if isinstance(error, Unavailable):
                return _json({"name": params["name"], "ready": False}, 503)
            return _error(error)
        return _json({"name": params["name"], "ready": True})

    return model_ready


def _infer(state: Any) -> Any:
    from starlette.responses import Response

    from perennia.serving.app import answer_headers, read_body
    from perennia.serving.calls import predict
    from perennia.serving.protocols import open_inference

    async def infer(request: Any) -> Any:
        params = request.path_params
        try:
            body = await read_body(state, request)
            answer = await predict(
                state,
                # Parsed inside `predict`, so a malformed body is counted in the metrics as
                # it is on /invocations.
                lambda signature: open_inference.parse_infer(body, request.headers),
                request.headers,
                protocol="oip",
                name=params["name"],
                version=params.get("version"),
            )
            parsed = answer.parsed
            payload, extra = open_inference.encode_infer(
                params["name"],
                answer.served.version_label,
                parsed.request_id or answer.request_id,
                answer.outputs,
                binary=parsed.binary_outputs,
                requested=parsed.outputs,
            )
        except Exception as error:
            return _error(error)
        headers = {**answer_headers(answer), **extra}
        return Response(payload, media_type="application/json", headers=headers)

    return infer
