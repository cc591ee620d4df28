"""MLflow's protobuf-JSON shapes, to and from the shared entities (the one adapter module).

MLflow sends ids as strings, int64 as JSON numbers, key/value lists instead of maps, and
non-finite metric values as the strings "NaN", "Infinity", "-Infinity".
"""

from __future__ import annotations

import json
import re
from typing import Any

from perennia.entities import (
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    ModelLink,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInfo,
    decode_float,
    to_dict,
)
from perennia.errors import InvalidInput
from perennia.server.mlflow_compat.arguments import invalid, missing
from perennia.tracking.dataset_descriptors import MLFLOW_CONTEXT_TAG, from_mlflow_dataset

CONTEXT_TAG = MLFLOW_CONTEXT_TAG


def artifact_uri(run: RunInfo) -> str:
    """Return the artifact URI MLflow clients resolve through this server's artifact proxy."""
    return f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"


def pairs(mapping: dict[str, str]) -> list[dict[str, str]]:
    """Return a map as MLflow's list of {key, value}."""
    return [{"key": k, "value": v} for k, v in mapping.items()]


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """Return an experiment in MLflow's shape."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/{experiment.experiment_id}",
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": pairs(experiment.tags),
    }


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """Return a run's info in MLflow's shape."""
    body = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id or "",
        "status": info.status,
        "start_time": info.start_time,
        "artifact_uri": artifact_uri(info),
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        body["end_time"] = info.end_time
    return body


def run_json(run: Run, links: list[ModelLink] | None = None) -> dict[str, Any]:
    """Return a run in MLflow's shape (latest metric values carry the run's last step), with
    the logged models it consumed and produced (`links`)."""
    tags = dict(run.data.tags)
    tags.setdefault("mlflow.runName", run.info.run_name)
    if run.info.parent_run_id:
        tags.setdefault("mlflow.parentRunId", run.info.parent_run_id)
    metrics = [
        {"key": k, "value": to_dict(v), "timestamp": run.info.start_time, "step": 0}
        for k, v in run.data.metrics.items()
    ]
    links = links or []
    outputs = [
        {"model_id": link.model_id, "step": link.step or 0}
        for link in links
        if link.direction == "output"
    ]
    return {
        "info": run_info_json(run.info),
        "data": {"metrics": metrics, "params": pairs(run.data.params), "tags": pairs(tags)},
        "inputs": {
            "dataset_inputs": [dataset_input_json(i) for i in run.inputs.dataset_inputs],
            "model_inputs": [{"model_id": k.model_id} for k in links if k.direction == "input"],
        },
        "outputs": {"model_outputs": outputs},
    }


def dataset_input_json(item: DatasetInput) -> dict[str, Any]:
    """Return a dataset input in MLflow's shape (the context travels as the last tag)."""
    d = item.dataset
    tags = [{"key": k, "value": v} for k, v in item.tags.items()]
    return {
        "tags": tags + ([{"key": CONTEXT_TAG, "value": item.context}] if item.context else []),
        "dataset": {
            "name": d.name,
            "digest": d.digest,
            "source_type": d.source_type,
            "source": d.source,
            "schema": json.dumps({"mlflow_colspec": d.schema}) if d.schema else "",
            "profile": json.dumps(d.profile) if d.profile else "",
        },
    }


def dataset_input_from_json(body: dict[str, Any]) -> DatasetInput:
    """Return the DatasetInput an MLflow `log-inputs` entry describes."""
    data = body.get("dataset") or {}
    return from_mlflow_dataset(
        data.get("name", ""),
        data.get("digest", ""),
        data.get("source", ""),
        data.get("source_type", ""),
        _json_field(data.get("schema"), "schema"),
        _json_field(data.get("profile"), "profile"),
        {t.get("key"): t.get("value", "") for t in body.get("tags") or []},
    )


def _json_field(text: Any, name: str) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"dataset {name} is not valid JSON") from None


