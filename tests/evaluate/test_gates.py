"""Gate expressions: the grammar, the comparison, the reasons and the significance rule."""

from __future__ import annotations

import json
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.gates import Gate, GateOutcome, parse_gate, parse_gate_text, parse_gates
from perennia.evaluate.metrics.bootstrap import PairedInterval, paired_bootstrap

PYTHON_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
PYTHON_OPS["=="] = operator.eq


def _interval(low: float, high: float) -> PairedInterval:
    return PairedInterval(low, high, 0.0, 1.0, 0.0, 1.0, n_resamples_used=1000)


@pytest.mark.parametrize(
    ("condition", "baseline", "threshold", "reference"),
    [
        (">= 0.8", None, 0.8, "absolute"),
        ("> -1e-3", None, -0.001, "absolute"),
        ("<= +2", None, 2.0, "absolute"),
        ("< .5", None, 0.5, "absolute"),
        ("== 0", None, 0.0, "absolute"),
        ("<= 1E3", None, 1000.0, "absolute"),
        (">= baseline", 0.9, 0.9, "baseline"),
        (">= baseline - 0.005", 0.9, 0.9 - 0.005, "baseline"),
        ("> baseline + 0.01", 0.5, 0.51, "baseline"),
        ("<= baseline * 1.05", 0.4, 0.4 * 1.05, "baseline"),
        ("<=baseline*1.05", 0.4, 0.4 * 1.05, "baseline"),
        (">=baseline-0.005", 0.9, 0.9 - 0.005, "baseline"),
        ("  >= \t baseline   -  5e-3 ", 0.9, 0.9 - 0.005, "baseline"),
    ],
)
def test_every_grammar_form_parses_to_its_threshold(
    condition: str, baseline: float | None, threshold: float, reference: str
) -> None:
    gate = parse_gate("roc_auc", condition)
    assert gate.metric == "roc_auc"
    assert gate.reference == reference
    assert gate.needs_baseline == (reference == "baseline")
    assert gate.threshold(baseline) == pytest.approx(threshold, abs=1e-15)


def test_the_gate_text_is_canonical_whatever_the_spacing() -> None:
    assert parse_gate("roc_auc", ">=baseline-0.005").text == "roc_auc >= baseline - 0.005"
    assert parse_gate("roc_auc", " >=  - 1e-3 ").text == "roc_auc >= -1e-3"
    assert parse_gate("log_loss", "<=baseline*1.05").condition == "<= baseline * 1.05"
    assert str(parse_gate("m", "==0").op) == "=="


@pytest.mark.parametrize(
    ("text", "metric", "condition"),
    [
        ("roc_auc >= baseline - 0.005", "roc_auc", ">= baseline - 0.005"),
        ("demographic_parity_ratio>=0.8", "demographic_parity_ratio", ">= 0.8"),
        ("  slice/age.roc-auc <= 0.99 ", "slice/age.roc-auc", "<= 0.99"),
        ("_private < baseline", "_private", "< baseline"),
    ],
)
def test_the_command_line_form_splits_metric_and_condition(
    text: str, metric: str, condition: str
) -> None:
    gate = parse_gate_text(text)
    assert (gate.metric, gate.condition) == (metric, condition)
    assert gate == parse_gate(metric, condition)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=200, deadline=None)
@given(
    op=st.sampled_from(sorted(PYTHON_OPS)),
    candidate=finite | st.just(math.nan),
    baseline=finite,
    offset=finite,
)
def test_offset_gates_agree_with_the_python_comparison(
    op: str, candidate: float, baseline: float, offset: float
) -> None:
    sign = "-" if math.copysign(1.0, offset) < 0 else "+"
    gate = parse_gate("m", f"{op} baseline {sign} {abs(offset)!r}")
    assert gate.holds(candidate, baseline) == PYTHON_OPS[op](candidate, baseline + offset)
    assert gate.evaluate(candidate, baseline).passed == PYTHON_OPS[op](candidate, baseline + offset)


@settings(max_examples=150, deadline=None)
@given(
    op=st.sampled_from(sorted(PYTHON_OPS)),
    candidate=finite,
    baseline=finite,
    scale=st.floats(min_value=0.0, max_value=100.0),
    value=finite,
)
def test_relative_and_absolute_gates_agree_with_the_python_comparison(
    op: str, candidate: float, baseline: float, scale: float, value: float
) -> None:
    relative = parse_gate("m", f"{op} baseline * {scale!r}")
    absolute = parse_gate("m", f"{op} {value!r}")
    plain = parse_gate("m", f"{op} baseline")
    assert relative.holds(candidate, baseline) == PYTHON_OPS[op](candidate, baseline * scale)
    assert absolute.holds(candidate) == PYTHON_OPS[op](candidate, value)
    assert plain.holds(candidate, baseline) == PYTHON_OPS[op](candidate, baseline)


