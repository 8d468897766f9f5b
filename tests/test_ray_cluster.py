"""Sweeps on a real Ray cluster by address (tests/ray_cluster.py: a head and a second
node on this machine): the jobs spread over both nodes, a worker killed mid-job costs
that job alone, and the cluster outlives the sweep."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import checkpointed_epoch, cli_env
from tests.ray_cluster import ray_cluster  # noqa: F401 (the fixture)
from tests.test_sweeps import GRID, SMALL, metrics_of, read_summary

pytestmark = pytest.mark.slow


def worker_of(job: int) -> int | None:
    """The pid of the Ray worker running job N (Ray names its process ray::jobN)."""
    found = subprocess.run(["pgrep", "-f", f"^ray::job{job}$"], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    return pids[0] if pids else None


@pytest.mark.parametrize("address", ["auto", "head"])
def test_a_sweep_spreads_over_the_clusters_nodes_and_survives_a_killed_worker(
    ray_cluster,  # noqa: F811
    tmp_path,
    address,
):
    sweep_dir = tmp_path / "sweep"
    env = cli_env(tmp_path)
    # auto: the cluster RAY_ADDRESS names, as `ray start --head` says to set it (else the
    # one Ray finds running on this machine, which another cluster here makes ambiguous)
    env["RAY_ADDRESS"] = ray_cluster.address
    args = [sys.executable, "-m", "mnist_exp", "-m", *SMALL, *GRID, "training.epochs=60"]
    args += [
        "hydra/launcher=ray",
        f"hydra.launcher.address={ray_cluster.address if address == 'head' else 'auto'}",
        "+hydra.launcher.remote.scheduling_strategy=SPREAD",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    process = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    killed = None
    try:
        deadline = time.monotonic() + 180
        while killed is None and process.poll() is None and time.monotonic() < deadline:
            for job in range(4):
                pid = worker_of(job)
                if pid and checkpointed_epoch(sweep_dir / str(job)) >= 1:
                    os.kill(pid, signal.SIGKILL)  # mid-job: its first epoch is checkpointed
                    killed = job
                    break
            time.sleep(0.2)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert killed is not None, "no job's worker was found mid-job"
    assert process.returncode == 0, output[-4000:]
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3] and set(table["status"]) == {"completed"}
    # the killed job was launched again and went on from its checkpoint
    assert f"job {killed} lost its process; launching it again from its last checkpoint" in output
    assert metrics_of(sweep_dir / str(killed))["epochs"] == 60
    # every job ran on one of the two nodes, and both nodes ran jobs
    nodes = ray_cluster.nodes()
    ran = {int(j): node for j, node in re.findall(r"job (\d) runs on Ray node (\w+)", output)}
    assert set(ran) == {0, 1, 2, 3}
    assert set(ran.values()) == set(nodes.values())
    # the sweep left the cluster it did not start running, both nodes in it
    assert ray_cluster.alive() and set(nodes) == {"head", "second"}
    assert "Starting a local Ray instance" not in output
