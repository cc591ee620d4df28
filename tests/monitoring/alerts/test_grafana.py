"""The Grafana dashboard: stable identity, panels per monitored value, the feature variable."""

from __future__ import annotations

import json
import re

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import dashboard_uid, grafana_dashboard

MONITORED = [
    "feature.*.psi",
    "feature.age.psi",  # same method: no second panel
    "feature.zip.ks",
    "estimated.f1",
    "realised.f1",  # same metric: one panel with both
    "realised.roc_auc",
    "drift.share_drifted",
]


def test_the_dashboard_is_json_with_a_stable_uid_from_the_model_name():
    board = grafana_dashboard("fraud", MONITORED)
    assert json.loads(json.dumps(board)) == board
    assert board["uid"] == dashboard_uid("fraud") == grafana_dashboard("fraud", [])["uid"]
    assert board["uid"] != dashboard_uid("fraud2")
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
    assert "fraud" in board["title"] and board["tags"] == ["perennia", "monitoring"]


def test_one_timeseries_panel_per_method_metric_and_value_plus_predictions():
    panels = grafana_dashboard("fraud", MONITORED)["panels"]
    assert [p["title"] for p in panels] == [
        "Drift score (psi) by feature",
        "Drift score (ks) by feature",
        "f1: estimated and realised",
        "roc_auc: estimated and realised",
        "drift.share_drifted",
        "Predictions per second",
    ]
    assert {p["type"] for p in panels} == {"timeseries"}
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    exprs = {p["title"]: [t["expr"] for t in p["targets"]] for p in panels}
    assert exprs["Drift score (psi) by feature"] == [
        'perennia_drift_score{model="fraud",method="psi",feature=~"$feature"}'
    ]
    assert exprs["f1: estimated and realised"] == [
        'perennia_estimated_performance{model="fraud",metric="f1"}',
        'perennia_realised_performance{model="fraud",metric="f1"}',
    ]
    assert exprs["drift.share_drifted"] == ['perennia_monitor_value{value="drift.share_drifted"}']
    assert exprs["Predictions per second"] == [
        'sum by (version) (rate(perennia_batch_size_sum{model="fraud"}[$__rate_interval]))'
    ]
    for panel in panels:
        assert [t["refId"] for t in panel["targets"]] == ["A", "B"][: len(panel["targets"])]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_panels_are_laid_out_two_per_row_without_overlap():
    panels = grafana_dashboard("fraud", MONITORED)["panels"]
    cells = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in panels]
    assert len(set(cells)) == len(cells)
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)


def test_a_feature_variable_lists_the_models_features():
    variables = {v["name"]: v for v in grafana_dashboard("fraud", MONITORED)["templating"]["list"]}
    assert set(variables) == {"datasource", "feature"}
    feature = variables["feature"]
    assert feature["type"] == "query" and feature["multi"] and feature["includeAll"]
    assert feature["definition"] == 'label_values(perennia_drift_score{model="fraud"}, feature)'
    assert variables["datasource"]["query"] == "prometheus"


def test_a_model_name_with_quotes_stays_inside_its_promql_strings():
    board = grafana_dashboard('fr"aud', ["estimated.f1"])
    assert board["panels"][0]["targets"][0]["expr"] == (
        'perennia_estimated_performance{model="fr\\"aud",metric="f1"}'
    )


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput, match="must be a list of value keys, not one string"):
        grafana_dashboard("fraud", "estimated.f1")
    with pytest.raises(InvalidInput, match="monitored value 'estimated.' must look like"):
        grafana_dashboard("fraud", ["estimated."])
    with pytest.raises(InvalidInput, match="model must not be empty"):
        grafana_dashboard("", [])
