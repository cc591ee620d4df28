"""Two-sample drift statistics on finite 1-D arrays, each checked against scipy.

The caller drops missing values (and counts them) before calling; every function here refuses
empty, non-1-D or non-finite input with `InvalidInput`. numpy and scipy load on first call.
"""

from __future__ import annotations

from perennia.monitoring.stats.binned import hellinger, jensen_shannon, psi
from perennia.monitoring.stats.categorical import (
    CategoryChanges,
    chi_square,
    g_test,
    new_and_vanished,
    two_proportions,
)
from perennia.monitoring.stats.fdr import benjamini_hochberg
from perennia.monitoring.stats.numeric import cramer_von_mises, energy, ks, wasserstein
from perennia.monitoring.stats.result import TestResult

__all__ = [
    "CategoryChanges",
    "TestResult",
    "benjamini_hochberg",
    "chi_square",
    "cramer_von_mises",
    "energy",
    "g_test",
    "hellinger",
    "jensen_shannon",
    "ks",
    "new_and_vanished",
    "psi",
    "two_proportions",
    "wasserstein",
]
