"""The retraining state machine, second half: approval, canary, promotion, reference update.

Approval follows the alias's own rules, never around them:
- an alias guarded by an approval policy moves only through an approved request, so the loop
  always requests one. With `auto_approve=True` it then approves the request itself, as the
  process's user, and the store decides whether that counts: only a policy with
  `allow_self_approval=True` whose reviewer role that user holds lets it apply (the requester
  approving its own request is self-approval). Otherwise the request waits for a person and
  the retraining waits in `awaiting_approval`.
- an unguarded alias with `auto_approve=True` needs nobody: the challenger is approved at once.
- an unguarded alias without `auto_approve` gets a request too, under the default rule (one
  approval by someone other than the requester), so a person signs off every promotion.

An applied request has already moved the alias (that is what applying means). With a deployment
configured, the canary then proves the challenger on live traffic; if it rolls back, the alias
is rolled back too (a rollback is allowed on a guarded alias), so the champion is where it was.
"""

from __future__ import annotations

from typing import Any

from perennia.automation.retraining.moves import move
from perennia.clock import now_ms
from perennia.entities import Retraining, RetrainingPolicy
from perennia.errors import Conflict, InvalidInput, NotFound, PermissionDenied

_PAST = {"approve": "approved", "reject": "rejected"}
AUTO_APPROVE_COMMENT = "auto-approved by the retraining policy (auto_approve=True)"


def champion_version(policy: RetrainingPolicy) -> int | None:
    """Return the version the policy's alias points at now (None when it is unset)."""
    from perennia.registry import get_model_version_by_alias

    try:
        return get_model_version_by_alias(policy.model_name, _alias(policy)).version
    except NotFound:
        return None


