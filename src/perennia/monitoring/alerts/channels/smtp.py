"""Alert e-mail over SMTP: a plain-text summary of the group, optionally over TLS with login.

`starttls=True` upgrades a plain connection (port 587 usually); `ssl=True` speaks TLS from
the first byte (port 465). A user name needs one of them: logging in over plain SMTP would
send the password in clear. `ssl_context` replaces the default (system CAs, host name
checked), e.g. to trust a private CA. One attempt per send; a failure is the result's error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from email.utils import getaddresses
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.channels.base import DeliveryResult, check_events, group_status
from perennia.monitoring.alerts.checks import (
    MONITOR_NAME,
    check_pattern,
    check_seconds,
    check_text,
)
from perennia.monitoring.alerts.events import AlertEvent, rfc3339

logger = logging.getLogger(__name__)

# Deliberately plain: an address, not a parser of RFC 5322's every corner.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@" + _LABEL + r"(?:\." + _LABEL + r")*")
MAX_RECIPIENTS = 100
HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,253}")


class EmailChannel:
    """Sends each alert group as one plain-text e-mail to a list of recipients."""

    def __init__(
        self,
        host: str,
        sender: str,
        recipients: str | Sequence[str],
        *,
        port: int | None = None,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: Any = None,
        subject_prefix: str = "[perennia]",
        name: str = "email",
    ) -> None:
        self.host = check_pattern(host, "host", HOST, "a host name or IP address")
        self.sender = check_address(sender, "from")
        self.recipients = _check_recipients(recipients)
        if not isinstance(starttls, bool) or not isinstance(ssl, bool):
            raise InvalidInput("starttls and ssl must be true or false")
        if starttls and ssl:
            raise InvalidInput("choose one of starttls (upgrade, port 587) and ssl (TLS, port 465)")
        self.starttls, self.ssl = starttls, ssl
        if port is None:
            port = 465 if ssl else 25
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidInput(f"port must be an int from 1 to 65535, got {port!r:.40}")
        self.port = port
        if (username is None) != (password is None):
            raise InvalidInput("username and password go together: set both or neither")
        if username is not None and not (starttls or ssl):
            raise InvalidInput(
                "username: set starttls=True or ssl=True; "
                "plain SMTP would send the password in clear"
            )
        self.username = None if username is None else check_text(username, "username", limit=256)
        self._password = None if password is None else check_text(password, "password", limit=1024)
        self.timeout = check_seconds(timeout, "timeout", low=0.001)
        self.ssl_context = ssl_context
        self.subject_prefix = check_text(subject_prefix, "subject_prefix", limit=64, empty=True)
        if "\n" in self.subject_prefix:
            raise InvalidInput("subject_prefix must be one line")
        self.name = check_pattern(name, "name", MONITOR_NAME, "letters, digits and _ . : -")

    def __repr__(self) -> str:
        return f"EmailChannel(name={self.name!r}, host={self.host!r}, port={self.port})"

    def message(self, events: Sequence[AlertEvent]) -> Any:
        """Return the `email.message.EmailMessage` this channel sends for `events`."""
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        events = check_events(events)
        status = group_status(events)
        rules = sorted({event.rule for event in events})
        count = sum(event.status == status for event in events)
        message = EmailMessage()
        prefix = f"{self.subject_prefix} " if self.subject_prefix else ""
        message["Subject"] = f"{prefix}[{status.upper()}:{count}] {', '.join(rules)}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="perennia.local")
        message.set_content(body(events))
        return message

    def send(self, events: Sequence[AlertEvent]) -> DeliveryResult:
        """Send `events` as one e-mail; return the outcome (an SMTP failure is its error)."""
        import smtplib
        import ssl as ssl_module

        events = check_events(events)
        if not events:
            return DeliveryResult(self.name, ok=True, attempts=0)
        message = self.message(events)
        context = self.ssl_context or ssl_module.create_default_context()
        try:
            if self.ssl:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=context)
                if self.username is not None:
                    client.login(self.username, self._password or "")
                refused = client.send_message(
                    message, bare_address(self.sender), [bare_address(r) for r in self.recipients]
                )
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.warning("alert e-mail %s to %s failed: %s", self.name, self.host, error)
            return DeliveryResult(self.name, ok=False, attempts=1, error=error)
        if refused:
            # Accepted for some recipients only: delivered, but say who was refused.
            error = "refused recipients: " + ", ".join(sorted(refused))
            return DeliveryResult(self.name, ok=True, attempts=1, error=error)
        return DeliveryResult(self.name, ok=True, attempts=1)


def check_address(value: object, field: str) -> str:
    """Return `value` if it is one e-mail address (optionally `Name <addr>`), else raise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be an e-mail address, got {value!r:.80}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > 320:
        raise InvalidInput(f"{field} {value!r:.80} must be one line of at most 320 characters")
    found = getaddresses([value])
    if len(found) != 1 or not ADDRESS.fullmatch(found[0][1]):
        raise InvalidInput(f"{field} {value!r:.80} is not one e-mail address like ops@example.com")
    return value.strip()


def _check_recipients(recipients: object) -> list[str]:
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, Sequence) or not recipients:
        raise InvalidInput("to must name at least one recipient address")
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidInput(f"to names {len(recipients)} recipients; at most {MAX_RECIPIENTS}")
    return [check_address(r, "to") for r in recipients]


def bare_address(value: str) -> str:
    """Return the `addr@host` part of a checked address (`Name <addr@host>` -> `addr@host`)."""
    return getaddresses([value])[0][1]


def body(events: Sequence[AlertEvent]) -> str:
    """Return the plain-text body: one paragraph per alert with its value, labels and notes."""
    lines = [f"{len(events)} alert(s), {group_status(events)}.", ""]
    for event in events:
        lines.append(event.summary())
        lines.append(f"  fingerprint: {event.fingerprint}")
        lines.append(f"  starts at:   {rfc3339(event.starts_at_ms)}")
        if not event.firing:
            lines.append(f"  ends at:     {rfc3339(event.ends_at_ms)}")
        for name, value in sorted(event.labels.items()):
            lines.append(f"  label {name}: {value}")
        for name, value in sorted(event.annotations.items()):
            lines.append(f"  {name}: {value}")
        lines.append("")
    return "\n".join(lines)
