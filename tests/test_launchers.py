"""Sweeps on the other launchers: a local Ray instance (hydra/launcher=ray) and submitit's
local executor (hydra/launcher=submitit_local) run the 4-job smoke grid of test_sweep.py,
write the same run directories and summary, and leave no process behind.

The SLURM preset (hydra/launcher=slurm) is checked through the sbatch script it makes:
a stand-in `sbatch` keeps the script and refuses the job. A launcher whose package is
missing is one line, checked with the packages hidden from the CLI's process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image

from hydra_plugins.mnist_exp_ray_launcher._core import SOCKET_PATH_MAX, SOCKET_SUFFIX
from mnist_exp.training import threads as runtime
from tests.helpers import cli_env
from tests.test_cli import CONTRACT
from tests.test_sweeps import GRID, SAME_IN_PARALLEL, SMALL, metrics_of, read_summary

MARKER = "MNIST_EXP_LAUNCHER_TEST"  # in the environment of every process a sweep starts
RAY = "hydra_plugins.mnist_exp_ray_launcher.ray_launcher.RayLauncher"
SUBMITIT = "hydra_plugins.hydra_submitit_launcher.submitit_launcher."


def marked_processes(marker: str) -> list[int]:
    """The processes that inherited MARKER=marker: the sweep's, Ray's and submitit's."""
    wanted = f"{MARKER}={marker}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return pids


def launched_sweep(tmp_path: Path, launcher: str, *overrides: str, jobs: list[str] = GRID):
    """The smoke grid (or other `jobs`) with hydra/launcher=`launcher`, in a subprocess
    with HOME in tmp.

    Returns the sweep dir, the finished process and the pids of the processes it started
    that were still alive 20 s after it ended (then killed, so that none outlives a test).
    """
    sweep_dir = tmp_path / "sweep"
    marker = uuid.uuid4().hex
    env = cli_env(tmp_path)
    env.update({MARKER: marker, "HOME": str(tmp_path / "home")})
    args = [sys.executable, "-m", "mnist_exp", "-m", *SMALL, *jobs]
    args += [f"hydra/launcher={launcher}", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    try:
        result = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
        )
        deadline = time.monotonic() + 20
        while marked_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        survivors = marked_processes(marker)
    finally:
        for pid in marked_processes(marker):
            os.kill(pid, signal.SIGKILL)
    return sweep_dir, result, survivors


@pytest.fixture(scope="module")
def ray_sweep(tmp_path_factory):
    if not Path("/proc/self/environ").is_file():
        pytest.skip("needs /proc to find the sweep's processes")
    return launched_sweep(tmp_path_factory.mktemp("ray"), "ray")


@pytest.fixture(scope="module")
def submitit_sweep(tmp_path_factory):
    if not Path("/proc/self/environ").is_file():
        pytest.skip("needs /proc to find the sweep's processes")
    return launched_sweep(tmp_path_factory.mktemp("submitit"), "submitit_local")


def check_sweep(sweep_dir: Path, result: subprocess.CompletedProcess) -> None:
    """Four complete run directories and the summary of them, as with the basic launcher."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for job in range(4):
        missing = [name for name in CONTRACT if not (sweep_dir / str(job) / name).is_file()]
        assert missing == [], f"job {job}"
        assert metrics_of(sweep_dir / str(job))["status"] == "completed"
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3]
    assert set(table["status"]) == {"completed"}
    assert set(zip(table["model"], table["optimizer"], strict=True)) == {
        (m, o) for m in ("one_hidden", "two_hidden") for o in ("adam", "rmsprop")
    }
    assert "## Not completed" not in (sweep_dir / "summary.md").read_text()
    with Image.open(sweep_dir / "plots/sweep.png") as image:
        assert image.size[0] > 300
    assert "ranked by val/accuracy (maximize)" in result.stdout


@pytest.mark.slow
def test_ray_launcher_runs_the_sweep_on_a_local_ray_instance_and_stops_it(ray_sweep):
    sweep_dir, result, survivors = ray_sweep
    check_sweep(sweep_dir, result)
    assert survivors == [], "Ray processes outlived the sweep"
    log = result.stdout + result.stderr
    assert "Starting a local Ray instance" in log
    # each job ran as a Ray task (its id), with the 1 CPU it asked for as its threads
    for job in range(4):
        hydra_yaml = (sweep_dir / str(job) / ".hydra/hydra.yaml").read_text()
        assert "job_id_for_" not in hydra_yaml
    assert set(read_summary(sweep_dir)["threads"]) == {1}

    # Ray's files and its token stay in outputs/ray, none in ~/.ray; the path is too long
    # for Ray's sockets, so Ray was given a link in /tmp, removed once it stopped
    ray_dir = sweep_dir.parent / "outputs" / "ray"
    token = ray_dir / "auth_token"
    assert token.is_file() and token.stat().st_mode & 0o077 == 0
    assert len(token.read_text()) >= 32
    sessions = list(ray_dir.glob("session_2*"))
    assert len(sessions) == 1 and (sessions[0] / "logs").is_dir()
    assert not (sweep_dir.parent / "home" / ".ray").exists()
    if len(str(ray_dir)) + SOCKET_SUFFIX > SOCKET_PATH_MAX:
        assert "through the shorter path" in log
    for link in Path("/tmp").glob("mnist-exp-ray-*/r"):
        assert ray_dir not in (link.resolve(), *link.resolve().parents), link


@pytest.mark.slow
def test_submitit_local_runs_the_sweep_as_local_processes(submitit_sweep):
    sweep_dir, result, survivors = submitit_sweep
    check_sweep(sweep_dir, result)
    assert survivors == [], "submitit's job processes outlived the sweep"
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr
    results = list((sweep_dir / ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 4  # one process per job
    # every job starts at once and no cpus_per_task was given: one thread each
    assert set(read_summary(sweep_dir)["threads"]) == {1}


@pytest.mark.slow
def test_every_launcher_gives_the_same_results(ray_sweep, submitit_sweep):
    """Seeded and deterministic: where a job runs does not change what it learns."""
    ray, submitit = read_summary(ray_sweep[0]), read_summary(submitit_sweep[0])
    columns = ["job", "model", "optimizer", *SAME_IN_PARALLEL]
    assert ray[columns].to_dict("records") == submitit[columns].to_dict("records")


# --- fast ---------------------------------------------------------------------------


def test_job_threads_are_the_cpus_each_launcher_gives_a_job():
    cores = runtime.usable_cores()
    assert runtime.job_threads({"_target_": RAY, "num_cpus": 1}) == 1
    assert runtime.job_threads({"_target_": RAY, "num_cpus": 0.5}) == 1
    assert runtime.job_threads({"_target_": RAY, "num_cpus": 2}) == min(2, cores)
    assert runtime.job_threads({"_target_": RAY, "num_cpus": cores * 8}) == cores
    slurm = {"_target_": SUBMITIT + "SlurmLauncher"}
    assert runtime.job_threads({**slurm, "cpus_per_task": 1}) == 1
    # no cpus_per_task on SLURM: the job's CPU affinity is its allocation
    assert runtime.job_threads({**slurm, "cpus_per_task": None}) == cores
    # submitit_local starts a whole batch at once: one thread each, unless told
    local = {"_target_": SUBMITIT + "LocalLauncher", "cpus_per_task": None}
    assert runtime.parallel_jobs(local) == cores
    assert runtime.job_threads(local) == 1
    assert runtime.job_threads(local, {"max_batch_size": 1}) == cores
    assert runtime.job_threads({**local, "cpus_per_task": 1}) == 1
    # the others as before: joblib shares the cores, basic has them all
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert runtime.job_threads({"_target_": joblib, "n_jobs": 2}) == max(1, cores // 2)
    assert runtime.job_threads({"_target_": "hydra.BasicLauncher"}) == cores


# Runs the CLI with ray, submitit and the submitit plugin hidden, as if not installed:
# imports of them fail, and Hydra's plugin scan (pkgutil.walk_packages) does not see them.
WITHOUT_CLUSTER = """
import pkgutil, sys
HIDDEN = ("ray", "submitit", "hydra_plugins.hydra_submitit_launcher")
def hidden(name):
    return any(name == h or name.startswith(h + ".") for h in HIDDEN)
