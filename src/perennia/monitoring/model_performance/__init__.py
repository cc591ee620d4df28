"""Model performance per window: realised once labels arrive, estimated (CBPE) before they do.

    from perennia.monitoring.model_performance import performance

    result = performance(log, feedback, task="binary", window="1d", reference=ref,
                         probabilities="output.probabilities")
    result.to_frame()          # one row per window, kind and metric: value, bounds, alert
    result.alerts              # [(window, "estimated", "f1"), ...]

The parts stand alone too: `split_windows` (time or count windows), `realised_metrics`,
`CBPE` / `MulticlassCBPE` (confidence-based estimation) and `reference_thresholds` (alert
bounds from the reference's chunk-to-chunk spread at a stated false-alarm rate). numpy,
pandas, scipy and scikit-learn load on first use.
"""

from __future__ import annotations

from perennia.monitoring.model_performance.calibration import ScoreCalibrator, fit_calibrator
from perennia.monitoring.model_performance.cbpe import CBPE, MulticlassCBPE
from perennia.monitoring.model_performance.estimate import performance
from perennia.monitoring.model_performance.inputs import Columns, Prepared, prepare
from perennia.monitoring.model_performance.realised import available_metrics, realised_metrics
from perennia.monitoring.model_performance.result import Metric, PerformanceResult, WindowResult
from perennia.monitoring.model_performance.thresholds import Threshold, reference_thresholds
from perennia.monitoring.model_performance.windows import Window, parse_window, split_windows

__all__ = [
    "CBPE",
    "Columns",
    "Metric",
    "MulticlassCBPE",
    "PerformanceResult",
    "Prepared",
    "ScoreCalibrator",
    "Threshold",
    "Window",
    "WindowResult",
    "available_metrics",
    "fit_calibrator",
    "parse_window",
    "performance",
    "prepare",
    "realised_metrics",
    "reference_thresholds",
    "split_windows",
]
