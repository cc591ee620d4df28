"""Request bodies of the native API. Responses are the shared entities, serialized by `to_dict`.

These are request shapes only (what a caller may send), so they do not duplicate the entities.
Non-finite metric values travel as the strings "NaN", "Infinity" and "-Infinity".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NonFinite = Literal["NaN", "Infinity", "-Infinity"]
Int64 = Field(ge=-(2**63), le=2**63 - 1)


class Strict(BaseModel):
    """Unknown fields are an error, so a misspelt field is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class CreateExperiment(Strict):
    name: str
    artifact_location: str | None = None
    tags: dict[str, str] = {}


class RenameExperiment(Strict):
    name: str


class KeyValue(Strict):
    key: str
    value: str


class Cutoff(Strict):
    older_than_ms: int = Int64


class PurgeCutoff(Cutoff):
    dry_run: bool = False


class CreateRun(Strict):
    experiment_id: str
    run_name: str | None = None
    user_id: str | None = None
    start_time: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    tags: dict[str, str] = {}
    parent_run_id: str | None = None
    source_name: str | None = None
    git_commit: str | None = None


class UpdateRun(Strict):
    status: str | None = None
    end_time: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    run_name: str | None = None
    error: str | None = None


class Heartbeat(Strict):
    run_ids: list[str]
    now_ms: int = Int64


class SearchRuns(Strict):
    experiment_ids: list[str]
    filter_string: str = ""
    view_type: Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] = "ACTIVE_ONLY"
    max_results: int | None = 1000
    order_by: list[str] | None = None
    page_token: str | None = None


class MetricColumns(Strict):
    """A metric batch as parallel columns: the hot path, one request per writer batch."""

    keys: list[str]
    values: list[float | NonFinite]
    steps: list[int]
    timestamps: list[int]


class LogBatch(Strict):
    metrics: MetricColumns | None = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class DatasetBody(Strict):
    name: str
    digest: str
    source: str
    source_type: str
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    row_count: int = Int64
    targets: list[str] = []
    profile: dict[str, Any] = {}


class InputBody(Strict):
    dataset: DatasetBody
    context: str | None = None
    tags: dict[str, str] = {}


class LogInputs(Strict):
    inputs: list[InputBody]


class ArtifactEntryBody(Strict):
    path: str
    digest: str
    size: int = Field(ge=0, le=2**63 - 1)


class RecordArtifacts(Strict):
    entries: list[ArtifactEntryBody]


def exact_types(cls: type) -> Any:
    """Return a pydantic validator that refuses, before any coercion, an entity field of the
    wrong JSON type (pydantic would read `true` or `"5"` as the integer 1 or 5)."""
    import dataclasses
    import types
    import typing

    from pydantic import BeforeValidator

    hints = typing.get_type_hints(cls)
    accepted: dict[str, tuple[type, ...]] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = tuple(typing.get_origin(o) or o for o in options)
        if all(k in (int, float, str, dict, list, type(None)) for k in kinds):
            accepted[f.name] = kinds

    def check(data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic says what it expected
        for name, value in data.items():
            kinds = accepted.get(name)
            if kinds is None or (value is None and type(None) in kinds):
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if isinstance(value, bool) or not (
                (int in kinds and isinstance(value, int))
                or (float in kinds and number)
                or (str in kinds and isinstance(value, str))
                or (dict in kinds and isinstance(value, dict))
                or (list in kinds and isinstance(value, list))
            ):
                wanted = " or ".join(
                    {int: "an integer", float: "a number", str: "text", dict: "an object"}.get(
                        k, "null" if k is type(None) else "a list"
                    )
                    for k in kinds
                )
                raise ValueError(f"{name} must be {wanted}, got {type(value).__name__}")
        return data

    return BeforeValidator(check)
