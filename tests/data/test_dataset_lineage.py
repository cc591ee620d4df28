"""Lineage both ways: data version -> runs -> models, and model -> run -> versions -> sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perennia


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "customer": np.arange(n) // 2,  # two rows per customer
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "label": rng.integers(0, 2, n),
        }
    )


def test_split_registers_parts_that_name_their_parent_and_rule(tracking, table) -> None:
    raw = perennia.data.register("customers", table)
    parts = perennia.data.split(
        raw.ref, by="group", group="customer", fractions=(0.7, 0.3), names=("train", "test"), seed=5
    )
    assert set(parts) == {"train", "test"}
    train, test = parts["train"], parts["test"]
    assert train.ref == "customers-train@1" and train.parents == ["customers@1"]
    assert train.derivation["split"]["by"] == "group" and train.derivation["split"]["seed"] == 5
    assert train.row_count + test.row_count == len(table)
    groups_train = set(perennia.data.load(train.ref, context=None)["customer"])
    groups_test = set(perennia.data.load(test.ref, context=None)["customer"])
    assert not groups_train & groups_test
    derived = {v.ref for v in tracking_store().datasets.derived_from("customers", 1)}
    assert derived == {train.ref, test.ref}


def tracking_store():
    from perennia.data.session import current_store

    return current_store()


def test_lineage_reaches_runs_and_models_and_back_to_sources(tracking, table) -> None:
    from sklearn.linear_model import LogisticRegression

    raw = perennia.data.register("customers", table, description="raw")
    parts = perennia.data.split(raw.ref, by="random", fractions=(0.8, 0.2), names=("train", "test"))
    with perennia.start_run() as run:
        train = perennia.data.load(parts["train"].ref, context="training")
        model = LogisticRegression().fit(train[["x1", "x2"]], train["label"])
        perennia.log_model(model, name="model", registered_model_name="churn")
    forward = perennia.data.lineage(parts["train"].ref)
    assert forward["runs"] == [{"run_id": run.info.run_id, "context": "training"}]
    assert forward["models"] == [{"name": "churn", "version": 1, "run_id": run.info.run_id}]
    assert [p["ref"] for p in forward["parents"]] == ["customers@1"]
    assert forward["parents"][0]["source"]["type"] == "dataframe"
    assert perennia.data.lineage(raw.ref)["runs"] == []  # the raw table was never trained on

    backward = perennia.registry.lineage("churn", 1)
    (entry,) = backward["datasets"]
    assert entry["version"]["ref"] == "customers-train@1" and entry["context"] == "training"
    assert [a["ref"] for a in entry["ancestry"]] == ["customers@1"]


def test_model_card_shows_the_data_versions(tracking, table, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    version = perennia.data.register("customers", table)
    with perennia.start_run():
        frame = perennia.data.load(version.ref, context="training")
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
        perennia.log_model(model, name="model", registered_model_name="churn")
    from perennia.registry.cards import build_card, render_html, render_markdown

    card = build_card("churn", 1)
    html = render_html(card)
    assert "<strong>customers@1</strong>" in html
    assert "customers@1" in render_markdown(card)
