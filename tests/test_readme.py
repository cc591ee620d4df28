"""Every Python snippet in README.md runs as written, in a fresh interpreter on a fresh store.

Snippets use names a reader already has (`train_df`, `model`, ...): each gets a short prelude
that makes them, and an epilogue that checks the snippet did what the README says. A snippet
added without a prelude fails here, so the README cannot drift from the product.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

_BREAST_CANCER = """
import numpy as np, pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
data = load_breast_cancer(as_frame=True)
features = data.frame.drop(columns="target").iloc[:, :8]
rng = np.random.default_rng(0)
df = features.assign(label=data.target, sex=rng.choice(["f", "m"], len(features)),
                     age_band=rng.choice(["<40", "40+"], len(features)),
                     region=rng.choice(["north", "south"], len(features)))
train_df, test_df = df.iloc[::2].reset_index(drop=True), df.iloc[1::2].reset_index(drop=True)
X, X_new = train_df[features.columns], test_df[features.columns].head(3)
def fit(C):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(X, train_df.label)
model = fit(1.0)
"""

# The prediction-log snippet reads what a server wrote: the real app answers 20 requests
# in-process (the Lambda runtime drives its ASGI interface) and flushes its log on close.
_SERVED_TRAFFIC = """
import json
import perennia
from perennia.registry import deployments
from perennia.serving.app import create_app
from perennia.config import Settings
from perennia.data.predlog import default_location
from perennia.serving.config import ServeConfig
from perennia.serving.lambda_handler import LambdaRuntime
with perennia.start_run():
    perennia.log_model(model, name="model", input_example=X.head(5), registered_model_name="fraud")
deployments.create_deployment("fraud-api", "fraud", 1)
runtime = LambdaRuntime(create_app(ServeConfig(deployment="fraud-api",
                                               log_location=default_location(Settings.from_env()))))
body = json.dumps({"dataframe_split": json.loads(X_new.to_json(orient="split"))})
for _ in range(20):
    event = {"httpMethod": "POST", "path": "/invocations", "body": body,
             "headers": {"Content-Type": "application/json"}}
    assert runtime.invoke(event)["statusCode"] == 200
runtime.close()
"""

_PAYMENTS = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
n = 2000
train_df = pd.DataFrame({"id": np.arange(n), "age": rng.integers(18, 90, n),
                         "amount": rng.gamma(2.0, 50.0, n), "country": rng.choice(["FR", "DE"], n),
                         "label": rng.integers(0, 2, n)})
newer = train_df.assign(id=train_df["id"] + n).head(20)
pd.concat([train_df, newer], ignore_index=True).to_parquet("payments.parquet", index=False)
"""

_EVENTS_AND_FEATURES = """
import perennia
perennia.data.register("payments", train_df)
perennia.data.register("payments", train_df.head(1500))
events = pd.DataFrame({"customer_id": rng.integers(0, 50, 500),
                       "event_timestamp": pd.Timestamp("2026-01-01")
                       + pd.to_timedelta(rng.integers(0, 86_400, 500), unit="s")})
features = pd.DataFrame({"customer_id": rng.integers(0, 50, 5000),
                         "ts": pd.Timestamp("2026-01-01")
                         + pd.to_timedelta(rng.integers(0, 86_400, 5000), unit="s"),
                         "spend_7d": rng.gamma(2.0, 30.0, 5000)})
"""

# The retraining policy names a training pipeline in a file, as a project keeps one.
_TRAINING_PIPELINE = """
open("pipelines.py", "w").write('''
from perennia.automation.pipeline import Pipeline, step
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

@step
def model(C: float = 1.0):
    data = load_breast_cancer(as_frame=True)
    return LogisticRegression(C=C, max_iter=5000).fit(data.frame.iloc[:, :8], data.target)

training = Pipeline("training", [model])
''')
import perennia
with perennia.start_run():
    perennia.log_model(fit(0.01), name="model", registered_model_name="breast-cancer")
perennia.registry.set_alias("breast-cancer", "champion", 1)
labelled = test_df[list(features.columns) + ["label"]]
"""

PRELUDES = {
    "Tracking in your own code": _BREAST_CANCER
    + """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, axes = plt.subplots()
axes.plot([0, 1], [0, 1])
open("model.skops", "wb").write(b"model bytes")
""",
    "Data: versions and contracts": _PAYMENTS,
    "Preparing data: splits and point-in-time joins": _PAYMENTS + _EVENTS_AND_FEATURES,
    "Evaluating models": _BREAST_CANCER
    + """
candidate, champion = fit(1.0), fit(0.01)
""",
    "Models and the registry": _BREAST_CANCER,
    "Approvals, model cards, webhooks": _BREAST_CANCER
    + """
import perennia
for _ in range(3):
    with perennia.start_run():
        perennia.log_metric("test_roc_auc", 0.97)
        perennia.log_model(model, name="model", registered_model_name="fraud")
""",
    "Serving and deployments": _BREAST_CANCER
    + """
import perennia
for _ in range(2):
    with perennia.start_run():
        perennia.log_model(model, name="model", input_example=X.head(5),
                           registered_model_name="fraud")
""",
    "The prediction log": _BREAST_CANCER + _SERVED_TRAFFIC,
    "Monitoring: drift, performance, alerts": _BREAST_CANCER,
    "Monitors over the prediction log": _BREAST_CANCER + _SERVED_TRAFFIC,
    "Pipelines": _BREAST_CANCER
    + """
frame = features.assign(label=data.target)
""",
    "Tuning": _BREAST_CANCER,
    "Success criteria and the retraining loop": _BREAST_CANCER + _TRAINING_PIPELINE,
}

