"""Backend-neutral checks of whole write requests (batches, params, tags, inputs, manifests).

Every store runs them: the SQL store as the authority, the REST store before it sends, so bad
input gets the same error, and costs no round trip, whichever store a program uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from perennia.entities import ArtifactEntry, DatasetInput, MetricBatch, Param, RunTag
from perennia.errors import Conflict, InvalidInput
from perennia.store.artifact_paths import validate_artifact_path
from perennia.store.validation import (
    INT64_MAX,
    INT64_MIN,
    validate_int64,
    validate_key,
    validate_metric_value,
    validate_name,
    validate_param_value,
    validate_tag_value,
)

# A dataset digest is the client's fingerprint (MLflow's are short hex, but any id-like text).
_DIGEST_CHARS = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.:")
_SHORT_TEXT = 64  # context and source_type are VARCHAR(64) columns


def check_batch(batch: MetricBatch) -> None:
    """Validate every key, value, step and timestamp of a batch (keys once each)."""
    lengths = {len(batch.keys), len(batch.values), len(batch.steps), len(batch.timestamps)}
    if len(lengths) != 1:
        raise InvalidInput(
            f"metric batch columns differ in length: {len(batch.keys)} keys, "
            f"{len(batch.values)} values, {len(batch.steps)} steps, "
            f"{len(batch.timestamps)} timestamps"
        )
    try:
        keys = set(batch.keys)
    except TypeError:  # an unhashable key; validate_key names it
        keys = batch.keys
    for key in keys:
        validate_key(key, "metric key")
    for key, value in zip(batch.keys, batch.values, strict=True):
        if value.__class__ is not float:
            validate_metric_value(key, value)
    for name, column in (("metric step", batch.steps), ("metric timestamp", batch.timestamps)):
        for number in column:
            if number.__class__ is not int:
                validate_int64(name, number)
        # Plain ints skip the per-item check above; the range is checked once per column.
        if column and not (min(column) >= INT64_MIN and max(column) <= INT64_MAX):
            for number in column:
                validate_int64(name, number)


def check_params(params: Sequence[Param]) -> dict[str, str]:
    """Return the params as a validated dict; Conflict if one key carries two values."""
    clean: dict[str, str] = {}
    for param in params:
        key = validate_key(param.key, "param key")
        value = validate_param_value(key, param.value)
        if key in clean and clean[key] != value:
            raise Conflict(
                f"param {key!r} appears twice in one batch with values {clean[key]!r} and {value!r}"
            )
        clean[key] = value
    return clean


def check_tags(tags: Sequence[RunTag]) -> dict[str, str]:
    """Return the tags as a validated dict (a later value for the same key wins)."""
    clean: dict[str, str] = {}
    for tag in tags:
        key = validate_key(tag.key, "tag key")
        clean[key] = validate_tag_value(key, tag.value)
    return clean


def check_input(item: DatasetInput) -> DatasetInput:
    """Return the dataset input if every field fits the store, else raise InvalidInput."""
    dataset = item.dataset
    validate_name(dataset.name, "dataset name")
    if not (
        isinstance(dataset.digest, str)
        and 1 <= len(dataset.digest) <= 64
        and set(dataset.digest) <= _DIGEST_CHARS
    ):
        raise InvalidInput(
            f"dataset {dataset.name!r} digest {dataset.digest!r:.70} is not 1-64 letters, digits, '_', '-', '.' or ':'"
        )
    if item.context is not None:
        validate_key(item.context, "dataset context")
        if len(item.context) > _SHORT_TEXT:
            raise InvalidInput(
                f"dataset context {item.context[:40]!r}... is {len(item.context)} characters; "
                f"the limit is {_SHORT_TEXT}"
            )
    if not isinstance(item.tags, dict):
        raise InvalidInput(f"dataset {dataset.name!r} input tags must be a mapping of key to value")
    for key, value in item.tags.items():
        validate_tag_value(validate_key(key, "dataset input tag key"), value)
    for what, text, limit in (
        ("source", dataset.source, None),
        ("source_type", dataset.source_type, _SHORT_TEXT),
    ):
        # PostgreSQL text cannot hold NUL, and VARCHAR(64) rejects what SQLite would keep.
        if not isinstance(text, str) or "\x00" in text or (limit and len(text) > limit):
            raise InvalidInput(
                f"dataset {dataset.name!r} {what} {text!r:.70} must be a string without NUL "
                "characters" + (f" of at most {limit} characters" if limit else "")
            )
    if (
        isinstance(dataset.row_count, bool)
        or not isinstance(dataset.row_count, int)
        or not 0 <= dataset.row_count <= INT64_MAX
    ):
        raise InvalidInput(
            f"dataset {dataset.name!r} row_count must be a non-negative 64-bit integer"
        )
    for what in ("schema", "targets", "profile"):
        try:
            json.dumps(getattr(dataset, what))
        except (TypeError, ValueError) as error:
            raise InvalidInput(
                f"dataset {dataset.name!r} {what} is not JSON-serializable: {error}"
            ) from None
    return item


def check_artifact_entry(entry: ArtifactEntry) -> ArtifactEntry:
    """Return the manifest entry if its path, digest and size are valid, else raise InvalidInput."""
    validate_artifact_path(entry.path)
    if not (isinstance(entry.digest, str) and len(entry.digest) == 64):
        raise InvalidInput(
            f"artifact {entry.path!r} digest must be a 64-character sha256 hex string"
        )
    if isinstance(entry.size, bool) or not isinstance(entry.size, int) or entry.size < 0:
        raise InvalidInput(f"artifact {entry.path!r} size must be a non-negative integer")
    return entry
