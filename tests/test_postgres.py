"""Optuna studies kept in a real PostgreSQL (tests/postgres_server.py starts this
machine's server): a pruned search on two joblib workers stored there and continued;
a storage that cannot be used (its driver missing, a connection refused, a database
that does not exist) refused in one line before any job; the database stopped in the
middle of a sweep, which then ends in one line and resumes once it is back."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.trial import TrialState

from mnist_exp.errors import ConfigError
from mnist_exp.sweeps import database, study
from tests.helpers import checkpointed_epoch, cli_env, run_cli, run_in_process
from tests.postgres_server import postgres, running_server  # noqa: F401 (the fixture)
from tests.slurm_cluster import free_ports
from tests.test_sweeps import SMALL, metrics_of, read_summary, sweep

SEARCH = [
    "+hparams_search=optuna",
    "model.units=choice(16,32)",
    "training.epochs=2",
    "hydra/sweeper/optuna_pruner=median",
    "hydra.sweeper.pruner.n_startup_trials=2",
]
TWO_WORKERS = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
LONG = 50  # epochs: a job still trains when the database stops after its first
STATES = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED}


def ok(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def refused_in_one_line(result, sweep_dir: Path, *words: str) -> None:
    """Exit 2, one error line with `words`, and nothing else: no traceback, no summary
    printed or written, no job started."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in output and "0 jobs" not in output
    assert "summary" not in result.stdout
    assert not sweep_dir.exists()


def stored_trials(url: str) -> list:
    return optuna.load_study(study_name="mnist-exp", storage=url).trials


def agree(trials: list, sweep_dir: Path) -> None:
    """Each trial as its job's metrics.json says: the same state, and a completed one's
    value is the job's objective."""
    for trial in trials:
        (num,) = trial.user_attrs["jobs"]
        metrics = metrics_of(sweep_dir / str(num))
        assert trial.state == STATES[metrics["status"]], (num, metrics["status"])
        if trial.state == TrialState.COMPLETE:
            assert trial.value == metrics["val/accuracy"]


@pytest.mark.slow
def test_a_pruned_search_on_two_workers_keeps_its_study_in_postgresql(postgres, tmp_path):  # noqa: F811
    url = postgres.create_database("search")
    first_dir, result = sweep(
        tmp_path, "first", *SEARCH, *TWO_WORKERS, f"hydra.sweeper.storage={url}",
        "hydra.sweeper.n_trials=4",
    )  # fmt: skip
    ok(result)
    said = result.stdout + result.stderr
    assert f"study mnist-exp in {url}: 0 finished trials found, 4 to go" in said
    trials = stored_trials(url)
    agree(trials, first_dir)
    assert len(trials) == 4 and {t.state for t in trials} <= set(STATES.values())
    # the jobs on both workers reported every epoch they trained to their trials
    for trial in trials:
        epochs = metrics_of(first_dir / str(trial.number))["epochs"]
        assert sorted(trial.intermediate_values) == list(range(1, epochs + 1))

    # the same storage, n_trials=6: two new trials, in this sweep's directory alone
    again_dir, result = sweep(
        tmp_path, "again", *SEARCH, f"hydra.sweeper.storage={url}", "hydra.sweeper.n_trials=6"
    )
    ok(result)
    assert "4 finished trials found, 2 to go" in result.stdout + result.stderr
    assert list(read_summary(again_dir)["job"]) == [0, 1]
    trials = stored_trials(url)
    assert len(trials) == 6 and [t.user_attrs["jobs"] for t in trials[4:]] == [[0], [1]]
    agree(trials[:4], first_dir)
    agree(trials[4:], again_dir)


@pytest.mark.parametrize(
    ("scheme", "blocked", "words"),
    [
        ("postgresql", "psycopg", ["needs the psycopg package", database.POSTGRES_INSTALL]),
        ("postgresql+pg8000", None, ["needs the pg8000 package", "pip install pg8000"]),
    ],
)
def test_a_storage_whose_driver_is_missing_is_refused_in_one_line(
    tmp_path, monkeypatch, scheme, blocked, words
):
    if blocked:
        monkeypatch.setitem(sys.modules, blocked, None)  # `import psycopg` fails
    elif importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here")
    url = f"{scheme}://mnist:s3cret@127.0.0.1:{free_ports(1)[0]}/studies"
    sweep_dir, result = sweep(
        tmp_path, "refused", *SEARCH, f"hydra.sweeper.storage={url}", runner=run_in_process
    )
    refused_in_one_line(result, sweep_dir, *words, "mnist:***@")
    assert "s3cret" not in result.stdout + result.stderr


def test_a_storage_that_refuses_the_connection_is_refused_in_one_line(tmp_path):
    address = f"127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    url = f"postgresql+psycopg://mnist:s3cret@{address}/studies"
    sweep_dir, result = sweep(
        tmp_path, "refused", *SEARCH, f"hydra.sweeper.storage={url}", runner=run_in_process
    )
    refused_in_one_line(
        result, sweep_dir, f"the database at {address} cannot be reached: Connection refused"
    )
    assert "s3cret" not in result.stdout + result.stderr


def test_a_database_that_does_not_exist_is_refused_in_one_line(postgres, tmp_path):  # noqa: F811
    url = postgres.url("no_such_database")
    sweep_dir, result = sweep(
        tmp_path, "refused", *SEARCH, f"hydra.sweeper.storage={url}", runner=run_in_process
    )
    refused_in_one_line(
        result, sweep_dir, f"the database at {postgres.address} cannot be reached",
        'database "no_such_database" does not exist',
    )  # fmt: skip


