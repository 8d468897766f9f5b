"""A real MLflow tracking server on this machine, for the tests: `mlflow server` from the
test environment (the `dev` extra installs PyPI's mlflow), on 127.0.0.1 and a free
port, its sqlite store and artifacts in a folder of the test. Each server runs in a
process group of its own, which the tests kill, pause (a server that is slow rather
than down) and start again on the same port and store; the fixture stops exactly that
group, by pid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ray_cluster import free_port

STARTUP_S = 120  # a booted-minutes-ago machine imports the server's packages slowly


@dataclass
class MlflowServer:
    folder: Path  # its sqlite store, artifacts and log
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        """Start the server (again: same port, same store) and wait until it answers."""
        mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent))
        if mlflow is None or shutil.which("uvicorn", path=str(Path(sys.executable).parent)) is None:
            pytest.skip("mlflow server is not installed: pip install mlflow (the dev extra has it)")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(
            [
                mlflow, "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", "1",
                "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
                "--artifacts-destination", str(self.folder / "artifacts"),
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: uvicorn and job runners die with it
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + STARTUP_S
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.folder / "server.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise AssertionError(f"mlflow server did not start:\n{tail}")
            time.sleep(0.25)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Gone at once, as a crashed host: SIGKILL to the whole group."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Let a paused group go on, then kill it."""
        self._signal(signal.SIGCONT)
        self.kill()

    def pause(self) -> None:
        """Slow rather than down: the port still accepts connections, nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)


@pytest.fixture
def mlflow_server(tmp_path) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path / "mlflow-server").start()
    try:
        yield server
    finally:
        server.stop()
