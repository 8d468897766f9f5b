"""Sweeps on a real Ray cluster by address (tests/ray_cluster.py: a head and a second
node on this machine, one CPU each, started by the test): the jobs spread over both
nodes, a worker killed mid-job costs that job alone (launched again from its
checkpoint), and the cluster outlives the sweep. `address=auto` finds the cluster
through RAY_ADDRESS, or where `ray start --temp-dir` recorded it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_exp.results import files
from mnist_exp.sweeps import jobs
from tests.helpers import checkpointed_epoch, cli_env
from tests.ray_cluster import CPUS, NODES, RayCluster, ray_cluster  # noqa: F401 (the fixture)
from tests.test_sweeps import GRID, SMALL, metrics_of, read_summary

pytestmark = pytest.mark.slow

EPOCHS = 40  # the killed job's: long enough to be killed mid-job, some seconds in all
SWEEP_S = 300  # generous bounds, for a loaded machine


def sweep(
    cluster: RayCluster, tmp_path: Path, *overrides: str, env: dict[str, str] | None = None
) -> tuple[Path, Path, subprocess.Popen]:
    """Start the 4-job smoke grid on the cluster, HOME in tmp; returns the sweep dir, the
    file of its output and the process."""
    sweep_dir, output = tmp_path / "sweep", tmp_path / "output.txt"
    full_env = cli_env(tmp_path)
    full_env.pop("RAY_ADDRESS", None)
    full_env.update(HOME=str(tmp_path / "home"), **(env or {}))
    args = [sys.executable, "-m", "mnist_exp", "-m", *SMALL, *GRID, "hydra/launcher=ray"]
    args += [*overrides, f"hydra.sweep.dir={sweep_dir}"]
    with open(output, "w") as out:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    return sweep_dir, output, process


def finish(process: subprocess.Popen, output: Path) -> str:
    """The sweep's output once it has ended (killed if it runs past SWEEP_S)."""
    try:
        process.wait(timeout=SWEEP_S)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.wait()
        text = output.read_text()[-4000:]
        raise AssertionError(f"the sweep ran past {SWEEP_S} s:\n{text}") from exc
    return output.read_text()


def nodes_of(job_dir: Path) -> list[str]:
    """The addresses of the nodes that ran the job, in order, as its own log says
    (hydra_plugins/mnist_exp_ray_launcher/_core.py: on_this_node)."""
    try:
        log = (job_dir / "mnist-exp.log").read_text()
    except OSError:
        return []
    return re.findall(rf"job {job_dir.name} runs on Ray node \w+ \(([\d.]+)\)", log)


def kill_a_job_on(cluster: RayCluster, sweep_dir: Path, node: str) -> int | None:
    """SIGKILL the worker of a job training on `node` past its first checkpointed epoch,
    if there is one; returns the job's number. The pid is the one the job's metrics.json
    gives, and is killed only if it is a process of this cluster."""
    for num in range(4):
        job_dir = sweep_dir / str(num)
        if nodes_of(job_dir)[-1:] != [NODES[node]] or jobs.status(job_dir)[0] != "running":
            continue
        pid = files.read_json_or_empty(job_dir / files.METRICS).get("pid")
        if checkpointed_epoch(job_dir) >= 1 and pid in cluster.pids():
            os.kill(pid, signal.SIGKILL)
            return num
    return None


def check_sweep(cluster: RayCluster, sweep_dir: Path, output: str, returncode: int) -> None:
    """All four jobs completed, over both nodes, on the cluster, which is still up."""
    assert returncode == 0, output[-4000:]
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3] and set(table["status"]) == {"completed"}
    ran = {num: nodes_of(sweep_dir / str(num)) for num in range(4)}
    assert all(ran.values()), ran
    assert {address for addresses in ran.values() for address in addresses} == set(
        NODES.values()
    ), ran
    assert f"on Ray at {cluster.address} ({len(NODES)} nodes, {len(NODES) * CPUS} CPUs" in output
    assert "Starting a local Ray instance" not in output
    # the sweep disconnected from the cluster it did not start, and left it running
    assert cluster.alive()
    assert {name: address for name, (_, address) in cluster.nodes().items()} == NODES


def test_a_sweep_by_the_heads_address_spreads_over_both_nodes_and_survives_a_kill(
    ray_cluster,  # noqa: F811
    tmp_path,
):
    cluster = ray_cluster
    before = cluster.nodes()
    sweep_dir, output, process = sweep(
        cluster, tmp_path, f"hydra.launcher.address={cluster.address}", f"training.epochs={EPOCHS}"
    )
    killed = None
    try:
        deadline = time.monotonic() + SWEEP_S
        while killed is None and process.poll() is None and time.monotonic() < deadline:
            killed = kill_a_job_on(cluster, sweep_dir, "second")
            time.sleep(0.1)
        text = finish(process, output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert killed is not None, f"no job was found training on the second node:\n{text[-4000:]}"
    check_sweep(cluster, sweep_dir, text, process.returncode)
    # the killed job was launched again (Ray's max_retries: 0, the sweeper's retries: 1),
    # from its checkpoint, and ended its epochs; the others ran once
    assert f"job {killed} lost its process; launching it again from its last checkpoint" in text
    metrics = metrics_of(sweep_dir / str(killed))
    assert metrics["resumed_after_epoch"] >= 1 and metrics["epochs"] == EPOCHS
    assert nodes_of(sweep_dir / str(killed))[0] == NODES["second"]
    for num in {0, 1, 2, 3} - {killed}:
        assert len(nodes_of(sweep_dir / str(num))) == 1, num
    assert cluster.nodes() == before  # the same two nodes, none lost or restarted
    assert not (tmp_path / "home" / ".ray").exists()


@pytest.mark.parametrize("found_by", ["RAY_ADDRESS", "temp_dir"])
def test_address_auto_finds_the_cluster(ray_cluster, tmp_path, found_by):  # noqa: F811
    """auto is the cluster RAY_ADDRESS names, else the one `ray start` recorded in Ray's
    temp dir: /tmp/ray, or the one given to ray.init (a cluster started with --temp-dir).
    Without either, Ray would take any cluster it sees running on this machine."""
    cluster = ray_cluster
    overrides = ["hydra.launcher.address=auto", "training.epochs=2"]
    env = {}
    if found_by == "RAY_ADDRESS":
        env["RAY_ADDRESS"] = cluster.address
    else:
        overrides.append(f"+hydra.launcher.init._temp_dir={cluster.temp_dirs['head']}")
    sweep_dir, output, process = sweep(cluster, tmp_path, *overrides, env=env)
    try:
        text = finish(process, output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"Connecting to existing Ray cluster at address: {cluster.address}" in text
    check_sweep(cluster, sweep_dir, text, process.returncode)
