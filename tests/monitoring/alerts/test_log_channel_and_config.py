"""The log channel, and building any channel from a configuration mapping."""

from __future__ import annotations

import logging

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import (
    Channel,
    EmailChannel,
    LogChannel,
    WebhookChannel,
    channel_from_config,
)
from tests.monitoring.alerts.conftest import SECRET, make_event

LOGGER = "perennia.monitoring.alerts.channels.log"


def test_firing_logs_a_warning_and_resolving_logs_info(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    firing, resolved = make_event("firing"), make_event("resolved")
    result = LogChannel().send([firing, resolved])
    assert (result.ok, result.attempts) == (True, 1)
    records = [r for r in caplog.records if r.name == LOGGER]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, firing.summary()),
        (logging.INFO, resolved.summary()),
    ]
    assert records[0].alert == firing.to_dict()


def test_a_log_channel_sends_nothing_for_no_events(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert LogChannel(name="audit").send([]).attempts == 0
    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_channels_are_built_from_config():
    log = channel_from_config({"type": "log", "name": "audit"})
    assert isinstance(log, LogChannel) and log.name == "audit"
    hook = channel_from_config(
        {
            "type": "webhook",
            "url": "https://hooks.example.com/alerts",
            "secret": SECRET,
            "retries": 5,
            "backoff_seconds": 2,
            "max_backoff_seconds": 60,
            "group_by": ["alertname", "monitor"],
        }
    )
    assert isinstance(hook, WebhookChannel)
    assert (hook.retries, hook.backoff, hook.max_backoff) == (5, 2.0, 60.0)
    assert hook.group_by == ("alertname", "monitor")
    mail = channel_from_config(
        {
            "type": "email",
            "host": "smtp.example.com",
            "port": 587,
            "from": "alerts@example.com",
            "to": "oncall@example.com",
            "starttls": True,
            "username": "alerts",
            "password": "app-password",
        }
    )
    assert isinstance(mail, EmailChannel)
    assert (mail.port, mail.recipients, mail.starttls) == (587, ["oncall@example.com"], True)
    for channel in (log, hook, mail):
        assert isinstance(channel, Channel)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "slack"}, "channel type 'slack' is unknown; use webhook, email or log"),
        ({}, "channel type None is unknown"),
        ("log", "a channel config must be a mapping"),
        ({"type": "log", "level": "debug"}, "log channel: unknown key 'level'; accepted keys"),
        (
            {"type": "webhook", "url": "https://x.example.com"},
            "webhook channel: 'secret' is required",
        ),
        (
            {"type": "webhook", "url": "https://x.example.com", "secret": SECRET, "backoff": 1},
            "unknown key 'backoff'; accepted keys are type, url, secret",
        ),
        ({"type": "email", "host": "h", "from": "a@b.com"}, "email channel: 'to' is required"),
        (
            {"type": "email", "host": "h", "from": "a@b", "to": "c@d.com", "sender": "x"},
            "unknown key 'sender'",
        ),
        (
            {"type": "webhook", "url": "gopher://x", "secret": SECRET},
            "url scheme must be http or https",
        ),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config, message):
    with pytest.raises(InvalidInput, match=message):
        channel_from_config(config)
