"""The child side of the process executor: `python -m perennia.automation.pipeline.child TASK RESULT`
reads the task folder its parent wrote (see `transport`), runs the step, writes its outputs and an
outcome file, and exits.

It writes nothing to the store: the parent records the outcome.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from perennia.automation.pipeline.execution import Outcome, read_inputs, run_step


def main(payload_path: str, result_path: str) -> None:
    """Run the task in the folder `payload_path` and write its outcome to `result_path` (atomically)."""
    from perennia.automation.pipeline.records import error_text
    from perennia.automation.pipeline.transport import CodeChanged, read_task

    try:
        fn, spec, kwargs, folder, (tracking_uri, artifacts_uri) = read_task(Path(payload_path))
        if tracking_uri:  # the step may read datasets or models from the parent's store
            from perennia.tracking import fluent

            fluent.set_tracking_uri(tracking_uri)
            fluent.set_artifacts_uri(artifacts_uri)
        outcome = run_step(fn, spec, read_inputs(kwargs), folder)
    except CodeChanged as exc:  # running it again would load the same changed file
        outcome = Outcome(False, error=error_text(exc, tail=0), retryable=False)
    except Exception as exc:  # noqa: BLE001 - loading the function or reading an input failed
        outcome = Outcome(False, error=error_text(exc))
    data = {
        "ok": outcome.ok,
        "metas": [dataclasses.asdict(m) for m in outcome.metas.values()],
        "metrics": outcome.metrics,
        "error": outcome.error,
        "retryable": outcome.retryable,
    }
    tmp = Path(result_path + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(result_path)  # the parent never reads half a file


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
