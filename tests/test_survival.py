"""Sweeps that survive: a job whose process dies is launched again (sweeps/launching.py),
and `mnist-exp resume=SWEEP_DIR` launches only the jobs that did not finish
(sweeps/resuming.py, app/resume.py).

The fast tests drive the launching loop with a scripted launcher (no training) and
read sweep directories made by hand; the slow ones at the end interrupt, kill and
resume real sweeps on the bundled digits.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hydra.core.utils import JobReturn, JobStatus

from mnist_exp.app.resume import sweep_argv
from mnist_exp.errors import ConfigError
from mnist_exp.sweeps import jobs, launching, resuming
from mnist_exp.sweeps import study as studies
from tests.helpers import checkpointed_epoch, cli_env, run_cli
from tests.test_sweeps import SMALL, metrics_of, read_summary


class ScriptedLauncher:
    """Runs each job as its script says, launch after launch: "ok" completes it (its
    val/accuracy is its number / 10), "dies" leaves it running with a checkpoint, as a
    process killed mid-epoch leaves it.

    pool=False: the launcher reports each job on its own, as Ray does (the dead job is
    recorded as killed, the others go on). pool=True: a death takes the pool down, as
    joblib's does: the job after the dead one, running beside it, dies too, later
    jobs never start, and the launch raises.
    """

    def __init__(self, root: Path, script: dict[int, list[str]], pool: bool) -> None:
        self.root, self.script, self.pool = root, script, pool
        self.calls: list[tuple[list[int], list[list[str]]]] = []

    def launch(self, job_overrides, initial_job_idx: int):
        nums = list(range(initial_job_idx, initial_job_idx + len(job_overrides)))
        self.calls.append((nums, [list(o) for o in job_overrides]))
        returns = []
        for i, num in enumerate(nums):
            fate = self.script[num].pop(0) if self.script.get(num) else "ok"
            job_dir = self.root / str(num)
            job_dir.mkdir(parents=True, exist_ok=True)
            if fate == "ok":
                write(job_dir, {"status": "completed", "val/accuracy": num / 10})
                returns.append(JobReturn(status=JobStatus.COMPLETED, _return_value=num / 10))
                continue
            die(job_dir)
            if self.pool:
                if i + 1 < len(nums):
                    die(self.root / str(nums[i + 1]))
                raise RuntimeError("A worker process managed by the executor was terminated")
            jobs.mark_lost(job_dir)
            returns.append(JobReturn(status=JobStatus.COMPLETED, _return_value=math.nan))
        return returns


def write(job_dir: Path, metrics: dict) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "metrics.json").write_text(json.dumps(metrics))


def die(job_dir: Path) -> None:
    write(job_dir, {"status": "running", "pid": 1})
    (job_dir / "checkpoints").mkdir(exist_ok=True)
    (job_dir / "checkpoints" / "state.json").write_text('{"epoch": 1}')


def planned(root: Path, count: int) -> list[launching.Job]:
    return [launching.Job(num, [f"model.units={num}"], root / str(num)) for num in range(count)]


def status(root: Path, num: int) -> tuple[str | None, str | None]:
    return jobs.status(root / str(num))


def test_a_job_whose_process_died_is_launched_alone_again_from_its_checkpoint(tmp_path):
    launcher = ScriptedLauncher(tmp_path, {1: ["dies"]}, pool=False)
    results = launching.launch(launcher, planned(tmp_path, 3), 1, "val/accuracy")
    assert [nums for nums, _ in launcher.calls] == [[0, 1, 2], [1]]
    again = launcher.calls[1][1][0]
    assert again == ["model.units=1", f"resume={tmp_path / '1'}", "hydra.output_subdir=null"]
    assert sorted(results) == [0, 1, 2]
    assert [status(tmp_path, n)[0] for n in range(3)] == ["completed"] * 3


def test_a_dead_pool_costs_the_jobs_beside_the_dead_one_a_relaunch_and_no_more(tmp_path):
    launcher = ScriptedLauncher(tmp_path, {1: ["dies"]}, pool=True)
    results = launching.launch(launcher, planned(tmp_path, 4), 1, "val/accuracy")
    # 0 completed before the pool went down; 1 died, 2 beside it, 3 never started
    assert [nums for nums, _ in launcher.calls] == [[0, 1, 2, 3], [1, 2, 3]]
    overrides = launcher.calls[1][1]
    assert [o[-2] for o in overrides[:2]] == [f"resume={tmp_path / n}" for n in ("1", "2")]
    assert overrides[2] == ["model.units=3"]  # nothing to resume: launched afresh
    assert [status(tmp_path, n)[0] for n in range(4)] == ["completed"] * 4
    # job 0's JobReturn went down with the pool: rebuilt from its metrics.json
    assert results[0].return_value == 0.0 and results[3].return_value == pytest.approx(0.3)


def test_a_job_that_kills_its_pool_every_time_ends_killed_and_the_others_complete(tmp_path):
    launcher = ScriptedLauncher(tmp_path, {1: ["dies"] * 10}, pool=True)
    results = launching.launch(launcher, planned(tmp_path, 4), 1, "val/accuracy")
    calls = [nums for nums, _ in launcher.calls]
    # 1 and 2 are lost together twice (their one retry spent); then each runs alone,
    # where a loss is surely its own: 1 dies again, 2 completes
    assert calls == [[0, 1, 2, 3], [1, 2, 3], [1], [2], [3]]
    assert status(tmp_path, 1) == ("failed", jobs.KILLED)
    assert [status(tmp_path, n)[0] for n in (0, 2, 3)] == ["completed"] * 3
    assert math.isnan(results[1].return_value)
    message = json.loads((tmp_path / "1" / "metrics.json").read_text())["message"]
    assert "died 3 times" in message and "retries=1" in message


def test_with_no_retries_a_dead_job_is_recorded_killed_at_once(tmp_path):
    launcher = ScriptedLauncher(tmp_path, {0: ["dies"]}, pool=False)
    launching.launch(launcher, planned(tmp_path, 2), 0, "val/accuracy")
    assert [nums for nums, _ in launcher.calls] == [[0, 1]]
    assert status(tmp_path, 0) == ("failed", jobs.KILLED)


def test_an_error_of_the_launcher_that_lost_no_job_is_raised(tmp_path):
    class Broken:
        def launch(self, job_overrides, initial_job_idx):
            raise ValueError("no such launcher option")

    with pytest.raises(ValueError, match="no such launcher option"):
        launching.launch(Broken(), planned(tmp_path, 2), 1, "val/accuracy")


def test_jobs_are_launched_in_runs_of_consecutive_numbers():
    assert launching.runs([5, 0, 3, 2]) == [[0], [2, 3], [5]]
    assert launching.runs([]) == []


def test_a_failed_job_runs_afresh_and_an_interrupted_one_from_its_checkpoint(tmp_path):
    failed, interrupted = (
        launching.Job(0, ["a=1"], tmp_path / "0"),
        launching.Job(1, [], tmp_path / "1"),
    )
    for job, state in ((failed, "failed"), (interrupted, "interrupted")):
        die(job.dir)
        write(job.dir, {"status": state, "reason": "nan_loss" if state == "failed" else "SIGTERM"})
    assert launching.launch_overrides(failed) == ["a=1"]
    assert launching.launch_overrides(interrupted)[0] == f"resume={interrupted.dir}"


def test_the_first_difference_of_two_configs_is_named():
    was = {"model": {"units": 16, "layers": 1}, "seed": 1}
    assert resuming.first_difference(was, was) is None
    now = {"model": {"units": 24, "layers": 1}, "seed": 1}
    assert resuming.first_difference(was, now) == "model.units is 24, it was 16"
    assert (
        resuming.first_difference(was, {"seed": 1})
        == "model is gone (it was " + repr(was["model"]) + ")"
    )
    assert resuming.first_difference({}, {"x": 1}) == "x is new (1)"
    # what an earlier mnist-exp saved: trackers off as nulls, options without _target_
    before = {"logger": {"tensorboard": None, "mlflow": None}, "model": {"units": 16}}
    after = {"logger": {}, "model": {"_target_": "mnist_exp.models.mlp.build", "units": 16}}
    assert resuming.first_difference(before, after) is None
    assert resuming.first_difference(after["model"], before["model"], "model") == (
        "model._target_ is gone (it was 'mnist_exp.models.mlp.build')"
    )
    assert resuming.first_difference({"logger": {}}, {"logger": {"mlflow": None}}) == (
        "logger.mlflow is new (None)"
    )


def test_a_negative_retry_count_is_refused_before_any_job(tmp_path):
    sweep_dir = tmp_path / "refused"
    result = run_cli(
        tmp_path, "-m", *SMALL, "hydra.sweeper.retries=-1", f"hydra.sweep.dir={sweep_dir}"
    )
    refused(result, "hydra.sweeper.retries=-1: 0 or more")
    assert not any(sweep_dir.glob("*/metrics.json"))


def test_jobs_share_traced_steps_only_when_network_and_optimizer_match(settings):
    from mnist_exp.models.catalog import build_model
    from mnist_exp.training import reuse

    base = settings("data=mnist_5k")
    model = build_model(base.model, (28, 28), 10)

    def key(*overrides: str, rate=1e-3):
        return reuse.key_of(settings("data=mnist_5k", *overrides), model, rate, False, 100)

    per_job = ("training.seed=7", "training.epochs=9", "optimizer.learning_rate=0.01")
    assert key() is not None and key(*per_job) == key()
    for other in (
        "model.units=[64]",
        "model.dropout=0.2",
        "optimizer=adam",
        "training.batch_size=64",
    ):
        assert key(other) != key(), other
    assert key("training.loop=keras") is None
    assert key(rate=object()) is None  # a schedule: baked into the traced step


def test_a_job_config_that_changed_is_named_and_progress_or_resume_are_not(tmp_path):
    from omegaconf import OmegaConf

    saved = {"model": {"units": [16]}, "training": {"progress": True}, "resume": None}
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "config.yaml").write_text(yaml.safe_dump(saved))
    now = {"model": {"units": [16]}, "training": {"progress": False}, "resume": "x"}
    now["hydra"] = {"job": {"num": 0}}
    resuming.check_job_unchanged(OmegaConf.create(now), tmp_path / "0", 0, tmp_path)
    now["model"]["units"] = [24]
    with pytest.raises(ConfigError, match=r"job 0's model.units is \[24\], it was \[16\]"):
        resuming.check_job_unchanged(OmegaConf.create(now), tmp_path / "0", 0, tmp_path)


# --- the resumed sweep's command line, from a multirun.yaml made by hand -------------


def record(sweep_dir: Path, task: list[str], hydra: list[str], config_dirs=()) -> Path:
    sources = [{"path": d, "schema": "file", "provider": "command-line"} for d in config_dirs]
    sources.append({"path": "mnist_exp.conf", "schema": "pkg", "provider": "main"})
    content = {
        "hydra": {
            "overrides": {"task": task, "hydra": hydra},
            "runtime": {"config_sources": sources},
            "sweeper": {"_target_": resuming.SWEEPERS[0], "params": None},
        }
    }
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump(content))
    return sweep_dir


def test_a_resumed_sweep_runs_its_own_command_in_its_own_directory(tmp_path):
    sweep_dir = record(
        tmp_path / "s",
        ["data=mnist_5k", "model.units=16,32", "training.progress=false"],
        ["hydra.sweep.dir=somewhere", "hydra.mode=MULTIRUN", "hydra/launcher=joblib"],
        config_dirs=["/my/configs"],
    )
    argv = sweep_argv(sweep_dir, ["hydra.launcher.n_jobs=4", "model.units=16,32"])
    assert argv == [
        "-m",
        "--config-dir",
        "/my/configs",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",  # how it runs may change
        "data=mnist_5k",
        "model.units=16,32",
        "training.progress=false",
        f"hydra.sweep.dir={sweep_dir}",
        f"resume={sweep_dir}",
    ]
    assert "training.progress=true" in sweep_argv(sweep_dir, ["training.progress=true"])


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("model.units=16,64", "model.units=16,32"),
        ("optimizer=adam", "it did not set optimizer"),
    ],
)
def test_a_resume_that_changes_an_override_is_refused_naming_it(tmp_path, given, named):
    sweep_dir = record(tmp_path / "s", ["model.units=16,32"], [])
    with pytest.raises(ConfigError) as refused:
        sweep_argv(sweep_dir, [given])
    message = str(refused.value)
    assert "\n" not in message and given in message and named in message


def test_report_says_which_jobs_a_resume_would_launch_again(tmp_path):
    sweep_dir = record(tmp_path / "s", ["model.units=16,32,48,64"], [])
    write(sweep_dir / "0", {"status": "completed"})
    write(sweep_dir / "1", {"status": "interrupted"})
    die(sweep_dir / "2")
    assert resuming.describe_pending(sweep_dir) == (
        f"resume={sweep_dir} would launch 3 of 4 jobs again: 1 (interrupted), 2 (running), "
        "3 (not started)"
    )
    for num in (1, 2, 3):
        write(sweep_dir / str(num), {"status": "completed"})
    assert "has nothing to do" in resuming.describe_pending(sweep_dir)
    assert resuming.describe_pending(tmp_path) is None  # not a sweep


# --- end to end: real sweeps, stopped, killed and resumed ---------------------------

TINY_MODEL = "defaults:\n  - /schema/model/mlp@_here_\n  - _self_\n\nname: tiny\nunits: [16]\n"
THREE_EPOCHS = [*SMALL, "training.epochs=3"]


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "mnist_exp", "-m", *args]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(proc: subprocess.Popen, condition, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the sweep never got there"
        time.sleep(0.05)


def completed(job_dir: Path) -> bool:
    return jobs.status(job_dir)[0] == "completed"


def stop_after_second_job(tmp_path: Path, sweep_dir: Path, *args: str) -> None:
    """Start the sweep, SIGTERM it once job 1 has completed and job 2 has a checkpoint."""
    proc = start(tmp_path, *args, f"hydra.sweep.dir={sweep_dir}")
    wait_for(proc, lambda: completed(sweep_dir / "1") and checkpointed_epoch(sweep_dir / "2"))
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, output[-3000:]
    assert jobs.status(sweep_dir / "2")[0] == "interrupted"


def files_of(job_dir: Path) -> dict[str, tuple[bytes, int]]:
    """What must not change in a finished job: its bytes and modification times."""
    names = ["model.keras", "metrics.json", "history.csv", ".hydra/config.yaml"]
    return {n: ((job_dir / n).read_bytes(), (job_dir / n).stat().st_mtime_ns) for n in names}


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert all(word in line for word in words), line


@pytest.mark.slow
def test_a_grid_sweep_stopped_after_its_second_job_resumes_only_the_rest(tmp_path):
    own = tmp_path / "conf" / "model"
    own.mkdir(parents=True)
    (own / "tiny.yaml").write_text(TINY_MODEL)
    sweep_dir = tmp_path / "grid"
    grid = ["--config-dir", str(tmp_path / "conf"), *THREE_EPOCHS, "model=tiny"]
    stop_after_second_job(tmp_path, sweep_dir, *grid, "training.seed=1,2,3,4")
    kept = {num: files_of(sweep_dir / str(num)) for num in (0, 1)}
    report = subprocess.run(
        [sys.executable, "-m", "mnist_exp.app.report", str(sweep_dir), "--no-write"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
    )
    assert "would launch 2 of 4 jobs again: 2 (interrupted), 3 (not started)" in report.stdout

    # the sweep's own overrides, changed on the command line or in its config files: refused
    refused(run_cli(tmp_path, f"resume={sweep_dir}", "training.seed=1,2"), "training.seed=1,2,3,4")
    (own / "tiny.yaml").write_text(TINY_MODEL.replace("[16]", "[24]"))
    refused(run_cli(tmp_path, f"resume={sweep_dir}"), "job 0's model.units is [24], it was [16]")
    (own / "tiny.yaml").write_text(TINY_MODEL)
    assert {num: files_of(sweep_dir / str(num)) for num in (0, 1)} == kept

    result = run_cli(tmp_path, f"resume={sweep_dir}")  # --config-dir comes from multirun.yaml
    ok(result)
    assert "2 finished, 2 to launch" in result.stdout + result.stderr
    assert {num: files_of(sweep_dir / str(num)) for num in (0, 1)} == kept
    assert [metrics_of(sweep_dir / str(n))["status"] for n in range(4)] == ["completed"] * 4
    assert metrics_of(sweep_dir / "2")["resumed_after_epoch"] >= 1  # from its checkpoint
    assert "resumed_after_epoch" not in metrics_of(sweep_dir / "3")
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3] and set(table["status"]) == {"completed"}


@pytest.mark.slow
def test_an_optuna_sweep_resumes_its_study_to_n_trials_retrying_the_running_trial(tmp_path):
    import optuna
    from optuna.trial import TrialState

    sweep_dir = tmp_path / "search"
    search = [*THREE_EPOCHS, "+hparams_search=optuna", "model.units=choice(16,32)"]
    stop_after_second_job(tmp_path, sweep_dir, *search, "hydra.sweeper.n_trials=4")
    kept = {num: files_of(sweep_dir / str(num)) for num in (0, 1)}

    result = run_cli(tmp_path, f"resume={sweep_dir}")
    ok(result)
    assert "retrying the 1 trials that were running" in result.stdout + result.stderr
    assert {num: files_of(sweep_dir / str(num)) for num in (0, 1)} == kept
    study = optuna.load_study(study_name="mnist-exp", storage=studies.storage(None, sweep_dir))
    assert len(study.trials) == 4  # n_trials in all: none re-run, none added
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert [t.user_attrs["jobs"] for t in study.trials] == [[0], [1], [2], [3]]
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]
    retried = metrics_of(sweep_dir / "2")
    assert retried["resumed_after_epoch"] >= 1
    assert study.trials[2].value == pytest.approx(retried["val/accuracy"])


def kill_a_job_mid_epoch(tmp_path: Path, sweep_dir: Path, *args: str) -> tuple[int, str]:
    """Run a 4-job parallel sweep, SIGKILL one job's process once it has a checkpoint
    and is training on; returns the job killed and the sweep's output."""
    proc = start(
        tmp_path,
        *THREE_EPOCHS,
        "training.epochs=4",
        "model.units=16,24,32,40",
        *args,
        f"hydra.sweep.dir={sweep_dir}",
    )
    victim: list[int] = []

    def one_training() -> bool:
        for num in range(4):
            found = jobs.status(sweep_dir / str(num))[0] == "running"
            if found and checkpointed_epoch(sweep_dir / str(num)):
                os.kill(metrics_of(sweep_dir / str(num))["pid"], signal.SIGKILL)
                victim.append(num)
                return True
        return False

    wait_for(proc, one_training)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, output[-3000:]
    return victim[0], output


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        [
            "hydra/launcher=ray",
            "hydra.launcher.local.num_cpus=2",
            "hydra.launcher.local.temp_dir=ray",
        ],
        ["hydra/launcher=submitit_local"],
    ],
    ids=["joblib", "ray", "submitit_local"],
)
def test_a_job_killed_in_a_parallel_sweep_is_retried_and_every_job_completes(tmp_path, launcher):
    sweep_dir = tmp_path / "parallel"
    killed, output = kill_a_job_mid_epoch(tmp_path, sweep_dir, *launcher)
    assert f"job {killed} lost its process; launching it again from its last checkpoint" in output
    assert [metrics_of(sweep_dir / str(n))["status"] for n in range(4)] == ["completed"] * 4
    assert metrics_of(sweep_dir / str(killed))["resumed_after_epoch"] >= 1
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3] and set(table["status"]) == {"completed"}


