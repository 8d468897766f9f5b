"""A real two-node Ray cluster on this machine, for the tests: `ray start --head` and a
second node joining it, each with its own CPU, a resource naming it (head, second), its
own loopback address and its own folder of Ray's files in the test session's tmp.

127.0.0.2 and 127.0.0.3, not 127.0.0.1: Ray takes 127.0.0.1 to mean "this machine" and
gives the cluster the machine's network address instead; other loopback addresses it
keeps, and two of them tell the nodes apart. (Ray's servers still listen on every
interface, as Ray does: nothing in Ray 2.60 binds them to one address.)

Both nodes run in the foreground (`--block`) as the fixture's children, each in a
process group of its own. Every process of the cluster (Ray's workers too, which Ray puts
in process groups of their own) carries MARKER in its environment: the fixture stops the
nodes by their pids, then checks by MARKER that nothing of the cluster is left.
"""

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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NODES = {"head": "127.0.0.2", "second": "127.0.0.3"}  # each node's resource and address
CPUS = 1  # each node's: two jobs at once, one on each node, on a 2-core machine
MARKER = "MNIST_EXP_RAY_CLUSTER"
UP_S = 120  # generous bounds, for a loaded machine
STOP_S = 60

# What each alive node is: [node id, address, resources], as the cluster lists them.
NODES_SCRIPT = """
import json, sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
deadline = time.monotonic() + float(sys.argv[2])
while True:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) >= int(sys.argv[3]) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps([[n["NodeID"], n["NodeManagerAddress"], sorted(n["Resources"])] for n in nodes]))
"""


@dataclass
class RayCluster:
    address: str  # the head's, HOST:PORT
    folder: Path  # in the test session's tmp: each node's Ray files and output, HOME
    temp_dirs: dict[str, Path]  # each node's Ray files, by a short path (see ray_cluster)
    env: dict[str, str]  # what the nodes run with (HOME in tmp, MARKER)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)  # `ray start`s

    def alive(self) -> bool:
        return len(self.processes) == len(NODES) and all(
            p.poll() is None for p in self.processes.values()
        )

    def nodes(self, wait_s: float = 0) -> dict[str, tuple[str, str]]:
        """Each alive node's (id, address), by its name; waits up to wait_s for all."""
        args = [sys.executable, "-c", NODES_SCRIPT, self.address, str(wait_s), str(len(NODES))]
        found = subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=wait_s + 120, check=True
        )
        listed = json.loads(found.stdout.strip().splitlines()[-1])
        return {
            name: (node, address)
            for node, address, resources in listed
            for name in NODES
            if name in resources
        }

    def pids(self) -> list[int]:
        """The processes of the cluster that are alive: its nodes' and their workers'."""
        wanted = f"{MARKER}={self.env[MARKER]}".encode()
        pids = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if wanted in environ.read_bytes().split(b"\0"):
                    pids.append(int(environ.parent.name))
            except (OSError, ValueError):  # gone meanwhile
                continue
        return pids

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {name}:\n" + (self.folder / f"{name}.log").read_text()[-2000:]
            for name in self.processes
        )


def free_port() -> int:
    """A free port outside Ray's worker ports (10002-19999)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 20000:
            return port


def stop(cluster: RayCluster) -> list[int]:
    """Stop what the fixture started; returns the pids of the cluster that outlived it
    (then killed). The second node first, each by its `ray start` (SIGTERM: it stops
    its processes in seconds; else SIGKILL for its process group), then anything of the
    cluster still there, by pid (a worker, in a group of its own, outlives its raylet
    briefly)."""
    for name in reversed(cluster.processes):
        process = cluster.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:  # not reaped yet: its pid is still its group's
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_S)
    deadline = time.monotonic() + STOP_S
    while cluster.pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = cluster.pids()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory) -> Iterator[RayCluster]:
    pytest.importorskip("ray")
    if not Path("/proc/self/environ").is_file():
        pytest.skip("needs /proc to find the cluster's processes")
    ray = Path(sys.executable).with_name("ray")
    folder = tmp_path_factory.mktemp("ray-cluster")
    # Ray's Unix sockets need a short path (hydra_plugins/.../_core.py: SOCKET_PATH_MAX):
    # each node's files are in `folder`, reached through a link in /tmp
    links = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
    temp_dirs = {}
    for name in NODES:
        (folder / name).mkdir()
        (links / name[0]).symlink_to(folder / name, target_is_directory=True)
        temp_dirs[name] = links / name[0]
    (folder / "home").mkdir()
    env = {**os.environ, "HOME": str(folder / "home"), MARKER: uuid.uuid4().hex}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    port = free_port()
    cluster = RayCluster(f"{NODES['head']}:{port}", folder, temp_dirs, env)

    def start(name: str, *args: str) -> None:
        args += (f"--node-ip-address={NODES[name]}", f"--temp-dir={temp_dirs[name]}")
        args += ("--block", f"--num-cpus={CPUS}", f"--resources={json.dumps({name: CPUS})}")
        args += ("--object-store-memory=78643200", "--disable-usage-stats")  # Ray's least
        with open(folder / f"{name}.log", "wb") as out:
            cluster.processes[name] = subprocess.Popen(
                [str(ray), "start", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its group: the node's gcs, raylet, agents
            )

    try:
        # the client server's port is 10001 unless told: one of its own, for clusters
        # running side by side on this machine
        start(
            "head", "--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
            "--include-dashboard=false",
        )  # fmt: skip
        start("second", f"--address={cluster.address}")
        try:
            nodes = cluster.nodes(wait_s=UP_S)
        except subprocess.SubprocessError as exc:
            raise AssertionError(f"no Ray cluster: {exc}\n{cluster.log_tail()}") from exc
        assert {name: address for name, (_, address) in nodes.items()} == NODES, (
            f"the nodes did not come up in {UP_S} s: {nodes}\n{cluster.log_tail()}"
        )
        assert cluster.alive(), cluster.log_tail()
        yield cluster
    finally:
        left = stop(cluster)
        shutil.rmtree(links, ignore_errors=True)
    assert left == [], f"processes of the Ray cluster outlived it: {left}"
