"""Model packages: a folder of model files plus `perennia-model.json`, the manifest.

The manifest records the flavor, framework and version, Python version, pinned requirements,
signature, input example and the sha256 and size of every other file. Loading verifies every
digest (and that no file was added) before any model byte is parsed, and refuses a flavor
that unpickles unless the caller passes `allow_pickle=True`: unpickling runs whatever code the
file's author chose, so a package from a shared store must not do it silently.
"""

from __future__ import annotations

import json
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perennia._util import tables
from perennia.artifacts.digests import sha256_bytes, sha256_file
from perennia.clock import now_ms
from perennia.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from perennia.models.flavors import flavor_for, get_flavor
from perennia.models.requirements import pinned_requirements

MANIFEST = "perennia-model.json"
FORMAT = "perennia-model/1"
EXAMPLE = "input_example.json"
REQUIREMENTS = "requirements.txt"


@dataclass(frozen=True)
class Manifest:
    """What a package holds and the digests that prove its files are the ones written."""

    flavor: str
    flavor_details: dict[str, Any]
    framework: str
    framework_version: str
    python_version: str
    model_class: str
    requirements: list[str]
    files: dict[str, dict[str, Any]]
    signature: dict[str, Any] | None = None
    input_example: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created: int = 0
    format: str = FORMAT

    def to_json(self) -> str:
        """Return the manifest as canonical JSON (sorted keys), the bytes its digest covers."""
        from dataclasses import asdict

        return json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Return the manifest in `text`, or raise IntegrityError if it is not one."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(**data)
        except (ValueError, TypeError, AttributeError) as error:
            raise IntegrityError(f"{MANIFEST} is not a Perennia model manifest ({error})") from None


def save(
    model: Any,
    path: str | Path,
    *,
    signature: Any = None,
    input_example: Any = None,
    metadata: dict[str, Any] | None = None,
    flavor: str | None = None,
) -> Manifest:
    """Write `model` as a package in the new folder `path` and return its manifest.

    `signature`: a ModelSignature, "infer" (from `input_example`), or None.
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{str(folder)!r} exists and is not empty; save into a new folder")
    chosen = get_flavor(flavor) if flavor else flavor_for(model)
    if flavor and not chosen.handles(model):
        raise InvalidInput(f"flavor {flavor!r} cannot save a {type(model).__name__}")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        details = chosen.save(model, folder)
        spec = _signature(signature, input_example, model)
        example_file = _write_example(folder, input_example) if input_example is not None else None
        requirements = pinned_requirements(model, tuple(getattr(chosen, "requirements", ())))
        (folder / REQUIREMENTS).write_text("\n".join(requirements) + "\n", encoding="utf-8")
        name, version = chosen.framework(model)
        cls = type(model)
        manifest = Manifest(
            flavor=chosen.name,
            flavor_details=details,
            framework=name,
            framework_version=version,
            python_version=platform.python_version(),
            model_class=f"{cls.__module__}.{cls.__qualname__}",
            requirements=requirements,
            files=_digests(folder),
            signature=spec,
            input_example=example_file,
            metadata=dict(metadata or {}),
            created=now_ms(),
        )
        (folder / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return manifest


def package_digest(folder: str | Path) -> str:
    """Return the sha256 of the package's manifest, which pins every file's digest."""
    return sha256_bytes((Path(folder) / MANIFEST).read_bytes())


def verify(folder: str | Path, expected_digest: str | None = None) -> Manifest:
    """Return the manifest after checking every file against it; IntegrityError if any differs."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise NotFound(f"{str(folder)!r} is not a model package: it has no {MANIFEST}")
    raw = manifest_path.read_bytes()
    if expected_digest is not None and sha256_bytes(raw) != expected_digest:
        raise IntegrityError(
            f"the model package at {str(folder)!r} is not the one registered: its manifest digest "
            "differs; refusing to load it"
        )
    manifest = Manifest.from_json(raw.decode("utf-8"))
    found = _digests(folder)
    for name, recorded in manifest.files.items():
        actual = found.pop(name, None)
        if actual is None:
            raise IntegrityError(f"model package file {name!r} is missing; refusing to load")
        if actual["sha256"] != recorded.get("sha256"):
            raise IntegrityError(
                f"model package file {name!r} was altered after it was saved (sha256 "
                f"{actual['sha256'][:12]}… instead of {str(recorded.get('sha256'))[:12]}…); "
                "refusing to load it"
            )
    if found:
        raise IntegrityError(
            f"model package holds files its manifest does not list: {sorted(found)[:5]}; "
            "refusing to load it"
        )
    return manifest


def load_folder(
    folder: str | Path,
    *,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
    expected_digest: str | None = None,
) -> Any:
    """Return the LoadedModel in a package folder, verified first."""
    from perennia.models.loaded import LoadedModel

    folder = Path(folder)
    manifest = verify(folder, expected_digest)
    flavor = get_flavor(manifest.flavor)
    if flavor.needs_pickle and not allow_pickle:
        raise PermissionDenied(
            f"this model ({manifest.model_class}, flavor {manifest.flavor}) loads by unpickling, "
            "which runs code chosen by whoever wrote the file; pass allow_pickle=True only if "
            "you trust its source"
        )
    model = flavor.load(folder, manifest.flavor_details, trusted_types=list(trusted_types or []))
    return LoadedModel(model, manifest, folder)


def _digests(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for file in sorted(folder.rglob("*")):
        if file.is_symlink():
            raise IntegrityError(f"model package holds a symbolic link {file.name!r}; refusing it")
        if file.is_file() and file.name != MANIFEST:
            digest, size = sha256_file(file)
            out[file.relative_to(folder).as_posix()] = {"sha256": digest, "size": size}
    return out


def _signature(signature: Any, input_example: Any, model: Any) -> dict[str, Any] | None:
    if signature is None:
        return None
    if isinstance(signature, str):
        if signature != "infer":
            raise InvalidInput(
                f"signature must be a ModelSignature, 'infer' or None, got {signature!r}"
            )
        if input_example is None:
            raise InvalidInput("signature='infer' needs input_example= to infer it from")
        from perennia.models.signature import infer_signature

        return infer_signature(input_example, _example_output(model, input_example)).to_dict()
    from perennia.models.signature import ModelSignature

    if not isinstance(signature, ModelSignature):
        raise InvalidInput(
            f"signature must be a ModelSignature, 'infer' or None, got {type(signature).__name__}"
        )
    return signature.to_dict()


def _example_output(model: Any, example: Any) -> Any:
    try:
        return model.predict(example)
    except Exception:  # noqa: BLE001 - the output schema is optional; inputs still get one
        return None


def _write_example(folder: Path, example: Any) -> str:
    import pandas as pd

    if tables.is_table(example):
        example = tables.to_pandas(example, "input_example")
    if isinstance(example, pd.DataFrame):
        payload = {
            "kind": "dataframe",
            "data": json.loads(example.head(20).to_json(orient="split", date_format="iso")),
        }
    else:
        payload = {"kind": "array", "data": tables.to_numpy(example, "input_example")[:20].tolist()}
    (folder / EXAMPLE).write_text(json.dumps(payload), encoding="utf-8")
    return EXAMPLE


def read_example(folder: Path, manifest: Manifest) -> Any:
    """Return the package's input example as a DataFrame or array, or None."""
    if not manifest.input_example:
        return None
    payload = json.loads((folder / manifest.input_example).read_text(encoding="utf-8"))
    if payload["kind"] == "dataframe":
        import pandas as pd

        split = payload["data"]
        return pd.DataFrame(split["data"], columns=split["columns"])
    import numpy as np

    return np.asarray(payload["data"])
