"""Dataset descriptors: identity (name + content digest), schema, row count and a light profile."""

from perennia.tracking.dataset_descriptors import (
    from_any,
    from_arrow,
    from_numpy,
    from_pandas,
    from_polars,
)

__all__ = ["from_pandas", "from_numpy", "from_polars", "from_arrow", "from_any"]
