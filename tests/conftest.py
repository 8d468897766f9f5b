"""Shared fixtures: one smoke run, and the full MNIST file when it is present."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import SHARED_MNIST, run_cli


@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory):
    """mnist-exp's cache (compiled XLA steps) in a folder of the test session, for the
    runs the tests start: not the user's ~/.cache/mnist-exp."""
    folder = tmp_path_factory.mktemp("mnist-exp-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_EXP_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One `+experiment=smoke` run shared by the tests that read its run directory."""
    tmp = tmp_path_factory.mktemp("smoke")
    result = run_cli(tmp, "+experiment=smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "run", result


@pytest.fixture
def shared_mnist() -> Path:
    if not SHARED_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST
