"""Registry webhooks: the JSON payload, its HMAC signature, and the senders that deliver it.

Every registry event is POSTed as JSON to each subscribed webhook (see `payload` for the
fields). Each request carries:

- `X-Perennia-Event`: the action, e.g. `set_alias`
- `X-Perennia-Delivery`: the delivery id (the same on every retry: use it to drop duplicates)
- `X-Perennia-Timestamp`: when this attempt was signed, in whole seconds since the epoch
- `X-Perennia-Signature`: `sha256=<hex>`, the HMAC-SHA256, keyed with the webhook's secret,
  of `<timestamp>.<body>` (the timestamp header's text, a dot, then the raw body bytes)

Receivers check it with `verify_signature(secret, headers, body)`, which also refuses
timestamps more than five minutes away from their clock (replayed requests). Delivery is
at least once: a 2xx answer delivers; anything else, a timeout or a redirect (never followed)
is retried after 10 s, 20 s, 40 s and 80 s, and the fifth failure marks the delivery failed.

Who sends: `perennia server` runs a `WebhookDispatcher` thread in each process (many are
fine: deliveries are claimed with a lease in the database); without a server, `kick(store)`
after a registry write sends what is due in a short-lived daemon thread, and
`perennia webhooks dispatch` sends what is due once.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from perennia._version import __version__

if TYPE_CHECKING:
    from perennia.store.base import ServerStore, Store
    from perennia.store.protocols.webhooks import ClaimedDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Perennia-Signature"
TIMESTAMP_HEADER = "X-Perennia-Timestamp"
EVENT_HEADER = "X-Perennia-Event"
DELIVERY_HEADER = "X-Perennia-Delivery"
TOLERANCE_SECONDS = 300
CONNECT_TIMEOUT = 3.0
SEND_TIMEOUT = 10.0

__all__ = [
    "WebhookDispatcher",
    "check_url",
    "dispatch_due",
    "kick",
    "payload",
    "sign",
    "verify_signature",
]


def check_url(url: object) -> str:
    """Return `url` if it may be a webhook's URL (http/https, no userinfo, bounded), else raise."""
    from perennia.store.sql.webhooks import check_url as check

    return check(url)


