"""How the commands start and end: Keras imported on a thread without its extras,
TensorFlow's load-time log lines filtered, a closed pipe ending quietly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from mnist_exp.app import startup
from tests.helpers import run_cli


def test_importing_on_a_thread_leaves_other_threads_their_modules():
    # The background import refuses Keras' optional extras to itself only: the main
    # thread, loading data meanwhile, may still import any of them.
    import threading

    refuse = startup._Refuse(["json"])
    sys.meta_path.insert(0, refuse)
    try:
        with pytest.raises(ModuleNotFoundError):
            refuse.find_spec("json.decoder")
        seen = []
        other = threading.Thread(target=lambda: seen.append(refuse.find_spec("json.decoder")))
        other.start()
        other.join()
        assert seen == [None]  # not refused: Python's own finders go on to find it
    finally:
        sys.meta_path.remove(refuse)


def test_keras_is_imported_without_its_extras_and_with_the_collector_back_on():
    # In a fresh process: the extras stay unloaded (the time they cost is the point),
    # later imports of them work, and the garbage collector runs again, with what
    # the import made frozen out of its collections.
    import sys

    script = (
        "import gc, json, sys\n"
        "from mnist_exp.app import startup\n"
        "startup.import_keras()\n"
        "loaded = [name for name in startup.KERAS_EXTRAS if name in sys.modules]\n"
        "import scipy.sparse, sklearn.model_selection\n"
        "print(json.dumps({'loaded': loaded, 'gc': gc.isenabled(),"
        " 'frozen': gc.get_freeze_count()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["loaded"] == []
    assert state["gc"] is True
    assert state["frozen"] > 100_000  # TensorFlow's and Keras' modules, classes, functions


@pytest.mark.parametrize(
    ("line", "dropped"),
    [
        (b"WARNING: All log messages before absl::InitializeLog() is called are written", True),
        (b"I0000 00:00:1796158519.325180    2996 port.cc:153] oneDNN custom operations", True),
        (b"W0000 00:00:1796158519.3 12 cpu_feature_guard.cc:12] a warning below ERROR\n", True),
        (b"E0000 00:00:1796158519.3 12 x.cc:1] an error: level 3 hides it too\n", True),
        (b"F0000 00:00:1796158519.3 12 x.cc:1] fatal: always shown\n", False),
        (b"error: validation.size=4000.0 leaves 0 of 4000 examples\n", False),
        (b"I am a line of the run's own\n", False),
    ],
)  # fmt: skip
def test_tensorflow_notices_below_the_log_level_are_dropped(monkeypatch, line, dropped):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    logs = startup.NativeLogFilter()
    logs.min_level = 3
    assert logs.drops(line) is dropped


QUIET_IMPORT = """
import sys
from mnist_exp.app import startup
startup.quiet_environment()
startup.start_keras_import()
print("the run's own line, while TensorFlow loads", file=sys.stderr, flush=True)
startup.import_keras()
import tensorflow as tf
tf.constant(1.0) + 1.0  # TensorFlow's runtime starts
print("after the import", file=sys.stderr)
startup.exit_without_teardown(0)
"""


def test_importing_tensorflow_prints_nothing_but_the_runs_own_lines():
    result = subprocess.run(
        [sys.executable, "-c", QUIET_IMPORT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.splitlines() == [
        "the run's own line, while TensorFlow loads",
        "after the import",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["mnist_exp", "--help"],
        ["mnist_exp.app.report", "--help"],
        ["mnist_exp.app.predict", "--help"],
    ],
)
def test_a_reader_that_closed_the_pipe_ends_the_command_quietly(tmp_path, command):
    # `mnist-exp --help | head -1`, with the pipe closed before anything is written.
    read, write = os.pipe()
    os.close(read)
    process = subprocess.Popen(
        [sys.executable, "-m", *command], stdout=write, stderr=subprocess.PIPE, cwd=tmp_path
    )
    os.close(write)
    _, stderr = process.communicate(timeout=120)
    assert stderr.decode() == ""
    # argparse's --help drops what it cannot write and ends as usual (0)
    assert process.returncode in (0, startup.EXIT_BROKEN_PIPE)


def test_a_run_and_a_sweep_print_no_warning_of_python_s(tmp_path):
    """Nothing of ours or about us warns (Hydra 1.4's and OmegaConf 2.4's deprecations
    among them): a warning line is a user's question."""
    sweep = ["optimizer=adam,sgd", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    for flags, extra in (([], []), (["-m"], sweep)):
        result = run_cli(tmp_path, *flags, "+experiment=smoke", "training.progress=false", *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        warned = [line for line in result.stderr.splitlines() if re.search(r"\w+Warning\b", line)]
        assert warned == [], result.stderr[-3000:]
