"""End-to-end: the CLI as a user runs it, and the run directory it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.helpers import cli_env, run_cli, run_in_process

CONTRACT = [
    ".hydra/config.yaml",
    ".hydra/overrides.yaml",
    "metrics.json",
    "history.csv",
    "predictions.csv",
    "model.keras",
    "plots/loss.png",
    "plots/accuracy.png",
    "plots/correct.png",
    "plots/incorrect.png",
    "plots/confusion_matrix.png",
]


def test_smoke_run_writes_every_file_of_the_contract(smoke_run):
    run_dir, _ = smoke_run
    missing = [name for name in CONTRACT if not (run_dir / name).is_file()]
    assert missing == []
    leftovers = [p.name for p in run_dir.rglob(".*.tmp*")] + [
        p.name for p in run_dir.rglob("*") if p.name.startswith((".metrics", ".model", ".history"))
    ]
    assert leftovers == [], "temporary files left behind"
    umask = os.umask(0)
    os.umask(umask)
    for name in CONTRACT:
        mode = (run_dir / name).stat().st_mode & 0o777
        assert mode == 0o666 & ~umask, f"{name} has mode {oct(mode)}"  # not mkstemp's 0600
        if name.endswith(".png"):
            with Image.open(run_dir / name) as image:
                assert image.size[0] > 100 and image.size[1] > 100


def test_smoke_run_files_agree_with_each_other(smoke_run):
    run_dir, _ = smoke_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / ".hydra/config.yaml").read_text())
    history = pd.read_csv(run_dir / "history.csv")
    predictions = pd.read_csv(run_dir / "predictions.csv")

    assert metrics["status"] == "completed"
    assert len(history) == config["training"]["epochs"] == metrics["epochs"]
    assert list(history.columns) == [
        "epoch",
        "train/loss",
        "train/accuracy",
        "val/loss",
        "val/accuracy",
        "lr",
        "seconds",
    ]
    assert len(predictions) == metrics["data"]["test"]
    assert metrics["test/correct"] + metrics["test/incorrect"] == len(predictions)
    correct = int((predictions["label"] == predictions["predicted"]).sum())
    assert correct == metrics["test/correct"]
    assert metrics["test/accuracy"] == pytest.approx(correct / len(predictions))
    assert predictions["confidence"].between(0, 1).all()
    assert sorted(predictions["label"].unique()) == list(range(10))
    best = history["val/accuracy"].idxmax()
    assert metrics["val/accuracy"] == pytest.approx(history["val/accuracy"][best])
    assert metrics["val/best_epoch"] == history["epoch"][best]
    assert metrics["seed"] == config["training"]["seed"]
    assert metrics["params"] == 784 * 512 + 512 + 512 * 10 + 10
    assert metrics["data"]["name"] == "mnist_5k"
    assert metrics["versions"]["keras"].startswith("3.")


def test_saved_model_reloads_and_predicts_what_predictions_csv_says(smoke_run):
    import keras

    run_dir, _ = smoke_run
    from mnist_exp.config.schema import DataConfig, ValidationConfig
    from mnist_exp.data.dataset import load

    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    config = yaml.safe_load((run_dir / ".hydra/config.yaml").read_text())
    data_cfg = DataConfig(**{k: v for k, v in config["data"].items()})
    dataset = load(data_cfg, ValidationConfig(**config["validation"]), config["training"]["seed"])
    predicted = model.predict(dataset.x_test, verbose=0).argmax(axis=1)
    expected = pd.read_csv(run_dir / "predictions.csv")
    np.testing.assert_array_equal(predicted, expected["predicted"].to_numpy())
    np.testing.assert_array_equal(dataset.y_test, expected["label"].to_numpy())


def test_console_shows_epochs_and_summary_table(smoke_run):
    _, result = smoke_run
    assert "epoch 1/1" in result.stdout
    for text in ("test accuracy", "correct / incorrect", "run directory"):
        assert text in result.stdout
    assert "Epoch 1/1" not in result.stdout, "Keras' own progress bar should be off"


def test_sparse_loss_two_hidden_adam_run(tmp_path):
    result = run_in_process(
        tmp_path,
        "+experiment=smoke",
        "model=two_hidden",
        "optimizer=adam",
        "loss=sparse_categorical_crossentropy",
        "save.h5=true",
        "training.epochs=2",
    )
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert metrics["params"] == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert (run_dir / "model.h5").is_file()
    assert len(pd.read_csv(run_dir / "history.csv")) == 2


def test_validation_on_test_set_warns(tmp_path):
    result = run_in_process(
        tmp_path, "+experiment=smoke", "validation=test", "training.progress=false"
    )
    assert result.returncode == 0, result.stderr
    assert "no longer an unbiased estimate" in result.stdout + result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["val"] == metrics["data"]["test"]


def test_failed_download_says_how_to_run_offline_in_one_line(tmp_path):
    result = run_cli(tmp_path, "data=mnist", "training.progress=false")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: could not download mnist")
    assert "data=mnist_5k" in lines[0] and "data.path=" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_config_value_fails_before_training_naming_the_key(tmp_path):
    result = run_cli(tmp_path, "+experiment=smoke", "model.dropout=1.5")
    assert result.returncode != 0
    assert "model.dropout=1.5" in result.stderr
    assert "Traceback" not in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["reason"] == "config_error"
    assert "model.dropout" in metrics["message"]
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--help", "model=cnn", "optimizer=adam", "--resolve"],
        ["--hydra-help"],
        ["--config-dir", "mine", "--help", "model=wide"],
    ],
)
def test_help_prints_what_hydras_own_help_prints(tmp_path, argv):
    # mnist-exp prints --help itself (config/help.py); Hydra's own (its `app` called
    # directly: 10-20 s) is the reference, text for text.
    (tmp_path / "mine" / "model").mkdir(parents=True)
    (tmp_path / "mine" / "model" / "wide.yaml").write_text(
        "defaults:\n  - /schema/model/mlp@_here_\n  - _self_\nname: wide\nunits: [1024]\n"
    )

    def help_by(entry: str) -> subprocess.CompletedProcess:  # app: Hydra's; main: ours
        code = (
            "import sys\n"
            f"from mnist_exp.app.cli import {entry}\n"
            "sys.argv = ['mnist-exp', *sys.argv[1:]]\n"  # $FLAGS_HELP names the program
            f"{entry}()\n"
        )
        run = dict(cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True)
        return subprocess.run([sys.executable, "-c", code, *argv], timeout=120, **run)

    own, ours = help_by("app"), help_by("main")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == own.stdout and own.stdout.count("\n") > 40
    if "model=wide" in argv:
        assert "(chosen: wide)" in ours.stdout and "two_hidden, wide" in ours.stdout


def test_help_and_cfg_job_do_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from mnist_exp.app.cli import main\n"
        "sys.argv = ['mnist-exp', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('TF_IMPORTED' if 'tensorflow' in sys.modules else 'TF_NOT_IMPORTED')\n"
    )
    for flag in (["--help"], ["--cfg", "job"]):
        result = subprocess.run(
            [sys.executable, "-c", code, *flag],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip().endswith("TF_NOT_IMPORTED"), result.stdout + result.stderr
    assert (
        "optimizer: adam, rmsprop, sgd"
        in subprocess.run(
            [sys.executable, "-m", "mnist_exp", "--help"],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
