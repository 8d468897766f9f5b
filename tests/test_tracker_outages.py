"""A tracker is a side channel: a real MLflow server (tests/mlflow_server.py) that works,
that is killed mid-sweep, that is paused (slow, not down); TensorBoard's log dir that
cannot be written or whose disk is full. The runs go on, each outage is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import checkpointed_epoch, cli_args, cli_env, run_cli, run_python
from tests.mlflow_server import mlflow_server  # noqa: F401 (the fixture)
from tests.test_trackers import artifact_paths

TRACKER_LINE = "logger=mlflow:"


def start_cli(tmp_path: Path, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", *cli_args(tmp_path, overrides)],
        cwd=tmp_path,
        env={**cli_env(tmp_path), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def tracked_sweep(server, sweep_dir: Path, *overrides: str) -> tuple[str, ...]:
    """A sweep's overrides, logged to `server`, quiet, in sweep_dir."""
    return (
        "-m",
        *overrides,
        "training.progress=false",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={server.uri}",
        f"hydra.sweep.dir={sweep_dir}",
    )


def wait_for(what, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, f"still waiting after {timeout} s"
        time.sleep(0.05)


def statuses(sweep_dir: Path) -> dict[str, str]:
    return {
        p.parent.name: json.loads(p.read_text())["status"]
        for p in sorted(sweep_dir.glob("*/metrics.json"))
    }


def quiet_about_retries(output: str) -> None:
    """None of urllib3's retry lines, no traceback."""
    for noise in ("urllib3", "Retrying", "Traceback", "MaxRetryError"):
        assert noise not in output, output


@pytest.mark.slow  # a 2-job sweep logged live to a real server
def test_a_sweep_on_a_tracking_server_is_a_parent_with_its_jobs(mlflow_server, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        tmp_path,
        *tracked_sweep(
            mlflow_server, sweep_dir, "+experiment=smoke", "training.epochs=2", "model.units=16,24"
        ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert TRACKER_LINE not in result.stdout + result.stderr
    client = mlflow_server.client()
    runs = client.search_runs([client.get_experiment_by_name("mnist-exp").experiment_id])
    parent = json.loads((sweep_dir / "mlflow.json").read_text())["run_id"]
    children = {r.data.tags["mnist_exp.job"]: r for r in runs if r.info.run_id != parent}
    assert len(runs) == 3 and sorted(children) == ["0", "1"]
    for job, child in children.items():
        history = pd.read_csv(sweep_dir / job / "history.csv")
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert child.data.tags["mlflow.parentRunId"] == parent
        assert child.info.status == "FINISHED"
        series = sorted(
            client.get_metric_history(child.info.run_id, "val/loss"), key=lambda m: m.step
        )
        assert [m.step for m in series] == history["epoch"].tolist() == [1, 2]
        assert [m.value for m in series] == pytest.approx(history["val/loss"].tolist(), rel=1e-12)
        assert child.data.metrics["test/accuracy"] == pytest.approx(metrics["test/accuracy"])
        # artifacts went through the server (its --artifacts-destination)
        listed = artifact_paths(client, child.info.run_id)
        assert {"model/model.keras", "metrics.json", "history.csv", "plots/loss.png"} <= listed
    assert client.get_run(parent).info.status == "FINISHED"


@pytest.mark.slow  # a 3-job sweep, its server killed during the first job
def test_a_server_killed_mid_sweep_costs_one_line_and_no_job(mlflow_server, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "sweep"
    sweep = start_cli(
        tmp_path,
        *tracked_sweep(
            mlflow_server, sweep_dir, "data=mnist_5k", "training.epochs=6", "model.units=32,48,64"
        ),
    )
    started = time.monotonic()
    wait_for(lambda: checkpointed_epoch(sweep_dir / "0") >= 1, sweep)
    first_job = time.monotonic() - started  # start-up: imports, composing, data
    mlflow_server.kill()
    output, _ = sweep.communicate(timeout=600)
    elapsed = time.monotonic() - started

    assert sweep.returncode == 0, output
    assert statuses(sweep_dir) == {"0": "completed", "1": "completed", "2": "completed"}
    lines = [line for line in output.splitlines() if TRACKER_LINE in line]
    assert len(lines) == 1, lines  # the outage, said once for the sweep
    # refused, or lost when the kill cut a request short
    assert f"{mlflow_server.uri} did not answer (connection " in lines[0]
    assert f"mnist-exp-sync {sweep_dir}" in lines[0]
    quiet_about_retries(output)
    assert (sweep_dir / "summary.csv").is_file()
    # The outage costs seconds: the sweep took its jobs' own time, and less than a minute more.
    jobs = sum(json.loads(p.read_text())["wall_seconds"] for p in sweep_dir.glob("*/metrics.json"))
    assert elapsed - first_job - jobs < 60, (elapsed, first_job, jobs)

    # The server back (the same store): mnist-exp-sync sends what it missed, once.
    mlflow_server.start()
    sent = sync_cli(tmp_path, sweep_dir)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "job 0: completed" in sent.stdout.replace(f"{sweep_dir}/", "")  # logged live, then not
    runs = check_sweep_in_mlflow(mlflow_server.client(), sweep_dir, jobs=3)
    again = sync_cli(tmp_path, sweep_dir)
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "4 up to date", again.stdout
    assert check_sweep_in_mlflow(mlflow_server.client(), sweep_dir, jobs=3) == runs


@pytest.mark.slow  # a run whose server stops answering (paused) during fit, then SIGTERM
def test_a_paused_server_costs_its_timeout_and_sigterm_still_ends_the_run(mlflow_server, tmp_path):  # noqa: F811
    # MLflow's own variable wins over ours: a call now waits up to 60 s twice, unless
    # the signal abandons it.
    run = start_cli(
        tmp_path,
        "data=mnist_5k",
        "training.epochs=200",
        "training.progress=false",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={mlflow_server.uri}",
        env={"MLFLOW_HTTP_REQUEST_TIMEOUT": "60"},
    )
    run_dir = tmp_path / "run"
    wait_for(lambda: checkpointed_epoch(run_dir) >= 2, run)
    mlflow_server.pause()
    run.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    output, _ = run.communicate(timeout=300)
    waited = time.monotonic() - signalled

    assert run.returncode == 143, output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert checkpointed_epoch(run_dir) == len(pd.read_csv(run_dir / "history.csv")) >= 2
    assert waited < 30, waited  # not MLflow's 2 x 60 s
    quiet_about_retries(output)
    lines = [line for line in output.splitlines() if TRACKER_LINE in line]
    assert len(lines) <= 1, lines


@pytest.mark.slow  # one run against a paused server
def test_a_paused_server_is_one_line_and_the_run_completes(mlflow_server, tmp_path):  # noqa: F811
    mlflow_server.pause()
    result = run_cli(
        tmp_path,
        "+experiment=smoke",
        "training.progress=false",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={mlflow_server.uri}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if TRACKER_LINE in line]
    assert len(lines) == 1 and "did not answer (timed out)" in lines[0], lines
    assert f"mnist-exp-sync {tmp_path / 'run'}" in lines[0]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "completed"
    assert not (tmp_path / "run" / "mlflow.json").exists()  # no MLflow run was made
    quiet_about_retries(output)

    mlflow_server.resume()  # slow no more: the run is sent afterwards, once
    for _ in range(2):
        sent = sync_cli(tmp_path, tmp_path / "run")
        assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.splitlines()[-1] == "1 up to date"
    client = mlflow_server.client()
    runs = client.search_runs([client.get_experiment_by_name("mnist-exp").experiment_id])
    assert len(runs) == 1
    check_run_in_mlflow(client, runs[0], tmp_path / "run")


def sync_cli(tmp_path: Path, *dirs: Path) -> subprocess.CompletedProcess:
    """`mnist-exp-sync DIRS` in a subprocess."""
    return run_python(
        tmp_path, ["-c", "from mnist_exp.app.sync import main; main()", *map(str, dirs)]
    )


def check_run_in_mlflow(client, run, run_dir: Path) -> None:
    """The MLflow run holds what the run directory holds: every epoch at its step, the
    final metrics, the status, the artifacts."""
    history = pd.read_csv(run_dir / "history.csv")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run.info.status == "FINISHED" and run.data.tags["mnist_exp.status"] == "completed"
    for column in ("train/loss", "val/accuracy", "lr"):
        series = sorted(client.get_metric_history(run.info.run_id, column), key=lambda m: m.step)
        assert [m.step for m in series] == history["epoch"].tolist(), column
        assert [m.value for m in series] == pytest.approx(history[column].tolist(), rel=1e-12)
    for name in ("test/accuracy", "test/loss", "test/correct", "params"):
        assert run.data.metrics[name] == pytest.approx(metrics[name]), name
    assert run.data.metrics["best/val/accuracy"] == pytest.approx(metrics["val/accuracy"])
    assert run.data.params["training.epochs"] == str(len(history))
    listed = artifact_paths(client, run.info.run_id)
    assert {"model/model.keras", "metrics.json", "history.csv", "plots/loss.png"} <= listed


def check_sweep_in_mlflow(client, sweep_dir: Path, jobs: int) -> dict[str, str]:
    """Every job once, nested under the sweep's one parent; {job: MLflow run id}."""
    experiment = client.get_experiment_by_name("mnist-exp")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) == jobs + 1, [r.info.run_name for r in runs]
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["mnist_exp.best_job"]
    children = {r.data.tags["mnist_exp.job"]: r for r in runs if r is not parent}
    assert sorted(children) == [str(j) for j in range(jobs)]
    for job, child in children.items():
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        check_run_in_mlflow(client, child, sweep_dir / job)
    return {job: child.info.run_id for job, child in children.items()}


def tensorboard_run(tmp_path: Path, log_dir: Path):
    result = run_cli(
        tmp_path,
        "+experiment=smoke",
        "training.epochs=2",
        "training.progress=false",
        "logger=tensorboard",
        f"logger.tensorboard.log_dir={log_dir}",  # absolute: outside the run directory
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
    assert (run_dir / "model.keras").is_file() and len(pd.read_csv(run_dir / "history.csv")) == 2
    lines = [line for line in output.splitlines() if "logger=tensorboard:" in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "{{function_node" not in lines[0]
    return lines[0]


def test_an_unwritable_tensorboard_dir_is_one_line_and_no_lost_run(tmp_path):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    line = tensorboard_run(tmp_path, not_a_dir / "tensorboard")
    assert f"event files not written ({not_a_dir} is not a directory)" in line
    assert "the run goes on without it" in line


@pytest.mark.slow  # mounts a full tmpfs, as root only
def test_a_full_disk_under_tensorboard_is_one_line_and_no_lost_run(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], capture_output=True
        ).returncode
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        (full / "fill").write_bytes(b"\0" * 16 * 1024)
        line = tensorboard_run(tmp_path, full / "tensorboard")
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)
    assert "No space left on device" in line


@pytest.mark.slow  # a 2-job sweep that starts with its server down, which comes back
def test_a_server_that_comes_back_is_used_by_the_jobs_after_it(mlflow_server, tmp_path):  # noqa: F811
    mlflow_server.kill()
    sweep_dir = tmp_path / "sweep"
    sweep = start_cli(
        tmp_path,
        *tracked_sweep(
            mlflow_server, sweep_dir, "+experiment=smoke", "training.epochs=3", "model.units=16,24"
        ),
    )
    wait_for(lambda: checkpointed_epoch(sweep_dir / "0") >= 1, sweep)
    sweep.send_signal(signal.SIGSTOP)  # job 0 runs untracked; the server is back for job 1
    try:
        mlflow_server.start()
    finally:
        sweep.send_signal(signal.SIGCONT)
    output, _ = sweep.communicate(timeout=600)

    assert sweep.returncode == 0, output
    assert statuses(sweep_dir) == {"0": "completed", "1": "completed"}
    lines = [line for line in output.splitlines() if TRACKER_LINE in line]
    assert len(lines) == 1 and "the sweep goes on without it" in lines[0], lines
    client = mlflow_server.client()
    runs = client.search_runs([client.get_experiment_by_name("mnist-exp").experiment_id])
    assert [r.data.tags["mnist_exp.job"] for r in runs] == ["1"]
    metrics = json.loads((sweep_dir / "1" / "metrics.json").read_text())
    assert runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["test/accuracy"] == pytest.approx(metrics["test/accuracy"])
