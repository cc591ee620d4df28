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


# -- dataset versions (checked alike by the SQL store, the REST client and the SDK) -------------

# A dataset name is stricter than a model name: it is written `name@version` and becomes a URL
# path segment and a folder name, so letters, digits and `_ . -` only, starting with a letter
# or digit (never '.' or '..').
_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")
_DATASET_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,255}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_DATASET_VERSION = 2**31 - 1  # INTEGER columns on PostgreSQL
MAX_DATASET_PARENTS = 1_000
MAX_DATASET_TAGS = 1_000
# JSON bounds, in characters of compact JSON: a schema or contract covers every column of a wide
# table; a source or derivation says where data came from, never the data itself.
MAX_DATASET_SCHEMA_CHARS = 4_000_000
MAX_DATASET_CONTRACT_CHARS = 4_000_000
MAX_DATASET_JSON_CHARS = 65_536
MAX_DATASET_TEXT = 65_536
MAX_STORAGE_URI = 4_000


def validate_dataset_name(name: object) -> str:
    """Return `name` if it is a valid dataset name, else raise InvalidInput."""
    if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
        raise InvalidInput(
            f"dataset name must be 1-{NAME_LENGTH} letters, digits, '_', '.' or '-' starting "
            f"with a letter or digit (e.g. 'churn-train'), got {name!r:.80}"
        )
    return name


def _integer(value: object, what: str, low: int, high: int) -> int:
    """Return `value` if it is an int (not a bool) from `low` to `high`, else raise InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be an integer from {low} to {high:,}, got {value!r:.40}")
    return value


def validate_dataset_version(version: object, what: str = "dataset version") -> int:
    """Return a version number (1 to 2**31-1) from an int or ASCII digits, else raise."""
    if isinstance(version, str) and version.isascii() and version.isdigit() and len(version) < 12:
        version = int(version)
    return _integer(version, what, 1, MAX_DATASET_VERSION)


def validate_dataset_alias(alias: object) -> str:
    """Return a valid dataset alias (not `latest`, not a number), else raise InvalidInput."""
    if isinstance(alias, str) and (alias.isdigit() or alias.lower() == "latest"):
        raise InvalidInput(
            f"alias {alias!r:.40} is reserved: numbers name versions and 'latest' always means "
            "the newest; pick a word such as 'production'"
        )
    if not isinstance(alias, str) or not _DATASET_ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"alias {alias!r:.80} must start with a letter or _ and hold only letters, digits, _ "
            "and - (up to 256), e.g. 'production'"
        )
    return alias


def validate_dataset_ref(ref: object) -> int | str:
    """Return `ref` as a version number, 'latest' or an alias, else raise InvalidInput."""
    if isinstance(ref, str) and ref == "latest":
        return ref
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return validate_dataset_version(ref)
    if isinstance(ref, str) and _DATASET_ALIAS.fullmatch(ref):
        return ref
    raise InvalidInput(
        f"dataset reference must be a version number, 'latest' or an alias, got {ref!r:.80}"
    )


def parse_dataset_parent(parent: object) -> tuple[str, int]:
    """Return (name, version) of a parent written "name@version", else raise InvalidInput."""
    if not isinstance(parent, str) or parent.count("@") != 1:
        raise InvalidInput(f"parent must be written 'name@version', got {parent!r:.80}")
    name, version = parent.split("@")
    return validate_dataset_name(name), validate_dataset_version(version, f"parent {parent!r}")


def validate_dataset_tag(key: object, value: object) -> tuple[str, str]:
    """Return a valid dataset tag (key as for run tags, text value), else raise InvalidInput."""
    key = validate_key(key, "tag key")
    if not isinstance(value, str):
        raise InvalidInput(f"tag {key!r} value must be text, got {type(value).__name__}")
    return key, validate_tag_value(key, value)


def validate_dataset_json(value: object, what: str, limit: int, kind: type) -> object:
    """Return `value` if it is plain JSON of type `kind` within `limit` characters, else raise.

    Plain means what reads back equal: text keys only, finite numbers, lists not tuples.
    """
    import json

    if not isinstance(value, kind):
        raise InvalidInput(f"{what} must be a JSON {kind.__name__}, got {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        same = json.loads(text) == value
    except (TypeError, ValueError, RecursionError) as error:
        raise InvalidInput(f"{what} must hold plain, finite JSON values: {error}"[:300]) from None
    if not same:
        raise InvalidInput(
            f"{what} must hold plain JSON (text keys, lists and objects), so it reads back equal"
        )
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text):,} characters of JSON; the limit is {limit:,}")
    return value


def validate_dataset_text(value: object, what: str, limit: int) -> str:
    """Return `value` if it is text without NUL of at most `limit` characters, else raise."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value):,} characters; the limit is {limit:,}")
    _reject_nul(what, value)
    return value


