"""Formatting for the report: numbers, metric names, escaping and HTML tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

DASH = "—"

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
    "false_positive_rate", "log_loss", "brier_score", "ece", "ece_quantile", "mce", "mse",
    "rmse", "mae", "median_ae", "mape", "smape", "wmape", "max_error",
}  # fmt: skip

HEADLINES = {
    "binary": ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "ece"),
    "multiclass": (
        "accuracy", "f1_macro", "f1_weighted", "roc_auc_ovr", "log_loss", "cohen_kappa",
        "top_2_accuracy", "precision_macro",
    ),
    "regression": ("r2", "rmse", "mae", "median_ae", "mape", "explained_variance", "max_error"),
    "ranking": ("ndcg_at_10", "map", "mrr", "precision_at_10", "recall_at_10"),
}  # fmt: skip


def number(value) -> str:
    """Return `value` as display text: 4 significant digits, thousands separators, None as a dash."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return escape(str(value))
    if not math.isfinite(value):
        return DASH
    magnitude = abs(value)
    if magnitude >= 1e4:
        return f"{value:,.0f}" if magnitude < 1e15 else f"{value:.3e}"
    if value == 0:
        return "0"
    if magnitude < 1e-4:
        return f"{value:.3e}"
    text = f"{value:.4g}"
    return text if "e" not in text else f"{value:,.0f}"


def count(value) -> str:
    """Return an integer count with thousands separators (a dash when missing)."""
    if value is None:
        return DASH
    try:
        return f"{round(float(value)):,}"
    except (TypeError, ValueError, OverflowError):
        return DASH


def percent(value) -> str:
    """Return a fraction as a percentage with one decimal (a dash when missing)."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    return f"{value:.1%}"


def text(value) -> str:
    """Return any user-supplied value as escaped HTML text."""
    return DASH if value is None else escape(str(value), quote=True)


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


def interval(bounds) -> str:
    """Return "low – high" for a bootstrap interval, or a dash when it is missing."""
    if not bounds or len(bounds) != 2 or any(b is None for b in bounds):
        return DASH
    return f"{number(bounds[0])} – {number(bounds[1])}"


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


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """Return an HTML table from escaped header and cell strings (a cell may be a whole <td>).

    Columns whose every cell is a number cell get right-aligned headers.
    """
    rows = [[_td(c) for c in row] for row in rows]
    numeric = [
        bool(rows) and all(i < len(r) and r[i].startswith('<td class="num') for r in rows)
        for i in range(len(headers))
    ]
    head = "".join(
        f'<th class="num">{h}</th>' if n else f"<th>{h}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return f'<div class="table-wrap"><table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _td(cell: str) -> str:
    return cell if cell.startswith("<td") else f"<td>{cell}</td>"


def num_cell(value, *, bar: bool = False) -> str:
    """Return a right-aligned number cell; `bar` adds a small meter of the value (a 0–1 fraction)."""
    if bar and isinstance(value, int | float) and math.isfinite(value):
        share = min(max(value, 0.0), 1.0)
        meter = f'<span class="meter" style="--v:{share * 100:.1f}%" aria-hidden="true"></span>'
        return f'<td class="num">{meter}{number(value)}</td>'
    return f'<td class="num">{number(value)}</td>'


def badge(kind: str, words: str) -> str:
    """Return a coloured status pill; `kind` is one of ok, warn, bad, info."""
    return f'<span class="badge {kind}">{escape(words)}</span>'
