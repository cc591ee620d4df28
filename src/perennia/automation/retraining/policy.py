"""Retraining policies: set one for a registered model (every part checked first), read, delete.

A policy names its training pipeline by entrypoint, the data it trains on, the fresh labelled
data the challenger is judged on, the gates (the model's success criteria by default), the
promotion path (alias, approval, canary) and its triggers. Everything it names is looked up
before anything is stored, so a typo fails here with one line naming the field, not at 3 am
when the first trigger fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perennia.entities import RetrainingPolicy
from perennia.errors import InvalidInput, NotFound

DEFAULT_ALIAS = "champion"
DEFAULT_OUTPUT = "model"
DEFAULT_COOLDOWN = "1h"
TASKS = ("binary", "multiclass", "regression")
TRIGGER_FIELDS = {
    "schedule": ({"cron"}, set()),
    "new_data": ({"dataset"}, set()),
    "alert": ({"monitor"}, {"rule"}),
    "performance": ({"monitor", "metric", "below"}, set()),
}


def set_policy(
    model_name: str,
    *,
    pipeline: str,
    triggers: Iterable[Mapping[str, Any]] = (),
    eval_data: str,
    target: str,
    data: str | None = None,
    params: Mapping[str, Any] | None = None,
    gates: Iterable[str] | Mapping[str, str] | None = None,
    alias: str = DEFAULT_ALIAS,
    auto_approve: bool = False,
    deployment: str | None = None,
    canary: Any = None,
    cooldown: str | int = DEFAULT_COOLDOWN,
    output: str = DEFAULT_OUTPUT,
    task: str = "binary",
    enabled: bool = True,
) -> RetrainingPolicy:
    """Return the model's retraining policy as stored, after checking everything it names.

    `triggers` are dicts with a `kind`: schedule (`cron`), new_data (`dataset`), alert
    (`monitor`, optional `rule`), performance (`monitor`, `metric` (a point key such as
    "realised.accuracy"), `below`). `data` (a dataset reference) is passed to the pipeline as
    param `data`, resolved to its newest version when each retraining starts. `eval_data` and
    `target` are the labelled rows the challenger and champion are compared on. `canary` is a
    CanaryPolicy (or its dict) used when `deployment` is given. `cooldown` is a duration
    ("1h") or milliseconds. Unknown names raise NotFound, bad values InvalidInput; nothing is
    stored then.
    """
    from perennia.automation.entrypoints import normalise_entrypoint
    from perennia.data.session import acting_user, current_store

    store = current_store()
    store.registry.get_registered_model(model_name)  # NotFound for an unknown model
    # A relative "file.py:attr" names a file here; the server runs it from its own folder.
    pipeline = normalise_entrypoint(pipeline, "pipeline")
    check_target(pipeline)
    config = {
        "params": _params(params),
        "data": None if data is None else _dataset_ref(data, "data", store),
        "eval_data": _dataset_ref(eval_data, "eval_data", store),
        "target": _target_column(target, eval_data, store),
        "gates": _gates(gates, model_name),
        "alias": _alias(alias),
        "auto_approve": _flag(auto_approve, "auto_approve"),
        "deployment": _deployment(deployment, model_name, store),
        "canary": _canary(canary),
        "output": _text(output, "output"),
        "task": _task(task),
    }
    policy = RetrainingPolicy(
        model_name=model_name,
        pipeline=pipeline,
        triggers=tuple(check_trigger(t, i, store) for i, t in enumerate(_listed(triggers))),
        config=config,
        cooldown_ms=parse_cooldown(cooldown),
        enabled=_flag(enabled, "enabled"),
    )
    return store.retraining.set_retraining_policy(policy, username=acting_user())


def get_policy(model_name: str) -> RetrainingPolicy:
    """Return the retraining policy of `model_name` (NotFound when it has none)."""
    from perennia.data.session import current_store

    return current_store().retraining.get_retraining_policy(model_name)


def list_policies() -> list[RetrainingPolicy]:
    """Return every retraining policy, by model name."""
    from perennia.data.session import current_store

    retrainings, found, token = current_store().retraining, [], None
    while True:
        page = retrainings.list_retraining_policies(page_token=token)
        found += list(page.items)
        token = page.next_page_token
        if not token:
            return found


def delete_policy(model_name: str) -> None:
    """Delete the model's retraining policy (its retrainings stay as history)."""
    from perennia.data.session import current_store

    current_store().retraining.delete_retraining_policy(model_name)


def check_target(pipeline: str) -> Any:
    """Return the pipeline (a Pipeline or a callable) `pipeline` names, or raise InvalidInput."""
    from perennia.automation.entrypoints import load_entrypoint

    target = load_entrypoint(pipeline, "pipeline")
    if not callable(getattr(target, "run", None)) and not callable(target):
        raise InvalidInput(
            f"pipeline {pipeline!r} names a {type(target).__name__}, not a Pipeline or a "
            "function returning a model URI"
        )
    return target


def parse_cooldown(cooldown: str | int) -> int:
    """Return a cooldown in milliseconds from "30min", "1h", ... or a number of milliseconds."""
    from perennia.monitoring.model_performance.windows import parse_window

    if cooldown == 0 or cooldown == "0":
        return 0
    if isinstance(cooldown, int) and not isinstance(cooldown, bool) and cooldown < 0:
        raise InvalidInput(f"cooldown must be a duration such as '1h' or 0, got {cooldown!r}")
    try:
        return parse_window(cooldown)
    except InvalidInput:
        raise InvalidInput(
            f"cooldown={cooldown!r} is not a duration; use e.g. '30min', '1h', '1d' or 0"
        ) from None


