"""`log_model(..., registered_model_name=...)`: log a model package and register it in one call.

Logging a package is the models layer's job (`perennia.models.log_model`); making it a version
of a registered model is the registry's. The call that does both lives here, above both, and is
what `perennia.log_model` names.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def log_model(
    model: Any,
    name: str = "model",
    *,
    signature: Any = None,
    input_example: Any = None,
    metadata: dict[str, Any] | None = None,
    flavor: str | None = None,
    registered_model_name: str | None = None,
) -> Any:
    """Save `model` as a package under the active run's artifacts at `name`; return ModelInfo.

    With `registered_model_name` the package also becomes the next version of that model, and
    `ModelInfo.registered_version` is its number.
    """
    from perennia.models import log_model as log_package

    info = log_package(
        model,
        name,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        flavor=flavor,
    )
    if registered_model_name is None:
        return info
    from perennia.registry import register_model

    version = register_model(info.model_uri, registered_model_name)
    return dataclasses.replace(info, registered_version=version.version)
