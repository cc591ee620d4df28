"""A validation result as a failure table, JSON, an HTML page, and a record on a tracked run."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perennia.data.contracts import Contract, validate
from perennia.data.contracts.outcome import MAX_EXAMPLES
from perennia.tracking import fluent
from perennia.tracking.client import Client
from tests.conftest import reset_tracking


def failing_result():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=5_000), "c": ["a"] * 4_990 + [f"v{i}" for i in range(10)]}
    )
    contract = (
        Contract(name="demo <contract>")
        .expect("expect_column_values_to_be_between", column="x", min_value=-1, max_value=1)
        .expect("expect_column_values_to_be_in_set", column="c", value_set=["a"])
        .expect("expect_column_mean_to_be_between", column="x", min_value=5)
        .expect("expect_column_to_exist", column="missing")
    )
    from perennia.data.contracts.columns import Columns
    from perennia.data.contracts.drift import profile_of

    contract.expect(
        "expect_column_drift_to_be_below",
        column="x",
        metric="jensen_shannon",
        threshold=0.05,
        reference=profile_of(Columns(pd.DataFrame({"x": rng.normal(2, size=5_000)})), "x"),
    )
    return validate(frame, contract), frame


def test_failures_keep_a_capped_sample_and_the_total() -> None:
    result, frame = failing_result()
    failures = result.failures
    assert list(failures.columns) == ["column", "check", "failing_value", "row_index", "count"]
    between = failures[failures["check"] == "expect_column_values_to_be_between"]
    assert len(between) == MAX_EXAMPLES
    total = int((frame.x.abs() > 1).sum())
    assert result.results[0].unexpected_count == total
    for row in between.itertuples():
        assert frame.x.iloc[row.row_index] == row.failing_value
    in_set = failures[failures["check"] == "expect_column_values_to_be_in_set"]
    assert sorted(in_set["failing_value"]) == sorted(f"v{i}" for i in range(10))
    mean = failures[failures["check"] == "expect_column_mean_to_be_between"].iloc[0]
    assert mean["failing_value"] == pytest.approx(frame.x.mean()) and pd.isna(mean["row_index"])


def test_to_dict_is_json() -> None:
    result, _ = failing_result()
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["success"] is False
    assert data["statistics"]["unsuccessful_expectations"] == 5


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_html_page_names_the_failures_and_parses() -> None:
    result, _ = failing_result()
    html = result.to_html()
    parser = Collector()
    parser.feed(html)
    parser.close()
    text = " ".join(parser.text)
    for name in (
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_to_exist",
    ):
        assert name in text
    assert "demo <contract>" in text and "<contract>" not in html  # escaped
    assert "svg" in parser.tags and "script" not in parser.tags


@pytest.fixture
def sqlite_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", f"sqlite:///{tmp_path / 'perennia.db'}")
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    yield
    reset_tracking()


def test_log_records_metrics_tag_and_artifacts_on_the_active_run(sqlite_tracking) -> None:
    result, _ = failing_result()
    with fluent.start_run() as run:
        assert result.log() == run.run_id
    stored = Client().get_run(run.run_id)
    assert stored.data.metrics["validation_success"] == 0.0
    assert stored.data.metrics["validation_failed_expectations"] == 5.0
    assert stored.data.tags["perennia.validation.contract_digest"] == result.contract_digest
    names = {f.path for f in Client().list_artifacts(run.run_id, "validation")}
    assert names == {"validation/result.json", "validation/report.html"}
    saved = json.loads(Client().read_artifact(run.run_id, "validation/result.json"))
    assert saved["contract_digest"] == result.contract_digest


def test_log_on_a_named_run(sqlite_tracking) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    result = validate(frame, Contract().expect("expect_column_to_exist", column="a"))
    with fluent.start_run() as run:
        pass
    run_id = run.run_id
    assert result.log(run_id) == run_id
    assert Client().get_run(run_id).data.metrics["validation_success"] == 1.0