EPILOGUES = {
    "Tracking in your own code": """
assert len(runs) == 1 and runs["metrics.val_loss"].iloc[0] < 0.1
run = perennia.Client().get_run(runs["run_id"].iloc[0])
assert run.data.params == {"n_estimators": "200", "max_depth": "8"}
""",
    "Data: versions and contracts": """
assert (v1.version, v2.version, v2.row_count) == (1, 2, 2020) and frame.equals(train_df)
assert (changes.rows_added, changes.rows_removed, changes.rows_changed) == (20, 0, 0)
failed = {(r.name, r.column) for r in result.results if not r.success}
assert ("expect_column_values_to_be_between", "id") in failed  # the 20 new ids are out of range
assert set(result.failures["column"]) == {"id"} and open("validation.html").read()
""",
    "Preparing data: splits and point-in-time joins": """
assert {v.ref for v in parts.values()} == {"payments-train@1", "payments-validation@1", "payments-test@1"}
assert sum(v.row_count for v in parts.values()) == 1500 and len(training) == len(events)
for _, event in training.head(50).iterrows():  # each event got the latest row at or before it
    seen = features[(features.customer_id == event.customer_id)
                    & (features.ts <= event.event_timestamp)].sort_values("ts", kind="stable")
    expected = seen["spend_7d"].iloc[-1] if len(seen) else None
    assert (pd.isna(event.spend_7d) and expected is None) or event.spend_7d == expected
""",
    "Evaluating models": """
assert 0.9 < result.metrics["roc_auc"] <= 1 and "roc_auc" in result.intervals
assert isinstance(verdict.passed, bool) and len(verdict.outcomes) == 3
assert open("report.html").read().startswith("<!DOCTYPE html>")
""",
    "Models and the registry": """
assert perennia.registry.get_model_version_by_alias("fraud", "champion").version == 1
assert len(champion.predict(X_new)) == 3
""",
    "Approvals, model cards, webhooks": """
assert perennia.registry.get_model_version_by_alias("fraud", "champion").version == 3
assert "Flag card fraud for review" in open(markdown_path).read()
""",
    "Serving and deployments": """
variants = deployments.get_deployment("fraud-api").variants
assert [(v.name, v.version, v.weight) for v in variants] == [("stable", 1, 95.0), ("canary", 2, 5.0)]
""",
    "The prediction log": """
assert len(log) == 20 * 3 and set(log["variant"]) == {"stable"} and log["ok"].all()
""",
    "Monitoring: drift, performance, alerts": """
assert report.drifted is not None and len(report.columns) == len(train_df.columns)
assert open("drift.html").read().startswith("<!DOCTYPE html>")
assert set(reference.columns) == set(train_df.columns)
""",
    "Monitors over the prediction log": """
from perennia.data.session import current_store
values = monitor_values("fraud-inputs")
assert values["rows"].sum() == 60 and values["drift.drifted"].max() == 1.0
events = current_store().alerts.list_alert_events(monitor="fraud-inputs")
assert [e.status for e in events] == ["firing"]
""",
    "Pipelines": """
assert run.status == again.status == changed.status == "FINISHED"
assert all(s.cached_from for s in again.steps.values())
assert {n for n, s in changed.steps.items() if s.cached_from is None} == {"model", "scores"}
loaded = perennia.models.load(run.model_uri("model"))
test = run.outputs["test"]
assert (loaded.predict(test.drop(columns="label")) == run.outputs["model"].predict(test.drop(columns="label"))).all()
assert abs(run.outputs["scores"]["accuracy"] - (loaded.predict(test.drop(columns="label")) == test.label).mean()) < 1e-12
""",
    "Tuning": """
assert len(result.trials) == 20 and result.best_value == max(t.value for t in result.study.trials)
best = perennia.models.load(result.model_uri)
assert best.predict(X).shape == (len(X),)
assert perennia.get_run(result.parent_run_id).data.params["C"] == str(result.best_params["C"])
""",
    "Success criteria and the retraining loop": """
from perennia.entities.automation import RETRAINING_TERMINAL_STATES
assert done.state in RETRAINING_TERMINAL_STATES and done.reason
states = [e.state for e in retraining.retraining_events(attempt.id)]
assert states[0] == "triggered" and states[-1] == done.state
assert registry.get_success_criteria("breast-cancer").gates[0] == "recall_at_fpr_1pct >= 0.5"
champion = registry.get_model_version_by_alias("breast-cancer", "champion").version
assert champion == (2 if done.state == "promoted" else 1)
""",
}


def python_snippets(text: str) -> list[tuple[str, str]]:
    """Return (nearest heading, code) for each ```python block of a Markdown text."""
    found, heading = [], ""
    for match in re.finditer(r"^(#+ [^\n]*)$|^```python\n(.*?)^```", text, re.M | re.S):
        if match.group(1):
            heading = match.group(1).lstrip("#").strip()
        else:
            found.append((heading, match.group(2)))
    return found


SNIPPETS = python_snippets(README.read_text())


def test_every_snippet_has_a_prelude_and_a_check() -> None:
    headings = [heading for heading, _ in SNIPPETS]
    assert headings == list(PRELUDES) == list(EPILOGUES)


@pytest.mark.parametrize(("heading", "code"), SNIPPETS, ids=[h for h, _ in SNIPPETS])
def test_the_readme_snippet_runs_as_written(heading: str, code: str, tmp_path: Path) -> None:
    program = "\n".join(
        [textwrap.dedent(PRELUDES[heading]), "import perennia", code, EPILOGUES[heading]]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERENNIA_", "MLFLOW_"))}
    env["PERENNIA_HOME"] = str(tmp_path / ".perennia")
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README snippet under '{heading}' failed:\n{done.stderr[-4000:]}"
