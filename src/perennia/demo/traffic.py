"""The demo's callers: held-out rows sent to the inference server, and their labels sent later.

Requests alternate between the two protocols the server speaks, MLflow's scoring protocol
(`POST /invocations` with `dataframe_split`) and the Open Inference Protocol
(`POST /v2/models/<deployment>/infer`, one tensor per column, `content_type: pd`), so the log
shows both lead to the same predictions. Each request is one row: a canary policy counts
predictions, and one row per request keeps "requests" and "predictions" the same number.
Labels arrive afterwards through `POST /feedback`, keyed by the prediction id the server
returned (`<Perennia-Request-Id>-0` for a request's only row), as delayed ground truth would.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput

PROTOCOLS = ("mlflow", "oip")


@dataclass(frozen=True)
class Sent:
    """One answered request: its id, the variant that answered, its status and the row's label."""

    request_id: str
    variant: str
    status: int
    label: int

    @property
    def prediction_id(self) -> str:
        """Return the id of the request's only prediction."""
        return f"{self.request_id}-0"


class Traffic:
    """Sends held-out rows to one deployment's server, one row per request, in a seeded order."""

    def __init__(self, url: str, deployment: str, X: Any, y: Any, seed: int) -> None:
        import httpx
        import numpy as np

        self.deployment = deployment
        self.columns = [str(c) for c in X.columns]
        order = np.random.default_rng(seed).permutation(len(X))
        values, labels = X.to_numpy(dtype=float), y.to_numpy()
        self._rows = itertools.cycle([(values[i].tolist(), int(labels[i])) for i in order])
        self._client = httpx.Client(base_url=url, timeout=30.0)
        self.by_protocol: Counter[str] = Counter()
        self.answered = 0  # successful answers: one primary prediction each in the log

    def send(self, n: int) -> list[Sent]:
        """Send `n` single-row requests, alternating protocols; return what answered each."""
        sent = []
        for _ in range(n):
            row, label = next(self._rows)
            protocol = PROTOCOLS[sum(self.by_protocol.values()) % len(PROTOCOLS)]
            reply = (self._mlflow if protocol == "mlflow" else self._oip)(row)
            self.by_protocol[protocol] += 1
            if 400 <= reply.status_code < 500:  # the demo's own request is wrong: stop loudly
                raise InvalidInput(
                    f"the server refused a demo request ({protocol}): {reply.status_code} "
                    f"{reply.text[:300]}"
                )
            headers = reply.headers
            if reply.status_code == 200:
                self.answered += 1
            sent.append(
                Sent(
                    headers.get("perennia-request-id", ""),
                    headers.get("perennia-variant", ""),
                    reply.status_code,
                    label,
                )
            )
        return sent

    def _mlflow(self, row: list[float]) -> Any:
        body = {"dataframe_split": {"columns": self.columns, "data": [row]}}
        return self._client.post("/invocations", json=body)

    def _oip(self, row: list[float]) -> Any:
        inputs = [
            {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
            for name, value in zip(self.columns, row, strict=True)
        ]
        body = {"inputs": inputs, "parameters": {"content_type": "pd"}}
        return self._client.post(f"/v2/models/{self.deployment}/infer", json=body)

    def label(self, sent: list[Sent]) -> int:
        """Post the ground truth of every answered request in `sent`; return how many."""
        items = [
            {"prediction_id": s.prediction_id, "ground_truth": s.label}
            for s in sent
            if s.status == 200 and s.request_id
        ]
        if not items:
            return 0
        reply = self._client.post("/feedback", json={"feedback": items})
        if reply.status_code != 200:
            raise InvalidInput(f"the server refused the demo's feedback: {reply.text[:300]}")
        return int(reply.json()["recorded"])

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
