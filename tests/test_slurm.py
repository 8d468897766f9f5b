"""Sweeps on a real SLURM cluster (tests/slurm_cluster.py: one node on this machine,
no accounting, so sacct answers nothing): a job array that completes, tasks cancelled
while pending and while running, and a job past its time limit, resumed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import checkpointed_epoch, cli_env
from tests.slurm_cluster import slurm  # noqa: F401 (the fixture)
from tests.test_sweeps import SMALL, metrics_of, read_summary

pytestmark = pytest.mark.slow
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]
OPTIMIZERS = "optimizer=adam,rmsprop,sgd"
EPOCHS = 1100


def mnist_exp(cluster, tmp_path: Path, *args: str, wait: bool = True, timeout: float = 300):
    """`mnist-exp ARGS` with the cluster's SLURM_CONF; the finished process, or the
    running one (wait=False)."""
    env = {**cli_env(tmp_path), "SLURM_CONF": cluster.env["SLURM_CONF"]}
    command = [sys.executable, "-m", "mnist_exp", *args]
    options = dict(cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not wait:
        return subprocess.Popen(command, text=True, **options)
    return subprocess.run(command, text=True, timeout=timeout, **options)


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def submitted_tasks(sweep_dir: Path) -> Iterator[Path]:
    """The folders submitit made for the array's tasks: .submitit/ARRAY_TASK."""
    folders = (sweep_dir / ".submitit").glob("*_*")
    return (folder for folder in folders if re.fullmatch(r"\d+_\d+", folder.name))


def test_a_sweep_runs_as_a_slurm_job_array(slurm, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "sweep"
    result = mnist_exp(
        slurm, tmp_path, "-m", *SMALL, OPTIMIZERS, *SLURM, f"hydra.sweep.dir={sweep_dir}"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2] and set(table["status"]) == {"completed"}
    # the jobs ran as tasks of one array on the cluster, not here
    arrays = {job_id.split("_")[0] for job_id in slurm.jobs()}
    submitted = {p.name.split("_")[0] for p in submitted_tasks(sweep_dir)}
    assert submitted and submitted <= arrays
    # no accounting here: one line says so, and none of submitit's sacct warnings
    log = result.stdout + result.stderr
    assert log.count("SLURM job accounting is not available") == 1
    assert "sacct error" not in log and "accounting storage is disabled\n" not in log


def test_cancelled_tasks_end_the_sweep_and_are_listed(slurm, tmp_path):  # noqa: F811
    """One task cancelled while it waits, one while it trains: the sweep ends, and its
    summary lists all three jobs."""
    sweep_dir = tmp_path / "sweep"
    process = mnist_exp(
        slurm, tmp_path, "-m", *SMALL, OPTIMIZERS, "training.epochs=400", *SLURM,
        "hydra.launcher.array_parallelism=1", "hydra.sweeper.retries=0",
        f"hydra.sweep.dir={sweep_dir}", wait=False,
    )  # fmt: skip
    try:
        # .submitit/ID_N holds task N's files once the array is submitted (before, submitit
        # writes its pickles to .submitit/UUID.pkl)
        array = slurm.wait_for(lambda: next(submitted_tasks(sweep_dir), None))
        array_id = array.name.split("_")[0]

        def first_training():
            """job 0 running on the cluster and past its first epoch, job 2 pending"""
            jobs = slurm.jobs()
            return (
                jobs.get(f"{array_id}_0") == "RUNNING"
                and jobs.get(f"{array_id}_2") == "PENDING"
                and checkpointed_epoch(sweep_dir / "0") >= 1
            )

        slurm.wait_for(first_training)
        slurm.run("scancel", f"{array_id}_2")  # pending
        slurm.run("scancel", f"{array_id}_0")  # running
        stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stdout[-3000:] + stderr[-3000:]  # jobs did not complete
    table = read_summary(sweep_dir).set_index("job")
    assert list(table.index) == [0, 1, 2]
    assert table.loc[1, "status"] == "completed"
    # cancelled while training: SLURM's SIGTERM stopped it after a step, checkpointed
    assert table.loc[0, "status"] == "interrupted"
    assert "SIGTERM" in metrics_of(sweep_dir / "0")["message"]
    # cancelled before it started: recorded as killed, with what SLURM said
    assert (table.loc[2, "status"], table.loc[2, "reason"]) == ("failed", "killed")
    assert list(table["optimizer"]) == ["adam", "rmsprop", "sgd"]  # its overrides too
    message = metrics_of(sweep_dir / "2")["message"]
    assert f"SLURM job {array_id}_2 ended without a result (no longer in SLURM's queue)" in message
    assert "3 jobs" in stdout


def test_a_job_past_its_time_limit_is_recorded_and_resumed(slurm, tmp_path):  # noqa: F811
    """SLURM's warning before the time limit (SIGUSR2, as submitit asks for it) stops the
    job after its current step, checkpointed; resume= continues it to the end."""
    sweep_dir = tmp_path / "sweep"
    # SLURM sends the warning when a job has 5 s left, at its next look, within 30 s of
    # it: 25 to 55 s after the start, while training (1100 epochs: about 80 s here)
    limit = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5"]
    job = [*SMALL, "optimizer=adam", f"training.epochs={EPOCHS}", f"hydra.sweep.dir={sweep_dir}"]
    result = mnist_exp(slurm, tmp_path, "-m", *job, *SLURM, *limit, timeout=400)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = metrics_of(sweep_dir / "0")
    assert metrics["status"] == "interrupted", metrics
    stopped_at = checkpointed_epoch(sweep_dir / "0")
    assert 1 <= stopped_at < EPOCHS
    assert "time limit is near" in metrics["message"]
    assert f"resume={sweep_dir / '0'}" in metrics["message"]

    again = mnist_exp(slurm, tmp_path, f"resume={sweep_dir}", "hydra.launcher.timeout_min=10")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert metrics_of(sweep_dir / "0")["status"] == "completed"
    assert read_summary(sweep_dir)["epochs"].tolist() == [EPOCHS]
    logs = "".join(p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out"))
    assert f"resuming {sweep_dir / '0'} after epoch {stopped_at} of {EPOCHS}" in logs