def check_trigger(trigger: Any, index: int, store: Any) -> dict[str, Any]:
    """Return the trigger as stored (a plain dict), after checking its kind, fields and names."""
    field = f"triggers[{index}]"
    if not isinstance(trigger, Mapping):
        raise InvalidInput(f"{field} must be a dict with a 'kind', got {trigger!r:.80}")
    kind = trigger.get("kind")
    if kind not in TRIGGER_FIELDS:
        raise InvalidInput(
            f"{field}: kind must be one of {', '.join(TRIGGER_FIELDS)}, got {kind!r:.40}"
        )
    required, optional = TRIGGER_FIELDS[kind]
    given = set(trigger) - {"kind"}
    if missing := sorted(required - given):
        raise InvalidInput(f"{field}: the {kind} trigger needs {', '.join(missing)}")
    if unknown := sorted(given - required - optional):
        raise InvalidInput(
            f"{field}: the {kind} trigger has no field {unknown[0]!r}; it takes "
            f"{', '.join(sorted(required | optional))}"
        )
    clean = {"kind": kind, **{k: trigger[k] for k in sorted(given)}}
    if kind == "schedule":
        clean["cron"] = _cron(trigger["cron"], field)
    elif kind == "new_data":
        dataset = _text(trigger["dataset"], f"{field}.dataset")
        store.datasets.versions(dataset)  # NotFound for a dataset with no version
    else:
        _monitor_trigger(clean, field, store)
    return clean


def _monitor_trigger(clean: dict[str, Any], field: str, store: Any) -> None:
    monitor = store.monitors.get_monitor(_text(clean["monitor"], f"{field}.monitor"))
    if clean["kind"] == "alert":
        rule = clean.get("rule")
        if rule is None:
            return
        names = [r.get("name") for r in monitor.config.get("alerts", [])]
        if rule not in names:
            raise NotFound(
                f"{field}: monitor {monitor.name!r} has no alert rule {rule!r}; its rules: "
                f"{', '.join(map(str, names)) or 'none'}"
            )
        return
    _text(clean["metric"], f"{field}.metric")
    below = clean["below"]
    if isinstance(below, bool) or not isinstance(below, int | float) or below != below:
        raise InvalidInput(f"{field}.below must be a number, got {below!r:.40}")
    clean["below"] = float(below)


def _cron(cron: Any, field: str) -> str:
    from croniter import croniter

    if not isinstance(cron, str) or not croniter.is_valid(cron.strip()):
        raise InvalidInput(
            f"{field}.cron {cron!r:.80} is not a cron expression; use 5 fields such as "
            "'0 3 * * *' (03:00 every day)"
        )
    return cron.strip()


def _listed(triggers: Any) -> list[Any]:
    if isinstance(triggers, Mapping | str | bytes) or not isinstance(triggers, Iterable):
        raise InvalidInput(f"triggers must be a list of dicts, got {triggers!r:.80}")
    return list(triggers)


def _params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InvalidInput(f"params must be a dict of name -> value, got {params!r:.80}")
    if "data" in params:
        raise InvalidInput("params may not hold 'data': give the dataset as data= instead")
    return dict(params)


def _dataset_ref(ref: Any, field: str, store: Any) -> str:
    from perennia.data.session import resolve

    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"{field} must be a dataset reference such as 'train' or 'train@3'")
    try:
        resolve(ref, store)
    except NotFound as exc:
        raise NotFound(f"{field}: {exc}") from None
    return ref


def _target_column(target: Any, eval_data: str, store: Any) -> str:
    from perennia.data.session import resolve

    column = _text(target, "target")
    schema = resolve(eval_data, store).schema
    names = [c.get("name") for c in schema]
    if names and column not in names:
        raise InvalidInput(
            f"target {column!r} is not a column of {eval_data}; its columns: "
            f"{', '.join(map(str, names[:20]))}"
        )
    return column


def _gates(gates: Any, model_name: str) -> list[str] | None:
    """Return the gate texts given (checked), or None to use the model's success criteria."""
    from perennia.evaluate.gates import parse_gates
    from perennia.registry.success_criteria import get_success_criteria

    if gates is not None and not (isinstance(gates, list | tuple | dict) and not gates):
        return [gate.text for gate in parse_gates(gates)]
    if get_success_criteria(model_name) is None:
        raise InvalidInput(
            f"no gates: give gates= or set success criteria on {model_name!r} first "
            f'(perennia models criteria set {model_name} --goal "..." --gate "roc_auc >= 0.8")'
        )
    return None


def _alias(alias: Any) -> str:
    from perennia.store.registry_checks import check_alias

    return check_alias(alias)


def _deployment(name: Any, model_name: str, store: Any) -> str | None:
    if name is None:
        return None
    deployment = store.deployments.get(_text(name, "deployment"))  # NotFound when unknown
    if deployment.model_name != model_name:
        raise InvalidInput(
            f"deployment {name!r} serves {deployment.model_name!r}, not {model_name!r}"
        )
    return deployment.name


def _canary(canary: Any) -> dict[str, Any] | None:
    from perennia.entities import CanaryPolicy

    if canary is None:
        return None
    if isinstance(canary, CanaryPolicy):
        return canary.to_dict()
    if not isinstance(canary, Mapping):
        raise InvalidInput(f"canary must be a CanaryPolicy or its dict, got {canary!r:.80}")
    known = set(CanaryPolicy.__dataclass_fields__)
    if unknown := sorted(set(canary) - known):
        raise InvalidInput(f"canary has no field {unknown[0]!r}; it takes {', '.join(known)}")
    try:
        return CanaryPolicy.from_dict(dict(canary)).to_dict()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"canary: {exc}") from None


def _task(task: Any) -> str:
    if task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}, got {task!r:.40}")
    return task


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be True or False, got {value!r:.40}")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty text, got {value!r:.40}")
    return value
