"""Gates: conditions a candidate model's metrics must meet, absolute or relative to a baseline.

A gate is a metric name and a condition, written as in
`compare(..., gates={"roc_auc": ">= baseline - 0.005", "demographic_parity_ratio": ">= 0.8"})`
or on the command line as `--gate "roc_auc >= baseline - 0.005"`. The grammar is small and
parsed by hand (never `eval`); whitespace is free-form:

    condition := OP RHS
    OP        := ">=" | ">" | "<=" | "<" | "=="
    RHS       := ["-" | "+"] NUMBER              absolute:  >= 0.8, <= -1e-3
               | "baseline"                      the baseline's value:  <= baseline
               | "baseline" ("+" | "-") NUMBER   an offset:  >= baseline - 0.005
               | "baseline" "*" NUMBER           relative:   <= baseline * 1.05
    METRIC    := [A-Za-z_][A-Za-z0-9_./-]*        (the CLI form is METRIC condition)

`==` is exact float equality, meant for counts (`n_failed_checks == 0`); `!=` is not offered,
since a floor and a ceiling on the same metric say what is meant. A metric may carry several
gates.

Judging. By default a gate is judged on the point estimates: the candidate's value against the
threshold (the number, or the baseline's value with its offset or scale applied). A NaN or
missing candidate value never passes. A NaN baseline makes a relative gate fail with a reason;
a *missing* baseline for a relative gate is a usage error (`InvalidInput`).

With `require_significance=True` the gate must also hold across the whole confidence interval
of the candidate's value, not just at its point estimate; for `>=`/`>` that means at the low
end, for `<=`/`<` at the high end, for `==` at both. Which interval:

- a gate relative to the baseline uses the paired-bootstrap interval of the difference
  (candidate - baseline) added to the baseline's point value: for `>= baseline - 0.005` the
  gate needs `baseline + difference_low >= baseline - 0.005`, i.e. the difference is above
  -0.005 with the chosen confidence. The threshold stays at its point value, so for
  `baseline * x` the baseline's own noise is treated as fixed (exact when x = 1, close to it
  for x near 1).
- an absolute gate uses the interval of the candidate's own value (`candidate_interval`, or
  the candidate side of a `PairedInterval`).

`interval` is a `PairedInterval` from `paired_bootstrap` (it carries both) or a plain
`(low, high)` of the difference. The outcome reports the difference interval as `ci_low` and
`ci_high` whenever one is known, significance asked for or not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput
from perennia.evaluate.gate_parsing import METRIC_NAME, OPERATORS, _one_line, _Parser
from perennia.evaluate.metrics.bootstrap import PairedInterval

__all__ = ["Gate", "GateOutcome", "parse_gate", "parse_gate_text", "parse_gates"]

REFERENCES = ("absolute", "baseline")
# Why a failing point estimate fails, worded for each operator.
_SHORTFALL = {
    ">=": "below",
    ">": "not above",
    "<=": "above",
    "<": "not below",
    "==": "not equal to",
}


@dataclass(frozen=True)
class Gate:
    """One parsed gate: `metric op threshold`, the threshold absolute or from the baseline.

    The threshold is `offset` for an absolute gate and `baseline * scale + offset` for a gate
    relative to the baseline. `text` is the canonical `METRIC OP RHS` form.
    """

    metric: str
    op: str
    reference: str
    offset: float = 0.0
    scale: float = 1.0
    text: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise InvalidInput(
                f"gate operator must be one of {', '.join(OPERATORS)}, got {self.op!r}"
            )
        if self.reference not in REFERENCES:
            raise InvalidInput(
                f"gate reference must be 'absolute' or 'baseline', got {self.reference!r}"
            )
        if not self.text:
            object.__setattr__(self, "text", f"{self.metric} {self.op} {self._default_rhs()}")

    @property
    def condition(self) -> str:
        """Return the condition part of the text, e.g. `>= baseline - 0.005`."""
        return self.text[len(self.metric) :].strip()

    @property
    def needs_baseline(self) -> bool:
        """Return True when the threshold is computed from the baseline's value."""
        return self.reference == "baseline"

    def threshold(self, baseline_value: float | None = None) -> float:
        """Return the value the candidate is compared with (NaN when the baseline is NaN)."""
        if not self.needs_baseline:
            return float(self.offset)
        if baseline_value is None:
            raise InvalidInput(
                f"gate '{self.text}' is relative to the baseline, but no baseline value of "
                f"{self.metric} was given; compare against a baseline model or use an absolute "
                "threshold such as '>= 0.8'"
            )
        return float(baseline_value) * self.scale + self.offset

    def holds(self, candidate_value: float | None, baseline_value: float | None = None) -> bool:
        """Return True when the candidate's point value meets the gate (never for NaN or None)."""
        threshold = self.threshold(baseline_value)
        candidate = _as_float(candidate_value)
        if candidate is None or math.isnan(candidate):
            return False
        return OPERATORS[self.op](candidate, threshold)

    def evaluate(
        self,
        candidate_value: float | None,
        baseline_value: float | None = None,
        interval: PairedInterval | tuple[float, float] | None = None,
        *,
        candidate_interval: tuple[float, float] | None = None,
        require_significance: bool = False,
    ) -> GateOutcome:
        """Return the `GateOutcome`: pass or fail, the numbers behind it, and a reason sentence.

        See the module docstring for which interval `require_significance` uses.
        """
        threshold = self.threshold(baseline_value)
        candidate = _as_float(candidate_value)
        baseline = _as_float(baseline_value)
        difference = None if candidate is None or baseline is None else candidate - baseline
        difference_ci, candidate_ci, confidence = self._unpack(interval, candidate_interval)

        passed, reason = self._judge_point(candidate, baseline, threshold)
        if passed and require_significance:
            passed, reason = self._judge_interval(
                reason, baseline, threshold, difference_ci, candidate_ci, confidence
            )
        if difference is not None and not math.isnan(difference):
            reason += f"; difference {_signed(difference)}"
            if difference_ci is not None:
                low, high = difference_ci
                reason += f", {_ci_label(confidence)} [{_signed(low)}, {_signed(high)}]"
        return GateOutcome(
            gate=self.text,
            metric=self.metric,
            candidate=candidate,
            baseline=baseline,
            threshold=threshold,
            difference=difference,
            ci_low=None if difference_ci is None else difference_ci[0],
            ci_high=None if difference_ci is None else difference_ci[1],
            passed=passed,
            reason=reason,
        )

    def _judge_point(
        self, candidate: float | None, baseline: float | None, threshold: float
    ) -> tuple[bool, str]:
        if math.isnan(threshold):
            return False, (
                f"FAILED: the baseline's {self.metric} is undefined (NaN), so "
                f"'{self.condition}' cannot be checked"
            )
        if candidate is None or math.isnan(candidate):
            missing = "was not computed" if candidate is None else "is undefined (NaN)"
            return False, (
                f"FAILED: the candidate's {self.metric} {missing}, so it cannot be "
                f"{self.op} {self._threshold_phrase(threshold, baseline)}"
            )
        shown, shown_threshold = _distinct(candidate, threshold)
        if OPERATORS[self.op](candidate, threshold):
            phrase = self._threshold_phrase(threshold, baseline, shown_threshold)
            return True, f"{self.metric} {shown} {self.op} {phrase}"
        if self.needs_baseline and (self.scale != 1.0 or self.offset != 0.0):
            phrase = f"{shown_threshold} (must be {self.condition}, baseline {_fmt(baseline)})"
        else:
            phrase = f"{self._threshold_phrase(threshold, baseline, shown_threshold)} (must be {self.condition})"
        return False, f"FAILED: {self.metric} {shown} is {_SHORTFALL[self.op]} {phrase}"

    def _judge_interval(
        self,
        point_reason: str,
        baseline: float | None,
        threshold: float,
        difference_ci: tuple[float, float] | None,
        candidate_ci: tuple[float, float] | None,
        confidence: float | None,
    ) -> tuple[bool, str]:
        if self.needs_baseline:
            if difference_ci is None:
                raise InvalidInput(
                    f"gate '{self.text}' asks for significance but no interval of the difference "
                    "was given; pass the PairedInterval from paired_bootstrap"
                )
            # threshold() has already refused a missing baseline for this gate.
            assert baseline is not None
            low, high = baseline + difference_ci[0], baseline + difference_ci[1]
        else:
            if candidate_ci is None:
                raise InvalidInput(
                    f"gate '{self.text}' asks for significance but no interval of the "
                    f"candidate's {self.metric} was given; pass the PairedInterval from "
                    "paired_bootstrap or candidate_interval=(low, high)"
                )
            low, high = candidate_ci
        if self.op in (">=", ">"):
            worst = f"as low as {_fmt(low)}"
        elif self.op in ("<=", "<"):
            worst = f"as high as {_fmt(high)}"
        else:
            worst = f"anywhere in [{_fmt(low)}, {_fmt(high)}]"
        level = (
            "across the given interval"
            if confidence is None
            else f"at {confidence * 100:g}% confidence"
        )
        check = OPERATORS[self.op]
        if check(low, threshold) and check(high, threshold):
            return True, f"{point_reason}, also {level} (it could be {worst})"
        return False, f"FAILED: {point_reason}, but not {level}: it could be {worst}"

    def _threshold_phrase(
        self, threshold: float, baseline: float | None, shown: str | None = None
    ) -> str:
        shown = _fmt(threshold) if shown is None else shown
        if not self.needs_baseline:
            return shown
        if self.scale == 1.0 and self.offset == 0.0:
            return f"the baseline's {shown}"
        rhs = self.condition[len(self.op) :].strip()
        return f"{shown} ({rhs.replace('baseline', f'baseline {_fmt(baseline)}', 1)})"

    def _unpack(
        self,
        interval: PairedInterval | tuple[float, float] | None,
        candidate_interval: tuple[float, float] | None,
    ) -> tuple[tuple[float, float] | None, tuple[float, float] | None, float | None]:
        if isinstance(interval, PairedInterval):
            difference_ci, confidence = interval.difference, interval.confidence
            if candidate_interval is None:
                candidate_interval = interval.candidate
        else:
            difference_ci, confidence = self._pair(interval, "interval"), None
        return difference_ci, self._pair(candidate_interval, "candidate_interval"), confidence

    def _pair(self, value: Any, name: str) -> tuple[float, float] | None:
        if value is None:
            return None
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"gate '{self.text}': {name} must be a (low, high) pair of numbers, got {value!r}"
            ) from None
        return (low, high)

    def _default_rhs(self) -> str:
        if not self.needs_baseline:
            return repr(float(self.offset))
        rhs = "baseline" if self.scale == 1.0 else f"baseline * {self.scale!r}"
        if self.offset:
            rhs += f" {'-' if self.offset < 0 else '+'} {abs(self.offset)!r}"
        return rhs


