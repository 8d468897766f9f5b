"""Shared fixtures: one smoke run, the full MNIST file when it is present, and configs
composed as the CLI composes them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import hydra
import pytest

from mnist_exp.adapters.hydra import VERSION_BASE
from mnist_exp.app.store import register
from mnist_exp.config.schema import Config
from mnist_exp.config.settings import to_settings
from tests.helpers import SHARED_MNIST, run_in_process


@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory):
    """mnist-exp's cache (compiled XLA steps) in a folder of the test session, for the
    runs the tests start: not the user's ~/.cache/mnist-exp."""
    folder = tmp_path_factory.mktemp("mnist-exp-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_EXP_CACHE", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def environment_as_before():
    """The process environment after each test as it was before: what code run in-process
    sets (Ray's launcher sets its token's path) reaches no later test's subprocesses."""
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One `+experiment=smoke` run, in this process, shared by the tests that read its run
    directory and output."""
    tmp = tmp_path_factory.mktemp("smoke")
    result = run_in_process(tmp, "+experiment=smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "run", result


@pytest.fixture
def shared_mnist() -> Path:
    if not SHARED_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(scope="module")
def compose():
    """compose(*overrides) -> the composed DictConfig, as the CLI would see it."""
    register()
    with hydra.initialize_config_module(config_module="mnist_exp.conf", **VERSION_BASE):
        cache: dict[tuple[str, ...], object] = {}

        def _compose(*overrides: str):
            # Hydra takes ~0.2 s a compose; the tests only read what it returns.
            if overrides not in cache:
                cache[overrides] = hydra.compose(config_name="config", overrides=list(overrides))
            return cache[overrides]

        yield _compose


@pytest.fixture(scope="module")
def settings(compose):
    """settings(*overrides) -> the Config dataclass that to_settings makes."""

    def _settings(*overrides: str) -> Config:
        return to_settings(compose(*overrides))

    return _settings