def test_a_job_whose_study_refuses_the_connection_fails_in_one_line(monkeypatch):
    address = f"127.0.0.1:{free_ports(1)[0]}"
    monkeypatch.setenv(study.TRIAL_ENV, "1-1")
    storage = f"postgresql+psycopg://mnist:s3cret@{address}/studies"
    hydra_cfg = OmegaConf.create({"sweeper": {"storage": storage}, "sweep": {"dir": "."}})
    with pytest.raises(ConfigError) as refused:
        study.job_trial(hydra_cfg)
    message = str(refused.value)
    assert message.startswith(f"{study.TRIAL_ENV}=1-1: the trial's study cannot be read (")
    assert f"the database at {address} cannot be reached: Connection refused" in message
    assert "\n" not in message and "s3cret" not in message


def test_a_url_is_shown_without_its_password():
    shown = database.shown("postgresql+psycopg://mnist:s3cret@db.example:5433/studies")
    assert shown == "postgresql+psycopg://mnist:***@db.example:5433/studies"
    assert database.where("postgresql://mnist:s3cret@db.example:5433/studies") == (
        "db.example:5433"
    )
    assert database.where("postgresql://db.example/studies") == "db.example"


def test_a_job_whose_study_stops_answering_trains_on_without_pruning(tmp_path, caplog):
    """Its report after epoch 1 reaches the study; the database then stops, and the
    reports of epochs 2 and 3 fail: the run goes on to its last epoch, and says so once."""
    import keras
    import numpy as np

    from mnist_exp.training.callbacks.pruning import ReportToTrial

    with running_server() as server:
        url = server.create_database("reports")
        study = optuna.create_study(storage=url, study_name="s", direction="maximize")
        trial = study.ask()
        stop = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: server.stop() if epoch == 0 else None
        )
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
        with caplog.at_level(logging.WARNING, logger="mnist_exp"):
            history = model.fit(
                x, y, validation_data=(x, y), epochs=3, verbose=0,
                callbacks=[ReportToTrial(trial, "val/accuracy"), stop],
            )  # fmt: skip
        assert len(history.history["loss"]) == 3 and not model.stop_training
        said = [r.getMessage() for r in caplog.records if r.name.endswith("pruning")]
        assert len(said) == 1 and "epoch 2: the trial's study cannot be reached" in said[0]
        server.start()
        stored = optuna.load_study(study_name="s", storage=url).trials[0]
        assert list(stored.intermediate_values) == [1]


def wait_for(what, process: subprocess.Popen, timeout: float = 300):
    """what()'s first true value, asked every 0.05 s while `process` runs."""
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"still waiting after {timeout} s: {what.__doc__}"
        time.sleep(0.05)
    return found


@pytest.mark.slow
def test_a_database_stopped_mid_sweep_ends_it_in_one_line_and_resume_continues(tmp_path):
    """The server stops while both jobs of the first batch train (each past its first
    epoch, with many to go), so the sweeper is waiting for them: they train to the end
    without their reports, and the sweep ends when it tells the study."""
    long = [arg for arg in SEARCH if not arg.startswith("training.epochs=")]
    long.append(f"training.epochs={LONG}")
    with running_server() as server:
        url = server.create_database("stopped")
        sweep_dir, out = tmp_path / "sweep", tmp_path / "out.txt"
        process = subprocess.Popen(
            [
                sys.executable, "-m", "mnist_exp", "-m", *SMALL, *long, *TWO_WORKERS,
                f"hydra.sweeper.storage={url}", "hydra.sweeper.n_trials=2",
                f"hydra.sweep.dir={sweep_dir}",
            ],
            cwd=tmp_path, env=cli_env(tmp_path), stdout=out.open("w"), stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:

            def both_training():
                """jobs 0 and 1 past their first epoch"""
                return all(checkpointed_epoch(sweep_dir / str(num)) >= 1 for num in (0, 1))

            wait_for(both_training, process)
            server.stop()
            _, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        stdout = out.read_text()
        assert process.returncode == 1, stdout[-3000:] + stderr[-3000:]
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, stderr[-3000:]
        # the driver's words depend on how the connection was lost
        before, _, after = errors[0].partition(" stopped answering (")
        assert before == f"error: the study's storage at {server.address}"
        assert after.endswith(
            f"); the finished jobs' results are in {sweep_dir}, and resume={sweep_dir} "
            "continues the sweep when the database is back"
        )
        assert "Traceback" not in stdout + stderr
        # each job trained to its last epoch, its reports failing, and kept its results;
        # the summary lists them
        for num in (0, 1):
            metrics = metrics_of(sweep_dir / str(num))
            assert (metrics["status"], metrics["epochs"]) == ("completed", LONG)
            assert (sweep_dir / str(num) / "model.keras").is_file()
            log = (sweep_dir / str(num) / "mnist-exp.log").read_text()
            assert log.count("the trial's study cannot be reached") == 1  # said once
        assert list(read_summary(sweep_dir)["job"]) == [0, 1]
        kept = [(sweep_dir / str(num) / "metrics.json").read_bytes() for num in (0, 1)]

        # while it is down, resume= is refused in one line and leaves the sweep as it was
        summary = (sweep_dir / "summary.csv").read_bytes()
        result = run_in_process(tmp_path, f"resume={sweep_dir}")
        assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"the database at {server.address} cannot be reached" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "summary" not in result.stdout
        assert (sweep_dir / "summary.csv").read_bytes() == summary

        # back: resume= tells the study what the jobs found, without running them again
        server.start()
        result = run_cli(tmp_path, f"resume={sweep_dir}")
        ok(result)
        assert "retrying the 2 trials that were running" in result.stdout + result.stderr
        trials = stored_trials(url)
        agree(trials, sweep_dir)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
        assert [(sweep_dir / str(num) / "metrics.json").read_bytes() for num in (0, 1)] == kept
