"""The demo's data, as a user keeps it: registered versions, a contract, a checked split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import perennia

DATASET = "breast-cancer"


@dataclass(frozen=True)
class DemoData:
    """The versions the demo registered and what validating the raw version found."""

    raw: str  # name@version of the whole table
    train: str
    test: str
    contract_expectations: int
    validation_passed: bool
    validation_report: str  # run artifact path of the HTML page


def _frame(seed: int) -> Any:
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["clinic"] = synthetic_clinic(frame["target"].to_numpy(), np.random.default_rng(seed))
    return frame


def synthetic_clinic(target: Any, rng: Any) -> Any:
    """Return a synthetic sensitive attribute: clinic A, B or C, skewed by diagnosis."""
    import numpy as np

    # Benign cases (target 1) lean towards clinic A, malignant ones towards C, so the groups'
    # selection rates differ the way a real referral pattern could make them differ.
    benign = np.array(["A", "A", "A", "B", "B", "C"])
    malignant = np.array(["A", "B", "B", "C", "C", "C"])
    draw = rng.integers(0, 6, size=target.size)
    return np.where(target == 1, benign[draw], malignant[draw])


def register_demo_data(seed: int) -> DemoData:
    """Register the table, infer and keep its contract, validate it on the active run, and
    register a stratified train/test split of it; return the versions."""
    raw = perennia.data.register(
        DATASET,
        _frame(seed),
        description="Wisconsin breast cancer (scikit-learn) with a synthetic clinic column",
        tags={"origin": "sklearn.datasets.load_breast_cancer"},
    )
    contract = perennia.data.infer_contract(perennia.data.load(raw, context=None), label="target")
    perennia.data.set_contract(raw, contract)
    result = perennia.data.validate(raw.ref)  # by reference: `raw` predates its contract
    result.log()
    parts = perennia.data.split(
        raw,
        by="stratified",
        fractions=(0.75, 0.25),
        names=("train", "test"),
        seed=seed,
        label="target",
    )
    return DemoData(
        raw=raw.ref,
        train=parts["train"].ref,
        test=parts["test"].ref,
        contract_expectations=len(contract.expectations),
        validation_passed=result.success,
        validation_report="validation/report.html",
    )
