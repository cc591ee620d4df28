"""`POST /explain`: per-row attributions from the model version that would answer the request.

The body is anything `/invocations` accepts (JSON `dataframe_split`, `dataframe_records`,
`instances` or `inputs`, CSV, Parquet), read by the same parser and checked against the same
signature. The answer is `Attributions.to_dict()`: `{"attributions": [[...]], "base_values":
[...], "feature_names": [...], "method": "...", "output": "..."}` (and `classes` for
multiclass models), with the `Perennia-Variant` and `Perennia-Model-Version` headers.

Explaining costs far more than predicting (TreeSHAP walks every path; model-agnostic SHAP
predicts the row against every background row per coalition), so a request holds at most
`ServeConfig.explain_max_rows` rows (413 beyond) and runs in a worker thread. Methods that
compare with background rows use the input example saved with the model; a model that needs
one and has none is refused with 422, as is a model whose output is not numeric.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from perennia.errors import InvalidInput, TooLarge

# Errors a model raises for input it cannot take: a 400 naming what it said, as /invocations.
INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)


def routes(state: Any) -> list[Any]:
    """Return the Starlette route of `POST /explain`."""
    from starlette.routing import Route

    return [Route("/explain", _explain(state), methods=["POST"])]


def _explain(state: Any) -> Any:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from perennia.serving.app import read_body
    from perennia.serving.calls import pick_model, status_of
    from perennia.serving.protocols import mlflow_scoring
    from perennia.serving.protocols.request import dumps

    backgrounds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def explain(request: Any) -> Any:
        started = time.perf_counter()
        served = None
        try:
            body = await read_body(state, request)
            served = pick_model(state, request.headers, None, None)
            parsed = mlflow_scoring.parse(
                body, request.headers.get("content-type"), signature=served.signature
            )
            checked = _checked(served, parsed, state.config.explain_max_rows)
            answer = await run_in_threadpool(_attribute, served, checked, backgrounds)
        except Exception as error:
            status, payload, media = mlflow_scoring.error_response(error)
            _count(state, served, status_of(error), started)
            return Response(payload, status_code=status_of(error), media_type=media)
        _count(state, served, 200, started)
        headers = {
            "perennia-variant": served.variant,
            "perennia-model-version": served.version_label,
        }
        return Response(dumps(answer), media_type="application/json", headers=headers)

    return explain


def _checked(served: Any, parsed: Any, limit: int) -> Any:
    """Return the request checked against the signature, or raise for no rows or too many."""
    from perennia.serving.inputs import check_columns

    if parsed.n_rows == 0:
        raise InvalidInput("the request holds no rows; send at least one row to explain")
    if parsed.n_rows > limit:
        raise TooLarge(
            f"the request holds {parsed.n_rows} rows; /explain takes at most {limit} per "
            "request (explanations are expensive): send them in smaller requests"
        )
    return check_columns(served.signature, parsed)


def _attribute(served: Any, parsed: Any, backgrounds: Any) -> dict[str, Any]:
    """Return the attributions of the request's rows as JSON-ready data (in a worker thread)."""
    from perennia.evaluate.explain import NEEDS_BACKGROUND, attributions, method_for
    from perennia.evaluate.explain.model_access import CannotExplain
    from perennia.serving.rows import join_inputs

    model = served.loaded
    rows = join_inputs([parsed], served.columns)
    background = None
    if method_for(model) in NEEDS_BACKGROUND:
        if served not in backgrounds:
            backgrounds[served] = model.input_example
        background = backgrounds[served]
        if background is None:
            raise CannotExplain(
                f"{served.name} needs background rows to be explained and was saved without "
                "an input example; save it with input_example= (a few typical rows)"
            )
    try:
        return attributions(model, rows, background=background).to_dict()
    except INPUT_ERRORS as error:
        raise InvalidInput(f"the model could not explain this input: {error}") from None


def _count(state: Any, served: Any, status: int, started: float) -> None:
    if served is None:
        return
    state.metrics.observe_request(
        served.name,
        served.version_label,
        served.variant,
        "explain",
        status,
        time.perf_counter() - started,
    )
