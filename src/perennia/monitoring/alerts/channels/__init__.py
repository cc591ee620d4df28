"""Where alerts go: signed Alertmanager-style webhooks, e-mail over SMTP, and Python logging."""

from __future__ import annotations

from perennia.monitoring.alerts.channels.alertmanager import alertmanager_payload
from perennia.monitoring.alerts.channels.base import Channel, DeliveryFailed, DeliveryResult
from perennia.monitoring.alerts.channels.config import channel_from_config
from perennia.monitoring.alerts.channels.log import LogChannel
from perennia.monitoring.alerts.channels.smtp import EmailChannel
from perennia.monitoring.alerts.channels.webhook import WebhookChannel

__all__ = [
    "Channel",
    "DeliveryFailed",
    "DeliveryResult",
    "EmailChannel",
    "LogChannel",
    "WebhookChannel",
    "alertmanager_payload",
    "channel_from_config",
]
