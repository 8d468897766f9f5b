"""training.xla_cache: compiled XLA steps kept on disk for the next run.

TensorFlow's persistent cache writes an entry in place and keys it by the computation
only. So the shared folder is one per CPU and TensorFlow installation, and each process
gives TensorFlow a private folder of links to the shared entries: what it compiles is
moved into the shared folder whole (an atomic rename) when the process exits, and a
sweep job never reads another's half-written entry.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"
STALE_SECONDS = 24 * 3600  # a run's private cache folder left by a killed process


def cache_root() -> Path:
    """$MNIST_EXP_CACHE, else $XDG_CACHE_HOME/mnist-exp, else ~/.cache/mnist-exp."""
    if os.environ.get("MNIST_EXP_CACHE"):
        return Path(os.environ["MNIST_EXP_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "mnist-exp"


def use_xla_cache(enabled: bool) -> Path | None:
    """Keep XLA's compiled steps on disk, so that a later run of the same step (model,
    batch size, optimizer, settings) loads it instead of compiling it. Call before
    TensorFlow is imported: it reads TF_XLA_FLAGS once. Returns the folder this process
    gives TensorFlow, or None."""
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
    installed distributions' metadata."""
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
