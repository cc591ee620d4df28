"""The whole binary-classification suite on 10M rows: Perennia's one pass vs scikit-learn's calls.

The anchor is what a user writes today: each scikit-learn metric function called one by one
on the same arrays (curves, calibration for both bin strategies, threshold search and lift
included). Both sides compute the same numbers; the script checks they agree. Peak memory of
Perennia's suite is measured with tracemalloc in a separate pass so it cannot slow the timing.
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np

from common import REPEATS, Result, emit, median_seconds

ROWS = int(os.environ.get("BENCH_METRIC_ROWS", "10000000"))
BINS = 10


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels, probabilities) of a fair classifier: bool labels, float64 scores."""
    rng = np.random.default_rng(0)
    y = rng.random(n) < 0.3
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.0, 1.0)
    return y, score


def sklearn_suite(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Return the suite's numbers computed with scikit-learn's functions, one call each."""
    from sklearn import metrics as m
    from sklearn.calibration import calibration_curve

    pred = score >= 0.5
    out = {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred),
        "recall": m.recall_score(y, pred),
        "specificity": m.recall_score(y, pred, pos_label=0),
        "f1": m.f1_score(y, pred),
        "f2": m.fbeta_score(y, pred, beta=2),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
        "matthews_corrcoef": m.matthews_corrcoef(y, pred),
        "roc_auc": m.roc_auc_score(y, score),
        "pr_auc": m.average_precision_score(y, score),
        "log_loss": m.log_loss(y, score),
        "brier_score": m.brier_score_loss(y, score),
    }
    tn, fp, _fn, _tp = m.confusion_matrix(y, pred).ravel()
    out["false_positive_rate"] = fp / (fp + tn)
    out["geometric_mean"] = float(np.sqrt(out["recall"] * out["specificity"]))
    for strategy, key in (("uniform", "ece"), ("quantile", "ece_quantile")):
        prob_true, prob_pred = calibration_curve(y, score, n_bins=BINS, strategy=strategy)
        edges = (
            np.linspace(0, 1, BINS + 1)
            if strategy == "uniform"
            else np.percentile(score, np.linspace(0, 1, BINS + 1) * 100)
        )
        counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=BINS)
        counts = counts[counts > 0]
        gaps = np.abs(prob_true - prob_pred)
        out[key] = float(counts @ gaps / counts.sum())
        if strategy == "uniform":
            out["mce"] = float(gaps.max())
    fpr, tpr, _ = m.roc_curve(y, score)
    out["youden_j"] = float(np.max(tpr - fpr))
    precision, recall, _ = m.precision_recall_curve(y, score)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    out["best_f1"] = float(np.max(f1))
    order = np.argsort(-score, kind="stable")
    captured = np.cumsum(y[order])
    cuts = (np.arange(1, BINS + 1) * len(y) // BINS) - 1
    out["gain_at_10pct"] = float(captured[cuts[0]] / captured[-1])
    return out


def perennia_suite(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Return the same numbers from Perennia's one-pass suite."""
    from perennia.evaluate.metrics import binary_classification_report

    report = binary_classification_report(y, score, n_bins=BINS)
    out = dict(report.metrics)
    out["youden_j"] = report.thresholds["youden"].value
    out["best_f1"] = report.thresholds["f1"].value
    out["gain_at_10pct"] = float(report.curves["lift"]["gain"][0])
    return out


def peak_memory(y: np.ndarray, score: np.ndarray) -> float:
    """Return Perennia's peak traced allocation during the suite, in MiB."""
    tracemalloc.start()
    perennia_suite(y, score)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> list[Result]:
    """Return the timing and memory comparisons."""
    y, score = make_data(ROWS)
    ours_values, theirs_values = perennia_suite(y, score), sklearn_suite(y, score)
    worst = max(abs(ours_values[k] - theirs_values[k]) for k in theirs_values)
    assert worst < 1e-6, f"the two suites disagree by {worst}"
    ours = median_seconds(lambda: perennia_suite(y, score), REPEATS)
    theirs = median_seconds(lambda: sklearn_suite(y, score), REPEATS)
    input_mib = (y.nbytes + score.nbytes) / 2**20
    peak = peak_memory(y, score)
    rows = f"{ROWS:,} rows"
    return [
        Result(
            f"binary suite, {rows}",
            ours,
            theirs,
            "s",
            "scikit-learn, one call per metric",
            "<= 1/3 of the time (>= 3x)",
            theirs / ours >= 3,
            f"{len(theirs_values)} numbers agree within {worst:.1e}; median of {REPEATS}",
        ),
        Result(
            f"binary suite peak memory, {rows}",
            peak,
            5 * input_mib,
            "MiB",
            "5x the input arrays",
            "< 5x input",
            peak < 5 * input_mib,
            f"inputs {input_mib:,.0f} MiB (bool labels + float64 scores); "
            f"peak {peak / input_mib:.2f}x the inputs",
        ),
    ]


if __name__ == "__main__":
    emit(main())
