"""The README's `perennia serve` example, run as written: the model it names is registered,
served by the CLI from its `models:/` URI, and each curl command's body is sent as curl sends
it; the answers have the shapes the README shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.slow


def _serving_block() -> str:
    text = README.read_text()
    section = text[text.index("## Serving and deployments") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def _curl_calls(block: str) -> list[tuple[str, str]]:
    """Return (path, body) of each curl command in the block."""
    calls = []
    for command in re.findall(r"curl .*?(?=\ncurl |\Z)", block, re.S):
        words = shlex.split(command.replace("\\\n", " "))
        url = next(w for w in words if w.startswith("localhost:"))
        calls.append((url.split("8080", 1)[1], words[words.index("-d") + 1]))
    return calls


def test_the_readme_serve_and_curl_example_answers_as_shown(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from perennia.registry import set_alias
    from perennia.registry.packages import log_model
    from perennia.tracking import fluent
    from tests.conftest import reset_tracking
    from tests.server_process import start_server

    block = _serving_block()
    serve = shlex.split(block.splitlines()[0].split("#")[0])
    assert serve[:3] == ["perennia", "serve", "models:/fraud@champion"]
    home = tmp_path / ".perennia"
    monkeypatch.setenv("PERENNIA_HOME", str(home))
    monkeypatch.delenv("PERENNIA_TRACKING_URI", raising=False)
    monkeypatch.delenv("PERENNIA_ARTIFACTS_URI", raising=False)
    reset_tracking()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"amount": rng.gamma(2, 60, 400), "hour": rng.integers(0, 24, 400)})
    model = LogisticRegression().fit(X, ((X["amount"] > 100) & (X["hour"] > 20)).astype(int))
    with fluent.start_run():
        info = log_model(model, "model", input_example=X.head(5), registered_model_name="fraud")
    set_alias("fraud", "champion", info.registered_version)
    reset_tracking()
    # The README's own --port is replaced by a free one: the rest is run as written.
    at = serve.index("--port")
    args = serve[2:at] + serve[at + 2 :]
    process, url = start_server(args, home, command="serve", log=tmp_path / "serve.log")
    try:
        answers = {}
        for path, body in _curl_calls(block):
            reply = httpx.post(
                f"{url}{path}", content=body, headers={"Content-Type": "application/json"}
            )
            assert reply.status_code == 200, reply.text
            answers[path] = reply.json()
    finally:
        process.terminate()
        process.wait(timeout=30)
    row = pd.DataFrame({"amount": [120.5], "hour": [23]})
    expected = model.predict(row).tolist()
    assert answers["/invocations"] == {"predictions": expected}
    oip = answers["/v2/models/fraud/infer"]
    assert oip["model_name"] == "fraud" and oip["model_version"] == str(info.registered_version)
    [output] = oip["outputs"]
    assert (output["name"], output["shape"], output["data"]) == ("predict", [1], expected)
