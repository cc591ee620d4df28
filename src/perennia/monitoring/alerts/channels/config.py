"""Channels from configuration: `{"type": "webhook" | "email" | "log", ...}` to a Channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.channels.base import Channel
from perennia.monitoring.alerts.checks import check_keys

# Config key -> constructor argument, per type. Config keys read like the YAML people write
# ("from", "to", "backoff_seconds"); the constructors keep Python's names.
KEYS: dict[str, dict[str, str]] = {
    "webhook": {
        "url": "url",
        "secret": "secret",
        "name": "name",
        "receiver": "receiver",
        "external_url": "external_url",
        "generator_url": "generator_url",
        "group_by": "group_by",
        "timeout": "timeout",
        "retries": "retries",
        "backoff_seconds": "backoff",
        "max_backoff_seconds": "max_backoff",
    },
    "email": {
        "host": "host",
        "port": "port",
        "from": "sender",
        "to": "recipients",
        "starttls": "starttls",
        "ssl": "ssl",
        "username": "username",
        "password": "password",
        "timeout": "timeout",
        "subject_prefix": "subject_prefix",
        "name": "name",
    },
    "log": {"name": "name"},
}
REQUIRED = {"webhook": ("url", "secret"), "email": ("host", "from", "to"), "log": ()}


def channel_from_config(config: Mapping[str, Any]) -> Channel:
    """Return the channel a config mapping describes, e.g. {"type": "log"}; raise InvalidInput."""
    if not isinstance(config, Mapping):
        raise InvalidInput(f"a channel config must be a mapping, got {config!r:.80}")
    kind = config.get("type")
    if kind not in KEYS:
        raise InvalidInput(f"channel type {kind!r:.40} is unknown; use webhook, email or log")
    names = KEYS[kind]
    check_keys(config, ("type", *names), f"{kind} channel")
    missing = [key for key in REQUIRED[kind] if key not in config]
    if missing:
        raise InvalidInput(f"{kind} channel: {missing[0]!r} is required")
    arguments = {names[key]: value for key, value in config.items() if key != "type"}
    if kind == "webhook":
        from perennia.monitoring.alerts.channels.webhook import WebhookChannel

        return WebhookChannel(**arguments)
    if kind == "email":
        from perennia.monitoring.alerts.channels.smtp import EmailChannel

        return EmailChannel(**arguments)
    from perennia.monitoring.alerts.channels.log import LogChannel

    return LogChannel(**arguments)
