"""MLflow's error texts for the MLflow adapter: the store's errors, reworded as MLflow words them.

MLflow clients and scripts match on MLflow's messages ("Registered Model with name=x not found"),
so the adapter's routes answer with those texts. The status and error code stay the store's;
only the message changes, and only on the MLflow routes (the native API keeps Perennia's texts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from perennia.errors import AlreadyExists, NotFound, PerenniaError

_QUOTED = r"""['"](.+?)['"]"""  # a value as repr() quotes it
# (error class, Perennia's message, MLflow's message with {0}, {1} for the quoted values)
_RULES: list[tuple[type[PerenniaError], re.Pattern[str], str]] = [
    (
        NotFound,
        re.compile(rf"^registered model {_QUOTED} does not exist"),
        "Registered Model with name={0} not found",
    ),
    (
        AlreadyExists,
        re.compile(rf"^registered model {_QUOTED} already exists"),
        "Registered Model (name={0}) already exists.",
    ),
    (
        NotFound,
        re.compile(rf"^registered model {_QUOTED} has no version (\d+)"),
        "Model Version (name={0}, version={1}) not found",
    ),
    (NotFound, re.compile(rf"^run {_QUOTED} does not exist"), "Run with id={0} not found"),
    (
        NotFound,
        re.compile(rf"^experiment {_QUOTED} does not exist"),
        "No Experiment with id={0} exists",
    ),
    (
        AlreadyExists,
        re.compile(rf"^experiment {_QUOTED} already exists"),
        "Experiment(name={0}) already exists.",
    ),
    (
        NotFound,
        re.compile(rf"^logged model {_QUOTED} (?:does not exist|is deleted)"),
        "Logged model with ID '{0}' not found.",
    ),
    (
        NotFound,
        re.compile(rf"^logged model {_QUOTED} has no tag {_QUOTED}"),
        "No tag with key '{1}' found for model with ID '{0}'.",
    ),
]


def mlflow_wording(error: PerenniaError) -> PerenniaError:
    """Return the error with MLflow's text when it is one MLflow words differently, else itself."""
    message = str(error)
    for kind, pattern, text in _RULES:
        match = pattern.match(message) if isinstance(error, kind) else None
        if match is not None:
            return type(error)(text.format(*match.groups()))
    return error


class MlflowRoute(APIRoute):
    """A route whose store errors are answered with MLflow's texts."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Return the route's handler, rewording the errors it raises."""
        handler = super().get_route_handler()

        async def reworded(request: Request) -> Response:
            try:
                return await handler(request)
            except PerenniaError as error:
                raise mlflow_wording(error) from None

        return reworded
