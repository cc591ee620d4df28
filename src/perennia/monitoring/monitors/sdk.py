"""The monitor SDK: create, list, read back and delete monitors in the current store.

from perennia.monitoring import create_monitor, run_monitor, monitor_values

create_monitor("fraud-inputs", deployment="fraud", reference="models:/fraud@champion",
               window="1h", schedule="1h", task="binary")
run_monitor("fraud-inputs")              # every complete hour since the last one
monitor_values("fraud-inputs", keys=["drift.share_drifted", "realised.f1"])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance.windows import parse_window
from perennia.monitoring.monitors.reference import load_reference

TASKS = ("binary", "multiclass", "regression")


def create_monitor(
    name: str,
    *,
    reference: str,
    window: str | int = "1h",
    deployment: str | None = None,
    model: str | None = None,
    schedule: str | int | None = None,
    task: str | None = None,
    columns: Iterable[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    prediction: str | None = None,
    probabilities: str | None = None,
    reference_window: tuple[int, int] | None = None,
    explain: bool = False,
    alerts: Iterable[Any] = (),
    channels: Iterable[dict[str, Any]] = (),
    description: str = "",
) -> Any:
    """Return the stored Monitor watching `deployment`'s prediction log against `reference`.

    `reference` is a URI `load_reference` understands (checked now, so a typo fails here, not
    at the first run). `task` turns on realised performance from feedback; `settings` holds
    `DriftSettings` fields (alpha, min_wasserstein, ...). `reference_window` = (start_ms,
    end_ms) of labelled traffic in the log that CBPE estimates and the performance bounds are
    fitted on (binary classifiers need `probabilities`, the score column). `explain=True`
    records each column's mean |attribution| per window (needs `model=`). `alerts` are `AlertRule`s (or their
    dicts) checked after every run; `channels` are where their events go (see
    `perennia.monitoring.monitors.alerting`; secrets by environment variable name only).
    """
    from perennia.data.session import acting_user, current_store
    from perennia.entities.monitoring import Monitor
    from perennia.monitoring.alerts.rules import AlertRule
    from perennia.monitoring.data_drift.settings import DriftSettings
    from perennia.monitoring.monitors.alerting import check_channels

    if not isinstance(reference, str):
        raise InvalidInput(
            "reference must be a URI or a file path; log a profile with "
            "perennia.monitoring.log_reference_profile(train_df) inside the training run first"
        )
    load_reference(reference)
    if task is not None and task not in TASKS:
        raise InvalidInput(f"task={task!r} is not one of {', '.join(TASKS)}")
    config: dict[str, Any] = {}
    if task:
        config["task"] = task
    if columns is not None:
        config["columns"] = [str(c) for c in columns]
    if settings:
        DriftSettings(**dict(settings))  # refuse bad thresholds now, with the field named
        config["settings"] = dict(settings)
    if explain:
        if model is None:
            raise InvalidInput("explain=True needs model= (models:/name/version) to attribute with")
        config["explain"] = True
    if reference_window is not None:
        config["reference_window"] = _span(reference_window)
    for key, value in (("prediction", prediction), ("probabilities", probabilities)):
        if value is not None:
            config[key] = value
    rules = [r if isinstance(r, AlertRule) else AlertRule.from_dict(r) for r in alerts]
    if rules:
        config["alerts"] = [r.to_dict() for r in rules]
    checked = check_channels(list(channels))
    if checked:
        config["channels"] = checked
    model_name, model_version = _model(model)
    draft = Monitor(
        name=name,
        reference=reference,
        window_ms=parse_window(window),
        deployment=deployment,
        model_name=model_name,
        model_version=model_version,
        schedule_ms=None if schedule is None else parse_window(schedule),
        config=config,
        description=description,
    )
    return current_store().monitors.create_monitor(draft, username=acting_user())


def get_monitor(name: str) -> Any:
    """Return the stored Monitor `name` (NotFound when there is none)."""
    from perennia.data.session import current_store

    return current_store().monitors.get_monitor(name)


def list_monitors(deployment: str | None = None) -> list[Any]:
    """Return every monitor (of `deployment`, when given), by name."""
    from perennia.data.session import current_store

    store, found, token = current_store(), [], None
    while True:
        page = store.monitors.list_monitors(deployment=deployment, page_token=token)
        found += list(page.items)
        token = page.next_page_token
        if not token:
            return found


def delete_monitor(name: str) -> None:
    """Delete monitor `name` with its recorded windows."""
    from perennia.data.session import current_store

    current_store().monitors.delete_monitor(name)


def monitor_values(
    name: str,
    keys: Iterable[str] | None = None,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Any:
    """Return a pandas DataFrame of the monitor's time series: one row per window, one column per key."""
    import pandas as pd

    from perennia.data.session import current_store

    points = current_store().monitors.list_points(
        name, keys=None if keys is None else list(keys), since_ms=since_ms, until_ms=until_ms
    )
    if not points:
        return pd.DataFrame(columns=["window_start_ms", "window_end_ms"])
    long = pd.DataFrame(
        {
            "window_start_ms": [p.window_start_ms for p in points],
            "window_end_ms": [p.window_end_ms for p in points],
            "key": [p.key for p in points],
            "value": [p.value for p in points],
        }
    )
    # Each (window, key) is stored once, so pivot needs no aggregation (and keeps None as NaN).
    wide = long.pivot(index=["window_start_ms", "window_end_ms"], columns="key", values="value")
    wide.columns.name = None
    return wide.reset_index()


def _model(model: str | None) -> tuple[str | None, int | None]:
    if model is None:
        return None, None
    if not isinstance(model, str) or not model.startswith("models:/"):
        raise InvalidInput(
            f"model={model!r} must be a models:/name/version or models:/name@alias URI"
        )
    from perennia.data.session import current_store
    from perennia.models.uri import resolve_models_uri

    version = resolve_models_uri(current_store(), model)
    return version.name, version.version


def _span(window: Any) -> list[int]:
    """Return (start_ms, end_ms) as a checked list of two integers, start before end."""
    try:
        start, end = window
    except (TypeError, ValueError):
        raise InvalidInput("reference_window must be (start_ms, end_ms)") from None
    for value in (start, end):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"reference_window bounds must be epoch milliseconds, got {value!r}")
    if end <= start:
        raise InvalidInput(f"reference_window ends ({end}) before it starts ({start})")
    return [start, end]
