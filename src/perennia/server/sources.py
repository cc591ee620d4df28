"""Which model-version sources the server vouches for, and which run a new version comes from.

A version's `source` is what clients later download. The server stores only sources it can
vouch for, and only when the caller may read what they point at:

- `runs:/<run_id>/<path>` and `mlflow-artifacts:/<exp>/<run_id>/artifacts/<path>`: a run's files;
- `models:/<model_id>` and `mlflow-artifacts:/<exp>/models/<model_id>/artifacts`: an MLflow 3
  logged model (its files live with its source run);
- `models:/<name>/<number>`: an existing version of a model, followed to its end (no cycles:
  aliases and `latest` move, so they are refused; name the number).

Anything else (`file://`, `http://`, `s3://`, a bare path) is refused, except for administrators
and servers without sign-in, which may register foreign sources (imports); the server itself
never reads a source, it hands it to clients.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from perennia.entities import Role
from perennia.errors import InvalidInput, NotFound
from perennia.server.mlflow_compat.shapes import RUNS_URI, model_id_of
from perennia.store.artifact_paths import validate_artifact_path
from perennia.store.base import Store

if TYPE_CHECKING:
    from perennia.server.access import Caller

_PROXY_RUN = re.compile(r"^mlflow-artifacts:/(\d{1,10})/([0-9a-f]{32})/artifacts(?:/(.*))?$")
_PROXY_LOGGED = re.compile(r"^mlflow-artifacts:/(\d{1,10})/models/(m-[0-9a-f]{32})/artifacts/?$")
_VERSION = re.compile(r"^models:/([^/@]+)/([^/]+)$")
_MODELS = re.compile(r"^models:/")
MAX_HOPS = 16
_FORMS = (
    "runs:/<run_id>/<path>, models:/<logged model id>, models:/<name>/<version number> or "
    "the mlflow-artifacts:/ URI of a run or logged model"
)


def vouch_for_source(caller: Caller, store: Store, source: Any, run_id: str | None) -> None:
    """Return once the version's source is one the server vouches for and the caller may read
    what it and `run_id` point at.

    Raises InvalidInput for a source of no accepted form (or whose run differs from `run_id`),
    PermissionDenied when the caller may not read what it points at, NotFound when that is gone.
    The version keeps the `run_id` the client sent: the run a source names is checked, not
    stored, so every backend records the same thing.
    """
    if not isinstance(source, str) or not source:
        raise InvalidInput(f"'source' must be a non-empty string, got {source!r:.60}")
    derived = _run_of(caller, store, source, set())
    if derived is _FOREIGN:
        if not caller.is_admin:
            raise InvalidInput(
                f"source {source[:120]!r} is not one this server can vouch for; use {_FORMS}"
            )
        derived = None
    if run_id is not None and derived is not None and run_id != derived:
        raise InvalidInput(
            f"run_id {run_id!r} differs from the run {derived!r} the source {source[:120]!r} "
            "comes from; omit run_id or make them agree"
        )
    if caller.is_admin:
        return  # like MLflow, an administrator's version records whatever run id it names
    for run in {run_id, derived} - {None}:
        caller.run(run, Role.VIEWER)


_FOREIGN: Any = object()


def _run_of(caller: Caller, store: Store, source: str, seen: set[tuple[str, int]]) -> Any:
    """Return the run a source comes from (None for none), or _FOREIGN for an unknown form."""
    if match := RUNS_URI.match(source):
        validate_artifact_path(match.group(2))
        return match.group(1)
    if match := _PROXY_RUN.match(source):
        validate_artifact_path(match.group(3) or "", allow_empty=True)
        return match.group(2)
    model_id = model_id_of(source)
    if model_id is None and (match := _PROXY_LOGGED.match(source)):
        model_id = match.group(2)
    if model_id is not None:
        return caller.logged_model(model_id, Role.VIEWER).source_run_id
    if match := _VERSION.match(source):
        return _run_of_version(caller, store, match.group(1), match.group(2), source, seen)
    if _MODELS.match(source):
        raise InvalidInput(
            f"source {source[:120]!r} is not a models:/ URI this server accepts; use {_FORMS}"
        )
    return _FOREIGN


def _run_of_version(
    caller: Caller, store: Store, name: str, number: str, source: str, seen: set[tuple[str, int]]
) -> Any:
    if not number.isdigit():
        raise InvalidInput(
            f"source {source[:120]!r} names a version by alias or 'latest', which moves; "
            "name the version number, e.g. models:/<name>/3"
        )
    caller.model(name, Role.VIEWER)
    key = (name, int(number))
    if key in seen or len(seen) >= MAX_HOPS:
        raise InvalidInput(
            f"source {source[:120]!r} leads back to itself or through more than {MAX_HOPS} "
            "versions; point at the version that holds the files"
        )
    seen.add(key)
    try:
        version = store.versions.get_model_version(name, int(number))
    except NotFound:
        raise NotFound(f"source {source[:120]!r} names a version that does not exist") from None
    found = _run_of(caller, store, version.source, seen)
    return version.run_id if found is _FOREIGN else found
