"""The network, optimizer and loss built from their config dataclasses."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_exp.config.optimizers import AdamConfig, RMSpropConfig, SGDConfig
from mnist_exp.config.schema import LossConfig
from mnist_exp.data.labels import encode
from mnist_exp.models.catalog import build_model
from mnist_exp.models.mlp import MLPConfig as ModelConfig
from mnist_exp.training.compile import build_loss, build_optimizer

ONE_HIDDEN = ModelConfig(name="one_hidden", layers=1, units=512, activation="relu", dropout=0.0)
TWO_HIDDEN = ModelConfig(name="two_hidden", layers=2, units=512, activation="relu", dropout=0.2)


def layer_kinds(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


@pytest.fixture(scope="module")
def one_hidden() -> keras.Model:
    return build_model(ONE_HIDDEN, (28, 28), n_classes=10)


@pytest.fixture(scope="module")
def two_hidden() -> keras.Model:
    return build_model(TWO_HIDDEN, (28, 28), n_classes=10)


# --- build_model ------------------------------------------------------------------------------


def test_one_hidden_is_784_512_10(one_hidden):
    assert one_hidden.count_params() == 407_050  # 784*512+512 + 512*10+10
    assert one_hidden.name == "one_hidden"
    assert layer_kinds(one_hidden) == ["InputLayer", "Dense", "Dense"]
    hidden, output = one_hidden.layers[1:]
    assert hidden.units == 512 and hidden.activation is keras.activations.relu
    assert output.units == 10 and output.activation is keras.activations.softmax
    assert one_hidden.input_shape == (None, 784)
    assert one_hidden.output_shape == (None, 10)


def test_two_hidden_is_784_512_512_10_with_dropout(two_hidden):
    assert two_hidden.count_params() == 669_706  # + 512*512+512
    assert two_hidden.name == "two_hidden"
    assert layer_kinds(two_hidden) == [
        "InputLayer",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert [layer.name for layer in two_hidden.layers[1:]] == [
        "hidden_1",
        "dropout_1",
        "hidden_2",
        "dropout_2",
        "classes",
    ]
    dropouts = [layer for layer in two_hidden.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.rate for layer in dropouts] == pytest.approx([0.2, 0.2])
    dense = [layer for layer in two_hidden.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [512, 512, 10]
    assert [layer.activation for layer in dense] == [
        keras.activations.relu,
        keras.activations.relu,
        keras.activations.softmax,
    ]


def test_model_outputs_probabilities(one_hidden, two_hidden):
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    for model in (one_hidden, two_hidden):
        probabilities = model.predict(x, verbose=0)
        assert probabilities.shape == (5, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(5), rtol=1e-5)
        assert probabilities.min() >= 0.0


def test_dropout_is_active_only_in_training(two_hidden):
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    inference = [keras.ops.convert_to_numpy(two_hidden(x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    training = keras.ops.convert_to_numpy(two_hidden(x, training=True))
    assert not np.allclose(training, inference[0])


@pytest.mark.parametrize(
    ("layers", "units", "dropout", "activation"),
    [(3, 16, 0.5, "tanh"), (1, 8, 0.1, "gelu"), (2, 4, 0.0, "sigmoid")],
)
def test_other_shapes_follow_the_config(layers, units, dropout, activation):
    cfg = ModelConfig(
        name="custom", layers=layers, units=units, activation=activation, dropout=dropout
    )
    model = build_model(cfg, (20,), n_classes=3)
    expected = 20 * units + units + (layers - 1) * (units * units + units) + units * 3 + 3
    assert model.count_params() == expected
    assert layer_kinds(model).count("Dense") == layers + 1
    assert layer_kinds(model).count("Dropout") == (layers if dropout > 0 else 0)
    assert model.layers[1].activation is getattr(keras.activations, activation)
    assert model.output_shape == (None, 3)


# --- build_optimizer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "cls", "attributes"),
    [
        (RMSpropConfig(), keras.optimizers.RMSprop, {"rho": 0.9, "momentum": 0.0}),
        (
            RMSpropConfig(learning_rate=0.005, rho=0.8, momentum=0.5, centered=True),
            keras.optimizers.RMSprop,
            {"rho": 0.8, "momentum": 0.5, "centered": True},
        ),
        (AdamConfig(), keras.optimizers.Adam, {"beta_1": 0.9, "beta_2": 0.999}),
        (
            AdamConfig(learning_rate=3e-4, beta_1=0.8, beta_2=0.99, epsilon=1e-6, amsgrad=True),
            keras.optimizers.Adam,
            {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "amsgrad": True},
        ),
        (SGDConfig(), keras.optimizers.SGD, {"momentum": 0.0, "nesterov": False}),
        (
            SGDConfig(learning_rate=0.1, momentum=0.9, nesterov=True),
            keras.optimizers.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
    ],
    ids=["rmsprop", "rmsprop-custom", "adam", "adam-custom", "sgd", "sgd-custom"],
)
def test_build_optimizer(cfg, cls, attributes):
    optimizer = build_optimizer(cfg)
    assert type(optimizer) is cls
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(
        cfg.learning_rate, rel=1e-6
    )
    for name, value in attributes.items():
        assert getattr(optimizer, name) == pytest.approx(value), name


def test_sgd_default_learning_rate_is_larger():
    rate = build_optimizer(SGDConfig()).learning_rate
    assert float(keras.ops.convert_to_numpy(rate)) == pytest.approx(0.01)


# --- build_loss -------------------------------------------------------------------------------


def test_build_loss_matches_the_name():
    categorical = build_loss(LossConfig(name="categorical_crossentropy"))
    sparse = build_loss(LossConfig(name="sparse_categorical_crossentropy"))
    assert type(categorical) is keras.losses.CategoricalCrossentropy
    assert type(sparse) is keras.losses.SparseCategoricalCrossentropy


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_each_loss_takes_the_labels_encode_makes_for_it(name):
    cfg = LossConfig(name=name)
    ids = np.array([0, 3, 9, 3])
    probabilities = np.full((4, 10), 0.05, dtype=np.float32)
    probabilities[np.arange(4), [0, 3, 9, 1]] = 0.55  # three right, one wrong
    labels = encode(ids, one_hot=cfg.one_hot, n_classes=10)
    value = float(keras.ops.convert_to_numpy(build_loss(cfg)(labels, probabilities)))
    # Mean of -log p(true class): 0.55 for three rows, 0.05 for the fourth.
    expected = -(3 * np.log(0.55) + np.log(0.05)) / 4
    assert value == pytest.approx(expected, rel=1e-4)
