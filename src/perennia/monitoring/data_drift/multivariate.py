"""Drift across columns at once: a domain classifier's held-out AUC, PCA reconstruction error.

Both run on a seeded sample of at most `MAX_ROWS` rows per side, so their cost is bounded
whatever the data size.

- Domain classifier: a gradient-boosted tree model (scikit-learn's HistGradientBoosting, which
  takes missing values and categorical codes natively) learns to tell current rows from
  reference rows; its AUC on a held-out 30% is 0.5 when the two are indistinguishable. The
  p-value is the normal approximation of the AUC's null distribution (Hanley and McNeil), and
  drift needs both p < alpha and AUC >= `MIN_AUC`.
- PCA: standardised numeric columns are projected on the reference's components explaining
  65% of its variance and reconstructed; a rise in the per-row reconstruction error means the
  columns' joint structure changed even when each column alone looks the same. KS compares the
  two error samples; drift needs p < alpha and a rise of `MIN_ERROR_RISE` reference standard
  deviations.
"""

from __future__ import annotations

import math
from typing import Any

from perennia.monitoring.data_drift.frames import Frame, numeric_values, open_frame
from perennia.monitoring.stats.grid import ks_and_wasserstein
from perennia.monitoring.stats.numeric import ks_p_value

MAX_ROWS = 20_000
MIN_AUC = 0.55
MIN_ERROR_RISE = 0.1
EXPLAINED = 0.65
SEED = 20_240_611


def multivariate_drift(
    reference: Any, current: Any, columns: list[str] | None = None, alpha: float = 0.05
) -> dict[str, Any]:
    """Return {"domain_classifier": {...}, "pca": {...}}, each with its score and verdict."""
    ref, cur = open_frame(reference, "reference"), open_frame(current, "current")
    names = [c for c in (columns or ref.columns) if c in cur.columns]
    x_ref, x_cur, categorical = _matrices(ref, cur, names)
    if x_ref.shape[0] < 10 or x_cur.shape[0] < 10 or not names:
        reason = "needs at least 10 rows on each side and one shared column"
        return {
            "domain_classifier": {"computable": False, "reason": reason},
            "pca": {"computable": False, "reason": reason},
        }
    return {
        "domain_classifier": _domain_classifier(x_ref, x_cur, categorical, alpha),
        "pca": _pca(x_ref[:, ~categorical], x_cur[:, ~categorical], alpha),
    }


def _matrices(ref: Frame, cur: Frame, names: list[str]) -> tuple[Any, Any, Any]:
    """Return sampled float matrices of both sides and which columns are category codes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    take_ref = _sample(rng, ref.rows)
    take_cur = _sample(rng, cur.rows)
    ref_cols, cur_cols, categorical = [], [], []
    for name in names:
        a, b = ref.series(name).iloc[take_ref], cur.series(name).iloc[take_cur]
        if ref.kind_of(name) in ("numeric", "integer") and cur.kind_of(name) in (
            "numeric",
            "integer",
        ):
            ref_cols.append(numeric_values(a))
            cur_cols.append(numeric_values(b))
            categorical.append(False)
            continue
        codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True), use_na_sentinel=True)
        codes = np.where(codes < 0, np.nan, codes).astype(np.float64)
        # HistGradientBoosting takes at most 255 categories; rarer ones share the last code.
        codes = np.minimum(codes, 254)
        ref_cols.append(codes[: len(a)])
        cur_cols.append(codes[len(a) :])
        categorical.append(True)
    stack = lambda cols, n: np.column_stack(cols) if cols else np.empty((n, 0))  # noqa: E731
    return (
        stack(ref_cols, take_ref.size),
        stack(cur_cols, take_cur.size),
        np.array(categorical, bool),
    )


def _sample(rng: Any, rows: int) -> Any:
    import numpy as np

    if rows <= MAX_ROWS:
        return np.arange(rows)
    return np.sort(rng.choice(rows, MAX_ROWS, replace=False))


def _domain_classifier(x_ref: Any, x_cur: Any, categorical: Any, alpha: float) -> dict[str, Any]:
    import numpy as np
    from scipy.stats import norm
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x = np.vstack([x_ref, x_cur])
    y = np.concatenate([np.zeros(len(x_ref)), np.ones(len(x_cur))])
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=SEED, stratify=y
    )
    model = HistGradientBoostingClassifier(
        max_iter=100,
        categorical_features=categorical if categorical.any() else None,
        random_state=SEED,
    )
    model.fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    n1, n0 = float(y_test.sum()), float(len(y_test) - y_test.sum())
    # Under no drift the AUC is a Mann-Whitney U / (n0 n1), with this variance.
    sd = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    p_value = float(2 * norm.sf(abs(auc - 0.5) / sd))
    return {
        "computable": True,
        "auc": auc,
        "p_value": p_value,
        "threshold": MIN_AUC,
        "drifted": bool(p_value < alpha and auc >= MIN_AUC),
        "rows": int(len(x)),
    }


def _pca(x_ref: Any, x_cur: Any, alpha: float) -> dict[str, Any]:
    import numpy as np

    if x_ref.shape[1] < 2:
        return {"computable": False, "reason": "needs at least two numeric columns"}
    fill = np.nanmean(x_ref, axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    x_ref = np.where(np.isfinite(x_ref), x_ref, fill)
    x_cur = np.where(np.isfinite(x_cur), x_cur, fill)
    mean, std = x_ref.mean(axis=0), x_ref.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z_ref, z_cur = (x_ref - mean) / std, (x_cur - mean) / std
    _, singular, vt = np.linalg.svd(z_ref, full_matrices=False)
    share = np.cumsum(singular**2) / max(float((singular**2).sum()), 1e-300)
    keep = int(np.searchsorted(share, EXPLAINED) + 1)
    basis = vt[:keep]
    err_ref = np.linalg.norm(z_ref - z_ref @ basis.T @ basis, axis=1)
    err_cur = np.linalg.norm(z_cur - z_cur @ basis.T @ basis, axis=1)
    d = ks_and_wasserstein(err_ref, err_cur).ks
    p_value = ks_p_value(d, err_ref.size, err_cur.size)
    spread = float(err_ref.std())
    rise = (float(err_cur.mean()) - float(err_ref.mean())) / spread if spread > 0 else 0.0
    return {
        "computable": True,
        "components": keep,
        "reference_error": float(err_ref.mean()),
        "current_error": float(err_cur.mean()),
        "rise": rise,
        "p_value": p_value,
        "drifted": bool(p_value < alpha and rise >= MIN_ERROR_RISE),
    }
