"""`compare()` and `perennia evaluate compare`: paired gates on real models, and the CI exit code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from perennia.cli.main import main
from perennia.errors import InvalidInput
from perennia.evaluate import compare

FEATURES = [f"f{i}" for i in range(6)]


@pytest.fixture(scope="module")
def case():
    X, y = make_classification(n_samples=600, n_features=6, n_informative=3, random_state=5)
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["label"] = y
    frame["group"] = np.where(np.random.default_rng(0).random(len(frame)) < 0.4, "x", "y")
    strong = LogisticRegression().fit(frame[FEATURES], y)
    # Two features only: a clearly weaker model.
    weak = LogisticRegression().fit(frame[FEATURES[4:]], y)
    return frame, strong, weak


def test_a_weaker_candidate_fails_the_auc_gate_and_says_why(case) -> None:
    frame, strong, weak = case
    result = compare(
        weak, strong, frame, "label", gates={"roc_auc": ">= baseline - 0.005"}, n_resamples=200
    )
    (outcome,) = result.outcomes
    y = frame["label"]
    weak_auc = skm.roc_auc_score(y, weak.predict_proba(frame[FEATURES[4:]])[:, 1])
    strong_auc = skm.roc_auc_score(y, strong.predict_proba(frame[FEATURES])[:, 1])
    assert outcome.candidate == pytest.approx(weak_auc)
    assert outcome.baseline == pytest.approx(strong_auc)
    assert outcome.difference == pytest.approx(weak_auc - strong_auc)
    assert outcome.ci_low <= outcome.difference <= outcome.ci_high < 0
    assert not result.passed and result.failures() == [outcome]
    assert outcome.reason.startswith("FAILED") and "roc_auc" in outcome.reason


def test_a_model_against_itself_has_a_zero_difference_and_passes(case) -> None:
    frame, strong, _ = case
    result = compare(
        strong,
        strong,
        frame,
        "label",
        gates=["roc_auc >= baseline", "log_loss <= baseline", "accuracy >= 0.5"],
        n_resamples=100,
    )
    assert result.passed
    for outcome in result.outcomes[:2]:
        assert outcome.difference == 0 and outcome.ci_low == 0 and outcome.ci_high == 0


def test_fairness_gates_use_the_fairness_metrics(case) -> None:
    frame, strong, weak = case
    result = compare(
        strong,
        weak,
        frame,
        "label",
        gates={"demographic_parity_ratio": ">= 0.8"},
        sensitive_features="group",
        n_resamples=100,
    )
    (outcome,) = result.outcomes
    assert outcome.candidate == result.candidate.metrics["demographic_parity_ratio"]
    decided = strong.predict_proba(frame[FEATURES])[:, 1] >= 0.5
    rates = pd.Series(decided).groupby(frame["group"].to_numpy()).mean()
    assert outcome.candidate == pytest.approx(rates.min() / rates.max())
    assert outcome.passed == (outcome.candidate >= 0.8)


def test_require_significance_fails_a_gate_the_interval_cannot_clear(case) -> None:
    frame, strong, _ = case
    nudged = lambda data: np.clip(strong.predict_proba(data)[:, 1] + 0.01, 0, 1)  # noqa: E731
    loose = compare(
        nudged,
        strong,
        frame[FEATURES + ["label"]],
        "label",
        gates={"accuracy": ">= baseline"},
        n_resamples=200,
    )
    strict = compare(
        nudged,
        strong,
        frame[FEATURES + ["label"]],
        "label",
        gates={"accuracy": ">= baseline"},
        n_resamples=200,
        require_significance=True,
    )
    (loose_outcome,), (strict_outcome,) = loose.outcomes, strict.outcomes
    if loose_outcome.passed:
        assert strict_outcome.ci_low < 0 or strict_outcome.passed
        assert not strict_outcome.passed or strict_outcome.ci_low >= 0


def test_unknown_gate_metric_and_empty_gates_are_refused(case) -> None:
    frame, strong, weak = case
    with pytest.raises(InvalidInput, match="no such metric"):
        compare(weak, strong, frame, "label", gates={"auroc": ">= 0.5"}, n_resamples=0)
    with pytest.raises(InvalidInput, match="gates is empty"):
        compare(weak, strong, frame, "label", gates={}, n_resamples=0)


def test_comparison_dict_has_both_results_and_every_gate(case) -> None:
    frame, strong, weak = case
    result = compare(
        strong,
        weak,
        frame,
        "label",
        gates={"roc_auc": ">= baseline"},
        n_resamples=50,
        candidate_name="strong",
        baseline_name="weak",
    )
    document = result.to_dict()
    assert document["candidate"] == "strong" and document["baseline"] == "weak"
    assert document["passed"] is True and len(document["gates"]) == 1
    assert document["candidate_result"]["metrics"]["roc_auc"] == result.candidate.metrics["roc_auc"]


def halve(values):
    """Return values / 2: a function skops does not trust by default."""
    return values / 2


def _write(frame: pd.DataFrame, strong, weak, folder) -> str:
    table = frame.assign(
        strong=strong.predict_proba(frame[FEATURES])[:, 1],
        weak=weak.predict_proba(frame[FEATURES[4:]])[:, 1],
    )
    path = folder / "scored.csv"
    table.to_csv(path, index=False)
    return str(path)


def test_cli_exits_one_when_a_gate_fails_and_zero_when_all_pass(case, tmp_path, capsys) -> None:
    frame, strong, weak = case
    data = _write(frame, strong, weak, tmp_path)
    common = ["evaluate", "compare", "--data", data, "--target", "label", "--resamples", "50"]
    failing = main(
        [
            *common,
            "--candidate",
            "column:weak",
            "--baseline",
            "column:strong",
            "--gate",
            "roc_auc >= baseline - 0.005",
        ]
    )
    out = capsys.readouterr().out
    assert failing == 1 and "FAIL" in out and "1 of 1 gates failed" in out
    passing = main(
        [
            *common,
            "--candidate",
            "column:strong",
            "--baseline",
            "column:weak",
            "--gate",
            "roc_auc >= baseline",
            "--json",
            str(tmp_path / "c.json"),
        ]
    )
    assert passing == 0 and "all 1 gates passed" in capsys.readouterr().out
    assert (tmp_path / "c.json").is_file()


def test_cli_loads_skops_models_and_refuses_untrusted_types(case, tmp_path, capsys) -> None:
    skops_io = pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame, strong, _ = case
    data = _write(frame, strong, case[2], tmp_path)
    model_path = tmp_path / "strong.skops"
    skops_io.dump(strong, model_path)
    code = main(
        ["evaluate", "run", "--model", str(model_path), "--data", data, "--target", "label"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "roc_auc" in out
    odd = make_pipeline(FunctionTransformer(halve), LogisticRegression())
    odd.fit(frame[FEATURES], frame["label"])
    odd_path = tmp_path / "odd.skops"
    skops_io.dump(odd, odd_path)
    untrusted = skops_io.get_untrusted_types(file=odd_path)
    assert untrusted, "the test needs a type outside skops' default trust"
    args = ["evaluate", "run", "--model", str(odd_path), "--data", data, "--target", "label"]
    assert main(args) == 1
    assert "--trust" in capsys.readouterr().err
    trusted = [arg for name in untrusted for arg in ("--trust", name)]
    assert main([*args, *trusted]) == 0


def test_cli_refuses_pickles_and_missing_files(case, tmp_path, capsys) -> None:
    frame, strong, weak = case
    data = _write(frame, strong, weak, tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"not loaded")
    args = ["evaluate", "run", "--data", data, "--target", "label", "--model"]
    assert main([*args, str(tmp_path / "model.pkl")]) == 1
    assert "no pickle" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "absent.skops")]) == 1
    assert "is neither column:NAME, a models:/ or runs:/ URI, nor a file" in capsys.readouterr().err


def test_cli_trusts_scikit_learns_own_types_without_trust_flags(case, tmp_path, capsys) -> None:
    import skops.io
    from sklearn.neural_network import MLPClassifier

    frame, strong, weak = case
    data = _write(frame, strong, weak, tmp_path)
    network = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
    network.fit(frame[FEATURES], frame["label"])
    path = tmp_path / "network.skops"
    skops.io.dump(network, path)
    untrusted = skops.io.get_untrusted_types(file=path)
    assert any(name.startswith("sklearn.") for name in untrusted)  # e.g. its AdamOptimizer
    code = main(["evaluate", "run", "--model", str(path), "--data", data, "--target", "label"])
    assert code == 0 and "roc_auc" in capsys.readouterr().out


def test_cli_evaluates_a_registered_model_by_its_models_uri(
    case, tracking, tmp_path, capsys
) -> None:
    import json

    import perennia

    frame, strong, weak = case
    data = _write(frame, strong, weak, tmp_path)
    with perennia.start_run():
        info = perennia.log_model(strong, name="model", registered_model_name="churn")
    perennia.registry.set_alias("churn", "champion", info.registered_version)
    args = ["evaluate", "run", "--data", data, "--target", "label"]
    output = tmp_path / "result.json"
    assert main([*args, "--model", "models:/churn@champion", "--json", str(output)]) == 0
    expected = skm.roc_auc_score(frame["label"], strong.predict_proba(frame[FEATURES])[:, 1])
    metrics = json.loads(output.read_text())["metrics"]
    assert metrics["roc_auc"] == pytest.approx(expected, abs=1e-12)
    capsys.readouterr()
    assert main([*args, "--model", "models:/churn@nobody"]) == 1
    assert "nobody" in capsys.readouterr().err
