"""A model as a Ray Data `map_batches` callable class: the model loads once per actor.

    Predictor = perennia.models.ray_batch.ray_predictor("models:/fraud@champion")
    scored = dataset.map_batches(
        Predictor, batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=2)
    )

`ray_predictor` resolves and verifies the package on the driver and puts it in Ray's object
store, so workers on other nodes need neither the driver's files nor the tracking store; each
actor unpacks it once and checks it against the manifest digest the driver read. The class
`RayPredictor` can also be used directly with a URI every worker can resolve (a shared folder,
or `models:/` against a store they reach):
`dataset.map_batches(RayPredictor, fn_constructor_args=(uri,), batch_format="pandas", ...)`.
"""

from __future__ import annotations

from typing import Any


class RayPredictor:
    """Callable on a pandas batch: returns its kept columns plus the prediction column(s)."""

    def __init__(
        self,
        model_uri: Any = None,
        *,
        packed: Any = None,
        digest: str | None = None,
        columns: list[str] | None = None,
        keep: list[str] | None = None,
        proba: bool = False,
        allow_pickle: bool = False,
        trusted_types: list[str] | None = None,
    ) -> None:
        if packed is not None and digest:
            from perennia.models.archive import load_packed

            data = packed if isinstance(packed, bytes) else _get(packed)
            self.model = load_packed(
                data, digest, allow_pickle=allow_pickle, trusted_types=trusted_types
            )
        elif packed is None and model_uri is not None:
            from perennia.models.batch import resolve_model

            self.model = resolve_model(
                str(model_uri), allow_pickle=allow_pickle, trusted_types=trusted_types
            )
        else:
            from perennia.errors import InvalidInput

            raise InvalidInput(
                "RayPredictor needs a model URI, or a packed package with its manifest digest"
            )
        self.columns, self.keep, self.proba = columns, keep, proba

    def __call__(self, batch: Any) -> Any:
        """Return the batch's kept columns plus the predictions, as a pandas frame."""
        from perennia.models.batch import predict_frame

        return predict_frame(
            self.model, batch, columns=self.columns, keep=self.keep, proba=self.proba
        )


def ray_predictor(
    model_uri: Any,
    *,
    columns: list[str] | None = None,
    keep: list[str] | None = None,
    proba: bool = False,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
) -> type:
    """Return a RayPredictor subclass bound to the package at `model_uri`, shipped by Ray.

    The subclass takes no constructor arguments, so it goes straight to `map_batches`.
    """
    import ray

    from perennia.models.archive import packed_package

    data, digest = packed_package(model_uri)
    reference = ray.put(data)
    # Wrapped in a list: Ray resolves a bare ObjectRef in captured state only at the top level.
    options = {
        "packed": [reference],
        "digest": digest,
        "columns": columns,
        "keep": keep,
        "proba": proba,
        "allow_pickle": allow_pickle,
        "trusted_types": list(trusted_types or []),
    }

    class BoundPredictor(RayPredictor):
        """RayPredictor for one shipped package."""

        def __init__(self) -> None:
            super().__init__(**options)

    BoundPredictor.__name__ = BoundPredictor.__qualname__ = "BoundPredictor"
    return BoundPredictor


def _get(packed: Any) -> bytes:
    """Return the package bytes behind an object reference (or a one-item list holding one)."""
    import ray

    reference = packed[0] if isinstance(packed, list) else packed
    return ray.get(reference)
