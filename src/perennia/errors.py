"""The error hierarchy: every failure a user can cause is a `PerenniaError` subclass.

Each class carries the MLflow-style `error_code` and the HTTP status the server maps it to,
so the SDK, the CLI and the server agree on what went wrong.
"""

from __future__ import annotations


class PerenniaError(Exception):
    """Base class of every error Perennia raises on purpose."""

    error_code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(PerenniaError):
    """A named experiment, run, artifact or other object does not exist."""

    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class AlreadyExists(PerenniaError):
    """An object with that unique name already exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 409


class InvalidInput(PerenniaError):
    """A value has the wrong type, shape or content."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class TooLarge(InvalidInput):
    """A request or value is larger than the limit the message names."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class InvalidFilter(InvalidInput):
    """A search filter or order-by clause does not parse; `position` points at the bad token."""

    def __init__(self, message: str, *, text: str = "", position: int | None = None) -> None:
        if text and position is not None:
            pointer = " " * position + "^"
            message = f"{message}\n  {text}\n  {pointer}"
        super().__init__(message)
        self.text = text
        self.position = position


class InvalidArtifactPath(InvalidInput):
    """An artifact path tries to leave its run's artifact tree or is otherwise unsafe."""


class Conflict(PerenniaError):
    """The request contradicts stored state (a param re-logged with a new value, a finished run)."""

    error_code = "INVALID_STATE"
    http_status = 409


class IntegrityError(PerenniaError):
    """Stored bytes no longer match their recorded sha256 digest."""

    error_code = "DATA_LOSS"
    http_status = 500


class PermissionDenied(PerenniaError):
    """The caller lacks the role needed for this operation."""

    error_code = "PERMISSION_DENIED"
    http_status = 403


class Unauthenticated(PermissionDenied):
    """The request carries no credentials, or ones that are not valid (HTTP 401)."""

    error_code = "UNAUTHENTICATED"
    http_status = 401


class TooManyRequests(PerenniaError):
    """Too many attempts in a short time (failed sign-ins); wait and try again."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 429


class StoreUnavailable(PerenniaError):
    """The metadata or artifact backend cannot be reached or is misconfigured."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503
