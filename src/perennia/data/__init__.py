"""Data: versioned datasets, validation contracts, preparation, and dataset descriptors.

    perennia.data.register("train", frame)          -> DatasetVersion train@1
    perennia.data.load("train@golden")               -> the data, every byte checked
    perennia.data.validate("train@1")                -> ValidationResult against its contract

Heavy libraries load only inside the functions that use them.
"""

from perennia.data.contracts import (
    Contract,
    Expectation,
    ExpectationResult,
    ValidationResult,
    infer_contract,
)
from perennia.data.derive import get_contract, set_contract, split, validate
from perennia.data.lineage import diff, lineage
from perennia.data.prepare.point_in_time import point_in_time_join
from perennia.data.skew import SkewReport, skew_report
from perennia.data.versions import (
    delete_alias,
    get,
    history,
    iter_batches,
    list_datasets,
    load,
    register,
    set_alias,
    set_tag,
    versions,
)
from perennia.tracking.dataset_descriptors import (
    from_any,
    from_arrow,
    from_numpy,
    from_pandas,
    from_polars,
)

__all__ = [
    "Contract",
    "Expectation",
    "ExpectationResult",
    "SkewReport",
    "ValidationResult",
    "delete_alias",
    "diff",
    "from_any",
    "from_arrow",
    "from_numpy",
    "from_pandas",
    "from_polars",
    "get",
    "get_contract",
    "history",
    "infer_contract",
    "iter_batches",
    "lineage",
    "list_datasets",
    "load",
    "point_in_time_join",
    "register",
    "set_alias",
    "set_contract",
    "set_tag",
    "skew_report",
    "split",
    "validate",
    "versions",
]
