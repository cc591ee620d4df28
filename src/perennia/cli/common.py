"""Helpers the command groups share: the client to use and experiment lookup by name or id."""

from __future__ import annotations

import re

from perennia.entities import Experiment, ViewType
from perennia.errors import InvalidInput, NotFound
from perennia.tracking.client import Client


class _State:
    """Options given to the root command, read by every subcommand."""

    tracking_uri: str | None = None


state = _State()


def use_tracking_uri() -> None:
    """Point the SDK (registry, datasets, models:/ URIs) at `--tracking-uri` when it was given."""
    if state.tracking_uri:
        from perennia.tracking.fluent import set_tracking_uri

        set_tracking_uri(state.tracking_uri)


def client() -> Client:
    """Return a Client for `--tracking-uri` (default: the environment's or the embedded store)."""
    return Client(tracking_uri=state.tracking_uri)


def resolve_experiment(api: Client, name_or_id: str) -> Experiment:
    """Return the experiment named `name_or_id`, or with that id; NotFound otherwise."""
    experiment = api.get_experiment_by_name(name_or_id)
    if experiment is not None:
        return experiment
    if name_or_id.isdigit():
        return api.get_experiment(name_or_id)
    raise NotFound(
        f"experiment {name_or_id!r} does not exist; `perennia experiments list` shows them"
    )


_HEX = re.compile(r"^[0-9a-f]{4,32}$")


def resolve_run_id(api: Client, text: str) -> str:
    """Return the full run id for a run id or a unique prefix of at least 4 hex characters."""
    text = text.strip().lower()
    if not _HEX.match(text):
        raise InvalidInput(
            f"{text!r} is not a run id; pass the 32-character id or its first characters"
        )
    if len(text) == 32:
        return text
    matches = api.search_runs([], f"attributes.run_id LIKE '{text}%'", ViewType.ALL, 2).items
    if not matches:
        raise NotFound(f"no run id starts with {text!r}")
    if len(matches) > 1:
        raise InvalidInput(f"run id prefix {text!r} is ambiguous; give more characters")
    return matches[0].info.run_id


def parse_params(items: list[str] | None) -> dict:
    """Return `--param key=value` pairs as a dict; a value that reads as JSON (0.5, true,
    [1, 2]) is that value, anything else stays text (data=train@3)."""
    import json

    params: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {item!r} must be key=value, e.g. --param C=0.5")
        try:
            params[key.strip()] = json.loads(text)
        except ValueError:
            params[key.strip()] = text
    return params
