"""A Grafana dashboard for one model's monitoring gauges, as JSON ready to import.

Panels (time series, two per row): one per drift method (every feature's score, filtered by
the `$feature` variable), one per performance metric (estimated and realised together, so
the estimate can be judged once labels arrive), one per other monitor value, and predictions
per second from the inference server's `perennia_batch_size` histogram (rows per predict
call). The data source is the `$datasource` variable, so the JSON imports into any Grafana.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.promql import (
    DRIFT_GAUGE,
    ESTIMATED_GAUGE,
    MONITOR_GAUGE,
    REALISED_GAUGE,
    check_model,
    selector,
    string_literal,
)
from perennia.monitoring.alerts.values import parse_value_key

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
PANEL_WIDTH, PANEL_HEIGHT = 12, 8


def dashboard_uid(model: str) -> str:
    """Return the dashboard's uid: the same for a model name every time, at most 40 characters."""
    return "perennia-" + hashlib.sha256(check_model(model).encode("utf-8")).hexdigest()[:24]


def grafana_dashboard(model: str, monitored_values: Iterable[str]) -> dict[str, Any]:
    """Return a Grafana dashboard (a JSON-ready dict) charting `model`'s monitored values."""
    model = check_model(model)
    if isinstance(monitored_values, str):
        raise InvalidInput("monitored_values must be a list of value keys, not one string")
    keys = [parse_value_key(value, "monitored value") for value in monitored_values]
    methods = _unique(key.method for key in keys if key.kind == "drift")
    metrics = _unique(key.metric for key in keys if key.kind in ("estimated", "realised"))
    others = _unique(key.key for key in keys if key.kind == "monitor")
    specs = [_drift_panel(model, method) for method in methods]
    specs += [_performance_panel(model, metric) for metric in metrics]
    specs += [_monitor_panel(value) for value in others]
    specs.append(_predictions_panel(model))
    panels = [_panel(i, *spec) for i, spec in enumerate(specs)]
    return {
        "uid": dashboard_uid(model),
        "title": f"Perennia model monitoring: {model}",
        "tags": ["perennia", "monitoring"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [_datasource_variable(), _feature_variable(model)]},
        "annotations": {"list": []},
        "panels": panels,
    }


def _drift_panel(model: str, method: str) -> tuple[str, str, list[tuple[str, str]]]:
    model_, method_ = string_literal(model), string_literal(method)
    expr = f'{DRIFT_GAUGE}{{model={model_},method={method_},feature=~"$feature"}}'
    return f"Drift score ({method}) by feature", "none", [(expr, "{{feature}}")]


def _performance_panel(model: str, metric: str) -> tuple[str, str, list[tuple[str, str]]]:
    labels = {"model": model, "metric": metric}
    targets = [
        (selector(ESTIMATED_GAUGE, labels), "estimated"),
        (selector(REALISED_GAUGE, labels), "realised"),
    ]
    return f"{metric}: estimated and realised", "none", targets


def _monitor_panel(value: str) -> tuple[str, str, list[tuple[str, str]]]:
    expr = f"{MONITOR_GAUGE}{{value={string_literal(value)}}}"
    return value, "none", [(expr, "{{monitor}}")]


def _predictions_panel(model: str) -> tuple[str, str, list[tuple[str, str]]]:
    rows = f"perennia_batch_size_sum{{model={string_literal(model)}}}"
    expr = f"sum by (version) (rate({rows}[$__rate_interval]))"
    return "Predictions per second", "short", [(expr, "version {{version}}")]


def _panel(index: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": dict(DATASOURCE),
        "gridPos": {
            "h": PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": dict(DATASOURCE),
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
    }


def _feature_variable(model: str) -> dict[str, Any]:
    query = f"label_values({DRIFT_GAUGE}{{model={string_literal(model)}}}, feature)"
    return {
        "name": "feature",
        "label": "Feature",
        "type": "query",
        "datasource": dict(DATASOURCE),
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,  # on time range change: features come and go with the model
        "multi": True,
        "includeAll": True,
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _unique(items: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))
