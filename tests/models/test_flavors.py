"""XGBoost, LightGBM and ONNX flavors: native formats, identical predictions, no pickle."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import perennia
from perennia.errors import IntegrityError, InvalidInput
from perennia.models.flavors import flavor_for
from perennia.models.package import MANIFEST

COLUMNS = ["age", "income", "tenure", "score", "visits"]


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    """One feature frame with binary, 3-class and continuous targets."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(240, len(COLUMNS))), columns=COLUMNS)
    signal = X["age"] * 1.5 - X["income"] + 0.5 * X["tenure"] + rng.normal(scale=0.3, size=240)
    return {
        "X": X,
        "binary": (signal > signal.median()).astype(int).to_numpy(),
        "multiclass": pd.qcut(signal, 3, labels=False).to_numpy(),
        "regression": signal.to_numpy(),
    }


def _fresh_outputs(folders: dict[str, Path], X: pd.DataFrame, tmp: Path) -> dict[str, Any]:
    """Return {key: {"predict": ..., "predict_proba": ...}} from a new interpreter."""
    # Parquet keeps every float bit; JSON prints floats with repr, which round-trips exactly.
    features = tmp / "features.parquet"
    X.to_parquet(features)
    code = (
        "import json, sys, pandas as pd, perennia\n"
        "X = pd.read_parquet(sys.argv[1])\n"
        "out = {}\n"
        "for key, folder in json.loads(sys.argv[2]).items():\n"
        "    m = perennia.models.load(folder)\n"
        "    out[key] = {'predict': m.predict(X).tolist()}\n"
        "    if hasattr(m.unwrap(), 'predict_proba'):\n"
        "        out[key]['predict_proba'] = m.predict_proba(X).tolist()\n"
        "print(json.dumps(out))\n"
    )
    paths = json.dumps({key: str(folder) for key, folder in folders.items()})
    result = subprocess.run(
        [sys.executable, "-c", code, str(features), paths], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _save_all(models: dict[str, Any], root: Path) -> dict[str, Path]:
    folders = {}
    for key, model in models.items():
        folders[key] = root / key
        perennia.models.save(model, folders[key])
        assert not list(folders[key].rglob("*.pkl")), "a native flavor must not write a pickle"
    return folders


def _assert_round_trip(models: dict[str, Any], folders: dict[str, Path], X, tmp: Path) -> None:
    """Loaded in this process and in a fresh one, every model predicts exactly as the original."""
    fresh = _fresh_outputs(folders, X, tmp)
    for key, model in models.items():
        loaded = perennia.models.load(folders[key])
        expected = _predict(model, X)
        np.testing.assert_array_equal(loaded.predict(X), expected, err_msg=key)
        np.testing.assert_array_equal(np.asarray(fresh[key]["predict"]), expected, err_msg=key)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(X)
            np.testing.assert_allclose(loaded.predict_proba(X), proba, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(np.asarray(fresh[key]["predict_proba"]), proba)
        else:
            assert "predict_proba" not in fresh[key]


def _predict(model: Any, X: pd.DataFrame) -> Any:
    if type(model).__name__ == "Booster" and type(model).__module__.startswith("xgboost"):
        import xgboost

        return model.predict(xgboost.DMatrix(X))
    return model.predict(X)


def _tamper(path: Path) -> None:
    raw = path.read_bytes()
    middle = len(raw) // 2
    path.write_bytes(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :])


# XGBoost


@pytest.fixture(scope="module")
def xgb_models(data) -> dict[str, Any]:
    xgboost = pytest.importorskip("xgboost")
    X = data["X"].copy()
    X.iloc[::17, 1] = -999.0  # a sentinel that only `missing=-999` treats as missing
    common = {"n_estimators": 8, "max_depth": 3, "n_jobs": 1}
    binary = xgboost.XGBClassifier(missing=-999.0, **common).fit(X, data["binary"])
    return {
        "binary": binary,
        "multiclass": xgboost.XGBClassifier(**common).fit(data["X"], data["multiclass"]),
        "regressor": xgboost.XGBRegressor(**common).fit(data["X"], data["regression"]),
        "booster": binary.get_booster(),
    }


def test_xgboost_models_round_trip_with_identical_predictions_in_a_fresh_process(
    tmp_path: Path, data, xgb_models
) -> None:
    X = data["X"].copy()
    X.iloc[::17, 1] = -999.0
    folders = _save_all(xgb_models, tmp_path)
    _assert_round_trip(xgb_models, folders, X, tmp_path)
    files = {path.name for path in folders["binary"].iterdir()}
    assert files == {"model.ubj", "requirements.txt", MANIFEST}
    loaded = perennia.models.load(folders["multiclass"]).unwrap()
    assert type(loaded).__name__ == "XGBClassifier"
    np.testing.assert_array_equal(loaded.classes_, xgb_models["multiclass"].classes_)


def test_xgboost_manifest_names_the_installed_xgboost_distribution(
    tmp_path: Path, xgb_models
) -> None:
    manifest = perennia.models.save(xgb_models["multiclass"], tmp_path / "pkg")
    distribution = sorted(packages_distributions()["xgboost"])[0]  # xgboost or xgboost-cpu
    assert manifest.flavor == "xgboost"
    assert manifest.framework == distribution
    assert manifest.framework_version == version(distribution)
    assert f"{distribution}=={version(distribution)}" in manifest.requirements
    details = manifest.flavor_details
    assert details["class"] == "XGBClassifier" and details["file"] == "model.ubj"
    assert details["classes"] == [0, 1, 2] and details["n_classes"] == 3
    assert details["feature_names"] == COLUMNS and details["missing"] is None
    booster = perennia.models.save(xgb_models["booster"], tmp_path / "booster")
    assert booster.flavor_details["class"] == "Booster"
    assert booster.model_class == "xgboost.core.Booster"


def test_xgboost_booster_predicts_on_a_plain_array(tmp_path: Path, data, xgb_models) -> None:
    import xgboost

    booster = xgb_models["booster"]
    perennia.models.save(booster, tmp_path / "pkg")
    loaded = perennia.models.load(tmp_path / "pkg")
    X = data["X"].to_numpy()
    expected = booster.predict(xgboost.DMatrix(data["X"]))
    np.testing.assert_array_equal(loaded.predict(X), expected)
    with pytest.raises(InvalidInput, match="no predict_proba"):
        loaded.predict_proba(X)


# LightGBM


@pytest.fixture(scope="module")
def lgb_models(data) -> dict[str, Any]:
    lightgbm = pytest.importorskip("lightgbm")
    X = data["X"]
    common = {"n_estimators": 12, "num_leaves": 7, "n_jobs": 1, "verbose": -1}
    labels = np.array(["churn", "stay"])[data["binary"]]
    regressor = lightgbm.LGBMRegressor(**common).fit(X, data["regression"])
    return {
        "binary": lightgbm.LGBMClassifier(**common).fit(X, labels),
        "multiclass": lightgbm.LGBMClassifier(**common).fit(X, data["multiclass"] * 10 + 5),
        "regressor": regressor,
        "booster": regressor.booster_,
    }


def test_lightgbm_models_round_trip_with_identical_predictions_in_a_fresh_process(
    tmp_path: Path, data, lgb_models
) -> None:
    folders = _save_all(lgb_models, tmp_path)
    _assert_round_trip(lgb_models, folders, data["X"], tmp_path)
    files = {path.name for path in folders["binary"].iterdir()}
    assert files == {"model.txt", "requirements.txt", MANIFEST}
    binary = perennia.models.load(folders["binary"])
    assert binary.predict(data["X"]).dtype == lgb_models["binary"].predict(data["X"]).dtype
    # Plain arrays work too, as with the estimator itself.
    array = data["X"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn: "X has no feature names"
        expected = lgb_models["binary"].predict_proba(array)
    np.testing.assert_array_equal(binary.predict_proba(array), expected)


def test_lightgbm_manifest_records_classes_objective_and_features(
    tmp_path: Path, lgb_models
) -> None:
    manifest = perennia.models.save(lgb_models["binary"], tmp_path / "pkg")
    assert (manifest.flavor, manifest.framework) == ("lightgbm", "lightgbm")
    assert f"lightgbm=={version('lightgbm')}" in manifest.requirements
    details = manifest.flavor_details
    assert details["class"] == "LGBMClassifier" and details["classes"] == ["churn", "stay"]
    assert details["objective"].startswith("binary") and details["n_features"] == len(COLUMNS)
    assert details["feature_names"] == COLUMNS
    multi = perennia.models.save(lgb_models["multiclass"], tmp_path / "multi").flavor_details
    assert multi["classes"] == [5, 15, 25] and multi["objective"].startswith("multiclass")


def test_lightgbm_keeps_pandas_categories(tmp_path: Path, data) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    X = data["X"].copy()
    X["city"] = pd.Categorical(np.where(X["age"] > 0, "north", "south"))
    model = lightgbm.LGBMClassifier(n_estimators=8, n_jobs=1, verbose=-1, min_child_samples=5)
    model.fit(X, data["binary"])
    perennia.models.save(model, tmp_path / "pkg")
    loaded = perennia.models.load(tmp_path / "pkg")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


# ONNX


@pytest.fixture(scope="module")
def onnx_models(data) -> dict[str, Any]:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X = data["X"]
    sample = X.to_numpy()[:1].astype(np.float32)
    binary = LogisticRegression().fit(X.to_numpy(), data["binary"])
    multi = LogisticRegression().fit(X.to_numpy(), data["multiclass"])
    linear = LinearRegression().fit(X.to_numpy(), data["regression"])
    return {
        "sklearn": {"binary": binary, "multiclass": multi, "regressor": linear},
        "binary": skl2onnx.to_onnx(binary, sample, options={id(binary): {"zipmap": False}}),
        "multiclass": skl2onnx.to_onnx(multi, sample, options={id(multi): {"zipmap": False}}),
        "zipmap": skl2onnx.to_onnx(multi, sample),
        "regressor": skl2onnx.to_onnx(linear, sample),
    }


def test_onnx_converted_models_round_trip_in_a_fresh_process(
    tmp_path: Path, data, onnx_models
) -> None:
    import onnxruntime

    X = data["X"]
    graphs = {key: onnx_models[key] for key in ("binary", "multiclass", "zipmap", "regressor")}
    folders = _save_all(graphs, tmp_path)
    fresh = _fresh_outputs(folders, X, tmp_path)
    inputs = X.to_numpy().astype(np.float32)
    for key, graph in graphs.items():
        session = onnxruntime.InferenceSession(
            graph.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        expected = session.run(None, {"X": inputs})
        loaded = perennia.models.load(folders[key])
        np.testing.assert_array_equal(loaded.predict(X), expected[0])
        np.testing.assert_array_equal(np.asarray(fresh[key]["predict"]), expected[0])
        if key == "regressor":
            assert "predict_proba" not in fresh[key]
            with pytest.raises(InvalidInput, match="no predict_proba"):
                loaded.predict_proba(X)
            continue
        proba = loaded.predict_proba(X)
        if key == "zipmap":  # a list of {label: p} dicts becomes an (n, n_classes) array
            assert isinstance(expected[1], list)
            expected[1] = np.array([[row[label] for label in sorted(row)] for row in expected[1]])
        np.testing.assert_array_equal(proba, expected[1])
        np.testing.assert_array_equal(np.asarray(fresh[key]["predict_proba"]), expected[1])


def test_onnx_logistic_regression_agrees_with_scikit_learn(
    tmp_path: Path, data, onnx_models
) -> None:
    X = data["X"]
    original = onnx_models["sklearn"]["multiclass"]
    perennia.models.save(onnx_models["multiclass"], tmp_path / "pkg")
    loaded = perennia.models.load(tmp_path / "pkg")
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X.to_numpy()))
    # float32 arithmetic in the graph: close to scikit-learn's float64, not bit-equal.
    expected = original.predict_proba(X.to_numpy())
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-5)
    # Arrays, lists and {input name: array} feed the graph too.
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), loaded.predict(X))
    np.testing.assert_array_equal(loaded.predict({"X": X.to_numpy()}), loaded.predict(X))
    with pytest.raises(InvalidInput, match="missing"):
        loaded.predict({"features": X.to_numpy()})


