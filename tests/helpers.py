"""Helpers to run the CLI as a user would, offline, with outputs in tmp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = Path(os.environ.get("MNIST_NPZ", ROOT.parent / "shared" / "data" / "mnist.npz"))


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
