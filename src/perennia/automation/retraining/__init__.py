"""The retraining loop: a policy per registered model, and the retrainings its triggers start.

    from perennia.automation.retraining import set_policy, trigger, run_until_settled

    set_policy("fraud", pipeline="pipelines.py:training", data="transactions",
               eval_data="transactions-labelled@latest", target="is_fraud",
               triggers=[{"kind": "alert", "monitor": "fraud-inputs"}],
               deployment="fraud-api", cooldown="6h")
    retraining = trigger("fraud", reason="new labels")
    run_until_settled(retraining.id)

A retraining runs the pipeline, registers the challenger, compares it with the champion on fresh
labelled data under the gates (the model's success criteria by default), asks for approval as
the alias's policy requires, canaries it through the deployment, and promotes it or rolls it
back; each step is an event (`retraining_events`). Heavy libraries load only when used.
"""

from __future__ import annotations

from perennia.automation.retraining.controller import (
    advance,
    check_due_policies,
    get_retraining,
    list_retrainings,
    retraining_events,
    run_until_settled,
    trigger,
)
from perennia.automation.retraining.policy import (
    delete_policy,
    get_policy,
    list_policies,
    set_policy,
)

__all__ = [
    "advance",
    "check_due_policies",
    "delete_policy",
    "get_policy",
    "get_retraining",
    "list_policies",
    "list_retrainings",
    "retraining_events",
    "run_until_settled",
    "set_policy",
    "trigger",
]