def _count(value: object, what: str, *, optional: bool = False) -> int | None:
    return None if value is None and optional else _integer(value, what, 0, INT64_MAX)


def validate_dataset_draft(draft: object) -> object:
    """Return the draft DatasetVersion with every stored field checked, else raise InvalidInput.

    `version`, `aliases`, `created_at` and `created_by` are the store's to set and not checked.
    """
    from dataclasses import replace

    from perennia.entities.datasets import DATASET_KINDS, DatasetVersion

    if not isinstance(draft, DatasetVersion):
        raise InvalidInput(f"expected a DatasetVersion draft, got {type(draft).__name__}")
    d = draft
    if not isinstance(d.digest, str) or not _SHA256.fullmatch(d.digest):
        raise InvalidInput(f"digest must be 64 lowercase hex characters, got {d.digest!r:.80}")
    if d.kind not in DATASET_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DATASET_KINDS)}, got {d.kind!r:.40}")
    storage_uri = validate_dataset_text(d.storage_uri, "storage_uri", MAX_STORAGE_URI)
    if not storage_uri:
        raise InvalidInput("storage_uri must name the blob store holding the snapshot")
    return replace(
        d,
        name=validate_dataset_name(d.name),
        storage_uri=storage_uri,
        row_count=_count(d.row_count, "row_count", optional=True),
        file_count=_count(d.file_count, "file_count"),
        size_bytes=_count(d.size_bytes, "size_bytes"),
        new_bytes=_count(d.new_bytes, "new_bytes"),
        schema=_schema(d.schema),
        source=validate_dataset_json(d.source, "source", MAX_DATASET_JSON_CHARS, dict),
        derivation=validate_dataset_json(d.derivation, "derivation", MAX_DATASET_JSON_CHARS, dict),
        parents=_parents(d.parents),
        description=validate_dataset_text(d.description, "description", MAX_DATASET_TEXT),
        tags=validate_dataset_tags(d.tags),
        contract=None if d.contract is None else validate_dataset_contract(d.contract),
    )


def _schema(schema: object) -> list:
    checked = validate_dataset_json(schema, "schema", MAX_DATASET_SCHEMA_CHARS, list)
    if not all(isinstance(column, dict) for column in checked):
        raise InvalidInput('schema must list one JSON object per column, {"name", "type"}')
    return list(checked)


def _parents(parents: object) -> list[str]:
    if isinstance(parents, str | bytes | dict) or not isinstance(parents, list | tuple):
        raise InvalidInput(f"parents must be a list of 'name@version', got {parents!r:.80}")
    if len(parents) > MAX_DATASET_PARENTS:
        raise InvalidInput(f"parents lists {len(parents)}; at most {MAX_DATASET_PARENTS}")
    pairs: dict[tuple[str, int], None] = {}  # insertion-ordered: parents keep their order
    for parent in parents:
        pair = parse_dataset_parent(parent)
        if pair in pairs:
            raise InvalidInput(f"parents lists {pair[0]}@{pair[1]} twice")
        pairs[pair] = None
    return [f"{name}@{version}" for name, version in pairs]


def validate_dataset_tags(tags: object) -> dict[str, str]:
    """Return a valid tag mapping (at most 1,000 tags), else raise InvalidInput."""
    if not isinstance(tags, dict):
        raise InvalidInput(f"tags must map keys to text values, got {type(tags).__name__}")
    if len(tags) > MAX_DATASET_TAGS:
        raise InvalidInput(f"tags holds {len(tags)}; at most {MAX_DATASET_TAGS}")
    return dict(validate_dataset_tag(k, v) for k, v in tags.items())


def validate_dataset_contract(contract: object) -> dict:
    """Return a validation contract (a plain JSON object up to 4,000,000 characters), or raise."""
    return validate_dataset_json(contract, "contract", MAX_DATASET_CONTRACT_CHARS, dict)


def validate_event_limit(limit: object, most: int = 100_000) -> int:
    """Return an event limit from 1 to `most`, else raise InvalidInput."""
    return _integer(limit, "limit", 1, most)
