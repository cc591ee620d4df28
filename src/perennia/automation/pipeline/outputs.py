"""Step outputs: what kind each value is, its content hash, its file, and reading it back.

    table          pandas / polars DataFrame, pandas Series, Arrow table -> <name>.parquet
    ndarray        numpy array (not of Python objects)                   -> <name>.npy (no pickle)
    json           None, bool, numbers, str, lists/tuples and str-keyed dicts of them -> <name>.json
    model          anything a model flavor saves (scikit-learn, XGBoost, ...) -> <name>/ package
    dataset        a DatasetVersion                                       -> <name>.json (its record)

A tuple comes back as a list (JSON has no tuples). A model comes back as the object the flavor
loads (the estimator); a flavor that unpickles is only read back when the caller allows it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.hashing import (
    array_hash,
    arrow_hash,
    canonical_json,
    frame_hash,
    sha256_text,
)
from perennia.errors import InvalidInput

KINDS_HELP = (
    "a pandas/polars DataFrame or Arrow table, a numpy array, a JSON value (dict, list, str, "
    "number, bool, None), a model, or a DatasetVersion"
)


KINDS = ("table", "ndarray", "json", "model", "dataset")
LIBRARIES = ("", "pandas", "pandas-series", "polars", "arrow")


class UnstorableOutput(InvalidInput):
    """A step returned a value no output kind can store (retrying it cannot help)."""


@dataclasses.dataclass(frozen=True)
class OutputMeta:
    """How one output was stored: its kind, content hash, file and what reading it needs."""

    name: str
    kind: str
    hash: str
    file: str  # relative to the outputs folder
    library: str = ""  # tables: pandas, pandas-series, polars or arrow
    flavor: str = ""  # models
    safe: bool = True  # models: loads without unpickling or types outside the trusted sets

    def to_json(self) -> str:
        """Return the record as compact JSON (kept as a tag of the step run)."""
        return canonical_json(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str, tag: str = "output record") -> OutputMeta:
        """Return the record `to_json` wrote; InvalidInput naming `tag` when it is not one.

        The record comes from a run tag, which anyone who can edit the experiment can write, and
        `file` becomes a path: only plain file names and known kinds get through.
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise InvalidInput(f"tag {tag!r} is not an output record (not JSON)") from None
        return cls.from_dict(data, tag)

    @classmethod
    def from_dict(cls, data: Any, tag: str = "output record") -> OutputMeta:
        """Return the record held in `data`, checked as `from_json` does."""
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not {"name", "kind", "hash", "file"} <= set(data):
            raise InvalidInput(f"tag {tag!r} needs name, kind, hash and file; got {data!r:.200}")
        if set(data) - fields:
            raise InvalidInput(f"tag {tag!r} has unknown fields {sorted(set(data) - fields)}")
        texts = ("name", "kind", "hash", "file", "library", "flavor")
        if any(not isinstance(data.get(k, ""), str) for k in texts):
            raise InvalidInput(f"tag {tag!r}: {', '.join(texts)} must be strings")
        if not isinstance(data.get("safe", True), bool):
            raise InvalidInput(f"tag {tag!r}: safe must be true or false")
        if data["kind"] not in KINDS:
            raise InvalidInput(f"tag {tag!r}: kind must be one of {', '.join(KINDS)}")
        if data.get("library", "") not in LIBRARIES:
            raise InvalidInput(f"tag {tag!r}: library must be one of {LIBRARIES}")
        if not _plain_name(data["file"]):
            raise InvalidInput(
                f"tag {tag!r}: file {data['file']!r:.100} must be a plain file name (no folders, "
                "'..' or absolute paths)"
            )
        return cls(**data)


def _plain_name(text: str) -> bool:
    bad = ("/", "\\", "\0", ":")
    return bool(text) and text not in (".", "..") and not any(c in text for c in bad)


def classify(value: Any) -> str:
    """Return the kind of `value`, or raise UnstorableOutput saying what would be accepted."""
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        return "table"
    if module == "polars" and type(value).__name__ == "DataFrame":
        return "table"
    if module == "pyarrow" and type(value).__name__ == "Table":
        return "table"
    if module == "numpy" and type(value).__name__ == "ndarray":
        if value.dtype.hasobject:
            raise UnstorableOutput(
                "a numpy array of Python objects cannot be stored without pickle; convert it to "
                "a numeric or string dtype, or return a DataFrame"
            )
        return "ndarray"
    from perennia.entities import DatasetVersion

    if isinstance(value, DatasetVersion):
        return "dataset"
    if _is_json(value):
        return "json"
    if _is_model(value):
        return "model"
    raise UnstorableOutput(f"a {type(value).__name__} cannot be stored; return {KINDS_HELP}")


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple, dict)):
        try:
            canonical_json(value)
        except (TypeError, ValueError):
            return False
        return True
    return False