@pytest.mark.parametrize(
    "condition",
    [
        "",
        "   ",
        ">= basline",
        "0.8",
        "baseline - 0.005",
        ">= >= 0.8",
        ">= 0.8 <= 0.9",
        ">= 0.8 0.9",
        ">= 0.8 extra",
        ">= baseline -",
        ">= baseline - baseline",
        ">= baseline 0.5",
        ">= baseline / 2",
        ">= baseline + -0.5",
        ">= 0.8.1",
        ">=",
        "!= 0.8",
        "= 0.8",
        "=> 0.8",
        ">= nan",
        ">= inf",
        ">= 1e999",
        ">= 0.8;",
        ">= 0.8\n<= 0.9",
        ">= __import__('os')",
    ],
)
def test_malformed_conditions_are_refused_naming_the_metric(condition: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_gate("roc_auc", condition)
    message = str(caught.value)
    assert message.startswith("gate for 'roc_auc': expected a comparison like")
    assert f'got "{" ".join(condition.split())}"' in message
    assert "\n" not in message


def test_malformed_messages_point_at_the_problem() -> None:
    def message(condition: str) -> str:
        with pytest.raises(InvalidInput) as caught:
            parse_gate("roc_auc", condition)
        return str(caught.value)

    assert message(">= basline") == (
        'gate for \'roc_auc\': expected a comparison like ">= baseline - 0.005" or ">= 0.8", '
        "got \">= basline\" (unknown name 'basline', did you mean 'baseline'?)"
    )
    assert "nothing after 'baseline -'" in message(">= baseline -")
    assert "unexpected '0.9' after '>= 0.8'" in message(">= 0.8 0.9")
    assert "two comparison operators" in message(">= >= 0.8")
    assert "must start with one of >=, >, <=, <, ==" in message("0.8")
    assert "'!=' is not supported" in message("!= 0")
    assert "did you mean '=='?" in message("= 0")
    assert "empty" in message("")


@pytest.mark.parametrize("text", ["", "   ", ">= 0.8", "0.8 >= roc_auc", "9lives >= 1"])
def test_command_line_texts_without_a_metric_name_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="expected METRIC OP VALUE"):
        parse_gate_text(text)


@pytest.mark.parametrize(
    ("text", "metric"),
    [("roc_auc", "roc_auc"), ("roc_auc >= 0.8 0.9", "roc_auc"), ("roc auc >= 0.8", "roc")],
)
def test_command_line_texts_with_a_bad_condition_name_the_metric(text: str, metric: str) -> None:
    with pytest.raises(InvalidInput, match=f"gate for '{metric}'"):
        parse_gate_text(text)


@pytest.mark.parametrize("metric", ["", "9lives", "roc auc", "roc_auc!", None])
def test_invalid_metric_names_are_refused(metric: object) -> None:
    with pytest.raises(InvalidInput, match="gate metric name"):
        parse_gate(metric, ">= 0.8")  # type: ignore[arg-type]


def test_a_condition_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="gate for 'roc_auc' must be a condition text"):
        parse_gate("roc_auc", 0.8)  # type: ignore[arg-type]


def test_a_gate_relative_to_the_baseline_needs_a_baseline_value() -> None:
    gate = parse_gate("roc_auc", ">= baseline - 0.005")
    for attempt in (
        lambda: gate.threshold(None),
        lambda: gate.holds(0.9, None),
        lambda: gate.evaluate(0.9),
    ):
        with pytest.raises(InvalidInput, match="relative to the baseline.*no baseline value"):
            attempt()
    assert parse_gate("roc_auc", ">= 0.8").evaluate(0.9).passed


def test_a_nan_or_missing_candidate_fails_with_a_reason() -> None:
    gate = parse_gate("roc_auc", ">= 0.8")
    nan = gate.evaluate(math.nan)
    missing = gate.evaluate(None)

    assert not nan.passed and not missing.passed
    assert not gate.holds(math.nan) and not gate.holds(None)
    assert (
        nan.reason
        == "FAILED: the candidate's roc_auc is undefined (NaN), so it cannot be >= 0.8000"
    )
    assert "was not computed" in missing.reason
    assert not parse_gate("roc_auc", "== baseline").evaluate(math.nan, math.nan).passed


