"""A PostgreSQL cluster of a test's own, for tests that stop and restart their database: the
machine's PostgreSQL binaries (``initdb``, ``pg_ctl``), a data directory in a temporary
directory, a free loopback port. Running as root, the server runs as the ``postgres`` user
(``runuser``), as PostgreSQL insists. Without the binaries, the tests skip and say why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

NO_CLUSTER = "tests that restart PostgreSQL need its server binaries (initdb, pg_ctl): apt-get install postgresql"


def bindir() -> Path | None:
    """The directory of initdb and pg_ctl: Debian's /usr/lib/postgresql/<newest>/bin, else
    where PATH finds initdb (a link there is followed to its directory)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL server: ``start``, ``stop``, ``restart``; ``dsn`` of its database ``test``."""

    def __init__(self, bin_dir: Path, root: Path):
        self.bin = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _run(self, *args: str, timeout: float = 60) -> None:
        """Run a server binary; a server it starts must log to a file (``-l``), or it would
        hold this call's pipes open."""
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout[-500:]} {done.stderr[-500:]}")

    def init(self) -> Cluster:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
        return self

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "30",
                  "-o", self._options(), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-m", mode,
                  "-w", "-t", "30", "-o", self._options(), "restart")  # fmt: skip

    def answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.dsn, connect_timeout=1).close()
            return True
        except psycopg.Error:
            return False

    def wait_answering(self, timeout: float = 30) -> float:
        """Seconds until a new connection succeeds (the moment "the database answers")."""
        start = time.monotonic()
        while not self.answers():
            if time.monotonic() - start > timeout:
                raise RuntimeError("the cluster did not come back")
            time.sleep(0.02)
        return time.monotonic() - start

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def own_cluster() -> Cluster:
    """A started cluster with a database ``test``; skips when the binaries are missing. Call
    ``destroy`` when done."""
    found = bindir()
    if found is None:
        pytest.skip(NO_CLUSTER)
    root = Path(tempfile.mkdtemp(prefix="smtp-iac-pg-"))
    root.chmod(0o755)
    cluster = Cluster(found, root)
    try:
        return cluster.init()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        cluster.destroy()
        pytest.skip(f"could not start a PostgreSQL cluster of the test's own: {e}")