class Hide:
    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
walk = pkgutil.walk_packages
pkgutil.walk_packages = lambda *a, **k: (m for m in walk(*a, **k) if not hidden(m.name))
sys.argv = ["mnist-exp", *sys.argv[1:]]
from mnist_exp.app.cli import main
main()
"""


@pytest.mark.parametrize(
    ("launcher", "package"),
    [
        ("ray", "the ray package"),
        ("submitit_local", "the hydra-submitit-launcher package"),
        ("submitit_slurm", "the hydra-submitit-launcher package"),
        ("slurm", "the hydra-submitit-launcher package"),
    ],
)
def test_a_launcher_without_its_package_is_one_line(tmp_path, launcher, package):
    sweep_dir = tmp_path / "sweep"
    args = [sys.executable, "-c", WITHOUT_CLUSTER, "-m", "+experiment=smoke"]
    args += [f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}"]
    result = subprocess.run(
        args, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr[-3000:]
    line = result.stderr.strip()
    assert line.startswith(
        f"error: hydra/launcher={launcher} needs {package}, which is not installed: "
        "pip install 'mnist-exp[cluster]'"
    ), line
    assert "\n" not in line
    assert not (sweep_dir / "multirun.yaml").exists()  # refused before the sweep began
    assert not (tmp_path / "outputs").exists()  # nor Ray's folder


def test_ray_launcher_config_is_typed(tmp_path):
    sweep_dir = tmp_path / "sweep"
    for override, message in [
        ("hydra.launcher.num_cpu=2", "Key 'num_cpu' not in 'RayLauncherConf'"),
        ("hydra.launcher.num_gpus=one", "could not be converted to Float"),
    ]:
        args = [sys.executable, "-m", "mnist_exp", "-m", "+experiment=smoke"]
        args += ["hydra/launcher=ray", override, f"hydra.sweep.dir={sweep_dir}"]
        result = subprocess.run(
            args, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr[-3000:]
        assert not sweep_dir.exists()


FAKE_SBATCH = """#!/bin/sh
# SLURM's sbatch, for a test: keep the job script, refuse the job
cp "$1" "$SBATCH_SCRIPT"
echo "sbatch: error: no SLURM here" >&2
exit 1
"""


def test_slurm_preset_asks_sbatch_for_its_resources(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    script = tmp_path / "job.sh"
    env = cli_env(tmp_path)
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", SBATCH_SCRIPT=str(script))
    args = [sys.executable, "-m", "mnist_exp", "-m", *SMALL, *GRID, "hydra/launcher=slurm"]
    args += ["hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1"]
    args += [f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0  # no cluster took the jobs
    assert "no SLURM here" in result.stderr
    lines = script.read_text().splitlines()
    for expected in [
        "#SBATCH --array=0-3%4",  # 4 jobs, at most array_parallelism (16) at once
        "#SBATCH --partition=gpu",
        "#SBATCH --time=60",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mem=8GB",
        "#SBATCH --job-name=mnist-exp",
    ]:
        assert expected in lines, expected
    assert not any(line.startswith("#SBATCH --account") for line in lines)  # null: left out
    assert any(sys.executable in line and "submitit" in line for line in lines)
