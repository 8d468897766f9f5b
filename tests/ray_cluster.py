"""A real two-node Ray cluster on this machine, for the tests: `ray start --head` and a
second node joining it, each with its own CPUs and a resource naming it, on 127.0.0.1,
their files in a short folder of the test session. Both run in the foreground
(`--block`) as the fixture's children, each in a process group of its own, and are
stopped by those groups."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NODES = ("head", "second")  # each node's custom resource, and its name here


@dataclass
class RayCluster:
    address: str
    temp_dir: Path
    processes: dict[str, subprocess.Popen]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def nodes(self) -> dict[str, str]:
        """Each alive node's id, by the resource naming it (head, second)."""
        script = (
            f"import json, ray; ray.init(address={self.address!r}, logging_level='ERROR');"
            "print(json.dumps([[n['NodeID'], sorted(n['Resources'])] for n in ray.nodes()"
            " if n['Alive']]))"
        )
        found = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
        )
        nodes = json.loads(found.stdout.strip().splitlines()[-1])
        return {name: node for node, resources in nodes for name in NODES if name in resources}


def free_port() -> int:
    """A free port outside Ray's worker ports (10002-19999)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 20000:
            return port


def stop(process: subprocess.Popen) -> None:
    """The process group the fixture started: SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            # the group's other members (raylet, workers) may outlive its leader
            time.sleep(1)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory) -> Iterator[RayCluster]:
    pytest.importorskip("ray")
    ray = Path(sys.executable).with_name("ray")
    # Ray's sockets need a short path: a folder in /tmp, removed with the session's tmp
    temp_dir = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = [
        "--block", "--node-ip-address=127.0.0.1", "--num-cpus=2", "--disable-usage-stats",
        "--object-store-memory=78643200",
    ]  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    logs = tmp_path_factory.mktemp("ray-cluster")
    processes: dict[str, subprocess.Popen] = {}

    def start(name: str, *args: str) -> None:
        out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 (the node's)
        processes[name] = subprocess.Popen(
            [str(ray), "start", *args, *common, f"--resources={json.dumps({name: 2})}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its group: the node's gcs, raylet and workers
        )

    cluster = RayCluster(address, temp_dir, processes)
    try:
        start(
            "head", "--head", f"--port={port}", "--include-dashboard=false",
            f"--temp-dir={temp_dir}",
        )  # fmt: skip
        start("second", f"--address={address}")
        deadline = time.monotonic() + 120
        while True:
            if not cluster.alive():
                text = "\n".join(p.read_text()[-1500:] for p in logs.glob("*.log"))
                raise AssertionError(f"a Ray node exited:\n{text}")
            try:
                if set(cluster.nodes()) == set(NODES):
                    break
            except subprocess.SubprocessError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the two Ray nodes did not come up in 120 s")
            time.sleep(1)
        yield cluster
    finally:
        for name in reversed(NODES):
            if name in processes:
                stop(processes[name])
        shutil.rmtree(temp_dir, ignore_errors=True)
