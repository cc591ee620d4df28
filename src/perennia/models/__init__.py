"""Model packages: save, log and load models safely, in one interface over every flavor.

`save(model, path)` writes a package folder; `log_model(model, name=...)` logs one to the
active run; `load(uri)` verifies every file's sha256 before reading it and refuses pickles
unless `allow_pickle=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "BatchSummary",
    "LoadedModel",
    "ModelInfo",
    "ModelSignature",
    "infer_signature",
    "load",
    "log_model",
    "predict_file",
    "predict_frame",
    "save",
    "spark_udf",
]


def save(model: Any, path: str | Path, **options: Any) -> Any:
    """Write `model` as a package folder at `path` and return its manifest."""
    from perennia.models.package import save as save_package

    return save_package(model, path, **options)


def load(
    uri: str | Path,
    *,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
    dst_path: str | Path | None = None,
) -> Any:
    """Return the LoadedModel at a folder or `runs:/` URI, every file digest-checked first."""
    from perennia.models.package import load_folder
    from perennia.models.uri import local_folder

    folder, digest = local_folder(uri, dst_path)
    return load_folder(
        folder, allow_pickle=allow_pickle, trusted_types=trusted_types, expected_digest=digest
    )


def log_model(
    model: Any,
    name: str = "model",
    *,
    signature: Any = None,
    input_example: Any = None,
    metadata: dict[str, Any] | None = None,
    flavor: str | None = None,
) -> Any:
    """Save `model` as a package under the active run's artifacts at `name`; return ModelInfo.

    Registering the package as a model version is the registry's step: `perennia.log_model`
    (`perennia.registry.packages.log_model`) takes `registered_model_name` and does both.
    """
    import tempfile

    from perennia.models.package import package_digest
    from perennia.models.uri import ModelInfo
    from perennia.tracking.fluent import _run_id, set_tag
    from perennia.tracking.fluent_artifacts import log_artifacts

    run_id = _run_id()
    with tempfile.TemporaryDirectory(prefix="perennia-model-") as tmp:
        folder = Path(tmp) / "package"
        manifest = save(
            model,
            folder,
            signature=signature,
            input_example=input_example,
            metadata=metadata,
            flavor=flavor,
        )
        digest = package_digest(folder)
        log_artifacts(folder, artifact_path=name)
    set_tag(f"perennia.model.{name}", digest)
    uri = f"runs:/{run_id}/{name}"
    return ModelInfo(run_id, name, uri, digest, manifest.flavor, manifest.signature)


def __getattr__(name: str) -> Any:
    if name == "LoadedModel":
        from perennia.models.loaded import LoadedModel

        return LoadedModel
    if name == "ModelInfo":
        from perennia.models.uri import ModelInfo

        return ModelInfo
    if name in ("predict_file", "predict_frame", "BatchSummary"):
        from perennia.models import batch

        return getattr(batch, name)
    if name == "spark_udf":
        from perennia.models.spark import spark_udf

        return spark_udf
    if name in ("ModelSignature", "infer_signature"):
        from perennia.models import signature

        return getattr(signature, name)
    raise AttributeError(f"module 'perennia.models' has no attribute {name!r}")
