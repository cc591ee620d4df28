"""A Docker build context for one model: the package, pinned requirements and a Dockerfile.

`perennia models build-docker MODEL_URI --out ctx` writes:

    ctx/Dockerfile         non-root, HEALTHCHECK on /ping, CMD `perennia serve /model ...`
    ctx/requirements.txt   every distribution the image installs, pinned (`name==version`)
    ctx/model/             the package, copied and verified against its manifest digest
    ctx/wheels/            perennia itself, as a wheel built from the running source checkout

Requirements are the package's own pins (the versions it was saved with) plus the pinned
closure of `perennia[serving]` as installed where the context is built, so the image runs the
same versions the model was tested with. Perennia is not on a package index yet: when the
running perennia is a source checkout (an editable install) its wheel is built into the
context; otherwise `perennia[serving]==<version>` is pinned for the index to supply.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from perennia._version import __version__
from perennia.errors import InvalidInput, NotFound

MODEL_DIR = "model"
WHEELS_DIR = "wheels"
USER_ID = 10001


def build_docker_context(
    model_uri: str | Path,
    out_dir: str | Path,
    *,
    base_image: str | None = None,
    port: int = 8080,
    workers: int = 2,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
    perennia_wheel: str | Path | None = "auto",
) -> Path:
    """Write a Docker build context serving the model at `model_uri`; return its folder.

    `base_image` defaults to `python:<the package's Python major.minor>-slim`, since the pins
    were resolved on that Python. `perennia_wheel`: "auto" (build one from the running source
    checkout, else pin from the index), a path to a wheel to copy, or None (pin from the index).
    """
    out = Path(out_dir)
    _check_options(out, port, workers)
    out.mkdir(parents=True, exist_ok=True)
    try:
        digest, manifest = copy_package(model_uri, out / MODEL_DIR)
        python = ".".join(manifest.python_version.split(".")[:2])
        image = base_image or f"python:{python}-slim"
        wheel = _perennia_wheel(perennia_wheel, out / WHEELS_DIR)
        pins = requirements(manifest.requirements, python)
        if wheel is None:
            pins.append(f"perennia[serving]=={__version__}")
        lines = [
            f"# Pinned by perennia {__version__} for {model_uri!s} (manifest sha256 {digest}).",
            *pins,
        ]
        (out / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = serve_command(port, workers, allow_pickle, trusted_types)
        text = dockerfile(image, command, port, digest, str(model_uri), wheel)
        (out / "Dockerfile").write_text(text, encoding="utf-8")
        (out / ".dockerignore").write_text("**/__pycache__\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _check_options(out: Path, port: int, workers: int) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{str(out)!r} exists and is not an empty folder; name a new one")
    if not out.parent.is_dir():
        raise NotFound(f"folder {str(out.parent)!r} does not exist; create it first")
    if not (isinstance(port, int) and 1 <= port <= 65535):
        raise InvalidInput(f"port must be an integer from 1 to 65535, got {port!r}")
    if not (isinstance(workers, int) and workers >= 1):
        raise InvalidInput(f"workers must be a positive integer, got {workers!r}")


def copy_package(model_uri: str | Path, target: Path) -> tuple[str, Any]:
    """Copy the package at `model_uri` to `target`, verify the copy; return (digest, manifest)."""
    from perennia.models.package import package_digest, verify
    from perennia.models.uri import local_folder

    with tempfile.TemporaryDirectory(prefix="perennia-docker-") as tmp:
        folder, expected = local_folder(model_uri, Path(tmp) / "package")
        verify(folder, expected)
        digest = expected or package_digest(folder)
        shutil.copytree(folder, target)
    # The copy is what the image holds: check it against the digest read before copying.
    return digest, verify(target, digest)


def serve_command(
    port: int, workers: int, allow_pickle: bool = False, trusted_types: list[str] | None = None
) -> list[str]:
    """Return the container's command: `perennia serve /model` on all interfaces."""
    # A container must listen on every interface; which of them reach the model is decided
    # where its port is published. There is no store in the image, so no users to sign in:
    # `--insecure` says so explicitly (put the image behind an authenticating proxy).
    command = ["perennia", "serve", f"/{MODEL_DIR}", "--host", "0.0.0.0", "--insecure"]
    command += ["--port", str(port)]
    command += ["--workers", str(workers)]
    if allow_pickle:
        command.append("--allow-pickle")
    for name in trusted_types or []:
        command += ["--trust", name]
    return command


