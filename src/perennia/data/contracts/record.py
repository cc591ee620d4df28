"""Recording a validation result on a run: two metrics, a tag, and the page and JSON as artifacts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from perennia.clock import now_ms
from perennia.entities import Metric, RunTag
from perennia.tracking import fluent
from perennia.tracking.client import Client

if TYPE_CHECKING:
    from perennia.data.contracts.result import ValidationResult

DIGEST_TAG = "perennia.validation.contract_digest"
FOLDER = "validation"


def log_result(result: ValidationResult, run_id: str | None = None) -> str:
    """Record `result` on run `run_id` (the active run, or a new one as the fluent API does); return its id."""
    if run_id is None:
        active = fluent.active_run()
        run_id = active.run_id if active is not None else fluent.start_run().run_id
    # Client writes are durable when the call returns; it shares the fluent API's settings.
    client = Client()
    now = now_ms()
    client.log_batch(
        run_id,
        metrics=[
            Metric("validation_success", float(result.success), now, 0),
            Metric("validation_failed_expectations", float(len(result.failed)), now, 0),
        ],
        tags=[RunTag(DIGEST_TAG, result.contract_digest)],
    )
    data = result.to_dict()
    client.log_text(
        run_id, json.dumps(data, indent=2, sort_keys=True, allow_nan=False), f"{FOLDER}/result.json"
    )
    client.log_text(run_id, result.to_html(), f"{FOLDER}/report.html")
    return run_id
