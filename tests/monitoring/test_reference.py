"""Reference profiles kept with the training run and found again from runs:/, models:/,
datasets:/ URIs and files; a version without one says how to log it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import perennia
from perennia.errors import InvalidInput, NotFound
from perennia.monitoring import load_reference, log_reference_profile, profile


@pytest.fixture
def train() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})


def test_a_registered_version_leads_to_its_runs_reference_profile(tracking, train):
    model = LogisticRegression().fit(train, train["x"] > 0)
    with perennia.start_run():
        uri = log_reference_profile(train)
        perennia.log_model(model, name="model", registered_model_name="scorer")
    expected = profile(train)
    for ref in (uri, "models:/scorer/1"):
        found = load_reference(ref)
        assert found.rows == 500 and list(found.columns) == ["x", "y"]
        assert np.array_equal(found.columns["x"].counts, expected.columns["x"].counts)


def test_a_version_without_a_profile_says_how_to_log_one(tracking, train):
    with perennia.start_run():
        perennia.log_model(
            LogisticRegression().fit(train, train["x"] > 0),
            name="model",
            registered_model_name="bare",
        )
    with pytest.raises(NotFound, match="log_reference_profile"):
        load_reference("models:/bare/1")


def test_datasets_and_files_are_references_too(tracking, train, tmp_path):
    perennia.data.register("train", train)
    assert load_reference("datasets:/train@1").rows == 500
    path = tmp_path / "ref.json"
    path.write_bytes(profile(train).to_bytes())
    assert load_reference(str(path)).rows == 500
    with pytest.raises(InvalidInput, match="runs:/"):
        load_reference("runs:/onlyanid")
    with pytest.raises(NotFound):
        load_reference(str(tmp_path / "missing.json"))
    with pytest.raises(InvalidInput):
        load_reference(42)


def test_autolog_keeps_the_training_datas_profile_with_the_run(tracking, train):
    import perennia.sklearn
    from perennia.monitoring.monitors.reference import PROFILE_TAG

    perennia.sklearn.autolog()
    try:
        LogisticRegression().fit(train, train["x"] > 0)
        with_profile = perennia.last_active_run()
        perennia.sklearn.autolog(log_profile=False)
        LogisticRegression().fit(train, train["x"] > 0)
        without = perennia.last_active_run()
    finally:
        perennia.sklearn.autolog(disable=True)
    path = with_profile.data.tags[PROFILE_TAG]
    found = load_reference(f"runs:/{with_profile.info.run_id}/{path}")
    assert found.rows == 500 and list(found.columns) == ["x", "y"]
    assert PROFILE_TAG not in without.data.tags


def test_values_a_store_would_refuse_are_cleaned_before_a_window_is_recorded(tracking, train):
    from perennia.data.session import current_store
    from perennia.monitoring import create_monitor
    from perennia.monitoring.monitors.runner import _record
    from perennia.monitoring.monitors.window import WindowValues

    with perennia.start_run():
        uri = log_reference_profile(train)
    monitor = create_monitor("clean", reference=uri)
    long_key = "feature." + "c" * 300 + ".effect"
    values = {"rows": 3.0, "nan": float("nan"), "f32": np.float32(2.5), long_key: 1.0}
    recorded = _record(current_store(), monitor, WindowValues(0, 3_600_000, "ok", values))
    assert recorded.summary["dropped_keys"] == [long_key[:80]]
    points = {p.key: p.value for p in current_store().monitors.list_points("clean")}
    assert points == {"rows": 3.0, "nan": None, "f32": 2.5}
