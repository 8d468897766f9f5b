"""training.xla_cache: compiled XLA steps shared between runs, each entry written whole."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mnist_exp.training import xla_cache

XLA_CACHE_SCRIPT = """
import json, os, sys
from pathlib import Path
from mnist_exp.training import xla_cache
own = xla_cache.use_xla_cache(True)
linked = sorted(p.name for p in own.glob("*.pb"))
import tensorflow as tf
step = tf.function(lambda x: tf.nn.relu(x @ tf.transpose(x)) * 2.0, jit_compile=True)
value = float(tf.reduce_sum(step(tf.ones((64, 64)))))
print(json.dumps({"own": str(own), "linked": linked, "value": value,
                  "flags": os.environ["TF_XLA_FLAGS"]}))
"""


def test_compiled_xla_steps_are_kept_for_the_next_run(tmp_path):
    # Each process gives TensorFlow a private folder of links to the shared entries;
    # what it compiles reaches the shared folder whole, at exit.
    import subprocess

    env = {**os.environ, "MNIST_EXP_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_XLA_FLAGS", None)

    def run_once() -> dict:
        result = subprocess.run(
            [sys.executable, "-c", XLA_CACHE_SCRIPT], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = run_once()
    (shared,) = (tmp_path / "cache" / "xla").iterdir()  # one folder: this CPU and TensorFlow
    entries = sorted(p.name for p in shared.glob("*.pb"))
    assert first["linked"] == [] and len(entries) == 1
    assert first["flags"].endswith(f"--tf_xla_persistent_cache_directory={first['own']}")
    assert Path(first["own"]).parent == shared and not Path(first["own"]).exists()
    second = run_once()
    assert second["linked"] == entries  # the first run's step, offered to the second
    assert second["value"] == first["value"] == 64 * 64 * 128.0
    assert sorted(p.name for p in shared.iterdir()) == entries  # no private folder left


def test_no_xla_cache_when_switched_off_set_by_the_user_or_too_late(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_EXP_CACHE", str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as before the import
    assert xla_cache.use_xla_cache(False) is None
    own = xla_cache.use_xla_cache(True)
    assert own is not None and own.parent.parent == tmp_path / "xla"
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 {xla_cache.XLA_CACHE_FLAG}={own}"
    # The user's own cache folder stands; and TensorFlow, once imported, reads no more.
    monkeypatch.setenv("TF_XLA_FLAGS", f"{xla_cache.XLA_CACHE_FLAG}=/elsewhere")
    assert xla_cache.use_xla_cache(True) is None
    monkeypatch.delenv("TF_XLA_FLAGS")
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert xla_cache.use_xla_cache(True) is None
    assert "TF_XLA_FLAGS" not in os.environ