def test_onnx_manifest_describes_inputs_and_outputs(tmp_path: Path, onnx_models) -> None:
    manifest = perennia.models.save(onnx_models["multiclass"], tmp_path / "pkg")
    assert (manifest.flavor, manifest.framework) == ("onnx", "onnxruntime")
    assert manifest.framework_version == version("onnxruntime")
    assert f"onnx=={version('onnx')}" in manifest.requirements
    details = manifest.flavor_details
    assert details["inputs"] == [{"name": "X", "type": "float", "shape": [None, len(COLUMNS)]}]
    assert details["outputs"] == ["label", "probabilities"]
    assert details["probability_output"] == "probabilities"
    assert details["onnx_version"] == version("onnx") and details["opsets"]["ai.onnx"] > 0
    assert set(manifest.files) == {"model.onnx", "requirements.txt"}


# Shared behaviour


@pytest.mark.parametrize(
    ("library", "fixture", "file"),
    [
        ("xgboost", "xgb_models", "model.ubj"),
        ("lightgbm", "lgb_models", "model.txt"),
        ("onnxruntime", "onnx_models", "model.onnx"),
    ],
)
def test_an_altered_model_file_is_refused(
    tmp_path: Path, request: pytest.FixtureRequest, library: str, fixture: str, file: str
) -> None:
    pytest.importorskip(library)
    model = request.getfixturevalue(fixture)["multiclass"]
    perennia.models.save(model, tmp_path / "pkg")
    _tamper(tmp_path / "pkg" / file)
    with pytest.raises(IntegrityError, match=f"'{file}' was altered"):
        perennia.models.load(tmp_path / "pkg")


def test_flavor_for_picks_xgboost_not_sklearn_for_its_estimators(xgb_models) -> None:
    for model in xgb_models.values():
        assert flavor_for(model).name == "xgboost"
        assert flavor_for(model).needs_pickle is False


def test_flavor_for_picks_lightgbm_not_sklearn_for_its_estimators(lgb_models) -> None:
    for model in lgb_models.values():
        assert flavor_for(model).name == "lightgbm"
        assert flavor_for(model).needs_pickle is False


def test_flavor_for_picks_onnx_for_a_model_proto(onnx_models) -> None:
    assert flavor_for(onnx_models["binary"]).name == "onnx"
    assert flavor_for(onnx_models["sklearn"]["binary"]).name == "sklearn"
