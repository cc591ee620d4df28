"""The registry SDK: log, register, alias, load by alias in a fresh process, roll back, lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import perennia
from perennia.errors import Conflict, IntegrityError, InvalidInput, NotFound
from perennia.models.package import MANIFEST


@pytest.fixture
def trained():
    X, y = make_classification(n_samples=150, n_features=4, random_state=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    return frame, y


def _logged(frame, y, c: float, name: str = "fraud"):
    model = LogisticRegression(C=c).fit(frame, y)
    dataset = perennia.data.from_pandas(frame.assign(label=y), name="train", targets="label")
    with perennia.start_run() as run:
        perennia.log_input(dataset, context="training")
        info = perennia.log_model(model, name="model", registered_model_name=name)
    return model, info, run.run_id


def test_log_model_registers_versions_and_models_uris_load_them(tracking, trained) -> None:
    frame, y = trained
    first, info1, run1 = _logged(frame, y, 1.0)
    second, info2, _ = _logged(frame, y, 0.01)
    assert (info1.registered_version, info2.registered_version) == (1, 2)
    version = perennia.registry.get_model_version("fraud", 1)
    assert (version.run_id, version.digest, version.source) == (run1, info1.digest, info1.model_uri)
    np.testing.assert_array_equal(
        perennia.models.load("models:/fraud/1").predict_proba(frame), first.predict_proba(frame)
    )
    np.testing.assert_array_equal(
        perennia.models.load("models:/fraud/latest").predict_proba(frame),
        second.predict_proba(frame),
    )
    perennia.registry.set_alias("fraud", "champion", 2)
    code = (
        "import json, sys, pandas as pd, perennia\n"
        "m = perennia.models.load('models:/fraud@champion')\n"
        "X = pd.read_json(sys.stdin, orient='split', precise_float=True)\n"
        "print(json.dumps(m.predict(X).tolist()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=frame.to_json(orient="split", double_precision=15),
        env={**os.environ, "PERENNIA_TRACKING_URI": tracking},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == second.predict(frame).tolist()


def test_a_registered_package_altered_in_the_store_is_refused(tracking, trained, tmp_path) -> None:
    frame, y = trained
    _logged(frame, y, 1.0)
    version = perennia.registry.get_model_version("fraud", 1)
    # Re-logging a different manifest at the same path changes what the registry pinned.
    with perennia.start_run(run_id=version.run_id):
        perennia.log_text('{"format": "perennia-model/1"}', f"model/{MANIFEST}")
    with pytest.raises(IntegrityError):
        perennia.models.load("models:/fraud/1", dst_path=tmp_path / "dl")


def test_aliases_are_compare_and_set_and_roll_back(tracking, trained) -> None:
    frame, y = trained
    for c in (1.0, 0.5, 0.1):
        _logged(frame, y, c)
    perennia.registry.set_alias("fraud", "champion", 1)
    assert perennia.registry.set_alias("fraud", "champion", 2) == 1
    with pytest.raises(Conflict):
        perennia.registry.set_alias("fraud", "champion", 3, expected_version=1)
    assert perennia.registry.rollback("fraud", "champion").version == 1
    assert perennia.registry.get_model_version_by_alias("fraud", "champion").version == 1
    actions = [e.action for e in perennia.registry.history("fraud")]
    assert actions[:3] == ["rollback_alias", "set_alias", "set_alias"]
    with pytest.raises(InvalidInput, match="no earlier version"):
        perennia.registry.rollback("fraud", "champion")


def test_lineage_links_datasets_run_version_and_aliases(tracking, trained) -> None:
    frame, y = trained
    _, info, run_id = _logged(frame, y, 1.0)
    perennia.registry.set_alias("fraud", "champion", 1)
    graph = perennia.registry.lineage("fraud", 1)
    assert graph["model_version"]["digest"] == info.digest
    assert graph["run"]["run_id"] == run_id
    assert graph["aliases"] == ["champion"]
    (dataset,) = graph["datasets"]
    expected = perennia.data.from_pandas(frame.assign(label=y), name="train", targets="label")
    assert (dataset["name"], dataset["digest"], dataset["context"]) == (
        "train",
        expected.digest,
        "training",
    )


def test_bad_uris_and_unknown_names(tracking, trained) -> None:
    with pytest.raises(NotFound):
        perennia.models.load("models:/ghost/1")
    with pytest.raises(InvalidInput, match="models:/<name>/<version>"):
        perennia.registry.resolve("models:/a/b/c")
    with pytest.raises(InvalidInput, match="register a runs:/"):
        perennia.registry.register_model("s3://bucket/model", "fraud")


def test_cli_lists_versions_moves_aliases_rolls_back_and_shows_lineage(
    tracking, trained, capsys
) -> None:
    from perennia.cli.main import main

    frame, y = trained
    _, info, run_id = _logged(frame, y, 1.0)
    _logged(frame, y, 0.1)
    assert main(["models", "alias", "set", "fraud", "champion", "1"]) == 0
    assert main(["models", "alias", "set", "fraud", "champion", "2"]) == 0
    assert "(was version 1)" in capsys.readouterr().out
    assert main(["models", "versions", "fraud"]) == 0
    out = capsys.readouterr().out
    assert "champion" in out and info.digest[:12] in out
    assert main(["models", "rollback", "fraud", "champion"]) == 0
    assert "rolled back to version 1" in capsys.readouterr().out
    assert main(["models", "lineage", "fraud", "--version", "1", "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["run"]["run_id"] == run_id and graph["aliases"] == ["champion"]
    assert main(["models", "history", "fraud"]) == 0
    assert "rollback_alias" in capsys.readouterr().out
    assert main(["models", "archive", "fraud", "1"]) == 1
    assert "move them before archiving" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert "champion→v1" in capsys.readouterr().out


def _flavor_model(flavor: str, frame: pd.DataFrame, y):
    if flavor == "sklearn":
        return LogisticRegression().fit(frame, y)
    if flavor == "xgboost":
        xgboost = pytest.importorskip("xgboost")
        return xgboost.XGBClassifier(n_estimators=10, max_depth=2).fit(frame, y)
    if flavor == "lightgbm":
        lightgbm = pytest.importorskip("lightgbm")
        return lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, y)
    skl2onnx = pytest.importorskip("skl2onnx")
    fitted = LogisticRegression().fit(frame.to_numpy(np.float32), y)
    return skl2onnx.to_onnx(
        fitted, frame.to_numpy(np.float32)[:1], options={id(fitted): {"zipmap": False}}
    )


@pytest.mark.parametrize("flavor", ["sklearn", "xgboost", "lightgbm", "onnx"])
def test_each_flavor_logs_registers_and_loads_by_alias_in_a_fresh_process(
    tracking, trained, tmp_path, flavor
) -> None:
    frame, y = trained
    model = _flavor_model(flavor, frame, y)
    with perennia.start_run():
        info = perennia.log_model(model, name="model", registered_model_name=f"m-{flavor}")
    assert info.flavor == flavor
    perennia.registry.set_alias(f"m-{flavor}", "champion", info.registered_version)
    inputs = frame.astype(np.float32) if flavor == "onnx" else frame
    expected = perennia.models.load(f"models:/m-{flavor}@champion").predict_proba(inputs)
    path = tmp_path / "x.parquet"
    inputs.to_parquet(path)
    code = (
        "import json, pandas as pd, perennia\n"
        f"m = perennia.models.load('models:/m-{flavor}@champion')\n"
        f"print(json.dumps(m.predict_proba(pd.read_parquet({str(path)!r})).tolist()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PERENNIA_TRACKING_URI": tracking},
        capture_output=True,
        text=True,
        check=True,
    )
    np.testing.assert_array_equal(np.array(json.loads(out.stdout)), np.asarray(expected))
    if flavor == "sklearn":
        np.testing.assert_array_equal(expected, model.predict_proba(frame))