def seek_approval(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining approved (and moved on), or awaiting a reviewer's decision."""
    from perennia.registry import approve, get_approval_policy, request_approval

    name, alias, version = policy.model_name, _alias(policy), retraining.challenger_version
    auto = bool(policy.config.get("auto_approve"))
    guarded = get_approval_policy(name, alias) is not None
    if auto and not guarded:
        noted = move(
            store,
            retraining,
            "evaluating",
            f"auto-approved: @{alias} has no approval policy and the retraining policy allows it",
            detail={"approval": "auto"},
        )
        return after_approval(noted, policy, store, alias_moved=False)
    request = request_approval(
        name, version, alias, comment=f"retraining {retraining.id}: challenger passed its gates"
    )
    if auto:
        try:
            request = approve(request.request_id, comment=AUTO_APPROVE_COMMENT)
        except PermissionDenied as exc:
            retraining = move(
                store,
                retraining,
                "evaluating",
                f"auto-approval refused by @{alias}'s policy, a reviewer must decide: {exc}"[:2000],
                approval_request_id=request.request_id,
            )
    waiting = move(
        store,
        retraining,
        "awaiting_approval",
        f"approval request {request.request_id} to point @{alias} at version {version}"
        + (f" (needs: {'; '.join(request.unmet)})" if request.unmet else ""),
        approval_request_id=request.request_id,
    )
    return check_approval(waiting, policy, store)


def check_approval(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after reading its request: approved and moved on, ended, or waiting."""
    from perennia.registry import get_approval_request

    request = get_approval_request(retraining.approval_request_id)
    if request.status == "PENDING":
        return retraining
    reviews = ", ".join(
        f"{r.reviewer} {_PAST.get(r.decision, r.decision)}"
        + (f" ({r.comment})" if r.comment else "")
        for r in request.reviews
    )
    if request.status == "APPLIED":
        applied = move(
            store,
            retraining,
            "awaiting_approval",
            f"approval request {request.request_id} applied: @{request.alias} is version "
            f"{request.version} ({reviews})",
            detail={"alias_moved": True},  # from here on, every end moves the alias back
        )
        return after_approval(applied, policy, store, alias_moved=True)
    state = "rejected" if request.status == "REJECTED" else "cancelled"
    return move(
        store,
        retraining,
        state,
        f"approval request {request.request_id} {request.status.lower()}; the champion is untouched",
        reason=f"approval request {request.request_id} {request.status.lower()}"
        + (f": {reviews}" if reviews else ""),
    )


def after_approval(
    retraining: Retraining, policy: RetrainingPolicy, store: Any, *, alias_moved: bool
) -> Retraining:
    """Return the retraining canarying through its deployment, or promoted when it has none."""
    from perennia.entities import CanaryPolicy
    from perennia.registry.deployments import start_canary

    deployment = policy.config.get("deployment")
    if not deployment:
        return promote(retraining, policy, store)
    canary = CanaryPolicy.from_dict(policy.config.get("canary") or {})
    try:
        started = start_canary(deployment, retraining.challenger_version, canary)
    except (Conflict, InvalidInput, NotFound, PermissionDenied) as exc:
        return finish(
            store,
            retraining,
            policy,
            "failed",
            "the canary could not start",
            f"starting the canary on {deployment} failed: {exc}",
            deployment=deployment,
        )
    return move(
        store,
        retraining,
        "canary",
        f"canary of version {retraining.challenger_version} started on {deployment} at "
        f"{started.variant('canary').weight:g}%",
        deployment=deployment,
        detail={"canary_revision": started.revision, "alias_moved": alias_moved},
    )


def watch_canary(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after reading its canary: promoted, rolled back, or still running."""
    from perennia.entities import RolloutState

    deployment = store.deployments.get(retraining.deployment)
    started = int(retraining.detail.get("canary_revision", 0))
    version = retraining.challenger_version
    if deployment.revision <= started:
        return retraining
    if deployment.state == RolloutState.PROMOTED and deployment.stable.version == version:
        passed = move(
            store,
            retraining,
            "canary",
            f"canary analysis passed every step: {deployment.name} serves version {version}",
        )
        return promote(passed, policy, store)
    if deployment.state == RolloutState.ROLLED_BACK:
        return finish(
            store,
            retraining,
            policy,
            "rolled_back",
            f"canary rolled back: {deployment.name} serves version "
            f"{deployment.stable.version} again",
            f"canary rolled back: {_rollback_reason(store, deployment.name)}",
        )
    canary = deployment.variant("canary")
    if canary is None or canary.version != version:
        return finish(
            store,
            retraining,
            policy,
            "failed",
            f"{deployment.name} changed under the canary (now {deployment.state})",
            f"deployment {deployment.name} no longer canaries version {version}",
        )
    return retraining


def promote(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining promoted: the alias on the challenger, monitors' references moved."""
    from perennia.registry import set_alias

    alias, version = _alias(policy), retraining.challenger_version
    if champion_version(policy) != version:
        try:
            set_alias(policy.model_name, alias, version)
        except (Conflict, PermissionDenied) as exc:
            return move(
                store,
                retraining,
                "failed",
                f"@{alias} could not be moved to version {version}",
                reason=f"promoting version {version} to @{alias} failed: {exc}"[:2000],
            )
    moved, skipped = update_references(retraining, policy, store)
    return move(
        store,
        retraining,
        "promoted",
        f"version {version} is @{alias}; monitors' references updated: "
        f"{', '.join(moved) or 'none'}",
        reason=f"version {version} promoted to @{alias} (was {retraining.champion_version})",
        detail={"references": {"updated": moved, "skipped": skipped}, "promoted_ms": now_ms()},
    )


def update_references(
    retraining: Retraining, policy: RetrainingPolicy, store: Any
) -> tuple[list[str], dict[str, str]]:
    """Return the monitors whose reference now names the new version, and those left, with why.

    A monitor of the deployment or the model whose reference names the old champion
    (`models:/NAME/<old>` or a `runs:/` URI of the old version's run) is pointed at
    `models:/NAME/<new>`, but only once that reference loads (the new version's run logged a
    profile); references through an alias already follow it, datasets and files are the user's.
    """
    from perennia.monitoring.monitors.reference import load_reference
    from perennia.registry import get_model_version

    name, new = policy.model_name, retraining.challenger_version
    old_run = None
    if retraining.champion_version is not None:
        old_run = get_model_version(name, retraining.champion_version).run_id
    deployment = policy.config.get("deployment")
    moved, skipped = [], {}
    for monitor in _monitors(store):
        if monitor.model_name != name and (deployment is None or monitor.deployment != deployment):
            continue
        if not _names_old_version(monitor.reference, name, new, old_run):
            continue
        target = f"models:/{name}/{new}"
        try:
            load_reference(target)
        except (NotFound, InvalidInput) as exc:
            skipped[monitor.name] = str(exc)[:500]
            continue
        store.monitors.update_monitor(monitor.name, reference=target)
        moved.append(monitor.name)
    return moved, skipped


def _names_old_version(reference: str, name: str, new: int, old_run: str | None) -> bool:
    prefix = f"models:/{name}/"
    if reference.startswith(prefix):
        return reference[len(prefix) :].isdigit() and int(reference[len(prefix) :]) != new
    return old_run is not None and reference.startswith(f"runs:/{old_run}/")


def _monitors(store: Any) -> list[Any]:
    found, token = [], None
    while True:
        page = store.monitors.list_monitors(page_token=token)
        found += list(page.items)
        token = page.next_page_token
        if not token:
            return found


def _rollback_reason(store: Any, deployment: str) -> str:
    """Return why the deployment's last rollback happened: the failed checks, or who did it."""
    for event in store.deployments.events(deployment, 20):
        if not event.action.endswith("rollback"):
            continue
        detail = (event.after or {}).get("detail") or {}
        checks = (detail.get("analysis") or {}).get("checks") or []
        failed = [c for c in checks if c.get("verdict") == "fail"]
        if failed:
            return "; ".join(f"{c['name']}: {c.get('detail') or c.get('value')}" for c in failed)
        if detail.get("reason"):
            return str(detail["reason"])
        return f"rolled back by {event.username or 'the rollout controller'}"
    return "the deployment was rolled back"


def finish(
    store: Any,
    retraining: Retraining,
    policy: RetrainingPolicy,
    state: str,
    message: str,
    reason: str,
    **fields: Any,
) -> Retraining:
    """Return the retraining ended in `state`, @alias first moved back if the loop had moved it.

    When the move back fails, the reason says so and how to do it by hand, and the detail
    records it (`alias_undo`), so no retraining ends quietly with the challenger as champion.
    """
    note, failure = (
        undo_alias(retraining, policy) if retraining.detail.get("alias_moved") else ("", None)
    )
    if failure is not None:  # cut the cause, never the way out at the end
        reason = f"{reason[:1200]}, and {failure}"
    undo = {"moved_back": failure is None, "message": failure or note.lstrip("; ")}
    detail = {"alias_undo": undo} if note else None
    return move(
        store,
        retraining,
        state,
        f"{message}{note}",
        reason=reason[:2000],
        detail=detail,
        **fields,
    )


def undo_alias(retraining: Retraining, policy: RetrainingPolicy) -> tuple[str, str | None]:
    """Return (a note for the event, the failure or None) after moving @alias back off the
    challenger; nothing is done (and the note is empty) when it points elsewhere already."""
    from perennia.registry import rollback

    name, alias, was = policy.model_name, _alias(policy), retraining.champion_version
    try:
        if champion_version(policy) != retraining.challenger_version:
            return "", None
        back = rollback(name, alias)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, with the way out
        failure = (
            f"@{alias} could not be moved back to {f'version {was}' if was else 'its previous version'}: "
            f"{type(exc).__name__}: {str(exc)[:400]}; move it back by hand with "
            f"`perennia models rollback {name} {alias}`"
        )
        return f"; @{alias} could not be moved back: {str(exc)[:400]}", failure
    return f"; @{alias} moved back to version {back.version}", None


def _alias(policy: RetrainingPolicy) -> str:
    return str(policy.config.get("alias") or "champion")
