"""Success criteria of a registered model: what it is for, and the gates that judge it.

The criteria live in one reserved registered-model tag (`perennia.success_criteria`, canonical
JSON), so every backend (SQLite, PostgreSQL, a server over REST) stores them without a store
part of its own, and setting them is a registry event like any tag write. Gates are checked
with `perennia.evaluate.gates.parse_gates` before anything is stored: a typo is an error, not a
gate that never passes.

The criteria are the default gates of:
- comparisons: `compare_with_champion` here and `perennia evaluate compare` / `perennia ci
  check` when no gate is given;
- approvals: a policy without gates of its own checks the absolute ones against the version's
  source-run metrics (`perennia.entities.approval_rules.with_criteria_gates`);
- canary analysis: `perennia.serving.analysis` turns the absolute ones it can measure into
  floors and ceilings when the canary policy sets no `min_metric`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from perennia.clock import now_ms
from perennia.entities.registry import SUCCESS_CRITERIA_TAG, SuccessCriteria
from perennia.errors import InvalidInput, NotFound
from perennia.registry.session import acting_user as _user
from perennia.registry.session import current_store as _store
from perennia.registry.session import sends_webhooks

__all__ = [
    "SUCCESS_CRITERIA_TAG",
    "check_criteria",
    "clear_success_criteria",
    "compare_with_champion",
    "criteria_gates",
    "gate_status",
    "get_success_criteria",
    "model_name_of",
    "resolve_gates",
    "set_success_criteria",
]

MAX_GOAL = 2000
MAX_GATES = 50
MET, UNMET, NOT_MEASURED, NEEDS_BASELINE = "met", "unmet", "not measured", "needs a baseline"


def check_criteria(
    goal: Any, gates: Mapping[str, Any] | Iterable[str] | str
) -> tuple[str, tuple[str, ...]]:
    """Return the goal (stripped) and the canonical gate texts, or raise InvalidInput."""
    from perennia.evaluate.gates import parse_gates

    if not isinstance(goal, str) or not goal.strip():
        raise InvalidInput("goal must be a sentence saying what the model is for, got nothing")
    goal = goal.strip()
    if len(goal) > MAX_GOAL or "\x00" in goal:
        raise InvalidInput(f"goal is {len(goal):,} characters; write it in at most {MAX_GOAL:,}")
    if gates is None or isinstance(gates, int | float | bytes):
        raise InvalidInput('gates must be texts such as "recall_at_fpr_1pct >= 0.6"')
    texts = tuple(dict.fromkeys(gate.text for gate in parse_gates(gates)))
    if not 1 <= len(texts) <= MAX_GATES:
        raise InvalidInput(
            f"success criteria need 1 to {MAX_GATES} gates, got {len(texts)}; "
            'pass e.g. --gate "recall_at_fpr_1pct >= 0.6"'
        )
    return goal, texts


@sends_webhooks
def set_success_criteria(
    name: str, goal: str, gates: list[str] | dict[str, str] | tuple[str, ...]
) -> SuccessCriteria:
    """Return the model's success criteria after replacing them with `goal` and `gates`.

    `gates` are texts such as "recall_at_fpr_1pct >= 0.6" or a mapping metric -> condition;
    the metric names are those `perennia.evaluate.evaluate` reports.
    """
    goal, texts = check_criteria(goal, gates)
    store, user = _store(), _user()
    store.registry.get_registered_model(name)  # NotFound before anything is written
    criteria = SuccessCriteria(goal, texts, now_ms(), user)
    store.registry.set_registered_model_tag(
        name, SUCCESS_CRITERIA_TAG, criteria.to_json(), username=user
    )
    return criteria


def get_success_criteria(name: str) -> SuccessCriteria | None:
    """Return the model's success criteria, or None when it has none."""
    text = _store().registry.get_registered_model(name).tags.get(SUCCESS_CRITERIA_TAG)
    return None if text is None else SuccessCriteria.from_json(text)


@sends_webhooks
def clear_success_criteria(name: str) -> None:
    """Remove the model's success criteria (nothing happens when it has none)."""
    store = _store()
    if SUCCESS_CRITERIA_TAG not in store.registry.get_registered_model(name).tags:
        return
    with contextlib.suppress(NotFound):  # someone cleared them in between: same outcome
        store.registry.delete_registered_model_tag(name, SUCCESS_CRITERIA_TAG, username=_user())


