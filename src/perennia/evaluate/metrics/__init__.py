"""Every evaluation metric as a plain function on arrays: `metric(y_true, y_pred, *, ...)`.

Names and signatures follow scikit-learn's where it has the metric, and results agree with it
to floating-point noise (the test suite checks each against its oracle). Every function
accepts numpy, pandas, polars, pyarrow or plain lists (read by `perennia._util.tables`, so nulls
mean the same in each), takes `sample_weight=` where the definition allows, and raises
`perennia.errors.InvalidInput` naming the argument and the fix.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the module defining it; importing the package stays cheap and a user
# pays only for the metrics they touch.
_HOME = {
    "PairedInterval": "bootstrap",
    "bootstrap_interval": "bootstrap",
    "paired_bootstrap": "bootstrap",
    "BinaryCounts": "binary",
    "BinaryReport": "suite",
    "CalibrationBins": "calibration",
    "FairnessReport": "fairness",
    "LiftTable": "thresholds",
    "ScoreRanking": "curves",
    "ThresholdChoice": "thresholds",
    "accuracy_difference": "fairness",
    "accuracy_score": "multiclass",
    "average_precision_score": "curves",
    "balanced_accuracy_score": "multiclass",
    "binary_classification_report": "suite",
    "brier_score_loss": "binary",
    "calibration_curve": "calibration",
    "cohen_kappa_score": "multiclass",
    "confusion_matrix": "multiclass",
    "demographic_parity_difference": "fairness",
    "demographic_parity_ratio": "fairness",
    "disparate_impact": "fairness",
    "equal_opportunity_difference": "fairness",
    "equalized_odds_difference": "fairness",
    "error_rate_difference": "fairness",
    "expected_calibration_error": "calibration",
    "explained_variance_score": "regression",
    "f1_score": "multiclass",
    "fairness_report": "fairness",
    "false_positive_rate": "binary",
    "fbeta_score": "multiclass",
    "geometric_mean_score": "binary",
    "group_benefit": "fairness",
    "hit_rate_at_k": "ranking",
    "lift_gain": "thresholds",
    "log_loss": "multiclass",
    "matthews_corrcoef": "multiclass",
    "max_error": "regression",
    "maximum_calibration_error": "calibration",
    "mean_absolute_error": "regression",
    "mean_absolute_percentage_error": "regression",
    "mean_average_precision": "ranking",
    "mean_reciprocal_rank": "ranking",
    "mean_squared_error": "regression",
    "median_absolute_error": "regression",
    "ndcg_at_k": "ranking",
    "optimal_threshold": "thresholds",
    "precision_at_k": "ranking",
    "precision_recall_curve": "curves",
    "precision_score": "multiclass",
    "r2_score": "regression",
    "ranking_report": "ranking",
    "recall_at_k": "ranking",
    "recall_score": "multiclass",
    "regression_report": "regression",
    "residual_summary": "regression",
    "roc_auc_ovr_score": "multiclass",
    "roc_auc_score": "curves",
    "roc_curve": "curves",
    "root_mean_squared_error": "regression",
    "selection_rate": "fairness",
    "specificity_score": "binary",
    "symmetric_mean_absolute_percentage_error": "regression",
    "top_k_accuracy_score": "multiclass",
    "true_positive_rate": "binary",
    "weighted_mean_absolute_percentage_error": "regression",
}
# Aliases under the names users search for.
_ALIASES = {
    "recall": "true_positive_rate",
    "pr_auc_score": "average_precision_score",
    "specificity": "specificity_score",
}

__all__ = [
    "PairedInterval",
    "bootstrap_interval",
    "paired_bootstrap",
    "BinaryCounts",
    "BinaryReport",
    "CalibrationBins",
    "FairnessReport",
    "LiftTable",
    "ScoreRanking",
    "ThresholdChoice",
    "accuracy_difference",
    "accuracy_score",
    "average_precision_score",
    "balanced_accuracy_score",
    "binary_classification_report",
    "brier_score_loss",
    "calibration_curve",
    "cohen_kappa_score",
    "confusion_matrix",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "error_rate_difference",
    "expected_calibration_error",
    "explained_variance_score",
    "f1_score",
    "fairness_report",
    "false_positive_rate",
    "fbeta_score",
    "geometric_mean_score",
    "group_benefit",
    "hit_rate_at_k",
    "lift_gain",
    "log_loss",
    "matthews_corrcoef",
    "max_error",
    "maximum_calibration_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "mean_squared_error",
    "median_absolute_error",
    "ndcg_at_k",
    "optimal_threshold",
    "pr_auc_score",
    "precision_at_k",
    "precision_recall_curve",
    "precision_score",
    "r2_score",
    "ranking_report",
    "recall",
    "recall_at_k",
    "recall_score",
    "regression_report",
    "residual_summary",
    "roc_auc_ovr_score",
    "roc_auc_score",
    "roc_curve",
    "root_mean_squared_error",
    "selection_rate",
    "specificity",
    "specificity_score",
    "symmetric_mean_absolute_percentage_error",
    "top_k_accuracy_score",
    "true_positive_rate",
    "weighted_mean_absolute_percentage_error",
]


def __getattr__(name: str) -> Any:
    target = _ALIASES.get(name, name)
    if target not in _HOME:
        raise AttributeError(f"module 'perennia.evaluate.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[target]}"), target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