def metric_json(metric: Metric | LoggedModelMetric) -> dict[str, Any]:
    """Return a metric point in MLflow's shape."""
    return {
        "key": metric.key,
        "value": to_dict(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def metric_from_json(
    body: dict[str, Any], default_timestamp: int | None, where: str = ""
) -> Metric:
    """Return the Metric an MLflow metric body describes (`where`: "metrics[0]." in a batch).

    A batch entry must carry its timestamp (`default_timestamp` None), as MLflow requires.
    """
    key = body.get("key")
    if key is None:
        raise missing(f"{where}key")
    if not isinstance(key, str):
        raise invalid(f"{where}key", key)
    if body.get("value") is None:
        raise missing(f"{where}value")
    try:
        value = decode_float(body["value"])
    except (TypeError, ValueError):
        raise invalid(f"{where}value", body["value"]) from None
    if body.get("timestamp") is None and default_timestamp is None:
        raise missing(f"{where}timestamp")
    stamp = body.get("timestamp")
    return Metric(
        key=key,
        value=value,
        timestamp=_int(default_timestamp if stamp is None else stamp, f"{where}timestamp"),
        step=_int(body.get("step", 0), f"{where}step"),
    )


def model_metric_from_json(body: dict[str, Any], metric: Metric, run_id: str) -> LoggedModelMetric:
    """Return the logged-model metric an MLflow metric body with a `model_id` describes."""
    return LoggedModelMetric(
        key=metric.key,
        value=metric.value,
        timestamp=metric.timestamp,
        step=metric.step,
        run_id=run_id,
        dataset_name=body.get("dataset_name") or None,
        dataset_digest=body.get("dataset_digest") or None,
    )


def model_metric_json(model_id: str, metric: LoggedModelMetric) -> dict[str, Any]:
    """Return a logged model's metric value in MLflow's shape."""
    body = {**metric_json(metric), "model_id": model_id}
    optional = {
        "run_id": metric.run_id,
        "dataset_name": metric.dataset_name,
        "dataset_digest": metric.dataset_digest,
    }
    body.update({k: v for k, v in optional.items() if v})
    return body


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(name, value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(name, value) from None


# -- model registry and logged models ---------------------------------------------------------

# MLflow's LoggedModelStatus names for the store's PENDING / READY / FAILED.
LOGGED_MODEL_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}
# Where a logged model keeps its files: under its source run (see mlflow_compat/artifacts.py).
RUNS_URI = re.compile(r"^runs:/([0-9a-f]{32})/(.+)$")
_MODELS_URI_ID = re.compile(r"^models:/(m-[0-9a-f]{32})$")


def model_id_of(source: str | None) -> str | None:
    """Return the logged model id a `models:/<model_id>` source names, else None."""
    match = _MODELS_URI_ID.match(source or "")
    return match.group(1) if match else None


def logged_model_uri(model: LoggedModel) -> str:
    """Return the artifact URI MLflow clients upload a logged model's files to (the proxy)."""
    return f"mlflow-artifacts:/{model.experiment_id}/models/{model.model_id}/artifacts"


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    """Return a logged model in MLflow's shape, with its params and metric values."""
    info: dict[str, Any] = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_updated_time,
        "artifact_uri": logged_model_uri(model),
        "status": LOGGED_MODEL_STATUS.get(model.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
        "tags": pairs(model.tags),
    }
    optional = {
        "model_type": model.model_type,
        "source_run_id": model.source_run_id,
        "status_message": model.status_message,
    }
    info.update({k: v for k, v in optional.items() if v})
    metrics = [model_metric_json(model.model_id, m) for m in model.metrics]
    return {"info": info, "data": {"params": pairs(model.params), "metrics": metrics}}


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    """Return a model version in MLflow's shape (an archived version reads as stage Archived)."""
    body: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.creation_time,
        "last_updated_timestamp": version.last_updated_time,
        "current_stage": "Archived" if version.state == "archived" else "None",
        "description": version.description or "",
        "source": version.source,
        "status": version.status,
        "tags": pairs(version.tags),
        "run_link": "",
        "aliases": list(version.aliases),
    }
    optional = {
        "user_id": version.user_id,
        "run_id": version.run_id,
        "status_message": version.status_message,
        "model_id": model_id_of(version.source),
    }
    body.update({k: v for k, v in optional.items() if v})
    return body


def registered_model_json(
    model: RegisteredModel, latest: ModelVersion | None = None
) -> dict[str, Any]:
    """Return a registered model in MLflow's shape; the owner reads as MLflow's user_id."""
    body: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_updated_time,
        "description": model.description or "",
        "latest_versions": [model_version_json(latest)] if latest is not None else [],
        "tags": pairs(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
    if model.owner:
        body["user_id"] = model.owner
    return body