def criteria_gates(criteria: SuccessCriteria | None, *, absolute_only: bool = False) -> list:
    """Return the criteria's parsed gates (`Gate`), only those without a baseline if asked."""
    from perennia.evaluate.gates import parse_gates

    if criteria is None:
        return []
    parsed = parse_gates(list(criteria.gates))
    return [gate for gate in parsed if not (absolute_only and gate.needs_baseline)]


def resolve_gates(gates: Any, name: str | None) -> tuple[list, str]:
    """Return the gates to judge by and where they came from ("given" or "success criteria").

    Explicit gates win; without them the model's success criteria apply; with neither this
    raises InvalidInput saying how to give some.
    """
    from perennia.evaluate.gates import parse_gates

    given = gates is not None and not (isinstance(gates, list | tuple | dict) and not gates)
    if given:
        return parse_gates(gates), "given"
    criteria = get_success_criteria(name) if name else None
    if criteria is None:
        where = f"model {name!r} has no success criteria" if name else "no model was named"
        raise InvalidInput(
            f"no gates: none were given and {where}; pass gates or set criteria with "
            f'perennia models criteria set {name or "NAME"} --goal "..." --gate "roc_auc >= 0.8"'
        )
    return criteria_gates(criteria), "success criteria"


def model_name_of(uri: str) -> str | None:
    """Return the registered model a `models:/NAME/...` or `models:/NAME@ALIAS` URI names, or None."""
    import re

    match = re.match(r"^models:/([^/@]+)(?:[/@].*)?$", uri or "")
    return match.group(1) if match else None


def gate_status(gate_text: str, metrics: Mapping[str, Any] | None) -> tuple[str, str]:
    """Return (status, detail) of one gate on a run's metrics: met, unmet, not measured, or
    needs a baseline (a relative gate cannot be judged from one run's metrics).

    The metric is looked up as approvals do: by its name, else as the one
    `<dataset>_<metric>` an evaluation logged.
    """
    from perennia.entities.approval_rules import criteria_metric
    from perennia.evaluate.gates import parse_gate_text

    gate = parse_gate_text(gate_text)
    if gate.needs_baseline:
        return NEEDS_BASELINE, "judged when compared with the champion"
    key, problem = criteria_metric(gate.metric, metrics or {})
    value = None if key is None else (metrics or {})[key]
    if problem is not None or not isinstance(value, int | float) or math.isnan(value):
        return NOT_MEASURED, problem or f"the source run's {key} is undefined"
    outcome = gate.evaluate(float(value))
    return (MET if outcome.passed else UNMET), f"{key} = {float(value):.4g}"


def compare_with_champion(
    candidate_uri: Any,
    data: Any,
    targets: Any,
    *,
    name: str,
    alias: str = "champion",
    gates: Any = None,
    **options: Any,
) -> Any:
    """Return the `ComparisonResult` of a candidate against `models:/name@alias` on `data`.

    The gates default to the model's success criteria; with neither gates nor criteria this
    raises InvalidInput, and NotFound when the alias points nowhere. `options` go to
    `perennia.evaluate.compare` (task, sensitive_features, threshold, n_resamples, ...), except
    `trusted_types`, which is passed to `perennia.models.load` for both packages.
    """
    from perennia.evaluate.comparison import compare
    from perennia.models import load

    parsed, _ = resolve_gates(gates, name)
    trusted = options.pop("trusted_types", None)
    champion_uri = f"models:/{name}@{alias}"
    _store().aliases.get_version_by_alias(name, alias)  # NotFound before any model loads
    candidate = (
        load(candidate_uri, trusted_types=trusted)
        if isinstance(candidate_uri, str)
        else candidate_uri
    )
    champion = load(champion_uri, trusted_types=trusted)
    options.setdefault("candidate_name", candidate_uri if isinstance(candidate_uri, str) else None)
    options.setdefault("baseline_name", champion_uri)
    return compare(candidate, champion, data, targets, gates=parsed, **options)
