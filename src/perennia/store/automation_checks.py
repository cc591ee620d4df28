"""Checks on schedules, retraining policies and retrainings before anything is stored or sent.

Shared by the SQL store (the authority) and the REST client (before sending), so both refuse the
same input with the same message. Each check returns the cleaned value or raises InvalidInput
naming the field and what would be accepted. The store cannot import `perennia.automation`, so
an entrypoint's shape is checked here; whether it resolves is the SDK's check.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from perennia.entities.automation import (
    RETRAINING_STATES,
    SCHEDULE_RUN_STATUSES,
    RetrainingPolicy,
    Schedule,
)
from perennia.errors import InvalidInput
from perennia.store.limits import NAME_LENGTH
from perennia.store.monitor_checks import MAX_PERIOD_MS, check_monitor_name, check_time
from perennia.store.registry_checks import check_model_name, check_text
from perennia.store.validation import validate_dataset_json

MAX_ENTRYPOINT = 1_000
MAX_CRON = 256
MAX_PARAMS_CHARS = 65_536
MAX_CONFIG_CHARS = 65_536
MAX_TRIGGERS = 100
MAX_DETAIL_CHARS = 1_048_576
MAX_MESSAGE = 65_536
MAX_ERROR = 65_536
MAX_RETRAININGS_LISTED = 10_000
MAX_CLAIMS = 1_000
_MAX_ID = 2**63 - 1
_MAX_VERSION = 2**31 - 1
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_ENTRYPOINT = re.compile(rf"(?P<where>[^:\s]+):(?P<attr>{_IDENTIFIER})")
_MODULE = re.compile(_IDENTIFIER)
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _integer(value: Any, field: str, low: int, high: int) -> int:
    """Return `value` if it is an int (not a bool) from `low` to `high`, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{field} must be an integer from {low:,} to {high:,}, got {value!r:.40}"
        )
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false, got {value!r:.40}")
    return value


def check_schedule_name(name: Any) -> str:
    """Return a valid schedule name (1-128 letters, digits, _ . -, starting alnum), or raise."""
    return check_monitor_name(name, "schedule name")


def check_entrypoint_shape(text: Any, field: str) -> str:
    """Return `text` when it reads "package.module:attribute" or "path/file.py:attribute"."""
    example = "'my_project.pipelines:training' or 'pipelines/train.py:training'"
    if not isinstance(text, str) or len(text) > MAX_ENTRYPOINT:
        raise InvalidInput(
            f"{field} must be an entrypoint of at most {MAX_ENTRYPOINT} characters such as "
            f"{example}, got {text!r:.80}"
        )
    found = _ENTRYPOINT.fullmatch(text)
    if found is None or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(f"{field} must be an entrypoint such as {example}, got {text!r:.80}")
    where = found.group("where")
    if not where.endswith(".py") and not _MODULE.fullmatch(where):
        raise InvalidInput(
            f"{field} {text!r:.80}: before ':' comes a module or a .py file, as in {example}"
        )
    return text


def check_cron(cron: Any) -> str:
    """Return a cron expression's text (1-256 characters, one line); the SDK parses it."""
    if not isinstance(cron, str) or not cron.strip() or len(cron) > MAX_CRON:
        raise InvalidInput(
            f"cron must be a cron expression of 1-{MAX_CRON} characters such as '0 3 * * *', "
            f"got {cron!r:.80}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in cron):
        raise InvalidInput(f"cron may not hold control characters, got {cron!r:.80}")
    return cron.strip()


def check_params(params: Any) -> dict[str, Any]:
    """Return a target's params (a plain JSON object up to 65,536 characters), or raise."""
    return validate_dataset_json(params, "params", MAX_PARAMS_CHARS, dict)


def check_schedule(schedule: Any) -> Schedule:
    """Return the draft Schedule with every field the caller sets checked, or raise.

    The times, the creator, the last run and the lease are the store's to set.
    """
    if not isinstance(schedule, Schedule):
        raise InvalidInput(f"expected a Schedule, got {type(schedule).__name__}")
    return replace(
        schedule,
        name=check_schedule_name(schedule.name),
        target=check_entrypoint_shape(schedule.target, "target"),
        cron=check_cron(schedule.cron),
        params=check_params(schedule.params),
        enabled=_bool(schedule.enabled, "enabled"),
        description=check_text(schedule.description, "description"),
        next_run_ms=check_time(schedule.next_run_ms, "next_run_ms", optional=True),
    )


def check_run_outcome(
    ran_ms: Any, status: Any, error: Any, run_id: Any
) -> tuple[int | None, str | None, str | None, str | None]:
    """Return a released firing's (time, status, error, run id), or raise InvalidInput."""
    ran = check_time(ran_ms, "ran_ms", optional=True)
    if ran is None:
        if status is not None or error is not None or run_id is not None:
            raise InvalidInput("status, error and run_id describe a firing: give ran_ms too")
        return None, None, None, None
    if status not in SCHEDULE_RUN_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(SCHEDULE_RUN_STATUSES)}, got {status!r:.40}"
        )
    error = check_text(error, "error", MAX_ERROR, optional=True)
    run_id = check_text(run_id, "run_id", NAME_LENGTH, optional=True)
    return ran, status, error, run_id


