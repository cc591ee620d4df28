"""Everything an MLflow client sees in a tracking store, as plain comparable data."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

# Tags the import adds: its resume marker. Nothing else differs between the two stores.
IMPORT_TAGS = {"perennia.import.complete"}


def _value(value: float) -> float | str:
    return "nan" if math.isnan(value) else value


def snapshot(uri: str) -> dict:
    """Return experiments, runs (info, params, tags, histories, inputs, artifacts) and the
    registry as the mlflow client reads them from `uri`."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    shot: dict = {"experiments": {}, "runs": {}, "models": {}}
    for e in experiments:
        shot["experiments"][e.experiment_id] = (e.name, e.lifecycle_stage, dict(e.tags))
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL)
    for run in runs:
        shot["runs"][run.info.run_id] = _run(client, run)
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        shot["models"][model.name] = {
            "description": model.description or "",
            "tags": dict(model.tags),
            # MLflow's SQL store gives alias versions as ints, its REST client as strings.
            "aliases": {a: str(v) for a, v in model.aliases.items()},
            "versions": sorted(
                (
                    int(v.version),
                    v.source,
                    v.run_id,
                    v.description or "",
                    v.status,
                    dict(v.tags),
                    # MLflow's SQL store leaves search results' aliases empty: ask each version.
                    sorted(client.get_model_version(model.name, v.version).aliases),
                )
                for v in versions
            ),
        }
    return shot


def _run(client, run) -> dict:
    info = run.info
    histories = {
        key: [
            (m.step, m.timestamp, _value(m.value))
            for m in client.get_metric_history(info.run_id, key)
        ]
        for key in run.data.metrics
    }
    inputs = sorted(
        (
            i.dataset.name,
            i.dataset.digest,
            i.dataset.source_type,
            i.dataset.source,
            i.dataset.schema,
            i.dataset.profile,
            sorted((t.key, t.value) for t in i.tags),
        )
        for i in (run.inputs.dataset_inputs if run.inputs else [])
    )
    return {
        "info": (
            info.run_name,
            info.experiment_id,
            info.status,
            info.start_time,
            info.end_time,
            info.lifecycle_stage,
            info.user_id,
        ),
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if k not in IMPORT_TAGS},
        "metrics": {k: _value(v) for k, v in run.data.metrics.items()},
        "histories": histories,
        "inputs": inputs,
        "artifacts": _artifacts(client, info.run_id),
    }


def _artifacts(client, run_id: str, path: str | None = None) -> dict:
    """Return path -> bytes (files) or None (folders) for the whole artifact tree."""
    found: dict = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found[item.path] = None
            found.update(_artifacts(client, run_id, item.path))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = client.download_artifacts(run_id, item.path, tmp)
                found[item.path] = (item.file_size, Path(local).read_bytes())
    return found
