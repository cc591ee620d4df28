"""Cache keys follow what runs: object params by content, closure values, module constants; what
cannot be hashed turns caching off for its step (and says why on the step run).

Executions are counted from a log file the steps append to, never from timings.
"""

from __future__ import annotations

import copy
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from perennia.automation.entrypoints import load_entrypoint
from perennia.automation.pipeline import Pipeline, step
from perennia.automation.pipeline.keys import Uncacheable, code_hash
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import executions, note

CACHE_OFF = "perennia.step.cache_off"


@step
def coefficients(model, log: str) -> list:
    note(log, "coefficients")
    return [float(c) for c in model.coef_.ravel()]


def _fitted(flip: bool) -> LogisticRegression:
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0, 1] * 10)
    return LogisticRegression().fit(X, 1 - y if flip else y)


def test_fitted_model_params_are_keyed_by_content(tracking: str, tmp_path: Path) -> None:
    pipe = Pipeline("model-param", [coefficients])
    log = str(tmp_path / "log")
    first_model, other_model = _fitted(False), _fitted(True)
    assert repr(first_model) == repr(other_model)  # the old key: class and repr only

    first = pipe.run({"model": first_model, "log": log})
    other = pipe.run({"model": other_model, "log": log})
    assert executions(log) == ["coefficients", "coefficients"]
    assert other.steps["coefficients"].cached_from is None
    assert other.outputs["coefficients"] != first.outputs["coefficients"]

    again = pipe.run({"model": copy.deepcopy(first_model), "log": log})
    assert len(executions(log)) == 2
    assert again.steps["coefficients"].cached_from == first.steps["coefficients"].run_id


def test_a_param_that_cannot_be_pickled_turns_caching_off_for_its_step(
    tracking: str, tmp_path: Path
) -> None:
    @step
    def transformed(model, log: str) -> list:
        note(log, "transformed")
        return model.fit_transform(np.ones((2, 2))).tolist()

    pipe = Pipeline("lambda-param", [transformed])
    log = str(tmp_path / "log")
    model = FunctionTransformer(func=lambda x: x * 2)
    first = pipe.run({"model": model, "log": log})
    second = pipe.run({"model": model, "log": log})
    assert first.status == second.status == "FINISHED", first.error
    assert executions(log) == ["transformed", "transformed"]
    tags = Client().get_run(second.steps["transformed"].run_id).data.tags
    assert "param 'model' is a FunctionTransformer that cannot be pickled" in tags[CACHE_OFF]
    assert "perennia.step.cache_key" not in tags


def _factory(factor: int):
    @step(name="scaled")
    def scaled(log: str) -> int:
        note(log, "scaled")
        return factor

    return scaled


def test_a_factory_step_with_another_captured_value_runs_again(
    tracking: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    first = Pipeline("factory", [_factory(2)]).run({"log": log})
    again = Pipeline("factory", [_factory(2)]).run({"log": log})
    assert again.steps["scaled"].cached_from == first.steps["scaled"].run_id
    other = Pipeline("factory", [_factory(3)]).run({"log": log})
    assert executions(log) == ["scaled", "scaled"]
    assert other.outputs["scaled"] == 3


def test_a_captured_value_without_content_hash_turns_caching_off(
    tracking: str, tmp_path: Path
) -> None:
    lock = threading.Lock()

    @step
    def guarded(log: str) -> int:
        with lock:
            note(log, "guarded")
        return 1

    with pytest.raises(Uncacheable, match="captured variable 'lock'"):
        code_hash(guarded.fn)
    log = str(tmp_path / "log")
    Pipeline("locked", [guarded]).run({"log": log})
    second = Pipeline("locked", [guarded]).run({"log": log})
    assert executions(log) == ["guarded", "guarded"]
    tags = Client().get_run(second.steps["guarded"].run_id).data.tags
    assert tags[CACHE_OFF].startswith("its code: captured variable 'lock'")


_MODULE = """
from perennia.automation.pipeline import Pipeline, step
from tests.automation.pipelines_for_tests import note

FACTOR = {factor}
NAMES = frozenset({{"a", "b", "c"}})


def helper(x: int) -> int:
    return x + OFFSET


OFFSET = {offset}


@step
def scaled(log: str) -> int:
    note(log, "scaled")
    return helper(FACTOR) + len(NAMES)


pipe = Pipeline("constant", [scaled])
"""


def _load(folder: Path, name: str, factor: int, offset: int = 0) -> Pipeline:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(_MODULE.format(factor=factor, offset=offset)))
    return load_entrypoint(f"{path}:pipe")


@pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True)
def test_changing_a_module_constant_runs_the_step_again(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    first = _load(tmp_path, "v1", 3).run({"log": log})
    assert first.outputs["scaled"] == 6
    same = _load(tmp_path, "v1_copy", 3).run({"log": log})  # another file, the same code
    assert same.steps["scaled"].cached_from == first.steps["scaled"].run_id

    changed = _load(tmp_path, "v2", 4).run({"log": log}, executor="process")
    assert changed.status == "FINISHED", changed.error
    assert changed.outputs["scaled"] == 7
    helper_changed = _load(tmp_path, "v3", 4, offset=10).run({"log": log})
    assert helper_changed.outputs["scaled"] == 17  # a constant the helper reads counts too
    assert executions(log) == ["scaled", "scaled", "scaled"]


def test_code_hash_is_the_same_in_another_process(tmp_path: Path) -> None:
    """Keys must match across sessions: frozenset constants hash in a fixed order."""
    import subprocess
    import sys

    path = tmp_path / "constants.py"
    path.write_text(textwrap.dedent(_MODULE.format(factor=1, offset=0)))
    script = (
        "from perennia.automation.entrypoints import load_entrypoint\n"
        "from perennia.automation.pipeline.keys import code_hash\n"
        f"print(code_hash(load_entrypoint({str(path)!r} + ':scaled').fn))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": ":".join(p for p in sys.path if p)},
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1 and len(next(iter(outputs))) == 64


def test_code_hash_follows_the_compiled_code_and_closures() -> None:
    def make(value):
        def inner():
            return value

        return inner

    assert code_hash(make(1)) == code_hash(make(1))
    assert code_hash(make(1)) != code_hash(make(1.0))
    assert code_hash(make((1, "a"))) != code_hash(make((1, "b")))
    assert code_hash(make(Path("/a"))) != code_hash(make(Path("/b")))
    assert code_hash(make(np.zeros(3))) != code_hash(make(np.ones(3)))
