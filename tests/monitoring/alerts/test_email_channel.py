"""Alert e-mail: sent to a real SMTP server (aiosmtpd) on loopback, plain, STARTTLS and TLS."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import EmailChannel
from tests.monitoring.alerts.conftest import make_event
from tests.ports import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        ]


def _accept_alice(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"alice",
        b"s3cret",
    )
    # handled=False: aiosmtpd then answers 535 itself instead of leaving the client waiting.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def smtp_starttls(server_tls) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=_accept_alice,
        auth_required=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def smtps(server_tls) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls)
    controller.start()
    yield inbox, port
    controller.stop()


def test_a_firing_alert_arrives_as_a_plain_text_summary(smtp):
    inbox, port = smtp
    channel = EmailChannel(
        "127.0.0.1",
        "Perennia <alerts@perennia.example.com>",
        ["oncall@example.com", "Risk Team <risk@example.com>"],
        port=port,
    )
    event = make_event("firing")
    result = channel.send([event])
    assert (result.ok, result.attempts, result.error) == (True, 1, None)

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "alerts@perennia.example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "risk@example.com"]
    (message,) = inbox.messages()
    assert message["Subject"] == "[perennia] [FIRING:1] drift_high"
    assert message["From"] == "Perennia <alerts@perennia.example.com>"
    assert message["To"] == "oncall@example.com, Risk Team <risk@example.com>"
    assert message.get_content_type() == "text/plain"
    text = message.get_content().replace("\r\n", "\n")  # SMTP's line ends
    assert text.startswith("1 alert(s), firing.\n")
    assert event.summary() in text
    assert f"fingerprint: {event.fingerprint}" in text
    assert "label team: risk" in text and "summary: Most features drifted" in text
    assert "ends at" not in text


def test_a_resolve_says_when_it_ended(smtp):
    inbox, port = smtp
    channel = EmailChannel("127.0.0.1", "alerts@example.com", "oncall@example.com", port=port)
    assert channel.send([make_event("resolved")]).ok
    (message,) = inbox.messages()
    assert message["Subject"] == "[perennia] [RESOLVED:1] drift_high"
    assert "ends at:     1970-01-01T00:00:05Z" in message.get_content()


def test_starttls_and_login_reach_a_server_that_requires_both(smtp_starttls, client_tls):
    inbox, port = smtp_starttls
    channel = EmailChannel(
        "127.0.0.1",
        "alerts@example.com",
        ["oncall@example.com"],
        port=port,
        starttls=True,
        username="alice",
        password="s3cret",
        ssl_context=client_tls,
    )
    assert channel.send([make_event()]).ok
    assert len(inbox.envelopes) == 1

    wrong = EmailChannel(
        "127.0.0.1",
        "alerts@example.com",
        ["oncall@example.com"],
        port=port,
        starttls=True,
        username="alice",
        password="wrong",
        ssl_context=client_tls,
    )
    result = wrong.send([make_event()])
    assert not result.ok and "SMTPAuthenticationError" in result.error
    assert len(inbox.envelopes) == 1


def test_an_untrusted_certificate_is_refused_by_default(smtp_starttls):
    _, port = smtp_starttls
    channel = EmailChannel(
        "127.0.0.1", "alerts@example.com", "oncall@example.com", port=port, starttls=True
    )
    result = channel.send([make_event()])
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.error


def test_without_starttls_a_server_requiring_it_refuses_the_mail(smtp_starttls):
    inbox, port = smtp_starttls
    channel = EmailChannel("127.0.0.1", "alerts@example.com", "oncall@example.com", port=port)
    result = channel.send([make_event()])
    assert not result.ok and result.error.startswith("SMTP")
    assert inbox.envelopes == []


def test_starttls_against_a_server_without_it_fails_clearly(smtp):
    _, port = smtp
    channel = EmailChannel(
        "127.0.0.1", "alerts@example.com", "oncall@example.com", port=port, starttls=True
    )
    result = channel.send([make_event()])
    assert not result.ok and "STARTTLS extension not supported" in result.error


def test_implicit_tls_delivers(smtps, client_tls):
    inbox, port = smtps
    channel = EmailChannel(
        "127.0.0.1",
        "alerts@example.com",
        "oncall@example.com",
        port=port,
        ssl=True,
        ssl_context=client_tls,
    )
    assert channel.send([make_event()]).ok and len(inbox.envelopes) == 1


def test_an_unreachable_server_is_a_failed_result():
    channel = EmailChannel(
        "127.0.0.1", "alerts@example.com", "oncall@example.com", port=free_port(), timeout=2
    )
    result = channel.send([make_event()])
    assert (result.ok, result.attempts) == (False, 1)
    assert "ConnectionRefusedError" in result.error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sender": "not an address"}, "from 'not an address' is not one e-mail address"),
        ({"sender": "a@b.com\r\nBcc: x@y.com"}, "must be one line"),
        ({"recipients": []}, "to must name at least one recipient"),
        ({"recipients": ["a@b.com, c@d.com"]}, "is not one e-mail address"),
        ({"recipients": ["ops@"]}, "to 'ops@' is not one e-mail address"),
        ({"recipients": ["x@example.com"] * 101}, "at most 100"),
        ({"host": "smtp example"}, "host 'smtp example' is not allowed"),
        ({"port": 0}, "port must be an int from 1 to 65535"),
        ({"starttls": True, "ssl": True}, "choose one of starttls"),
        ({"starttls": "yes"}, "starttls and ssl must be true or false"),
        ({"username": "alice"}, "username and password go together"),
        ({"username": "alice", "password": "pw"}, "set starttls=True or ssl=True"),
        ({"timeout": 0}, "timeout must be from 0.001 to 300 seconds"),
        ({"subject_prefix": "a\nb"}, "subject_prefix must be one line"),
    ],
)
def test_bad_settings_are_refused(options, message):
    arguments = {
        "host": "smtp.example.com",
        "sender": "alerts@example.com",
        "recipients": ["oncall@example.com"],
        **options,
    }
    with pytest.raises(InvalidInput, match=message):
        EmailChannel(**arguments)


def test_the_password_never_shows_in_the_channels_repr():
    channel = EmailChannel(
        "smtp.example.com",
        "a@example.com",
        "b@example.com",
        starttls=True,
        username="alice",
        password="hunter2-password",
    )
    assert "hunter2" not in repr(channel) and channel.port == 25
    assert EmailChannel("smtp.example.com", "a@example.com", "b@example.com", ssl=True).port == 465
