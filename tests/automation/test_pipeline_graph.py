"""Bad pipelines and bad runs are refused with one clear line before anything runs or is stored."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from perennia.automation.pipeline import Pipeline, step
from perennia.entities import ViewType
from perennia.errors import InvalidInput
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import counting, executions


def _no_runs_stored() -> bool:
    return not Client().search_runs([], "", ViewType.ALL, 10).items


def test_cycle_is_named_with_its_path() -> None:
    @step
    def a(b: int) -> int:
        return b

    @step
    def b(a: int) -> int:
        return a

    with pytest.raises(InvalidInput, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        Pipeline("loop", [a, b])


def test_a_step_taking_its_own_output_is_a_cycle() -> None:
    @step
    def grow(grow: int) -> int:
        return grow

    with pytest.raises(InvalidInput, match="cycle: grow -> grow"):
        Pipeline("self", [grow])


def test_two_steps_producing_one_output_are_refused() -> None:
    @step(outputs="data")
    def one() -> int:
        return 1

    @step(outputs="data")
    def two() -> int:
        return 2

    with pytest.raises(InvalidInput, match="output 'data' is produced by both 'one' and 'two'"):
        Pipeline("dupe", [one, two])


def test_two_steps_with_one_name_are_refused() -> None:
    first = step(name="same", outputs="x")(lambda: 1)
    second = step(name="same", outputs="y")(lambda: 2)
    with pytest.raises(InvalidInput, match="two steps are named 'same'"):
        Pipeline("names", [first, second])


def test_a_plain_function_is_not_a_step() -> None:
    def plain() -> int:
        return 1

    with pytest.raises(InvalidInput, match="not a step; decorate the function with @step"):
        Pipeline("plain", [plain])


def test_missing_input_is_refused_before_any_run_is_stored(tracking: str) -> None:
    @step
    def needs(threshold: float) -> float:
        return threshold

    pipe = Pipeline("missing", [needs])
    with pytest.raises(InvalidInput, match="step 'needs' needs input 'threshold'"):
        pipe.run()
    assert _no_runs_stored()
    assert pipe.run({"threshold": 0.5}).outputs["needs"] == 0.5


def test_unknown_param_is_refused_and_the_known_ones_listed(tracking: str, tmp_path) -> None:
    with pytest.raises(InvalidInput, match=r"unknown param\(s\) colour; params: log, n, scale"):
        counting.run({"log": str(tmp_path / "log"), "colour": "red"})
    with pytest.raises(InvalidInput, match=r"raw is produced by a step, not a param"):
        counting.run({"log": str(tmp_path / "log"), "raw": 1})
    assert _no_runs_stored()
    assert executions(tmp_path / "log") == []


def test_an_unstorable_param_value_is_refused_before_anything_runs(tracking: str, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="param 'n'"):
        counting.run({"log": str(tmp_path / "log"), "n": threading.Lock()})
    assert _no_runs_stored()


def test_unstorable_return_annotation_is_refused_at_decoration() -> None:
    with pytest.raises(InvalidInput, match="output 'numbers' is annotated Iterator"):

        @step
        def numbers() -> Iterator[int]:
            return iter(range(3))

    with pytest.raises(InvalidInput, match="output 'b' is annotated TextIOWrapper"):

        @step(outputs=("a", "b"))
        def pair() -> tuple[int, io.TextIOWrapper]:
            return 1, open(__file__)  # noqa: SIM115


def test_generator_function_is_refused() -> None:
    def produce():
        yield 1

    with pytest.raises(InvalidInput, match="generator function"):
        step(produce)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be a whole number >= 0"),
        ({"retries": 1.5}, "retries must be a whole number >= 0"),
        ({"timeout": 0}, "timeout must be a number of seconds > 0"),
        ({"retry_delay": -1}, "retry_delay must be a number of seconds >= 0"),
        ({"backoff": 0.5}, "backoff must be a number >= 1"),
        ({"outputs": ("a", "a")}, "name one output twice"),
        ({"outputs": "not valid"}, "must be a Python identifier"),
        ({"cache": "yes"}, "cache must be True or False"),
        ({"metrics": "other"}, r"metrics \['other'\] are not among its outputs"),
    ],
)
def test_bad_step_options_are_refused(options: dict, message: str) -> None:
    def fn() -> int:
        return 1

    if "metrics" in options:
        options = {**options, "outputs": "value"}
    with pytest.raises(InvalidInput, match=message):
        step(**options)(fn)


def test_unstorable_value_fails_the_step_with_a_clear_error_and_no_retry(
    tracking: str, tmp_path
) -> None:
    calls = []

    @step(retries=3, retry_delay=0.0)
    def stream():
        calls.append(1)
        return (i for i in range(3))

    @step
    def consume(stream) -> int:
        return 1

    result = Pipeline("unstorable", [stream, consume]).run()
    assert result.status == "FAILED"
    assert "output 'stream': a generator cannot be stored" in result.steps["stream"].error
    assert result.steps["consume"].status == "SKIPPED"
    assert len(calls) == 1  # retrying cannot make a generator storable
    run = Client().get_run(result.steps["stream"].run_id)
    assert run.info.status == "FAILED"
    assert "a generator cannot be stored" in run.data.tags["perennia.step.error"]


def test_tuple_outputs_must_match_the_declared_count(tracking: str) -> None:
    @step(outputs=("a", "b"))
    def pair():
        return 1, 2, 3

    result = Pipeline("pair", [pair]).run()
    assert result.status == "FAILED"
    assert "declares outputs ['a', 'b'] but returned 3 values" in result.error


def test_bad_run_options_are_refused(tracking: str, tmp_path) -> None:
    log = str(tmp_path / "log")
    with pytest.raises(InvalidInput, match="executor must be one of local, process, ray"):
        counting.run({"log": log}, executor="threads")
    with pytest.raises(InvalidInput, match="max_workers must be a whole number >= 1"):
        counting.run({"log": log}, executor="process", max_workers=0)
    with pytest.raises(InvalidInput, match="is not a pipeline run"):
        counting.run({"log": log}, resume=Client().create_run("0").info.run_id)
    assert executions(log) == []