@dataclass(frozen=True)
class GateOutcome:
    """The verdict of one gate: the numbers compared, the difference and its CI, and why."""

    gate: str
    metric: str
    candidate: float | None
    baseline: float | None
    threshold: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready plain data (NaN and infinities become None)."""
        data: dict[str, Any] = {"gate": self.gate, "metric": self.metric}
        for name in ("candidate", "baseline", "difference", "ci_low", "ci_high", "threshold"):
            data[name] = _json_number(getattr(self, name))
        data["passed"] = self.passed
        data["reason"] = self.reason
        return data

    def __str__(self) -> str:
        return self.reason


def parse_gate(metric: str, condition: str) -> Gate:
    """Return the `Gate` for `metric` and a condition such as `">= baseline - 0.005"`."""
    if not isinstance(metric, str) or not METRIC_NAME.fullmatch(metric):
        raise InvalidInput(
            f"gate metric name must look like 'roc_auc' (letters, digits, _ . / -, not starting "
            f"with a digit), got {metric!r}"
        )
    if not isinstance(condition, str):
        raise InvalidInput(
            f"gate for '{metric}' must be a condition text such as \">= 0.8\", got {condition!r}"
        )
    op, reference, offset, scale, text = _Parser(metric, condition).parse()
    return Gate(metric, op, reference, offset, scale, text)


def parse_gate_text(text: str) -> Gate:
    """Return the `Gate` for the command-line form `"roc_auc >= baseline - 0.005"`."""
    if not isinstance(text, str):
        raise InvalidInput(f'a gate must be a text such as "roc_auc >= 0.8", got {text!r}')
    stripped = text.strip()
    match = METRIC_NAME.match(stripped)
    if match is None:
        raise InvalidInput(
            f'gate "{_one_line(text)}": expected METRIC OP VALUE such as '
            '"roc_auc >= baseline - 0.005", starting with the metric name'
        )
    return parse_gate(match.group(), stripped[match.end() :])


def parse_gates(
    gates: Mapping[str, str | Iterable[str]] | Iterable[str | Gate] | str,
) -> list[Gate]:
    """Return the gates from a mapping metric -> condition(s) or from CLI texts, in order.

    A mapping value may be a list of conditions, for a floor and a ceiling on one metric.
    """
    if isinstance(gates, str | Gate):
        gates = [gates]
    if isinstance(gates, Mapping):
        parsed = []
        for metric, conditions in gates.items():
            if isinstance(conditions, str) or not isinstance(conditions, Iterable):
                conditions = [conditions]
            parsed += [parse_gate(metric, condition) for condition in conditions]
        return parsed
    if not isinstance(gates, Iterable):
        raise InvalidInput(
            "gates must be a mapping metric -> condition or a list of texts such as "
            f'"roc_auc >= 0.8", got {type(gates).__name__}'
        )
    return [item if isinstance(item, Gate) else parse_gate_text(item) for item in gates]


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"gate values must be numbers, got {value!r}") from None


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "None"
    if value == 0 or (1e-3 <= abs(value) < 1e5):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}g}"


def _signed(value: float) -> str:
    text = _fmt(value)
    return text if text.startswith("-") or math.isnan(value) else f"+{text}"


def _distinct(candidate: float, threshold: float) -> tuple[str, str]:
    """Return both numbers formatted, with more digits when 4 would make them look equal."""
    shown = (_fmt(candidate), _fmt(threshold))
    if shown[0] == shown[1] and candidate != threshold:
        shown = (f"{candidate:.10g}", f"{threshold:.10g}")
    return shown


def _ci_label(confidence: float | None) -> str:
    return "CI" if confidence is None else f"{confidence * 100:g}% CI"


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
