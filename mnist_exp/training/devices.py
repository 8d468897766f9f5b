"""Where training runs: one device or a MirroredStrategy, and the dtype policy.

`place` runs before TensorFlow executes any op (logical devices can only be
configured then): run.build_or_resume calls it after threads.configure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mnist_exp.config.schema import TrainingConfig
from mnist_exp.errors import ConfigError


@dataclass
class Placement:
    strategy: Any  # a tf.distribute.Strategy
    replicas: int
    devices: list[str]
    precision: str

    def describe(self, batch_size: int, learning_rate: float) -> dict:
        """What metrics.json records of it."""
        return {
            "strategy": type(self.strategy).__name__,
            "replicas": self.replicas,
            "devices": self.devices,
            "precision": self.precision,
            "global_batch_size": batch_size,
            "replica_batch_size": batch_size / self.replicas,
            "learning_rate": learning_rate,
        }


def place(cfg: TrainingConfig) -> Placement:
    import keras
    import tensorflow as tf

    if cfg.logical_cpus > 1:
        split_cpu(cfg.logical_cpus)
    gpus = tf.config.list_logical_devices("GPU")
    check_precision(cfg.precision, tf)
    keras.mixed_precision.set_dtype_policy(cfg.precision)

    if cfg.strategy == "default":
        strategy = tf.distribute.get_strategy()
        names = [gpus[0].name] if gpus else [tf.config.list_logical_devices("CPU")[0].name]
        return Placement(strategy, 1, names, cfg.precision)
    names = list(cfg.devices) if cfg.devices else [d.name for d in gpus]
    if not names:
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
    try:
        strategy = tf.distribute.MirroredStrategy(devices=names)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"training.devices={names}: {exc}") from exc
    return Placement(strategy, strategy.num_replicas_in_sync, names, cfg.precision)


def split_cpu(count: int) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:  # already initialised in this process: keep what is there
        pass


def check_precision(precision: str, tf) -> None:
    """mixed_float16 pays only on GPUs with tensor cores; refuse it elsewhere, clearly."""
    if precision != "mixed_float16":
        return
    capable = []
    for gpu in tf.config.list_physical_devices("GPU"):
        major, _ = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        capable.append(major >= 7)
    if not any(capable):
        raise ConfigError(
            "training.precision=mixed_float16 needs a GPU of compute capability 7.0 or "
            "higher, and none is visible here; use float32 (or mixed_bfloat16)"
        )


def scaled_learning_rate(learning_rate: float, replicas: int, rule: str) -> float:
    return learning_rate * replicas if rule == "linear" else learning_rate