@pytest.mark.slow
def test_jobs_run_one_after_another_in_a_sweep_give_what_they_give_alone(tmp_path):
    """What a sweep's process keeps between jobs (the loaded data, Keras, the steps
    traced for the same network and optimizer) changes no result."""
    deterministic = [*THREE_EPOCHS, "training.deterministic=true", "model=two_hidden"]
    sweep_dir = tmp_path / "sweep"
    grid = ["model.units=16,24", "optimizer.learning_rate=0.001,0.003"]
    ok(run_cli(tmp_path, "-m", *deterministic, *grid, f"hydra.sweep.dir={sweep_dir}"))
    reused = [
        "reusing the steps traced" in (sweep_dir / str(num) / "mnist-exp.log").read_text()
        for num in range(4)
    ]
    assert reused == [False, True, False, True]  # (16, 0.001) (16, 0.003) (24, ...) ...
    for num, (units, rate) in {1: (16, 0.003), 2: (24, 0.001)}.items():
        alone = tmp_path / f"alone-{num}"
        job = [f"model.units={units}", f"optimizer.learning_rate={rate}"]
        ok(run_cli(tmp_path, *deterministic, *job, f"hydra.run.dir={alone}"))
        in_sweep = metrics_of(sweep_dir / str(num))
        for key in ("val/accuracy", "val/loss", "test/accuracy", "test/loss", "train/loss"):
            assert in_sweep[key] == metrics_of(alone)[key], (num, key)
        for name in ("history.csv", "predictions.csv"):
            ours = (sweep_dir / str(num) / name).read_text().splitlines()
            theirs = (alone / name).read_text().splitlines()
            if name == "history.csv":  # its last column is the epoch's seconds
                ours, theirs = ([row.rsplit(",", 1)[0] for row in t] for t in (ours, theirs))
            assert ours == theirs, (num, name)