def check_cooldown(value: Any) -> int:
    """Return a cooldown in milliseconds (0 to 366 days), or raise InvalidInput."""
    return _integer(value, "cooldown_ms", 0, MAX_PERIOD_MS)


def check_trigger(trigger: Any, field: str = "trigger") -> dict[str, Any]:
    """Return a trigger (a JSON object whose "kind" is a short lowercase name), or raise."""
    clean = validate_dataset_json(trigger, field, MAX_CONFIG_CHARS, dict)
    kind = clean.get("kind")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidInput(
            f"{field} must say its kind, e.g. {{'kind': 'schedule', 'cron': '0 3 * * *'}}, "
            f"got kind {kind!r:.40}"
        )
    return clean


def check_policy(policy: Any) -> RetrainingPolicy:
    """Return the draft RetrainingPolicy with every field the caller sets checked, or raise."""
    if not isinstance(policy, RetrainingPolicy):
        raise InvalidInput(f"expected a RetrainingPolicy, got {type(policy).__name__}")
    triggers = policy.triggers
    if isinstance(triggers, str | bytes | dict) or not isinstance(triggers, list | tuple):
        raise InvalidInput(f"triggers must be a list of trigger objects, got {triggers!r:.80}")
    if len(triggers) > MAX_TRIGGERS:
        raise InvalidInput(f"a policy holds {len(triggers):,} triggers; at most {MAX_TRIGGERS}")
    return replace(
        policy,
        model_name=check_model_name(policy.model_name),
        pipeline=check_entrypoint_shape(policy.pipeline, "pipeline"),
        triggers=tuple(check_trigger(t, f"triggers[{i}]") for i, t in enumerate(triggers)),
        config=validate_dataset_json(policy.config, "config", MAX_CONFIG_CHARS, dict),
        cooldown_ms=check_cooldown(policy.cooldown_ms),
        enabled=_bool(policy.enabled, "enabled"),
    )


def check_state(state: Any) -> str:
    """Return a retraining state (one of RETRAINING_STATES), or raise InvalidInput."""
    if state not in RETRAINING_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(RETRAINING_STATES)}, got {state!r:.40}"
        )
    return state


def check_retraining_id(value: Any) -> int:
    """Return a retraining id (a positive integer), or raise InvalidInput."""
    return _integer(value, "retraining_id", 1, _MAX_ID)


def check_version(value: Any, field: str) -> int | None:
    """Return a model version number (or None), or raise InvalidInput."""
    return None if value is None else _integer(value, field, 1, _MAX_VERSION)


def check_detail(detail: Any) -> dict[str, Any] | None:
    """Return a retraining's detail (a JSON object up to 1 MiB, or None), or raise."""
    if detail is None:
        return None
    return validate_dataset_json(detail, "detail", MAX_DETAIL_CHARS, dict)


def check_message(message: Any) -> str:
    """Return an event's message (1-65,536 characters of text), or raise InvalidInput."""
    text = check_text(message, "message", MAX_MESSAGE)
    if not text.strip():
        raise InvalidInput("message must say what happened, in one line")
    return text


def check_limit(limit: Any, most: int) -> int:
    """Return a result limit from 1 to `most`, or raise InvalidInput."""
    return _integer(limit, "limit", 1, most)


def check_update_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Return `update_retraining`'s optional fields checked, the ones not given dropped."""
    checks = {
        "pipeline_run_id": lambda v: check_text(v, "pipeline_run_id", NAME_LENGTH),
        "challenger_version": lambda v: check_version(v, "challenger_version"),
        "champion_version": lambda v: check_version(v, "champion_version"),
        "approval_request_id": lambda v: _integer(v, "approval_request_id", 1, _MAX_ID),
        "deployment": lambda v: check_text(v, "deployment", NAME_LENGTH),
        "reason": lambda v: check_text(v, "reason", MAX_MESSAGE),
        "detail": check_detail,
    }
    return {name: checks[name](value) for name, value in fields.items() if value is not None}


def check_expected_state(expected_state: Any) -> str:
    """Return `expected_state` checked (one of the retraining states), or raise InvalidInput."""
    try:
        return check_state(expected_state)
    except InvalidInput:
        raise InvalidInput(
            f"expected_state must be one of the retraining states, got {expected_state!r:.40}"
        ) from None
