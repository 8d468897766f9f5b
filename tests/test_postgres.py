"""Optuna studies kept in PostgreSQL (tests/postgres_server.py starts this machine's
server): a storage that cannot be used (its driver missing, a connection refused, a
database that does not exist) refused in one line before any job."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mnist_exp.sweeps import database
from tests.helpers import run_in_process
from tests.postgres_server import postgres  # noqa: F401 (the fixture)
from tests.slurm_cluster import free_ports
from tests.test_sweeps import sweep

SEARCH = [
    "+hparams_search=optuna",
    "model.units=choice(16,32)",
    "training.epochs=2",
    "hydra/sweeper/optuna_pruner=median",
    "hydra.sweeper.pruner.n_startup_trials=2",
]


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


def test_a_url_is_shown_without_its_password():
    shown = database.shown("postgresql+psycopg://mnist:s3cret@db.example:5433/studies")
    assert shown == "postgresql+psycopg://mnist:***@db.example:5433/studies"
    assert database.where("postgresql://mnist:s3cret@db.example:5433/studies") == (
        "db.example:5433"
    )
    assert database.where("postgresql://db.example/studies") == "db.example"
