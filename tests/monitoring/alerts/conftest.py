"""Shared pieces of the alerting tests: rules, events, a loopback HTTP receiver, TLS material."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from perennia.monitoring.alerts import AlertEvent, AlertRule, evaluate

SECRET = "whsec_test-secret-0123456789"


def make_rule(**overrides) -> AlertRule:
    """Return a drift rule on a share of drifted features, with the given fields replaced."""
    fields = {
        "name": "drift_high",
        "monitor": "fraud-daily",
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.5,
    }
    fields.update(overrides)
    return AlertRule(**fields)


def make_event(status: str = "firing", **rule_fields) -> AlertEvent:
    """Return a real event from the evaluator: a firing at t=1000, or its resolve at t=5000."""
    rule = make_rule(
        labels={"team": "risk"}, annotations={"summary": "Most features drifted"}, **rule_fields
    )
    fired = evaluate(rule, None, 0.9, 1_000)
    if status == "firing":
        return fired.event
    return evaluate(rule, fired.state, 0.1, 5_000).event


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answered in order, then 200
        self.headers: dict[str, str] = {}  # added to every answer (e.g. Location)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll, so shutdown() at teardown returns at once instead of after 0.5 s.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str = "/alerts") -> str:
        """Return the URL of one path on this receiver."""
        return self.base + path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """Return (certificate, key) files of a self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def server_tls(tls_files) -> ssl.SSLContext:
    """Return a server-side TLS context holding the self-signed certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context


@pytest.fixture
def client_tls(tls_files) -> ssl.SSLContext:
    """Return a client-side TLS context that trusts only the self-signed certificate."""
    return ssl.create_default_context(cafile=str(tls_files[0]))