def test_a_nan_baseline_fails_a_relative_gate_with_a_reason() -> None:
    outcome = parse_gate("roc_auc", ">= baseline - 0.005").evaluate(0.9, math.nan)
    assert not outcome.passed
    assert outcome.reason.startswith("FAILED: the baseline's roc_auc is undefined (NaN)")


def test_a_passing_reason_shows_the_values_threshold_difference_and_interval() -> None:
    gate = parse_gate("roc_auc", ">= baseline - 0.005")
    outcome = gate.evaluate(0.9123, 0.9121, PairedInterval(-0.0031, 0.0035, 0, 1, 0, 1, 1000))

    assert outcome.passed
    assert outcome.reason == (
        "roc_auc 0.9123 >= 0.9071 (baseline 0.9121 - 0.005); "
        "difference +0.0002, 95% CI [-0.0031, +0.0035]"
    )
    assert outcome.threshold == pytest.approx(0.9071)
    assert outcome.difference == pytest.approx(0.0002)
    assert (outcome.ci_low, outcome.ci_high) == (-0.0031, 0.0035)


def test_failing_reasons_say_which_side_of_the_threshold_the_value_fell() -> None:
    log_loss = parse_gate("log_loss", "<= baseline").evaluate(0.3412, 0.3390)
    assert not log_loss.passed
    assert log_loss.reason == (
        "FAILED: log_loss 0.3412 is above the baseline's 0.3390 (must be <= baseline); "
        "difference +0.0022"
    )
    roc = parse_gate("roc_auc", ">= baseline - 0.005").evaluate(0.9001, 0.9121, (-0.02, -0.004))
    assert roc.reason == (
        "FAILED: roc_auc 0.9001 is below 0.9071 (must be >= baseline - 0.005, baseline 0.9121); "
        "difference -0.0120, CI [-0.0200, -0.0040]"
    )
    fairness = parse_gate("demographic_parity_ratio", ">= 0.8").evaluate(0.75)
    assert (
        fairness.reason
        == "FAILED: demographic_parity_ratio 0.7500 is below 0.8000 (must be >= 0.8)"
    )


def test_reasons_add_digits_when_four_would_hide_the_difference() -> None:
    outcome = parse_gate("recall", ">= 0.8").evaluate(0.79999999)
    assert outcome.reason == "FAILED: recall 0.79999999 is below 0.8 (must be >= 0.8)"


def test_require_significance_turns_a_borderline_pass_into_a_fail() -> None:
    gate = parse_gate("roc_auc", ">= baseline - 0.005")
    straddling = PairedInterval(-0.0100, 0.0035, 0.0, 1.0, 0.0, 1.0, 1000)

    lenient = gate.evaluate(0.9123, 0.9121, straddling)
    strict = gate.evaluate(0.9123, 0.9121, straddling, require_significance=True)

    assert lenient.passed
    assert not strict.passed
    assert strict.reason.startswith(
        "FAILED: roc_auc 0.9123 >= 0.9071 (baseline 0.9121 - 0.005), but not at 95% confidence: "
        "it could be as low as 0.9021"
    )
    clear = gate.evaluate(0.9123, 0.9121, _interval(-0.001, 0.0035), require_significance=True)
    assert clear.passed
    assert "also at 95% confidence" in clear.reason


def test_require_significance_looks_at_the_high_end_for_ceilings() -> None:
    gate = parse_gate("log_loss", "<= baseline")
    assert gate.evaluate(0.33, 0.34, _interval(-0.02, -0.001), require_significance=True).passed
    outcome = gate.evaluate(0.33, 0.34, (-0.02, 0.004), require_significance=True)
    assert not outcome.passed
    assert "not across the given interval: it could be as high as 0.3440" in outcome.reason


def test_require_significance_on_an_absolute_gate_uses_the_candidates_own_interval() -> None:
    gate = parse_gate("demographic_parity_ratio", ">= 0.8")
    assert not gate.evaluate(0.85, candidate_interval=(0.78, 0.9), require_significance=True).passed
    assert gate.evaluate(0.85, candidate_interval=(0.81, 0.9), require_significance=True).passed
    paired = PairedInterval(-0.5, 0.5, 0.82, 0.88, 0.5, 0.9, 1000)
    assert gate.evaluate(0.85, 0.7, paired, require_significance=True).passed


def test_require_significance_without_an_interval_is_a_usage_error() -> None:
    with pytest.raises(InvalidInput, match="asks for significance.*PairedInterval"):
        parse_gate("roc_auc", ">= baseline").evaluate(0.9, 0.8, require_significance=True)
    with pytest.raises(InvalidInput, match="candidate_interval"):
        parse_gate("roc_auc", ">= 0.8").evaluate(0.9, require_significance=True)


