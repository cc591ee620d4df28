"""A third party runs the shipped contract against its own backend with one call, or with pytest's
--pyargs; here a plain SQLite SqlStore stands in for that backend."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from perennia.testing import store_contract

_FACTORY_MODULE = """
import tempfile, uuid
from perennia.store import open_store

def make_store():
    return open_store(f"sqlite:///{tempfile.mkdtemp()}/{uuid.uuid4().hex}.db")
"""


def test_the_project_suite_runs_every_contract_module() -> None:
    here = (Path(__file__).parent / "test_store_contract.py").read_text()
    for name in store_contract.MODULES:
        importlib.import_module(f"{store_contract.__name__}.{name}")
        assert f"store_contract.{name} import *" in here, name
    shipped = {p.stem for p in Path(store_contract.__file__).parent.glob("test_*.py")}
    assert shipped == set(store_contract.MODULES)


def test_a_third_party_factory_runs_the_contract_with_pytest_pyargs(tmp_path: Path) -> None:
    (tmp_path / "my_backend.py").write_text(_FACTORY_MODULE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "perennia.testing.store_contract",
            "-p",
            "perennia.testing.plugin",
            "--perennia-store=my_backend:make_store",
            "-p",
            "no:cacheprovider",
            "-q",
            "-k",
            "experiment and not hypothesis",
            "-x",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


def test_run_store_contract_reports_a_broken_backend(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text(
        _FACTORY_MODULE
        + """
from perennia.testing import run_store_contract

def broken():
    store = make_store()
    store.experiments.rename = lambda experiment_id, new_name: None  # forgets to rename
    return store

raise SystemExit(run_store_contract(broken, "-q", "-k", "rename"))
"""
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert " failed" in done.stdout
