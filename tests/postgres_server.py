"""A real PostgreSQL server on this machine, for the tests: Debian's postgresql (`make
postgres` installs it), its data in a folder of its own, trust authentication, listening
on 127.0.0.1 only (a free port) and on a socket in that folder. initdb and postgres
refuse to run as root, so under root (as in CI) they run as the `postgres` system user.
The server is a child of the test process, stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.slurm_cluster import free_ports

PROGRAMS = ("initdb", "postgres", "pg_isready")
INSTALL = "apt-get install postgresql (make test installs it where it can)"
USER = "postgres"  # initdb's superuser, and the system user the server runs as under root


def bindir() -> Path | None:
    """Where initdb and postgres are: pg_config's bindir, else the newest
    /usr/lib/postgresql/VERSION/bin (Debian keeps them off PATH)."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30
            )
            candidates.append(Path(found.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    numbered = [p for p in versions if p.parent.name.isdigit()]
    candidates += sorted(numbered, key=lambda p: int(p.parent.name), reverse=True)
    return next((p for p in candidates if all((p / n).is_file() for n in PROGRAMS)), None)


def as_owner() -> list[str]:
    """The prefix that runs a program as the server's owner: the postgres user under root
    (setpriv execs it, so the pid is the program's own), nobody else otherwise."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not found: needed to run PostgreSQL as its user")
    try:
        import pwd

        pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no {USER} user to run PostgreSQL as (root cannot): {INSTALL}")
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--"]


@dataclass
class Server:
    folder: Path  # the data (data/), the socket and the server's log
    bindir: Path
    port: int
    owner: list[str]
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, database: str, scheme: str = "postgresql+psycopg") -> str:
        return f"{scheme}://{USER}@{self.address}/{database}"

    def create_database(self, name: str) -> str:
        """A new database; its storage URL."""
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 (the server's)
        self.process = subprocess.Popen(
            [
                *self.owner, str(self.bindir / "postgres"), "-D", str(self.folder / "data"),
                "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.folder),
                # a test's server: nothing to keep through a crash of this machine
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
        )  # fmt: skip
        log.close()
        self.wait_until_ready()

    def wait_until_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        ready = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready, timeout=60).returncode != 0:
            if self.process.poll() is not None:
                log = (self.folder / "postgres.log").read_text()[-2000:]
                raise AssertionError(f"postgres exited ({self.process.returncode}):\n{log}")
            assert time.monotonic() < deadline, f"postgres not ready after {timeout} s"
            time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (as `pg_ctl stop`): clients are disconnected at once."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """A new server, started, with its folder removed after."""
    found = bindir()
    if found is None:
        pytest.skip(f"no PostgreSQL server programs here ({', '.join(PROGRAMS)}): {INSTALL}")
    pytest.importorskip("psycopg", reason="pip install 'mnist-exp[postgres]'")
    owner = as_owner()
    # in /tmp, which the postgres user can reach (pytest's folders are root's alone), and
    # short: the socket's path has a length limit
    folder = Path(tempfile.mkdtemp(prefix="mnist-exp-pg-"))
    server = Server(folder, found, free_ports(1)[0], owner)
    try:
        if owner:
            shutil.chown(folder, USER, USER)
        initdb = [str(found / "initdb"), "-D", str(folder / "data"), "-U", USER, "-A", "trust"]
        initdb += ["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        made = subprocess.run([*owner, *initdb], cwd=folder, capture_output=True, timeout=300)
        assert made.returncode == 0, made.stderr.decode()[-2000:]
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """A server shared by a module's tests; each test makes a database of its own."""
    with running_server() as server:
        yield server
