"""The layers of docs/architecture.md, enforced: import-linter's contracts in pyproject.toml pass,
every top-level module of the package has a layer, the docs list the same layers as the contract,
and `import perennia` stays light.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "perennia"
HEAVY = ("numpy", "pandas", "sqlalchemy", "fastapi")


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _layer_names(layer: str) -> list[str]:
    """Return the module names in one layer expression: `(ui) | (client)` -> ['ui', 'client']."""
    return [name.strip().strip("()") for name in re.split(r"[|:]", layer)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def test_imports_follow_the_layers_and_never_go_through_the_facade() -> None:
    command = [
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache",
        "--no-logo",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        report = done.stdout
        broken = report.find("Broken contracts")
        detail = report[broken:] if broken >= 0 else report + done.stderr
        raise AssertionError(
            "an import breaks the layers of docs/architecture.md (run `.venv/bin/lint-imports` "
            "to see it again). Import the module you need from a lower layer, or move what two "
            "layers share down to the lower one or to _util:\n\n" + detail.strip()
        )


def test_every_top_level_module_has_a_layer() -> None:
    placed = {name for layer in _contract("layers")["layers"] for name in _layer_names(layer)}
    found = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    unplaced = sorted(found - placed)
    assert not unplaced, (
        f"perennia.{', perennia.'.join(unplaced)} has no layer: add it to the `layers` contract "
        "in pyproject.toml and to the layer list in docs/architecture.md"
    )


def test_the_docs_list_the_layers_of_the_contract() -> None:
    docs = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- layers -->\n```\n(.*?)\n```", docs, re.S)
    assert block, "docs/architecture.md lost its layer list (a ``` block after <!-- layers -->)"
    documented = [re.split(r"\s{2,}", line.strip())[0] for line in block[1].splitlines()]
    contract = [" | ".join(_layer_names(layer)) for layer in _contract("layers")["layers"]]
    documented = [" | ".join(_layer_names(layer)) for layer in documented]
    assert documented == contract, (
        "docs/architecture.md and the `layers` contract in pyproject.toml list different layers:\n"
        f"docs:     {documented}\ncontract: {contract}"
    )


def test_import_perennia_loads_no_heavy_library() -> None:
    code = f"import sys, perennia\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = done.stdout.strip()
    assert not loaded, (
        f"`import perennia` loaded {loaded}; import heavy libraries inside the functions "
        "that need them (`python -X importtime -c 'import perennia'` shows who pulls them in)"
    )
