"""Alert webhooks: the Alertmanager v4 payload, POSTed and signed like registry webhooks.

Each request carries the registry's headers (`perennia.registry.webhooks`): the event
(`alert_firing` or `alert_resolved`), a delivery id that stays the same across retries (drop
duplicates with it), the signing timestamp and `sha256=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` keyed with the channel's secret. Receivers check it with
`perennia.registry.webhooks.verify_signature(secret, headers, body)`.

A 2xx answer delivers. Redirects are never followed (configure the final URL). A timeout, a
connection failure, a 5xx, 408, 425 or 429 is retried `retries` times, waiting `backoff`
seconds, then twice that, and so on up to `max_backoff`; any other answer fails at once, since
sending the same request again cannot change it.
"""

from __future__ import annotations

import json
import logging
import numbers
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from perennia._version import __version__
from perennia.errors import InvalidInput
from perennia.monitoring.alerts.channels.alertmanager import alertmanager_payload
from perennia.monitoring.alerts.channels.base import (
    DeliveryResult,
    check_events,
    group_status,
)
from perennia.monitoring.alerts.checks import (
    LABEL_NAME,
    MONITOR_NAME,
    check_pattern,
    check_seconds,
    check_text,
)
from perennia.monitoring.alerts.events import AlertEvent

logger = logging.getLogger(__name__)

MAX_RETRIES = 10
RETRY_STATUSES = frozenset({408, 425, 429})
CONNECT_TIMEOUT = 3.0


class WebhookChannel:
    """POSTs alert groups as signed Alertmanager webhook payloads to one URL."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        name: str = "webhook",
        receiver: str | None = None,
        external_url: str = "",
        generator_url: str = "",
        group_by: Sequence[str] = ("alertname",),
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        sleep: Callable[[float], object] = time.sleep,
        transport: Any = None,
    ) -> None:
        from perennia.registry.webhooks import check_url

        self.url = check_url(url)
        if not isinstance(secret, str) or not 16 <= len(secret) <= 256 or not secret.isprintable():
            raise InvalidInput("secret must be 16-256 printable characters (it keys the HMAC)")
        self._secret = secret
        self.name = check_pattern(name, "name", MONITOR_NAME, "letters, digits and _ . : -")
        self.receiver = check_text(receiver or self.name, "receiver", limit=256)
        self.external_url = check_text(external_url, "external_url", limit=2048, empty=True)
        self.generator_url = check_text(generator_url, "generator_url", limit=2048, empty=True)
        if isinstance(group_by, str) or not isinstance(group_by, Sequence):
            raise InvalidInput(f"group_by must be a list of label names, got {group_by!r:.80}")
        self.group_by = tuple(
            check_pattern(g, "group_by", LABEL_NAME, "label names") for g in group_by
        )
        self.timeout = check_seconds(timeout, "timeout", low=0.001)
        if isinstance(retries, bool) or not isinstance(retries, numbers.Integral):
            raise InvalidInput(f"retries must be an int from 0 to {MAX_RETRIES}, got {retries!r}")
        if not 0 <= retries <= MAX_RETRIES:
            raise InvalidInput(f"retries must be from 0 to {MAX_RETRIES}, got {retries}")
        self.retries = int(retries)
        self.backoff = check_seconds(backoff, "backoff", low=0.0)
        self.max_backoff = check_seconds(max_backoff, "max_backoff", low=self.backoff)
        self._sleep = sleep
        self._transport = transport  # an httpx transport, for callers that route requests

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, url={self.url!r})"  # never the secret

    def delay(self, retry: int) -> float:
        """Return the seconds to wait before retry number `retry` (1 for the first retry)."""
        return min(self.max_backoff, self.backoff * 2 ** (retry - 1))

    def payload(self, events: Sequence[AlertEvent]) -> dict[str, Any]:
        """Return the Alertmanager v4 JSON object this channel POSTs for `events`."""
        return alertmanager_payload(
            check_events(events),
            receiver=self.receiver,
            external_url=self.external_url,
            generator_url=self.generator_url,
            group_by=self.group_by,
        )

    def send(self, events: Sequence[AlertEvent]) -> DeliveryResult:
        """POST `events` as one signed payload, retrying as configured; return the outcome."""
        import httpx

        events = check_events(events)
        if not events:
            return DeliveryResult(self.name, ok=True, attempts=0)
        body = json.dumps(self.payload(events), separators=(",", ":")).encode("utf-8")
        delivery = uuid.uuid4().hex
        action = f"alert_{group_status(events)}"
        timeouts = httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT))
        code: int | None = None
        error: str | None = None
        attempt = 0
        with httpx.Client(
            timeout=timeouts, follow_redirects=False, transport=self._transport
        ) as client:
            for attempt in range(1, self.retries + 2):
                if attempt > 1:
                    self._sleep(self.delay(attempt - 1))
                code, error = self._post(client, body, action, delivery)
                if error is None:
                    return DeliveryResult(self.name, ok=True, attempts=attempt, status_code=code)
                logger.info("alert webhook %s attempt %d: %s", self.name, attempt, error)
                if not (code is None or code >= 500 or code in RETRY_STATUSES):
                    break
        logger.warning("alert webhook %s failed after %d attempt(s): %s", self.name, attempt, error)
        return DeliveryResult(self.name, ok=False, attempts=attempt, status_code=code, error=error)

    def _post(
        self, client: Any, body: bytes, action: str, delivery: str
    ) -> tuple[int | None, str | None]:
        from perennia.registry import webhooks as signing

        # Signed per attempt, so a retry's timestamp is fresh for the receiver's replay window.
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"perennia-alerts/{__version__}",
            signing.EVENT_HEADER: action,
            signing.DELIVERY_HEADER: delivery,
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.sign(self._secret, timestamp, body),
        }
        try:
            # Streamed so the answer's body is never read: a receiver cannot make us buffer much.
            with client.stream("POST", self.url, content=body, headers=headers) as response:
                code = response.status_code
        except Exception as exc:  # noqa: BLE001 - any failure to send is this attempt's outcome
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= code < 300:
            return code, None
        if 300 <= code < 400:
            return code, f"HTTP {code}: redirects are not followed; configure the final URL"
        return code, f"HTTP {code}"
