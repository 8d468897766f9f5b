"""How the commands start and end: a quiet environment, Keras imported on a thread
while the data load, and an exit that skips TensorFlow's teardown.

TensorFlow is imported only once a run really starts, so `--help`, `--cfg job` and
config errors answer at once (benchmarks/README.md times each part).
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from mnist_exp.adapters.python import run_exit_hooks

DEFAULT_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logs: noise to a user
    "MPLBACKEND": "Agg",  # plots are files; no display needed
}
EXIT_BROKEN_PIPE = 128 + 13  # as a Unix tool killed by SIGPIPE reports it


def quiet_environment() -> None:
    """Defaults the user has not set, before TensorFlow or matplotlib read them."""
    for name, value in DEFAULT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def run_command(main: Callable[[], int | None]) -> NoReturn:
    """Run a command's main and exit with its code; a reader that closed the pipe
    (`mnist-exp --help | head`) ends it quietly, as it ends a Unix tool."""
    quiet_environment()
    try:
        code = main()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except SystemExit as exc:
        code = exc.code
    if code == EXIT_BROKEN_PIPE or _stdout_closed():
        # Python flushes stdout once more at exit: into /dev/null, not the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    exit_without_teardown(code)


def _stdout_closed() -> bool:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        pass
    return False


class NativeLogFilter:
    """TensorFlow's C++ libraries log through absl, which writes to stderr until it is
    initialised, whatever TF_CPP_MIN_LOG_LEVEL says (tensorflow#79029): a warning about
    absl itself and a notice that oneDNN is on, in every run. While the libraries load,
    file descriptor 2 is a pipe: absl's lines below TF_CPP_MIN_LOG_LEVEL are dropped,
    every other line (the run's own errors included) is passed on as it comes."""

    ABSL_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+ +\d+ [^\]]+\] ")
    ABSL_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called"
    LEVELS = b"IWEF"  # TF_CPP_MIN_LOG_LEVEL 0-3: the first level shown

    def __init__(self) -> None:
        self.min_level = 0
        self._lock = threading.Lock()
        self._saved: int | None = None
        self._pump: threading.Thread | None = None

    def drops(self, line: bytes) -> bool:
        if line.startswith(self.ABSL_NOTICE):
            return self.min_level >= 1
        found = self.ABSL_LINE.match(line)
        return found is not None and self.LEVELS.index(found.group(1)) < self.min_level

    def start(self) -> None:
        try:
            self.min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
        except ValueError:
            self.min_level = 0
        with self._lock:
            if self._saved is not None or self.min_level <= 0:
                return
            sys.stderr.flush()
            self._saved = os.dup(2)
            read, write = os.pipe()
            os.dup2(write, 2)
            os.close(write)
            out = os.dup(self._saved)
            self._pump = threading.Thread(target=self._forward, args=(read, out), daemon=True)
            self._pump.start()

    def stop(self) -> None:
        """Give fd 2 back and pass on what is still in the pipe."""
        with self._lock:
            if self._saved is None:
                return
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump sees EOF
            os.close(self._saved)
            self._saved = None
        if self._pump is not None:
            self._pump.join(timeout=5)

    def _forward(self, read: int, out: int) -> None:
        with os.fdopen(read, "rb", buffering=0) as pipe, os.fdopen(out, "wb", buffering=0) as err:
            for line in iter(pipe.readline, b""):
                if not self.drops(line):
                    err.write(line)


_native_logs = NativeLogFilter()

# Optional extras Keras and TensorFlow import when they are installed (each import is
# guarded): scikit-learn for Keras' sklearn wrappers, pyplot for an image gallery,
# SciPy's sparse matrices for TensorFlow's legacy tf.keras. mnist-exp uses none of them
# through Keras: it splits with NumPy, draws with matplotlib's Figure (no pyplot), and
# Keras imports SciPy lazily where it needs it.
KERAS_EXTRAS = ("sklearn", "matplotlib.pyplot", "scipy")


class _Refuse:
    """An import finder that reports the named modules as not installed, to the
    thread that installed it only: other threads import them as usual."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() != self.thread:
            return None
        if any(name == n or name.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


_importing: threading.Thread | None = None


def start_keras_import() -> None:
    """Begin importing Keras and TensorFlow on a background thread.

    Called once a run's config is valid, so that the import overlaps loading and
    splitting the data; import_keras() waits for it. Its failures are left for
    import_keras() to raise again, on the main thread.
    """
    global _importing
    if "keras" in sys.modules or _importing is not None:
        return
    _importing = threading.Thread(target=_import_quietly, name="import-keras", daemon=True)
    _importing.start()


def _import_quietly() -> None:
    try:
        import_keras()
    except BaseException:  # noqa: BLE001 - import_keras() on the main thread reports it
        pass


def import_keras() -> None:
    """Import Keras (and TensorFlow) without the extras it would load but mnist-exp
    never uses through it; later imports of those modules work as usual.

    The import creates hundreds of thousands of objects, nearly all kept for the life
    of the process: Python's cyclic garbage collector is paused while they come, and
    they are then frozen out of later collections (gc.freeze).
    """
    if _importing is not None and _importing is not threading.current_thread():
        _importing.join()
    if "keras" in sys.modules:
        return
    refuse = _Refuse([name for name in KERAS_EXTRAS if name not in sys.modules])
    sys.meta_path.insert(0, refuse)
    collecting = gc.isenabled()
    gc.disable()
    _native_logs.start()
    try:
        import keras  # noqa: F401
    finally:
        _native_logs.stop()
        sys.meta_path.remove(refuse)
        if collecting:
            gc.freeze()
            gc.enable()


def exit_without_teardown(code: int | str | None = 0) -> NoReturn:
    """End the process with `code`, as sys.exit would, once its work is written.

    Python's exit hooks run as usual (logging's flush, a sweep's summary, trackers);
    what is skipped, where TensorFlow is loaded (or loading), is the interpreter's
    final teardown: TensorFlow's C++ runtime takes seconds to unload and writes
    nothing a run needs, and a half-finished import cannot be torn down.
    Without TensorFlow (--help, --cfg job, config errors) it is sys.exit.
    """
    if "tensorflow" not in sys.modules and _importing is None:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    run_exit_hooks()
    _native_logs.stop()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
