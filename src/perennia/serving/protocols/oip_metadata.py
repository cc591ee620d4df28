"""Open Inference Protocol (v2) metadata answers: the server's, and a model's from its signature."""

from __future__ import annotations

from typing import Any

from perennia.serving.protocols.open_inference import _BY_DTYPE, EXTENSIONS

# A signature's column types as OIP datatypes; text, bytes and times travel as BYTES.
_SIGNATURE_TYPES = {**_BY_DTYPE, "string": "BYTES", "binary": "BYTES", "datetime": "BYTES"}


def model_metadata(name: str, versions: list[str], signature: Any, platform: str) -> dict[str, Any]:
    """Return the model metadata answer, its inputs and outputs derived from `signature`."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    if signature is not None:
        tensor_input = signature.input_kind == "array"
        inputs = [_metadata_entry(spec, "input-0", tensor_input) for spec in signature.inputs]
        outputs = [
            _metadata_entry(spec, "predict", spec.shape is not None)
            for spec in signature.outputs or []
        ]
    return {
        "name": name,
        "versions": list(versions),
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
    }


def _metadata_entry(spec: Any, default_name: str, is_tensor: bool) -> dict[str, Any]:
    """Return one metadata tensor: a column is shape [-1], an array its shape with -1 first."""
    shape = [-1]
    if is_tensor and spec.shape:
        shape = [-1, *spec.shape[1:]]
    return {
        "name": spec.name if spec.name is not None else default_name,
        "datatype": _SIGNATURE_TYPES.get(spec.dtype, "BYTES"),
        "shape": shape,
    }


def server_metadata(name: str, version: str) -> dict[str, Any]:
    """Return the server metadata answer: name, version and the extensions supported."""
    return {"name": name, "version": version, "extensions": list(EXTENSIONS)}
