"""The process executor's task transport: functions by reference when the child can import them,
JSON params as JSON, inputs as typed files; pickle only for what has no other form, in a folder
only this user can read, deleted once the child ended."""

from __future__ import annotations

import stat
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from perennia.automation.entrypoints import load_entrypoint
from perennia.automation.pipeline import Pipeline, step
from perennia.automation.pipeline.execution import FileInput, StepSpec
from perennia.automation.pipeline.executors import ProcessExecutor, Task
from perennia.automation.pipeline.keys import code_hash
from perennia.automation.pipeline.outputs import OutputMeta
from perennia.automation.pipeline.transport import (
    TASK_FILE,
    CodeChanged,
    function_reference,
    read_task,
    write_task,
)
from tests.automation.pipelines_for_tests import features, raw

SPEC = StepSpec("features", ("features",), False, ())


def test_an_importable_step_travels_by_reference_with_json_params(tmp_path: Path) -> None:
    assert function_reference(features.fn) == {
        "module": "tests.automation.pipelines_for_tests",
        "qualname": "features",
    }
    meta = OutputMeta("raw", "table", "h", "raw.parquet", library="pandas")
    kwargs = {"raw": FileInput(meta, "/somewhere", True), "log": "x.log", "scale": 2.0}
    where = tmp_path / "t.task"
    write_task(where, features.fn, SPEC, kwargs, tmp_path / "out", ("sqlite:///x", None))
    assert [p.name for p in where.iterdir()] == [TASK_FILE]  # no pickle at all
    assert stat.S_IMODE(where.stat().st_mode) == 0o700

    fn, spec, again, folder, settings = read_task(where)
    assert fn is features.fn and spec == SPEC and again == kwargs
    assert folder == tmp_path / "out" and settings == ("sqlite:///x", None)


def test_only_what_has_no_other_form_is_pickled(tmp_path: Path) -> None:
    def local(pairs, frame):
        return len(pairs) + len(frame)

    assert function_reference(local) is None  # defined inside a function: no importable name
    kwargs = {"pairs": (1, 2), "frame": pd.DataFrame({"a": [1]}), "n": [1, {"b": None}]}
    where = tmp_path / "t.task"
    write_task(where, local, SPEC, kwargs, tmp_path / "out", ("", None))
    assert sorted(p.name for p in where.iterdir()) == ["function.pkl", "params.pkl", TASK_FILE]
    fn, _, again, _, _ = read_task(where)
    assert fn(again["pairs"], again["frame"]) == 3
    assert again["pairs"] == (1, 2)  # a tuple stays a tuple (JSON would make it a list)
    assert again["n"] == [1, {"b": None}]


def test_an_entrypoint_step_goes_by_file_and_is_checked_against_the_key(tmp_path: Path) -> None:
    path = tmp_path / "steps_file.py"
    path.write_text(
        textwrap.dedent(
            """
            from perennia.automation.pipeline import step

            @step
            def doubled(n: int) -> int:
                return n * 2
            """
        )
    )
    doubled = load_entrypoint(f"{path}:doubled")
    assert function_reference(doubled.fn) == {"file": str(path.resolve()), "qualname": "doubled"}
    spec = StepSpec("doubled", ("doubled",), False, ())
    good, stale = tmp_path / "good.task", tmp_path / "stale.task"
    write_task(good, doubled.fn, spec, {"n": 2}, tmp_path, ("", None), code_hash(doubled.fn))
    assert read_task(good)[0](2) == 4
    write_task(stale, doubled.fn, spec, {"n": 2}, tmp_path, ("", None), "0" * 64)
    with pytest.raises(CodeChanged, match="changed after the pipeline started"):
        read_task(stale)


@pytest.mark.slow  # a child interpreter
def test_the_task_folder_is_deleted_once_the_child_ended(tmp_path: Path) -> None:
    executor = ProcessExecutor(1)
    folder = tmp_path / "raw.0"
    folder.mkdir()
    spec = StepSpec("raw", ("raw",), False, ())
    kwargs = {"log": str(tmp_path / "log"), "n": 5}
    executor.submit(Task("raw", raw.fn, spec, kwargs, folder, None, None))
    assert (tmp_path / "raw.0.task" / TASK_FILE).is_file()
    done: list = []
    deadline = time.monotonic() + 120
    while not done and time.monotonic() < deadline:
        done = executor.wait(1.0)
    [(name, outcome)] = done
    assert name == "raw" and outcome.ok, outcome.error
    assert outcome.metas["raw"].file == "raw.parquet"
    assert not (tmp_path / "raw.0.task").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True)
def test_a_local_step_with_object_params_runs_in_a_child(tracking: str) -> None:
    @step
    def combine(pairs, frame: pd.DataFrame) -> dict:
        return {"pairs": type(pairs).__name__, "rows": len(frame)}

    pipe = Pipeline("by-value", [combine])
    params = {"pairs": (1, 2), "frame": pd.DataFrame({"a": [1, 2, 3]})}
    result = pipe.run(params, executor="process")
    assert result.status == "FINISHED", result.error
    assert result.outputs["combine"] == {"pairs": "tuple", "rows": 3}