def payload(claim: ClaimedDelivery) -> dict[str, Any]:
    """Return the JSON object POSTed for a delivery: the event and who it is for."""
    event = claim.event
    if event is None:
        raise ValueError(f"delivery {claim.delivery_id} has no event")
    return {
        "event_id": event.event_id,
        "delivery_id": claim.delivery_id,
        "webhook_id": claim.webhook_id,
        "action": event.action,
        "model_name": event.model_name,
        "version": event.version,
        "username": event.username,
        "time": event.time,  # milliseconds since the epoch, UTC
        "before": event.before,
        "after": event.after,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value `sha256=<hex>` for a body signed at `timestamp`."""
    message = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float | None = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Return True when the headers carry a valid, fresh signature of `body` under `secret`."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp.isdigit() or not signature.startswith("sha256="):
        return False
    now = time.time() if now is None else now
    if tolerance is not None and abs(now - int(timestamp)) > tolerance:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return hmac.compare_digest(sign(secret, timestamp, raw), signature)


def _request(claim: ClaimedDelivery) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload(claim), sort_keys=True, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"perennia-webhooks/{__version__}",
        EVENT_HEADER: claim.event.action if claim.event else "",
        DELIVERY_HEADER: str(claim.delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(claim.secret, timestamp, body),
    }
    return body, headers


def _send(client: Any, claim: ClaimedDelivery) -> tuple[int | None, str | None]:
    """Return (status code, error) of one POST; the error is None only for a 2xx answer."""
    body, headers = _request(claim)
    try:
        # Streamed so the answer's body is never read: a receiver cannot make us buffer much.
        with client.stream("POST", claim.url, content=body, headers=headers) as response:
            code = response.status_code
    except Exception as error:  # noqa: BLE001 - any failure to send is this attempt's outcome
        return None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if 200 <= code < 300:
        return code, None
    if 300 <= code < 400:
        return code, f"HTTP {code}: redirects are not followed; configure the final URL"
    return code, f"HTTP {code}"


def dispatch_due(
    store: ServerStore,
    *,
    now: int | None = None,
    limit: int = 100,
    timeout: float = SEND_TIMEOUT,
    max_attempts: int | None = None,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Send up to `limit` due deliveries; return how many ended delivered, pending or failed.

    `now` (milliseconds) stands in for the clock when choosing what is due and when to retry,
    so tests can move time forward instead of sleeping.
    """
    import httpx

    from perennia.store.protocols.webhooks import MAX_ATTEMPTS

    outbox = store.webhook_outbox
    outcomes = {"delivered": 0, "pending": 0, "failed": 0}
    if not outbox.has_due(now):
        return outcomes
    attempts = MAX_ATTEMPTS if max_attempts is None else max_attempts
    timeouts = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
    with httpx.Client(timeout=timeouts, follow_redirects=False) as client:
        for _ in range(limit):
            if stop is not None and stop.is_set():
                break
            # One at a time, so each lease only has to cover a single send.
            claims = outbox.claim(now, max_attempts=attempts)
            if not claims:
                break
            claim = claims[0]
            if claim.event is None:
                code, error, cap = None, "the event no longer exists", claim.attempt
            else:
                code, error = _send(client, claim)
                cap = attempts
            status = outbox.record_attempt(
                claim, status_code=code, error=error, now=now, max_attempts=cap
            )
            logger.info(
                "webhook %d delivery %d attempt %d: %s (%s)",
                claim.webhook_id,
                claim.delivery_id,
                claim.attempt,
                status,
                code if code is not None else "no answer",
            )
            if status in outcomes:
                outcomes[status] += 1
    return outcomes


class WebhookDispatcher:
    """A daemon thread that sends due deliveries every `interval` seconds until stopped."""

    def __init__(self, store: ServerStore, interval: float = 2.0) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="perennia-webhook-dispatcher", daemon=True
        )

    def start(self) -> WebhookDispatcher:
        """Start the thread; return the dispatcher."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish its current send and stop; wait up to `timeout` seconds."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failing = ""  # the failure already reported, so an outage logs one line, not one a tick
        while not self._stop.is_set():
            try:
                dispatch_due(self.store, stop=self._stop)
                if failing:
                    logger.warning("webhook dispatch works again")
                failing = ""
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the thread
                summary = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if summary != failing:
                    logger.warning(
                        "webhook dispatch failed (%s); retrying every %.0fs", summary, self.interval
                    )
                    logger.debug("webhook dispatch failure", exc_info=True)
                failing = summary
            self._stop.wait(self.interval)


def can_dispatch(store: Store) -> bool:
    """Return True when `store` holds the delivery outbox itself (a SQL store, not a client)."""
    return getattr(store, "webhook_outbox", None) is not None


_kick_lock = threading.Lock()
_kicking: dict[int, threading.Thread] = {}
_kick_again: set[int] = set()


def kick(store: Store) -> threading.Thread | None:
    """Return a daemon thread sending what is due now, or None when nothing is due.

    Called after each registry write of an embedded store: one indexed query when nothing is
    due; a thread already sending for this store is asked to look again instead of a second
    one starting. A REST store is a no-op (its server sends).
    """
    if not can_dispatch(store):
        return None
    try:
        if not store.webhook_outbox.has_due():
            return None
    except Exception:  # noqa: BLE001 - a failed check must never fail the caller's write
        logger.exception("could not check for due webhook deliveries")
        return None
    key = id(store.webhook_outbox)
    with _kick_lock:
        running = _kicking.get(key)
        if running is not None:
            _kick_again.add(key)
            return running
        thread = threading.Thread(
            target=_drain, args=(store, key), name="perennia-webhook-kick", daemon=True
        )
        _kicking[key] = thread
    thread.start()
    return thread


def _drain(store: ServerStore, key: int) -> None:
    try:
        while True:
            dispatch_due(store)
            with _kick_lock:
                if key not in _kick_again:
                    return
                _kick_again.discard(key)
    except Exception:  # noqa: BLE001 - a daemon thread has nobody to raise to
        logger.exception("sending webhook deliveries failed; they stay queued")
    finally:
        with _kick_lock:
            _kicking.pop(key, None)
            _kick_again.discard(key)


@atexit.register
def _finish_kicks(timeout: float = 5.0) -> None:
    # A script that registers a model and exits would otherwise kill the send mid-way; what
    # is not done in time stays queued (a `sending` lease expires and is retried later).
    deadline = time.monotonic() + timeout
    with _kick_lock:
        threads = list(_kicking.values())
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
