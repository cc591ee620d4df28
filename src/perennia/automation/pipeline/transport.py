"""The one module of the pipelines package that pickles, and the boundary it keeps.

Pickle runs code when it loads, so it is used here only where the bytes cannot come from anyone
but this user's own process:

- The process executor's task: the parent writes it into the run's scratch folder (made by
  `tempfile.mkdtemp`: mode 0700, readable by this user only), the child it started reads it, and
  the parent deletes it once the child ended. Even there, a step's function travels by reference
  when the child can import it (module + qualified name, or the entrypoint's .py file +
  qualified name), params that are JSON travel as JSON, and inputs are the typed output files
  (Parquet, .npy, JSON, model packages). Only a function the child cannot import (defined in
  `__main__`, inside another function, in a REPL) and params of other kinds are pickled.
- `content_digest`: `pickle.dumps` (writing, never loading) to hash an object param by content.
- executor="ray": Ray moves step functions and values through its object store, which pickles by
  design; choosing that executor is choosing that (see RayExecutor).

Never: bytes read from a store, a server or an artifact are unpickled, here or anywhere else in
the pipeline (model outputs load through the model package, pickle only with allow_pickle=True).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.execution import FileInput, StepSpec
from perennia.automation.pipeline.outputs import OutputMeta

TASK_FILE = "task.json"
_FUNCTION_FILE = "function.pkl"
_PARAMS_FILE = "params.pkl"


class CodeChanged(RuntimeError):
    """The child loaded a step function whose code differs from the one the cache key names."""


def content_digest(value: Any) -> str | None:
    """Return the sha256 hex of `value`'s pickle (protocol 5), or None when it cannot be pickled."""
    import pickle

    try:
        data = pickle.dumps(value, protocol=5)
    except Exception:  # noqa: BLE001 - any failure means "not hashable by content"
        return None
    return hashlib.sha256(data).hexdigest()


def function_reference(fn: Any) -> dict[str, str] | None:
    """Return how a child process can import `fn` by name, or None when it cannot."""
    module_name = getattr(fn, "__module__", None) or ""
    qualname = getattr(fn, "__qualname__", "")
    module = sys.modules.get(module_name)
    if module is None or module_name == "__main__" or not qualname or "<" in qualname:
        return None
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if getattr(target, "fn", target) is not fn:  # a @step-decorated name holds the Step
        return None
    if module_name.startswith("perennia_entrypoint_"):  # a file loaded by load_entrypoint
        file = getattr(module, "__file__", None)
        return {"file": str(file), "qualname": qualname} if file else None
    return {"module": module_name, "qualname": qualname}


def write_task(
    where: Path,
    fn: Any,
    spec: StepSpec,
    kwargs: dict[str, Any],
    folder: Path,
    settings: tuple[str, str | None],
    code: str | None = None,
) -> None:
    """Write one step's task into the new folder `where` (0700) for the child to read."""
    where.mkdir(mode=0o700)
    reference = function_reference(fn)
    if reference is None:
        _dump_by_value(fn, where / _FUNCTION_FILE)
        reference = {"pickled": _FUNCTION_FILE}
    elif code:
        reference["code"] = code  # the child checks it loaded the code the key was made from
    inputs = {k: v for k, v in kwargs.items() if isinstance(v, FileInput)}
    params_json, params_other = {}, {}
    for key, value in kwargs.items():
        if key not in inputs:
            (params_json if _exact_json(value) else params_other)[key] = value
    if params_other:
        import cloudpickle

        (where / _PARAMS_FILE).write_bytes(cloudpickle.dumps(params_other, protocol=5))
    task = {
        "function": reference,
        "spec": dataclasses.asdict(spec),
        "inputs": {k: dataclasses.asdict(v) for k, v in inputs.items()},
        "params": params_json,
        "pickled_params": bool(params_other),
        "folder": str(folder),
        "settings": list(settings),
    }
    (where / TASK_FILE).write_text(json.dumps(task), encoding="utf-8")


def read_task(where: Path) -> tuple[Any, StepSpec, dict[str, Any], Path, tuple[str, str | None]]:
    """Return (function, spec, kwargs, outputs folder, settings) from a task `write_task` wrote."""
    task = json.loads((where / TASK_FILE).read_text(encoding="utf-8"))
    raw = task["spec"]
    spec = StepSpec(raw["name"], tuple(raw["outputs"]), raw["tuple_return"], tuple(raw["metrics"]))
    kwargs: dict[str, Any] = dict(task["params"])
    if task["pickled_params"]:
        import cloudpickle

        kwargs.update(cloudpickle.loads((where / _PARAMS_FILE).read_bytes()))
    for key, item in task["inputs"].items():
        kwargs[key] = FileInput(OutputMeta.from_dict(item["meta"]), item["folder"], item["trusted"])
    fn = _load_function(task["function"], where)
    tracking_uri, artifacts_uri = task["settings"]
    return fn, spec, kwargs, Path(task["folder"]), (tracking_uri, artifacts_uri)


def discard(where: Path) -> None:
    """Delete a task folder (the child has ended)."""
    shutil.rmtree(where, ignore_errors=True)


def _dump_by_value(fn: Any, path: Path) -> None:
    import cloudpickle

    # A file loaded by load_entrypoint has a module name no child can import: carry it by value.
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is not None and module.__name__.startswith("perennia_entrypoint_"):
        cloudpickle.register_pickle_by_value(module)
    path.write_bytes(cloudpickle.dumps(fn, protocol=5))


def _load_function(reference: dict[str, str], where: Path) -> Any:
    if "pickled" in reference:
        import cloudpickle

        return cloudpickle.loads((where / reference["pickled"]).read_bytes())
    if "file" in reference:
        from perennia.automation.entrypoints import load_entrypoint

        target = load_entrypoint(f"{reference['file']}:{reference['qualname']}", "step")
    else:
        import importlib

        target = importlib.import_module(reference["module"])
        for part in reference["qualname"].split("."):
            target = getattr(target, part)
    from perennia.automation.pipeline.steps import Step

    fn = target.fn if isinstance(target, Step) else target
    expected = reference.get("code")
    if expected:
        from perennia.automation.pipeline.keys import Uncacheable, code_hash

        try:
            found = code_hash(fn)
        except Uncacheable:
            found = ""
        if found != expected:
            where_from = reference.get("file") or reference.get("module")
            raise CodeChanged(
                f"step function {reference['qualname']!r} in {where_from} changed after the "
                "pipeline started; run the pipeline again"
            )
    return fn


def _exact_json(value: Any) -> bool:
    """Return True when `value` comes back from JSON equal and of the same types."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return _same(json.loads(text), value)


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in right)
    return left == right or (left != left and right != right)  # NaN
