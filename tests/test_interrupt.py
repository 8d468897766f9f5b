"""Interruption, resume, divergence and determinism, on real training subprocesses."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import checkpointed_epoch, run_cli, run_in_process, start_and_signal

# Small batches make each epoch last long enough (~1 s) to be interrupted inside.
ARGS = ["+experiment=smoke", "training.epochs=4", "training.batch_size=16"]
HISTORY_VALUES = ["train/loss", "train/accuracy", "val/loss", "val/accuracy"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same run, never interrupted."""
    tmp = tmp_path_factory.mktemp("reference")
    result = run_cli(tmp, *ARGS, "training.progress=false")
    assert result.returncode == 0, result.stderr
    return tmp / "run"


def assert_no_partial_files(run_dir: Path) -> None:
    hidden = [p.name for p in run_dir.rglob(".*") if p.is_file()]
    assert hidden == [], f"temporary files left: {hidden}"


def assert_resumes_to_reference(tmp_path: Path, run_dir: Path, reference: Path) -> None:
    result = run_cli(tmp_path, f"resume={run_dir}", "training.progress=false")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["epochs"] == 4
    assert metrics["resumed_after_epoch"] >= 1
    assert abs(metrics["test/accuracy"] - expected["test/accuracy"]) <= 0.002
    history = pd.read_csv(run_dir / "history.csv")
    pd.testing.assert_frame_equal(
        history[["epoch", *HISTORY_VALUES]],
        pd.read_csv(reference / "history.csv")[["epoch", *HISTORY_VALUES]],
        atol=1e-6,
    )
    assert not (run_dir / "checkpoints").exists(), "a completed run needs no checkpoint"
    # The run's own config is kept, not rewritten by the resuming command.
    overrides = (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "resume=" not in overrides and "training.epochs=4" in overrides


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_and_resume_finishes_the_run(tmp_path, reference, sig, code):
    run_dir, exit_code = start_and_signal(tmp_path, ARGS, sig)
    assert exit_code == code
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["reason"] == sig.name
    assert "resume=" in metrics["message"]
    epoch = checkpointed_epoch(run_dir)
    assert 1 <= epoch < 4
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, epoch + 1)), "only completed epochs"
    assert (run_dir / "checkpoints" / f"epoch-{epoch}.keras").is_file()
    assert not (run_dir / "model.keras").exists()
    assert_no_partial_files(run_dir)
    assert_resumes_to_reference(tmp_path, run_dir, reference)


@pytest.mark.slow
def test_kill_9_leaves_the_last_checkpoint_and_resume_finishes(tmp_path, reference):
    run_dir, exit_code = start_and_signal(tmp_path, ARGS, signal.SIGKILL)
    assert exit_code == -signal.SIGKILL
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"
    epoch = checkpointed_epoch(run_dir)
    assert epoch >= 1
    assert (run_dir / "checkpoints" / f"epoch-{epoch}.keras").is_file()
    assert_resumes_to_reference(tmp_path, run_dir, reference)


@pytest.mark.slow
def test_seeded_runs_have_identical_histories(tmp_path, reference):
    result = run_cli(tmp_path, *ARGS, "training.progress=false")
    assert result.returncode == 0, result.stderr
    first = pd.read_csv(reference / "history.csv")
    second = pd.read_csv(tmp_path / "run" / "history.csv")
    pd.testing.assert_frame_equal(first[HISTORY_VALUES], second[HISTORY_VALUES], atol=1e-6)
    a = json.loads((reference / "metrics.json").read_text())
    b = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("seed", "config_sha256", "versions", "test/correct"):
        assert a[key] == b[key]
    assert a["data"]["sha256"] == b["data"]["sha256"]
    assert len(a["config_sha256"]) == 64 and a["versions"]["tensorflow"]


@pytest.mark.slow
def test_another_seed_gives_another_history(tmp_path, reference):
    result = run_cli(tmp_path, *ARGS, "training.seed=7", "training.progress=false")
    assert result.returncode == 0, result.stderr
    first = pd.read_csv(reference / "history.csv")
    other = pd.read_csv(tmp_path / "run" / "history.csv")
    assert not first["train/loss"].equals(other["train/loss"])


def test_diverging_run_fails_with_nan_loss_and_keeps_its_history(tmp_path):
    result = run_in_process(
        tmp_path,
        "+experiment=smoke",
        "optimizer=sgd",
        "optimizer.learning_rate=1e30",  # overflows the weights within a few steps
        "training.epochs=3",
        "training.progress=false",
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NaN" in lines[0] and "learning_rate" in lines[0]
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["reason"] == "nan_loss"
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 1, "stopped in the first epoch, not after all three"
    assert history["train/loss"].isna().all()
    assert not (run_dir / "model.keras").exists()
