"""Helpers to run the CLI as a user would, offline, with outputs in tmp."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
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
        no_proxy="127.0.0.1,localhost",  # the tests' own servers (MLflow) on loopback
        NO_PROXY="127.0.0.1,localhost",
        COLUMNS="160",
    )
    return env


def cli_args(tmp_path: Path, overrides: tuple[str, ...]) -> list[str]:
    """OVERRIDES, with hydra.run.dir=tmp_path/run where they name no directory."""
    args = list(overrides)
    if not any(o.startswith(("hydra.run.dir=", "resume=", "-m", "--")) for o in overrides):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    return args


def run_cli(tmp_path: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`mnist-exp OVERRIDES hydra.run.dir=tmp_path/run` in a subprocess: for what only a
    process shows (exit codes of signals, stderr as a whole, start-up, packaging)."""
    return run_python(tmp_path, ["-m", "mnist_exp", *cli_args(tmp_path, overrides)], timeout)


def run_python(
    tmp_path: Path, args: list[str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """`python ARGS` in tmp_path, in run_cli's environment."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_in_process(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    """`mnist-exp OVERRIDES`, as run_cli runs it (same directory, environment and cwd),
    in this process: Hydra composes, writes .hydra/ and the run directory as the
    command does; returncode, stdout and stderr are the command's. What a run leaves
    in the process (environment, cwd, logging, Hydra's and Keras' globals, the traced
    steps kept for a next job, op determinism) is put back, so tests run in any order."""
    from absl import logging as absl_logging
    from hydra.core.global_hydra import GlobalHydra

    from mnist_exp.app import cli

    # Hydra's logging set-up closes every live handler; absl's (TensorFlow's) closes its
    # stream then, unless it is sys.stderr: during the run it is.
    absl_handler = absl_logging.get_absl_handler().python_handler
    absl_stream = absl_handler.stream

    environment, cwd, argv = dict(os.environ), Path.cwd(), sys.argv
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    composing = GlobalHydra.instance().hydra  # a test's own compose, kept for it
    GlobalHydra.instance().clear()
    fresh_keras_state()
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(cli_env(tmp_path))
    os.chdir(tmp_path)
    args = cli_args(tmp_path, overrides)
    sys.argv = ["mnist-exp", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            absl_handler.setStream(err)
            with own_exit_hooks() as exit_hooks:
                try:
                    code = cli._main()
                except SystemExit as exc:
                    code = exc.code
                for hook in reversed(exit_hooks):  # as the process's exit would run them
                    hook()
            if isinstance(code, str):  # as Python prints sys.exit("message")
                print(code, file=sys.stderr)
                code = 1
    finally:
        absl_handler.setStream(absl_stream)
        sys.argv = argv
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environment)
        for handler in set(root.handlers) - set(handlers):
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        GlobalHydra.instance().hydra = composing
        fresh_keras_state()
    return subprocess.CompletedProcess(args, code or 0, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def own_exit_hooks():
    """The exit hooks that mnist-exp's own modules register (a sweep's summary, the XLA
    cache's publishing) collected, for run_in_process to run when the command ends;
    other libraries' hooks stay with this process."""
    register, hooks = atexit.register, []

    def collect(function, *args, **kwargs):
        if not (getattr(function, "__module__", None) or "").startswith("mnist_exp."):
            return register(function, *args, **kwargs)
        hooks.append(functools.partial(function, *args, **kwargs))
        return function

    atexit.register = collect
    try:
        yield hooks
    finally:
        atexit.register = register


def fresh_keras_state() -> None:
    """Keras and TensorFlow as a new process has them, where a run changed them: layer
    names, no steps kept for a next job."""
    if "keras" not in sys.modules:
        return
    import keras

    from mnist_exp.training import reuse

    reuse.forget()
    keras.backend.clear_session()


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


class Page(HTMLParser):
    """What a test reads of an HTML page: element ids, links (every href and src),
    scripts by id, svg elements, and the body rows of each table by the table's id
    (each row: its data-row attribute and its cells' text)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.scripts: dict[str, str] = {}
        self.rows: dict[str, list[tuple[str | None, list[str]]]] = {}
        self.svgs = 0
        self._table = self._script = self._cells = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.links += [attrs[k] for k in ("href", "src") if attrs.get(k)]
        self.svgs += tag == "svg"
        if tag == "table":
            self._table = attrs.get("id")
            self.rows[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._cells = []
            self.rows[self._table].append((attrs.get("data-row"), self._cells))
        elif tag == "td" and self._cells is not None:
            self._cells.append("")
        elif tag == "script":
            self._script = attrs.get("id", "")
            self.scripts[self._script] = ""

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "tr":
            self._cells = None
        elif tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] += data
        elif self._cells:
            self._cells[-1] += data


def chromium() -> str | None:
    """Debian's chromium (or another Chrome) on PATH, for the browser test."""
    import shutil

    return next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )


def headless(browser: str, profile: Path, *args: str, timeout: float = 120):
    """Run the browser headless (no sandbox: CI runs as root), its console on stderr."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += ["--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
