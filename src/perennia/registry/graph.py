"""The lineage graph of one model version: datasets -> run -> version -> aliases and approvals.

One shape for the SDK (`perennia.registry.lineage`), the CLI and the model card's diagram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perennia.entities import ApprovalRequest, ModelVersion, Run


def lineage_graph(
    version: ModelVersion, run: Run | None, approvals: Sequence[ApprovalRequest]
) -> dict[str, Any]:
    """Return the graph of `version` from its source run (None if gone) and its requests."""
    graph: dict[str, Any] = {
        "model_version": {
            "name": version.name,
            "version": version.version,
            "digest": version.digest,
            "source": version.source,
            "status": version.status,
            "state": version.state,
        },
        "aliases": list(version.aliases),
        "run": None,
        "datasets": [],
        "approvals": [
            {
                "request_id": r.request_id,
                "alias": r.alias,
                "status": r.status,
                "requested_by": r.requested_by,
                "reviews": [
                    {"reviewer": v.reviewer, "decision": v.decision, "comment": v.comment}
                    for v in r.reviews
                ],
            }
            for r in approvals
            if r.version == version.version
        ],
    }
    if run is not None:
        info = run.info
        graph["run"] = {
            "run_id": info.run_id,
            "name": info.run_name,
            "experiment_id": info.experiment_id,
            "user": info.user_id,
            "git_commit": info.git_commit,
            "source": info.source_name,
        }
        graph["datasets"] = [
            {
                "name": i.dataset.name,
                "digest": i.dataset.digest,
                "context": i.context,
                "rows": i.dataset.row_count,
                "source": i.dataset.source,
            }
            for i in run.inputs.dataset_inputs
        ]
    return graph