def dockerfile(
    image: str, command: list[str], port: int, digest: str, uri: str, wheel: str | None
) -> str:
    """Return the Dockerfile text: install pinned requirements, copy the model, run as a user."""
    install = "pip install -r /build/requirements.txt"
    if wheel is not None:
        install += f" \\\n && pip install --no-deps /build/{WHEELS_DIR}/{wheel}"
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{port}/ping', timeout=2).status != 200)"
    )
    copy_wheels = f"COPY {WHEELS_DIR}/ /build/{WHEELS_DIR}/\n" if wheel is not None else ""
    return (
        "# syntax=docker/dockerfile:1\n"
        f"# Serves {uri} with perennia {__version__}; written by `perennia models build-docker`.\n"
        f"FROM {image}\n"
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\\n"
        "    PIP_DISABLE_PIP_VERSION_CHECK=1\n"
        "COPY requirements.txt /build/requirements.txt\n"
        f"{copy_wheels}"
        f"RUN {install} \\\n && rm -rf /build\n"
        f"RUN useradd --create-home --uid {USER_ID} --user-group perennia\n"
        "# Owned by root and read-only for the server's user: the model cannot be changed in place.\n"
        f"COPY {MODEL_DIR}/ /{MODEL_DIR}/\n"
        f"LABEL org.perennia.model.digest={json.dumps(digest)} "
        f"org.perennia.model.uri={json.dumps(uri)} org.perennia.version={json.dumps(__version__)}\n"
        f"ENV PERENNIA_MODEL_DIGEST={digest}\n"
        f"USER {USER_ID}:{USER_ID}\n"
        "WORKDIR /home/perennia\n"
        f"EXPOSE {port}\n"
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\\n"
        f"  CMD {json.dumps(['python', '-c', probe])}\n"
        f"CMD {json.dumps(command)}\n"
    )


def requirements(model_pins: list[str], python: str) -> list[str]:
    """Return sorted `name==version` lines: the model's pins, then perennia[serving]'s closure.

    Where the model was saved with a version of a distribution other than the installed one,
    the model's pin wins (the model needs it) and that distribution's own dependencies are left
    to pip, since the installed metadata describes another version.
    """
    from packaging.utils import canonicalize_name

    pinned: dict[str, str] = {}
    roots: list[tuple[str, frozenset[str]]] = [("perennia", frozenset({"serving"}))]
    for line in model_pins:
        name, _, version = line.partition("==")
        if not version:
            raise InvalidInput(f"the package's requirement {line!r} is not pinned as name==version")
        pinned[canonicalize_name(name)] = f"{name}=={version}"
        if _installed(name) == version:
            roots.append((name, frozenset()))
    for name, version in closure(roots, python).items():
        if name != "perennia":
            pinned.setdefault(canonicalize_name(name), f"{name}=={version}")
    return [pinned[key] for key in sorted(pinned)]


def closure(roots: list[tuple[str, frozenset[str]]], python: str) -> dict[str, str]:
    """Return {distribution: installed version} for the roots and everything they require.

    Markers are evaluated for Linux and the image's Python (`python`, e.g. "3.12"), not for
    the machine building the context.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    stack = [(name, extra) for name, extras in roots for extra in ("", *extras)]
    while stack:
        name, extra = stack.pop()
        key = (canonicalize_name(name), extra)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional dependency the builder lacks: pip resolves it unpinned
        found[dist.metadata["Name"]] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not marker.evaluate({**environment, "extra": extra}):
                continue
            stack.extend((requirement.name, sub) for sub in ("", *requirement.extras))
    return found


def _perennia_wheel(choice: str | Path | None, folder: Path) -> str | None:
    """Return the file name of perennia's wheel placed in `folder`, or None to use the index."""
    if choice is None:
        return None
    if choice != "auto":
        wheel = Path(choice)
        if not (wheel.is_file() and wheel.suffix == ".whl"):
            raise NotFound(f"perennia_wheel {str(wheel)!r} is not a .whl file")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, folder / wheel.name)
        return wheel.name
    root = source_checkout()
    return None if root is None else build_wheel(root, folder)


def source_checkout() -> Path | None:
    """Return the project folder of the running perennia when it is an editable install."""
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlparse

    try:
        text = distribution("perennia").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    info = json.loads(text or "{}")
    if not info.get("dir_info", {}).get("editable") or not info.get("url", "").startswith("file:"):
        return None
    root = Path(unquote(urlparse(info["url"]).path))
    return root if (root / "pyproject.toml").is_file() and (root / "src").is_dir() else None


def build_wheel(root: Path, folder: Path) -> str:
    """Build perennia's wheel from the checkout at `root` into `folder`; return its file name."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perennia-wheel-") as tmp:
        # Build from a copy: setuptools writes build/ and egg-info into the tree it builds.
        stage = Path(tmp) / "src-tree"
        stage.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"):
            if (root / name).is_file():
                shutil.copy2(root / name, stage / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        shutil.copytree(root / "src", stage / "src", ignore=ignore)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder)]
        done = subprocess.run([*command, str(stage)], capture_output=True, text=True)
    if done.returncode != 0:
        raise InvalidInput(
            f"building perennia's wheel from {str(root)!r} failed: {done.stderr.strip()[-500:]}"
        )
    wheels = sorted(folder.glob("perennia-*.whl"))
    if not wheels:
        raise NotFound(f"pip built no perennia wheel from {str(root)!r}")
    return wheels[-1].name


def _installed(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def describe(context: Path) -> dict[str, Any]:
    """Return what a built context holds: the Dockerfile's base image, the wheel, the digest."""
    text = (context / "Dockerfile").read_text(encoding="utf-8")
    image = next(line.split()[1] for line in text.splitlines() if line.startswith("FROM "))
    digest = next(
        line.split("=", 1)[1]
        for line in text.splitlines()
        if line.startswith("ENV PERENNIA_MODEL_DIGEST=")
    )
    wheels = sorted(p.name for p in (context / WHEELS_DIR).glob("*.whl"))
    return {"base_image": image, "model_digest": digest, "wheels": wheels}