def test_require_significance_never_rescues_a_failing_point_estimate() -> None:
    outcome = parse_gate("m", ">= 0.8").evaluate(
        0.7, candidate_interval=(0.85, 0.9), require_significance=True
    )
    assert not outcome.passed


def test_an_interval_must_be_a_pair_of_numbers() -> None:
    with pytest.raises(InvalidInput, match=r"interval must be a \(low, high\) pair"):
        parse_gate("m", ">= 0.8").evaluate(0.9, 0.9, (0.1, 0.2, 0.3))


def test_to_dict_has_exactly_the_documented_keys_and_is_json_ready() -> None:
    outcome = parse_gate("roc_auc", ">= baseline").evaluate(math.nan, 0.9, (-0.1, 0.1))
    data = outcome.to_dict()

    assert list(data) == [
        "gate",
        "metric",
        "candidate",
        "baseline",
        "difference",
        "ci_low",
        "ci_high",
        "threshold",
        "passed",
        "reason",
    ]
    assert data["candidate"] is None and data["difference"] is None
    assert data["baseline"] == 0.9 and data["ci_low"] == -0.1
    assert data["gate"] == "roc_auc >= baseline" and data["passed"] is False
    json.dumps(data, allow_nan=False)
    assert isinstance(outcome, GateOutcome) and str(outcome) == outcome.reason


def test_gates_judge_a_real_paired_bootstrap() -> None:
    rng = np.random.default_rng(0)
    baseline_errors = rng.normal(1.0, 0.5, size=400)
    candidate_errors = baseline_errors - 0.05 + rng.normal(0, 0.01, size=400)

    def mean_error(errors: np.ndarray):
        return lambda indices: {"mae": float(np.abs(errors[indices]).mean())}

    intervals = paired_bootstrap(
        mean_error(candidate_errors), mean_error(baseline_errors), 400, n_resamples=200
    )
    gate = parse_gate("mae", "<= baseline - 0.02")
    outcome = gate.evaluate(
        float(np.abs(candidate_errors).mean()),
        float(np.abs(baseline_errors).mean()),
        intervals["mae"],
        require_significance=True,
    )
    assert outcome.passed, outcome.reason
    assert (outcome.ci_low, outcome.ci_high) == intervals["mae"].difference


def test_parse_gates_accepts_a_mapping_a_list_of_texts_or_one_text() -> None:
    from_mapping = parse_gates(
        {"roc_auc": ">= baseline - 0.005", "demographic_parity_ratio": ">= 0.8"}
    )
    from_texts = parse_gates(["roc_auc >= baseline - 0.005", "demographic_parity_ratio >= 0.8"])
    assert from_mapping == from_texts
    assert parse_gates("log_loss <= baseline") == [parse_gate("log_loss", "<= baseline")]
    assert parse_gates([]) == []


def test_a_metric_may_carry_a_floor_and_a_ceiling() -> None:
    gates = parse_gates({"positive_rate": [">= 0.1", "<= 0.3"]})
    assert [g.text for g in gates] == ["positive_rate >= 0.1", "positive_rate <= 0.3"]
    texts = parse_gates(["positive_rate >= 0.1", "positive_rate <= 0.3"])
    assert texts == gates
    assert [g.holds(0.35) for g in gates] == [True, False]


def test_parse_gates_passes_gate_objects_through_and_refuses_other_shapes() -> None:
    gate = Gate("m", ">=", "absolute", 0.5)
    assert parse_gates([gate, "n <= 1"])[0] is gate
    with pytest.raises(InvalidInput, match="mapping metric -> condition"):
        parse_gates(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="gate for 'roc_auc' must be a condition text"):
        parse_gates({"roc_auc": 0.8})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="gate for 'roc_auc'"):
        parse_gates({"roc_auc": ">= basline"})


def test_a_gate_built_directly_gets_a_canonical_text_and_validated_fields() -> None:
    assert Gate("m", ">=", "baseline", -0.01).text == "m >= baseline - 0.01"
    assert Gate("m", "<=", "baseline", 0.0, 1.05).text == "m <= baseline * 1.05"
    assert Gate("m", "<", "absolute", 3.0).text == "m < 3.0"
    with pytest.raises(InvalidInput, match="operator must be one of"):
        Gate("m", "!=", "absolute", 1.0)
    with pytest.raises(InvalidInput, match="reference must be"):
        Gate("m", ">=", "relative", 1.0)
