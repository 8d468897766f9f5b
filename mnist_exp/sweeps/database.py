"""A study kept in a database (hydra.sweeper.storage=postgresql+psycopg://USER@HOST/DB,
sqlite:///PATH.db, ...): its URL as it may be shown (never a password), the database
reached before any trial (a missing driver or a server that refuses: one line), and
the database lost during a sweep, said in one line too."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from mnist_exp.adapters.optuna import storage_failure
from mnist_exp.errors import ConfigError, MissingPackageError, StorageLost, first_line

POSTGRES_DRIVER = "psycopg"  # SQLAlchemy 2's driver for a plain postgresql:// URL
POSTGRES_INSTALL = "pip install 'mnist-exp[postgres]'"


def shown(url: str) -> str:
    """The URL with its password masked, as SQLAlchemy renders it for logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not SQLAlchemy's form: mask what looks like user:password@
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def where(url: str) -> str:
    """Where the database is: HOST:PORT (HOST alone for the driver's default port), or
    the file of a SQLite one."""
    from sqlalchemy.engine import make_url

    found = make_url(url)
    if not found.host:
        return found.database or shown(url)
    return f"{found.host}:{found.port}" if found.port else found.host


def connect(url: str):
    """Optuna's storage on the database `url` names, connected (its tables made on first
    use): a ConfigError in one line, before any trial, where it cannot be."""
    import optuna

    try:
        return optuna.storages.get_storage(url)
    except ImportError as exc:
        raise missing_driver(url, exc) from exc
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise ConfigError(f"hydra.sweeper.storage={shown(url)}: {first_line(exc)}") from exc
        raise ConfigError(
            f"hydra.sweeper.storage={shown(url)}: the database at {where(url)} cannot be "
            f"reached: {reason(failure)}"
        ) from exc


def missing_driver(url: str, exc: ImportError) -> MissingPackageError:
    """The line for a storage URL whose database driver is not installed."""
    from sqlalchemy.engine import make_url

    cause = exc
    while cause is not None and not isinstance(cause, ModuleNotFoundError):
        cause = cause.__cause__ or cause.__context__
    module = (cause.name if cause is not None else None) or "its driver"
    backend = make_url(url).get_backend_name()
    if module.split(".")[0] == POSTGRES_DRIVER:
        how = f"{POSTGRES_INSTALL} (or pip install 'psycopg[binary]')"
    elif backend == "postgresql":
        how = f"pip install {module}, or use postgresql+psycopg:// after {POSTGRES_INSTALL}"
    else:
        how = f"install SQLAlchemy's {backend} driver {module}"
    return MissingPackageError(
        f"hydra.sweeper.storage={shown(url)} needs the {module} package, which is not "
        f"installed: {how}"
    )


def reason(failure: BaseException) -> str:
    """The driver's own words, without libpq's "connection to server at ... failed:"."""
    line = first_line(failure)
    line = re.sub(r"^.*\bfailed: ", "", line)
    return re.sub(r"^(FATAL|ERROR):\s+", "", line)


@contextlib.contextmanager
def kept_in(url: str, sweep_dir: Path) -> Iterator[None]:
    """The part of a sweep that talks to its study: the database lost there ends the
    sweep with StorageLost's one line (the jobs that finished keep their results)."""
    try:
        yield
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise
        raise StorageLost(
            f"the study's storage at {where(url)} stopped answering ({reason(failure)}); "
            f"the finished jobs' results are in {sweep_dir}, and resume={sweep_dir} "
            "continues the sweep when the database is back"
        ) from exc
