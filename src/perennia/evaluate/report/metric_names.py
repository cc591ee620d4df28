"""How the reports name metrics: display names, which way each improves, the headline picks."""

from __future__ import annotations

from html import escape

# Display names for the metrics we know; unknown names are title-cased from their key.
LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "specificity": "Specificity",
    "false_positive_rate": "False positive rate",
    "f1": "F1",
    "f2": "F2",
    "balanced_accuracy": "Balanced accuracy",
    "geometric_mean": "Geometric mean",
    "matthews_corrcoef": "Matthews correlation",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC (avg. precision)",
    "log_loss": "Log loss",
    "brier_score": "Brier score",
    "ece": "Expected calibration error",
    "ece_quantile": "ECE (quantile bins)",
    "mce": "Max calibration error",
    "r2": "R²",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "median_ae": "Median abs. error",
    "mape": "MAPE",
    "smape": "sMAPE",
    "wmape": "wMAPE",
    "explained_variance": "Explained variance",
    "max_error": "Max error",
    "top_2_accuracy": "Top-2 accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
    "f1_micro": "F1 (micro)",
    "f1_weighted": "F1 (weighted)",
    "cohen_kappa": "Cohen's kappa",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "map": "MAP",
    "mrr": "MRR",
    "disparate_impact": "Disparate impact",
    "demographic_parity_ratio": "Demographic parity ratio",
    "demographic_parity_difference": "Demographic parity difference",
    "four_fifths_rule_passed": "Four-fifths rule passed",
}

# Metrics where a smaller value is better; everything else reads "higher is better" when known.
LOWER_IS_BETTER = {
    "false_positive_rate",
    "log_loss",
    "brier_score",
    "ece",
    "ece_quantile",
    "mce",
    "mse",
    "rmse",
    "mae",
    "median_ae",
    "mape",
    "smape",
    "wmape",
    "max_error",
}

HEADLINES = {
    "binary": ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "ece"),
    "multiclass": (
        "accuracy",
        "f1_macro",
        "f1_weighted",
        "roc_auc_ovr",
        "log_loss",
        "cohen_kappa",
        "top_2_accuracy",
        "precision_macro",
    ),
    "regression": ("r2", "rmse", "mae", "median_ae", "mape", "explained_variance", "max_error"),
    "ranking": ("ndcg_at_10", "map", "mrr", "precision_at_10", "recall_at_10"),
}


def label(name: str) -> str:
    """Return the escaped display name of metric `name`."""
    if name in LABELS:
        return escape(LABELS[name])
    pretty = name.replace("_at_", "@").replace("_", " ")
    return escape(pretty[:1].upper() + pretty[1:])


def direction(name: str) -> str:
    """Return "lower" or "higher": which way metric `name` improves."""
    return (
        "lower" if name in LOWER_IS_BETTER or name.endswith(("_difference", "_error")) else "higher"
    )


def headline_names(task: str, metrics: dict) -> list[str]:
    """Return the 4–8 most important metric names of `task` that `metrics` has."""
    names = [n for n in HEADLINES.get(task, ()) if n in metrics]
    if task == "ranking":
        prefixes = ("ndcg", "map", "mrr", "precision_at", "recall_at", "hit")
        names += [n for n in metrics if n.startswith(prefixes) and n not in names]
    for name in metrics:
        if len(names) >= 4:
            break
        if name not in names and metrics[name] is not None:
            names.append(name)
    return names[:8]
