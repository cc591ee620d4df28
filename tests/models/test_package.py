"""Model packages: save, verify and load; pickle refused by default; runs:/ URIs through a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import perennia
from perennia.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from perennia.models.package import MANIFEST, package_digest, verify


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    X, y = make_classification(n_samples=200, n_features=4, random_state=2)
    data = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    data["city"] = np.where(data["a"] > 0, "north", "south")
    data["label"] = y
    return data


@pytest.fixture(scope="module")
def pipeline(frame: pd.DataFrame):
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b", "c", "d"]), ("cat", OneHotEncoder(), ["city"])]
    )
    return make_pipeline(prep, LogisticRegression()).fit(
        frame.drop(columns="label"), frame["label"]
    )


class Doubler:
    """A plain Python model: predicts twice the first column."""

    def predict(self, data):
        return np.asarray(data)[:, 0] * 2


def halve(values):
    """Return values / 2 (a function skops does not trust by default)."""
    return values / 2


def _fresh_predictions(uri: str, features: pd.DataFrame, *extra: str, env=None) -> list:
    """Return predict_proba of the model at `uri`, loaded in a new interpreter."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        # Parquet keeps every float bit; JSON text would round the inputs.
        path = Path(tmp) / "features.parquet"
        features.to_parquet(path)
        code = (
            "import json, pandas as pd, perennia\n"
            f"m = perennia.models.load({uri!r}{''.join(', ' + e for e in extra)})\n"
            f"X = pd.read_parquet({str(path)!r})\n"
            "print(json.dumps(m.predict_proba(X).tolist()))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout)


def test_sklearn_pipeline_round_trips_with_identical_predictions_in_a_fresh_process(
    tmp_path: Path, frame: pd.DataFrame, pipeline
) -> None:
    features = frame.drop(columns="label")
    manifest = perennia.models.save(pipeline, tmp_path / "pkg", input_example=features.head(3))
    assert manifest.flavor == "sklearn" and manifest.framework == "scikit-learn"
    assert any(r.startswith("scikit-learn==") for r in manifest.requirements)
    assert any(r.startswith("skops==") for r in manifest.requirements)
    assert set(manifest.files) == {"model.skops", "input_example.json", "requirements.txt"}
    assert not list((tmp_path / "pkg").glob("*.pkl"))
    loaded = perennia.models.load(tmp_path / "pkg")
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))
    expected = pipeline.predict_proba(features)
    np.testing.assert_array_equal(loaded.predict_proba(features), expected)
    again = _fresh_predictions(str(tmp_path / "pkg"), features)
    np.testing.assert_array_equal(np.array(again), expected)
    pd.testing.assert_frame_equal(loaded.input_example, features.head(3).reset_index(drop=True))


def test_an_altered_missing_or_added_file_is_refused(tmp_path: Path, pipeline, frame) -> None:
    folder = tmp_path / "pkg"
    perennia.models.save(pipeline, folder)
    model_file = folder / "model.skops"
    original = model_file.read_bytes()
    model_file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="'model.skops' was altered"):
        perennia.models.load(folder)
    model_file.write_bytes(original)
    (folder / "extra.py").write_text("print('hi')")
    with pytest.raises(IntegrityError, match="does not list"):
        perennia.models.load(folder)
    (folder / "extra.py").unlink()
    (folder / "requirements.txt").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        perennia.models.load(folder)


def test_a_manifest_that_differs_from_the_expected_digest_is_refused(tmp_path, pipeline) -> None:
    folder = tmp_path / "pkg"
    perennia.models.save(pipeline, folder)
    digest = package_digest(folder)
    assert verify(folder, digest).flavor == "sklearn"
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["metadata"] = {"owner": "mallory"}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="manifest digest"):
        verify(folder, digest)


def test_pickle_flavor_refuses_to_load_without_allow_pickle(tmp_path: Path) -> None:
    manifest = perennia.models.save(Doubler(), tmp_path / "pkg")
    assert manifest.flavor == "python_function"
    with pytest.raises(PermissionDenied, match="allow_pickle=True"):
        perennia.models.load(tmp_path / "pkg")
    loaded = perennia.models.load(tmp_path / "pkg", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(np.array([[1.0, 5.0], [2.0, 0.0]])), [2.0, 4.0])


