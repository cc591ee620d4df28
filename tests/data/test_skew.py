"""Training-serving skew from a frame and from a real prediction log written by PredictionLogWriter."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perennia.data.contracts import infer_contract
from perennia.data.predlog import (
    PredictionBatch,
    PredictionLogWriter,
    new_prediction_ids,
    new_request_id,
)
from perennia.data.skew import skew_report
from perennia.errors import InvalidInput

T0 = 1_700_000_000_000


def training(n: int = 5_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "amount": rng.gamma(2.0, 50.0, n),
            "country": pd.array(rng.choice(["fr", "de", "us"], n, p=[0.5, 0.3, 0.2]), dtype="str"),
            "label": rng.integers(0, 2, n),
        }
    )


def serving(n: int, seed: int, *, shift_amount: bool) -> pd.DataFrame:
    frame = training(n, seed).drop(columns="label")
    if shift_amount:
        frame["amount"] = frame["amount"] * 3
    return frame


def write_log(location: str, features: pd.DataFrame) -> None:
    writer = PredictionLogWriter(location, flush_interval_s=60)
    try:
        for start in range(0, len(features), 500):
            chunk = features.iloc[start : start + 500]
            request = new_request_id()
            writer.record(
                PredictionBatch(
                    deployment="fraud",
                    variant="stable",
                    model_name="fraud-model",
                    model_version=1,
                    shadow=False,
                    request_ids=[request] * len(chunk),
                    prediction_ids=new_prediction_ids(request, len(chunk)),
                    time_ms=T0 + start,
                    latency_ms=1.0,
                    inputs={c: chunk[c].to_numpy() for c in chunk.columns},
                    outputs={"prediction": np.zeros(len(chunk))},
                )
            )
    finally:
        writer.close()


def test_skew_from_a_prediction_log_flags_the_shifted_feature_only(tmp_path: Path) -> None:
    train = training()
    contract = infer_contract(train, label="label")
    location = str(tmp_path / "log")
    write_log(location, serving(3_000, 1, shift_amount=True))
    report = skew_report(location, train, contract)
    assert report.drifted == ["amount"]
    assert report.serving_rows == 3_000
    assert {f.feature for f in report.features} == {"age", "amount", "country"}
    assert report.validation is not None and report.validation.environment == "serving"
    # Types survive the log's float64 storage; only the shifted feature's checks fail.
    assert set(report.validation.failures["column"]) == {"amount"}
    data = report.to_dict()
    assert data["drifted"] == ["amount"]


def test_skew_from_a_frame_without_contract_uses_default_thresholds() -> None:
    train = training()
    same = skew_report(serving(3_000, 2, shift_amount=False), train)
    assert same.drifted == [] and same.validation is None
    thresholds = {f.feature: (f.metric, f.threshold) for f in same.features}
    assert thresholds["amount"] == ("jensen_shannon", 0.1)
    assert thresholds["country"] == ("linf", 0.1)
    moved = serving(3_000, 2, shift_amount=False)
    moved["country"] = "us"
    assert skew_report(moved, train, features=["country", "age"]).drifted == ["country"]


def test_skew_refuses_an_unknown_feature() -> None:
    with pytest.raises(InvalidInput, match="feature 'zip' is not a column of the training data"):
        skew_report(serving(10, 0, shift_amount=False), training(), features=["zip"])


def test_skew_page_parses_and_names_the_skewed_feature() -> None:
    report = skew_report(
        serving(2_000, 3, shift_amount=True), training(), infer_contract(training(), label="label")
    )
    html = report.to_html()
    parser = HTMLParser()
    parser.feed(html)
    parser.close()
    assert "amount" in html and "skewed" in html and "<svg" in html
