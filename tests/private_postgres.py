"""A PostgreSQL cluster of a test's own, which it may stop and start without disturbing others.

The shared server on 5432 serves every other test in parallel, so outage tests build a private
cluster with Debian's binaries (`/usr/lib/postgresql/<version>/bin`) in a folder under /tmp, on
a free loopback port, with trust authentication. PostgreSQL refuses to run as root: as root the
binaries run as the `postgres` system user, which owns the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.ports import free_port

PG_ROOT = Path("/usr/lib/postgresql")
_TIMEOUT = 90


def postgres_bin() -> Path | None:
    """Return the `bin` folder of the newest PostgreSQL installed, or None without one."""
    found = []
    for candidate in PG_ROOT.glob("*/bin"):
        version = candidate.parent.name
        if re.fullmatch(r"\d+(\.\d+)?", version) and (candidate / "initdb").exists():
            found.append((tuple(int(p) for p in version.split(".")), candidate))
    return max(found)[1] if found else None


class PrivatePostgres:
    """One throwaway cluster: `start()`, `stop()` (fast shutdown: clients are cut off), `uri`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # mkdtemp under /tmp itself: pytest's tmp_path sits below a root-only folder the
        # postgres user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="perennia-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        self.running = False

    @property
    def uri(self) -> str:
        """Return the SQLAlchemy URI of the cluster's `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} exited {result.returncode}: "
                f"{result.stderr[-2000:]}{result.stdout[-1000:]}\n{log}"
            )

    def init(self) -> PrivatePostgres:
        """Create the cluster (superuser `postgres`, trust authentication on loopback)."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        # The socket goes in the cluster's folder: nothing outside it is touched.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c shared_buffers=32MB -c max_connections=60"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def stop(self) -> None:
        """Stop the server at once: open sessions are cut off, as in a database restart."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        self.running = False

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster's folder."""
        if self.running:
            with contextlib.suppress(Exception):
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres(bin_dir: Path) -> Iterator[PrivatePostgres]:
    """Yield a started private cluster; remove it afterwards."""
    cluster = PrivatePostgres(bin_dir)
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.remove()
