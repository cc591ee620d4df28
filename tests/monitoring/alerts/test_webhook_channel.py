"""Alert webhooks: Alertmanager v4 payloads, signed like registry webhooks, with bounded retries."""

from __future__ import annotations

import json

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import DeliveryFailed, WebhookChannel, alertmanager_payload
from perennia.registry.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from tests.monitoring.alerts.conftest import SECRET, make_event
from tests.ports import free_port


def channel(url: str, **options) -> tuple[WebhookChannel, list[float]]:
    waits: list[float] = []
    made = WebhookChannel(url, SECRET, sleep=waits.append, **options)
    return made, waits


def test_a_firing_alert_is_posted_as_a_signed_alertmanager_payload(receiver):
    hook, _ = channel(
        receiver.url(),
        receiver="risk-team",
        external_url="https://perennia.example.com",
        generator_url="https://perennia.example.com/monitors/fraud-daily",
    )
    event = make_event("firing")
    result = hook.send([event])
    assert (result.ok, result.attempts, result.status_code, result.error) == (True, 1, 200, None)

    (request,) = receiver.requests
    assert verify_signature(SECRET, request["headers"], request["body"])
    assert not verify_signature("whsec_another-secret-000000", request["headers"], request["body"])
    assert not verify_signature(SECRET, request["headers"], request["body"] + b" ")
    headers = request["headers"]
    assert headers[EVENT_HEADER] == "alert_firing"
    assert headers[SIGNATURE_HEADER].startswith("sha256=") and headers[TIMESTAMP_HEADER].isdigit()
    assert headers["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "version": "4",
        "groupKey": '{}:{alertname="drift_high"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "risk-team",
        "groupLabels": {"alertname": "drift_high"},
        "commonLabels": {
            "alertname": "drift_high",
            "monitor": "fraud-daily",
            "severity": "warning",
            "team": "risk",
        },
        "commonAnnotations": {"summary": "Most features drifted"},
        "externalURL": "https://perennia.example.com",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "team": "risk",
                    "alertname": "drift_high",
                    "monitor": "fraud-daily",
                    "severity": "warning",
                },
                "annotations": {"summary": "Most features drifted"},
                "startsAt": "1970-01-01T00:00:01Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://perennia.example.com/monitors/fraud-daily",
                "fingerprint": event.fingerprint,
            }
        ],
    }


def test_a_resolve_carries_its_end_time_and_a_group_is_firing_while_any_alert_fires(receiver):
    hook, _ = channel(receiver.url())
    resolved = make_event("resolved")
    other = make_event("firing", name="share_low", op="<", threshold=0.95)
    assert hook.send([resolved]).ok
    body = json.loads(receiver.requests[0]["body"])
    assert body["status"] == "resolved" and body["receiver"] == "webhook"
    assert body["alerts"][0]["endsAt"] == "1970-01-01T00:00:05Z"
    assert receiver.requests[0]["headers"][EVENT_HEADER] == "alert_resolved"

    payload = alertmanager_payload([resolved, other], receiver="r")
    assert payload["status"] == "firing"
    assert payload["groupLabels"] == {} and payload["groupKey"] == "{}:{}"
    assert "alertname" not in payload["commonLabels"] and payload["commonLabels"]["team"] == "risk"
    assert [a["status"] for a in payload["alerts"]] == ["resolved", "firing"]
    grouped = alertmanager_payload([resolved, other], receiver="r", group_by=["monitor", "team"])
    assert grouped["groupKey"] == '{}:{monitor="fraud-daily", team="risk"}'


def test_a_failing_receiver_is_retried_with_backoff_under_one_delivery_id(receiver):
    receiver.statuses = [503, 500]
    hook, waits = channel(receiver.url(), retries=3, backoff=0.5, max_backoff=0.75)
    result = hook.send([make_event()])
    assert (result.ok, result.attempts, result.status_code) == (True, 3, 200)
    assert waits == [0.5, 0.75]  # doubled, then capped
    assert len({r["headers"][DELIVERY_HEADER] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(verify_signature(SECRET, r["headers"], r["body"]) for r in receiver.requests)


def test_retries_are_bounded_and_the_failure_is_reported(receiver):
    receiver.statuses = [502] * 10
    hook, waits = channel(receiver.url(), retries=2, backoff=1.0)
    result = hook.send([make_event()])
    assert (result.ok, result.attempts, result.status_code) == (False, 3, 502)
    assert result.error == "HTTP 502" and waits == [1.0, 2.0]
    assert len(receiver.requests) == 3
    with pytest.raises(DeliveryFailed, match="channel 'webhook': delivery failed after 3"):
        result.raise_for_failure()


def test_a_client_error_is_not_retried(receiver):
    receiver.statuses = [400]
    hook, waits = channel(receiver.url(), retries=3)
    result = hook.send([make_event()])
    assert (result.ok, result.attempts, result.error, waits) == (False, 1, "HTTP 400", [])


def test_too_many_requests_is_retried(receiver):
    receiver.statuses = [429]
    hook, waits = channel(receiver.url(), retries=1, backoff=0.0)
    assert hook.send([make_event()]).attempts == 2 and waits == [0.0]


def test_a_redirect_is_not_followed(receiver):
    receiver.statuses = [302]
    receiver.headers = {"Location": receiver.url("/elsewhere")}
    hook, _ = channel(receiver.url(), retries=3)
    result = hook.send([make_event()])
    assert not result.ok and result.attempts == 1
    assert "redirects are not followed" in result.error
    assert [r["path"] for r in receiver.requests] == ["/alerts"]


def test_an_unreachable_receiver_fails_after_the_retries():
    hook, waits = channel(f"http://127.0.0.1:{free_port()}/alerts", retries=1, timeout=2.0)
    result = hook.send([make_event()])
    assert (result.ok, result.attempts, result.status_code) == (False, 2, None)
    assert "ConnectError" in result.error and len(waits) == 1


def test_nothing_to_send_sends_nothing(receiver):
    hook, _ = channel(receiver.url())
    assert hook.send([]).attempts == 0 and receiver.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "url scheme must be http or https"),
        ("https://user:pw@example.com/", "must not hold a user name or password"),
        ("https:///path", "names no host"),
        ("", "url must be an http:// or https:// URL"),
    ],
)
def test_urls_are_checked_by_the_registry_webhook_rules(url, message):
    with pytest.raises(InvalidInput, match=message):
        WebhookChannel(url, SECRET)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret": "short"}, "secret must be 16-256 printable characters"),
        ({"retries": 11}, "retries must be from 0 to 10"),
        ({"retries": -1}, "retries must be from 0 to 10"),
        ({"retries": 1.0}, "retries must be an int"),
        ({"timeout": 0}, "timeout must be from 0.001 to 300 seconds"),
        ({"backoff": -1}, "backoff must be from 0 to 300 seconds"),
        ({"backoff": 5, "max_backoff": 1}, "max_backoff must be from 5 to 300 seconds"),
        ({"group_by": "alertname"}, "group_by must be a list of label names"),
        ({"group_by": ["bad-name"]}, "group_by 'bad-name' is not allowed"),
        ({"name": "a b"}, "name 'a b' is not allowed"),
    ],
)
def test_bad_options_are_refused(options, message):
    arguments = {"url": "https://hooks.example.com/alerts", "secret": SECRET, **options}
    with pytest.raises(InvalidInput, match=message):
        WebhookChannel(**arguments)


def test_the_secret_never_shows_in_the_channels_repr():
    assert SECRET not in repr(WebhookChannel("https://hooks.example.com/x", SECRET))
