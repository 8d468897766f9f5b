"""The speed options of training.*: how the labels are encoded, steps per call, XLA.

None of them changes the data order or the model's results beyond float rounding;
benchmarks/ measures what each one brings.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from mnist_exp.config import LossConfig, TrainingConfig

log = logging.getLogger(__name__)


def one_hot_labels(loss: LossConfig, training: TrainingConfig) -> bool:
    """One-hot rows only where they are asked for.

    Categorical cross-entropy on one-hot rows is sparse categorical cross-entropy on
    class ids: the same loss, the same gradients, and "accuracy" the same metric.
    With training.sparse_labels the model trains on class ids, without an (n, 10)
    float matrix to gather per batch.
    """
    return loss.one_hot and not training.sparse_labels


# Measured on 784-512-10 (benchmarks/results/, 2 cores): compiling the train step
# costs about 1.1 s (less once training.xla_cache holds it), and XLA's step is about
# 0.45 ms faster than the graph's (2.0 vs 2.5 ms). It pays from about 2,000-2,500
# steps, about the tutorial's 2,345: benchmarks/README.md compares both.
XLA_MIN_STEPS = 2_000


def use_xla(training: TrainingConfig, train_steps: int) -> bool:
    """training.jit_compile, or for null (automatic) whether the run is long enough.

    train_steps counts the whole run's steps, all epochs: a resumed run decides as
    the run it continues did, and so computes with the same kernels."""
    if training.jit_compile is not None:
        return training.jit_compile
    # As Keras' own "auto": no XLA under a tf.distribute strategy (it is not tested here).
    return training.strategy == "default" and train_steps >= XLA_MIN_STEPS


XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"
STALE_SECONDS = 24 * 3600  # a run's private cache folder left by a killed process


def cache_root() -> Path:
    """$MNIST_EXP_CACHE, else $XDG_CACHE_HOME/mnist-exp, else ~/.cache/mnist-exp."""
    if os.environ.get("MNIST_EXP_CACHE"):
        return Path(os.environ["MNIST_EXP_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "mnist-exp"


def use_xla_cache(enabled: bool) -> Path | None:
    """Keep XLA's compiled steps on disk, so that a later run of the same step (model,
    batch size, optimizer, settings) loads it instead of compiling it (0.2-1 s of the
    tutorial's first epoch on 2 cores). Call before TensorFlow is imported: it reads
    TF_XLA_FLAGS once. Returns the folder this process gives TensorFlow, or None.

    TensorFlow's persistent cache writes an entry in place and keys it by the
    computation only. So the shared folder is one per CPU and TensorFlow installation, and
    TensorFlow gets a private folder of links to the shared entries: what it compiles
    is moved into the shared folder whole (an atomic rename) when the process exits,
    and a sweep job never reads another's half-written entry.
    """
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if not enabled or "tensorflow" in sys.modules or XLA_CACHE_FLAG in flags:
        return None
    try:
        shared = cache_root() / "xla" / _machine_key()
        shared.mkdir(parents=True, exist_ok=True)
        _remove_stale(shared)
        own = Path(tempfile.mkdtemp(prefix=".run-", dir=shared))
        for entry in shared.glob("*.pb"):
            try:
                os.link(entry, own / entry.name)
            except OSError:  # a file system without hard links
                shutil.copyfile(entry, own / entry.name)
    except OSError as exc:
        log.warning("no XLA cache: %s (%s)", exc.strerror or exc, exc.filename or cache_root())
        return None
    if any(c.isspace() for c in str(own)):  # TF_XLA_FLAGS is split on white space
        log.warning("no XLA cache: its folder %s has a space in its path", own)
        shutil.rmtree(own, ignore_errors=True)
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} {XLA_CACHE_FLAG}={own}".strip()
    atexit.register(_publish, own, shared)
    return own


def _publish(own: Path, shared: Path) -> None:
    """Move the entries this process compiled into the shared folder, whole."""
    for entry in own.glob("*.pb"):
        target = shared / entry.name
        if not target.exists():
            try:
                os.replace(entry, target)
            except OSError:
                pass
    shutil.rmtree(own, ignore_errors=True)


def _remove_stale(shared: Path) -> None:
    now = time.time()
    for folder in shared.glob(".run-*"):
        try:
            if now - folder.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _machine_key() -> str:
    """TensorFlow's installation and the CPU's model and instruction set, hashed:
    compiled code is kept for the machine and the compiler that made it.

    The installation is told by its package file (path, size, time), which every
    install or upgrade rewrites, whichever distribution (tensorflow, tensorflow-cpu,
    a nightly) brought it; reading it takes no TensorFlow import and no scan of the
    installed distributions' metadata (30 ms here, before every run)."""
    import hashlib
    import importlib.util
    import platform

    spec = importlib.util.find_spec("tensorflow")
    installed = []
    if spec is not None and spec.origin:
        stat = os.stat(spec.origin)
        installed = [spec.origin, str(stat.st_size), str(stat.st_mtime_ns)]
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = sorted({line for line in handle if line.startswith(("model name", "flags"))})
    except OSError:
        cpu = [platform.processor()]
    text = "\n".join([platform.machine(), *installed, *cpu])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tensor_loop(training: TrainingConfig) -> bool:
    """Whether mnist_exp/loop.py trains (training.loop=tensors), or Keras' fit: always
    under a tf.distribute strategy, whose replicas the loop does not feed."""
    if training.loop == "tensors" and training.strategy != "default":
        log.info("training.loop=keras with training.strategy=%s", training.strategy)
        return False
    return training.loop == "tensors"


def jit_compile(training: TrainingConfig, train_steps: int) -> bool:
    """use_xla, less where Keras forbids it: with op determinism on GPUs.

    Keras refuses jit_compile while TensorFlow's op determinism is on, because some
    GPU kernels have no deterministic XLA version. XLA's CPU kernels are deterministic
    (the same seed gives the same history: tests/test_speed_options.py), so on a
    machine without GPUs XLA is used as configured; with GPUs Keras' rule stands.
    """
    import tensorflow as tf

    jit = use_xla(training, train_steps)
    if jit and training.deterministic and tf.config.list_logical_devices("GPU"):
        log.info("jit_compile is off: Keras does not combine XLA with op determinism on GPUs")
        return False
    return jit


def steps_per_execution(training: TrainingConfig) -> int:
    """training.steps_per_execution, but 1 under a tf.distribute strategy: Keras'
    multi-step loop fails with MirroredStrategy (a placeholder left unfed)."""
    if training.strategy != "default" and training.steps_per_execution > 1:
        log.info("steps_per_execution=1 with training.strategy=%s", training.strategy)
        return 1
    return training.steps_per_execution


def apply(model, training: TrainingConfig, train_steps: int) -> None:
    """Set steps per execution and XLA on a compiled (or freshly loaded) model.

    XLA compiles the full-batch train step only: that is where nearly all of fit's
    time goes. Each batch shape costs a compilation, so the epoch's last, partial
    batch, evaluation and prediction (a few dozen batches) run as TensorFlow graphs.
    (For training.loop=keras; loop.TensorLoop does the same for the tensors loop.)
    """
    jit = jit_compile(training, train_steps)
    model.steps_per_execution = steps_per_execution(training)
    model._jit_compile = False  # Keras' own switch: it would compile every function
    model.train_function = model.test_function = model.predict_function = None
    if jit:
        model.train_step = full_batches_compiled(model.train_step, training.batch_size)


def full_batches_compiled(train_step, batch_size: int):
    """train_step, XLA-compiled for batches of batch_size, as it was for any other."""
    import tensorflow as tf

    compiled = tf.function(train_step, jit_compile=True, autograph=False)  # as loop.py

    def step(data):
        size = tf.shape(tf.nest.flatten(data)[0])[0]
        return tf.cond(tf.equal(size, batch_size), lambda: compiled(data), lambda: train_step(data))

    return step


def as_tensor(array):
    """A TensorFlow tensor over the same memory as `array`, where that is safe.

    Keras copies NumPy inputs into TensorFlow tensors at the start of fit, evaluate
    and predict (twice the size of the training set at the peak). DLPack hands
    TensorFlow the array's memory instead; TensorFlow requires 64-byte aligned
    buffers (data.prepare allocates them so), so anything else is returned as is,
    for Keras to copy.
    """
    import numpy as np
    import tensorflow as tf

    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        return array
    if array.ctypes.data % 64 or not array.flags.c_contiguous or not array.flags.writeable:
        return array
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


# Optional extras Keras and TensorFlow import when they are installed (each import is
# guarded): scikit-learn for Keras' sklearn wrappers (1.5 s), pyplot for an image
# gallery (0.6 s), SciPy's sparse matrices for TensorFlow's legacy tf.keras (0.15 s).
# mnist-exp uses none of them: data.py splits with NumPy, plots.py draws with
# matplotlib's Figure, without pyplot, and Keras imports SciPy lazily where it needs it.
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
    """Begin importing Keras and TensorFlow (3-4 s) on a background thread.

    Called once a run's config is valid, so that the import overlaps loading and
    splitting the data; import_keras() waits for it. Its failures are left for
    import_keras() to raise again, on the main thread. (Started before Hydra composes
    the config, it gained nothing measurable: both are Python work, one GIL.)
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

    The import creates about 580,000 objects, nearly all kept for the life of the
    process; Python's cyclic garbage collector, run as they come, costs a fifth of
    the import (3.9 s against 3.1 s here). It is paused for the import, and what the
    import made is then frozen out of later collections (gc.freeze), which therefore
    stay as quick as before TensorFlow was loaded.
    """
    if _importing is not None and _importing is not threading.current_thread():
        _importing.join()
    if "keras" in sys.modules:
        return
    refuse = _Refuse([name for name in KERAS_EXTRAS if name not in sys.modules])
    sys.meta_path.insert(0, refuse)
    collecting = gc.isenabled()
    gc.disable()
    try:
        import keras  # noqa: F401
    finally:
        sys.meta_path.remove(refuse)
        if collecting:
            gc.freeze()
            gc.enable()


def exit_without_teardown(code: int | str | None = 0) -> None:
    """End the process with `code`, as sys.exit would, once its work is written.

    Python's exit hooks run as usual (logging's flush, a sweep's summary, trackers);
    what is skipped, where TensorFlow is loaded (or loading), is the interpreter's
    final teardown: TensorFlow's C++ runtime takes about two seconds to unload and
    writes nothing a run needs, and a half-finished import cannot be torn down.
    Without TensorFlow (--help, --cfg job, config errors) it is sys.exit.
    """
    if "tensorflow" not in sys.modules and _importing is None:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
