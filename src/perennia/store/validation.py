"""Validation at the store boundary: every name and value is checked before it is stored.

The SDK calls the same functions early, so a bad value fails at the call that passed it.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

from perennia.errors import InvalidInput
from perennia.store.limits import KEY_LENGTH, NAME_LENGTH, PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_KEY_RE = re.compile(r"^[\w\-. /:]+$")
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# Experiment ids are 32-bit INTEGER columns on PostgreSQL.
MAX_EXPERIMENT_ID = 2**31 - 1


def validate_key(key: object, what: str = "key") -> str:
    """Return `key` if it is a usable metric/param/tag name, else raise InvalidInput."""
    if not isinstance(key, str):
        raise InvalidInput(f"{what} must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise InvalidInput(f"{what} must not be empty")
    if len(key) > KEY_LENGTH:
        raise InvalidInput(
            f"{what} {key[:40]!r}... is {len(key)} characters; the limit is {KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise InvalidInput(
            f"{what} {key!r} has characters outside letters, digits, '_', '-', '.', ' ', '/' and ':'"
        )
    if key.startswith("/") or any(part in (".", "..") for part in key.split("/")):
        raise InvalidInput(
            f"{what} {key!r} must not start with '/' or contain '.' or '..' path segments"
        )
    return key


def validate_metric_value(key: str, value: object) -> float:
    """Return `value` as a float (NaN and infinities allowed), else raise InvalidInput."""
    if isinstance(value, float):
        return value
    if isinstance(value, numbers.Real):  # ints, numpy scalars, and bools as 0/1 like MLflow
        try:
            return float(value)
        except OverflowError:
            # No repr: a huge int's decimal form can itself exceed Python's digit limit.
            raise InvalidInput(
                f"metric {key!r} value ({type(value).__name__}) is too large for a 64-bit float"
            ) from None
    raise InvalidInput(
        f"metric {key!r} value must be a real number, got {type(value).__name__} {value!r:.60}"
    )


def validate_int64(name: str, value: object) -> int:
    """Return `value` as an int that fits in 64 bits, else raise InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{name} must be an integer, got {type(value).__name__} {value!r:.60}")
    value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInput(f"{name} {value} does not fit in a signed 64-bit integer")
    return value


def validate_param_value(key: str, value: object) -> str:
    """Return the string form of a param value within the size limit."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param {key!r} value is {len(text)} characters; the limit is {PARAM_VALUE_LENGTH}. "
            "Log large values as an artifact instead"
        )
    _reject_nul(f"param {key!r} value", text)
    return text


def validate_tag_value(key: str, value: object) -> str:
    """Return the string form of a tag value within the size limit."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {key!r} value is {len(text)} characters; the limit is {TAG_VALUE_LENGTH}"
        )
    _reject_nul(f"tag {key!r} value", text)
    return text


def _reject_nul(what: str, text: str) -> None:
    """Raise InvalidInput for NUL characters, which PostgreSQL text cannot hold."""
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL characters")


def validate_name(value: object, what: str) -> str:
    """Return a stripped experiment or run name, else raise InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__} {value!r:.60}")
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > NAME_LENGTH:
        raise InvalidInput(f"{what} is {len(value)} characters; the limit is {NAME_LENGTH}")
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain NUL characters")
    return value


def validate_run_id(run_id: object) -> str:
    """Return `run_id` if it is a 32-character hex uuid, else raise InvalidInput."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidInput(f"run id {run_id!r:.60} is not a 32-character hex uuid")
    return run_id


def validate_experiment_id(experiment_id: object) -> int:
    """Return an experiment id as an int, accepting its string form."""
    if isinstance(experiment_id, str):
        text = experiment_id.strip()
        if text.isascii() and text.isdigit() and int(text) <= MAX_EXPERIMENT_ID:
            return int(text)
    elif (
        isinstance(experiment_id, int)
        and not isinstance(experiment_id, bool)
        and 0 <= experiment_id <= MAX_EXPERIMENT_ID
    ):
        return experiment_id
    raise InvalidInput(
        f"experiment id {experiment_id!r:.60} is not an integer between 0 and {MAX_EXPERIMENT_ID}"
    )


def validate_experiment_ids(experiment_ids: object) -> list[int]:
    """Return a non-empty list of experiment ids as ints (see `validate_experiment_id`)."""
    if isinstance(experiment_ids, str | bytes) or not experiment_ids:
        raise InvalidInput("experiment_ids must list at least one experiment id")
    return [validate_experiment_id(e) for e in experiment_ids]


# What experiments may be ordered by (ExperimentStore.search), as (field, descending) pairs.
EXPERIMENT_ORDER_FIELDS = ("name", "experiment_id", "creation_time", "last_update_time")


def validate_order(order_by: object, fields: Sequence[str]) -> list[tuple[str, bool]]:
    """Return `order_by` as (field, descending) pairs over `fields` ([] for None), else raise."""
    if order_by is None:
        return []
    if isinstance(order_by, str | bytes) or not all(
        isinstance(item, tuple | list)
        and len(item) == 2
        and item[0] in fields
        and isinstance(item[1], bool)
        for item in order_by
    ):
        raise InvalidInput(
            f"order_by must list (field, descending) pairs with a field among "
            f"{', '.join(fields)}; got {order_by!r:.80}"
        )
    return [(field, descending) for field, descending in order_by]
