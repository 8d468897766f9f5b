"""Helpers to run the CLI as a user would, offline, with outputs in tmp."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = Path(os.environ.get("MNIST_NPZ", ROOT.parent / "shared" / "data" / "mnist.npz"))


def class_names(data: str) -> list[str]:
    """The class names a data option's YAML (conf/data/DATA.yaml) gives its labels."""
    import yaml

    return yaml.safe_load((ROOT / "conf" / "data" / f"{data}.yaml").read_text())["class_names"]


def run_dataset(run_dir: Path):
    """The data a run trained on, split as it was: read again from its .hydra/config.yaml."""
    import yaml

    from mnist_exp.config.schema import DataConfig, ValidationConfig
    from mnist_exp.data.dataset import load

    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    return load(
        DataConfig(**config["data"]),
        ValidationConfig(**config["validation"]),
        config["training"]["seed"],
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment that cannot reach the internet and keeps caches in tmp."""
    env = dict(os.environ)
    env.update(
        KERAS_HOME=str(tmp_path / "keras_home"),  # empty cache: no stray downloads reused
        https_proxy="http://127.0.0.1:9",  # a closed local port: downloads fail at once
        http_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        COLUMNS="160",
    )
    return env


def run_cli(tmp_path: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`mnist-exp OVERRIDES hydra.run.dir=tmp_path/run` in a subprocess."""
    args = [sys.executable, "-m", "mnist_exp", *overrides]
    if not any(o.startswith(("hydra.run.dir=", "resume=", "-m", "--")) for o in overrides):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    return subprocess.run(
        args,
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def checkpointed_epoch(run_dir: Path) -> int:
    """The last completed epoch that run_dir/checkpoints holds (0: none yet)."""
    try:
        return json.loads((run_dir / "checkpoints" / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def start_and_signal(
    tmp_path: Path, overrides: list[str], sig: signal.Signals, after_epoch: int = 1
) -> tuple[Path, int]:
    """Start `mnist-exp OVERRIDES`, send `sig` once epoch `after_epoch` is checkpointed.

    Returns the run directory and the exit code.
    """
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while checkpointed_epoch(run_dir) < after_epoch:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    process.send_signal(sig)
    code = process.wait(timeout=120)
    process.stderr.close()
    return run_dir, code