def test_types_outside_skops_trust_must_be_named(tmp_path: Path, frame: pd.DataFrame) -> None:
    features = frame[["a", "b"]]
    model = make_pipeline(FunctionTransformer(halve), LogisticRegression()).fit(
        features, frame["label"]
    )
    manifest = perennia.models.save(model, tmp_path / "pkg")
    untrusted = manifest.flavor_details["untrusted_types"]
    assert any(name.endswith("halve") for name in untrusted)
    with pytest.raises(PermissionDenied, match="trusted_types"):
        perennia.models.load(tmp_path / "pkg")
    loaded = perennia.models.load(tmp_path / "pkg", trusted_types=untrusted)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_bad_save_arguments_are_refused_and_leave_nothing_behind(tmp_path: Path, pipeline) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "x").write_text("keep me")
    with pytest.raises(InvalidInput, match="not empty"):
        perennia.models.save(pipeline, occupied)
    assert (occupied / "x").read_text() == "keep me"
    with pytest.raises(InvalidInput, match="no flavor can save"):
        perennia.models.save(object(), tmp_path / "nothing")
    with pytest.raises(InvalidInput, match="input_example"):
        perennia.models.save(pipeline, tmp_path / "noexample", signature="infer")
    assert not (tmp_path / "noexample").exists()
    with pytest.raises(InvalidInput, match="unknown model flavor"):
        perennia.models.save(pipeline, tmp_path / "f", flavor="tensorflow")
    with pytest.raises(NotFound, match="not a model package"):
        perennia.models.load(tmp_path)


def test_uris_other_than_folders_and_runs_are_explained(tracking: str) -> None:
    with pytest.raises(InvalidInput, match="models:/<name>@<alias>"):
        perennia.models.load("models:/fraud/one")
    with pytest.raises(InvalidInput, match="runs:/<32-hex run id>"):
        perennia.models.load("runs:/abc/model")
    with pytest.raises(InvalidInput, match="folder, runs:/ or models:/"):
        perennia.models.load("http://example.com/model")


def test_log_model_stores_a_package_that_loads_by_runs_uri_in_a_fresh_process(
    tracking: str, tmp_path: Path, frame: pd.DataFrame, pipeline
) -> None:
    features = frame.drop(columns="label")
    with perennia.start_run() as run:
        info = perennia.log_model(pipeline, name="classifier", input_example=features.head(5))
    assert info.model_uri == f"runs:/{run.run_id}/classifier"
    stored = perennia.Client().get_run(run.run_id)
    assert stored.data.tags["perennia.model.classifier"] == info.digest
    loaded = perennia.models.load(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))
    assert package_digest(loaded.folder) == info.digest
    import os

    env = {**os.environ, "PERENNIA_TRACKING_URI": tracking}
    again = _fresh_predictions(info.model_uri, features, env=env)
    np.testing.assert_array_equal(np.array(again), pipeline.predict_proba(features))


def test_inferred_signature_is_enforced_on_the_loaded_model(
    tmp_path: Path, frame: pd.DataFrame, pipeline
) -> None:
    features = frame.drop(columns="label")
    perennia.models.save(
        pipeline, tmp_path / "pkg", signature="infer", input_example=features.head(3)
    )
    model = perennia.models.load(tmp_path / "pkg")
    assert [c.name for c in model.signature.inputs] == ["a", "b", "c", "d", "city"]
    assert model.metadata.signature["inputs"][0]["dtype"] == "float64"
    # Integers are widened losslessly to the float64 the model was trained on.
    widened = features.head(10).assign(a=lambda f: f["a"].round().astype("int64"))
    assert widened["a"].dtype == np.int64
    oracle = pipeline.predict(widened.astype({"a": "float64"}))
    np.testing.assert_array_equal(np.asarray(model.predict(widened)), oracle)
    with pytest.raises(InvalidInput, match="city"):
        model.predict(features.head(5).drop(columns="city"))
    with pytest.raises(InvalidInput, match="'b'.*float64"):
        model.predict(features.head(5).assign(b="not a number"))
