"""Helpers shared by the model signature tests."""

from __future__ import annotations

from perennia.models.signature import ColumnSpec, ModelSignature


def dtypes(signature: ModelSignature) -> dict[str | None, str]:
    return {spec.name: spec.dtype for spec in signature.inputs}


def frame_signature(**columns: str) -> ModelSignature:
    return ModelSignature([ColumnSpec(name, dtype) for name, dtype in columns.items()])