def _is_model(value: Any) -> bool:
    # A class with a predict method is code, not a fitted model: never pickle it by accident.
    if isinstance(value, (type, bytes, bytearray, set, frozenset)):
        return False
    from perennia.models.flavors import flavor_for

    try:
        flavor_for(value)
    except InvalidInput:
        return False
    return True


def value_hash(value: Any, kind: str | None = None) -> str:
    """Return the content hash of a storable value (a param or an output)."""
    kind = kind or classify(value)
    if kind == "table":
        library = _library(value)
        if library == "pandas":
            return frame_hash(value)
        if library == "pandas-series":
            return frame_hash(value.to_frame())
        return arrow_hash(value if library == "arrow" else value.to_arrow())
    if kind == "ndarray":
        return array_hash(value)
    if kind == "dataset":
        return f"dataset:{value.digest}"  # the version's content address: free
    if kind == "json":
        return sha256_text("json", canonical_json(value))
    raise InvalidInput(f"a {kind} is hashed when it is saved (write_output)")


def write_output(name: str, value: Any, folder: Path) -> OutputMeta:
    """Write `value` under `folder` and return its record; UnstorableOutput if it cannot be."""
    kind = classify(value)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "table":
        library = _library(value)
        _write_table(value, library, folder / f"{name}.parquet")
        return OutputMeta(name, kind, value_hash(value, kind), f"{name}.parquet", library=library)
    if kind == "ndarray":
        import numpy as np

        np.save(folder / f"{name}.npy", value, allow_pickle=False)
        return OutputMeta(name, kind, value_hash(value, kind), f"{name}.npy")
    if kind == "dataset":
        record = {"dataset_version": dataclasses.asdict(value)}
        (folder / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
        return OutputMeta(name, kind, value_hash(value, kind), f"{name}.json")
    if kind == "json":
        text = canonical_json(value)
        (folder / f"{name}.json").write_text(text, encoding="utf-8")
        return OutputMeta(name, kind, sha256_text("json", text), f"{name}.json")
    return _write_model(name, value, folder)


def _write_model(name: str, value: Any, folder: Path) -> OutputMeta:
    from perennia.models.flavors import get_flavor
    from perennia.models.flavors.sklearn import refused_types
    from perennia.models.package import save

    manifest = save(value, folder / name)
    files = {path: entry["sha256"] for path, entry in manifest.files.items()}
    untrusted = manifest.flavor_details.get("untrusted_types", [])
    safe = not get_flavor(manifest.flavor).needs_pickle and not refused_types(untrusted, [])
    digest = sha256_text("model", manifest.flavor, canonical_json(files))
    return OutputMeta(name, "model", digest, name, flavor=manifest.flavor, safe=safe)


def read_output(meta: OutputMeta, folder: Path, *, trusted: bool = False) -> Any:
    """Return the value stored for `meta` under `folder`.

    `trusted`: the files were written by this run (or the caller opted in), so a model may be
    loaded by unpickling and with the non-standard types its package records.
    """
    path = folder / meta.file
    if meta.kind == "table":
        return _read_table(path, meta.library)
    if meta.kind == "ndarray":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if meta.kind == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if meta.kind == "dataset":
        from perennia.entities import DatasetVersion

        return DatasetVersion(**json.loads(path.read_text(encoding="utf-8"))["dataset_version"])
    if meta.kind == "model":
        from perennia.models.package import load_folder, verify

        trusted_types = None
        if trusted:
            trusted_types = verify(path).flavor_details.get("untrusted_types", [])
        return load_folder(path, allow_pickle=trusted, trusted_types=trusted_types).unwrap()
    raise InvalidInput(f"output {meta.name!r} has unknown kind {meta.kind!r}")


def _library(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
    if module == "pandas":
        return "pandas" if type(value).__name__ == "DataFrame" else "pandas-series"
    return "polars" if module == "polars" else "arrow"


def _write_table(value: Any, library: str, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if library == "pandas-series":
        value = value.to_frame(name=value.name if value.name is not None else "value")
        library = "pandas"
    if library == "pandas":
        table = pa.Table.from_pandas(value, preserve_index=None)
    else:
        table = value if library == "arrow" else value.to_arrow()
    pq.write_table(table, path)


def _read_table(path: Path, library: str) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if library == "arrow":
        return table
    if library == "polars":
        import polars as pl

        return pl.from_arrow(table)
    frame = table.to_pandas()
    if library == "pandas-series":
        return frame.iloc[:, 0]
    return frame
