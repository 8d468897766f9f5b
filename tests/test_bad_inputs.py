"""Bad input of every kind: one clear line on stderr, exit 2, no partial file.

Each row is a real `mnist-exp` command line in a subprocess; the files a row
needs (broken npz, IDX, checkpoints) are made in tmp_path.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hydra.errors import InstantiationException

from mnist_exp.errors import first_line
from mnist_exp.training.callbacks.trackers.mlflow import MlflowConfig
from mnist_exp.training.callbacks.trackers.tensorboard import TensorBoardConfig
from tests.helpers import run_cli, run_in_process

SMOKE = "+experiment=smoke"
MLFLOW, TENSORBOARD = MlflowConfig._target_, TensorBoardConfig._target_


# --- files the rows point at ------------------------------------------------------


def digits(n: int, side: int = 28, dtype=np.uint8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, side, side)).astype(dtype)
    return images, np.arange(n) % 10


def one_hot(n: int) -> np.ndarray:
    return np.eye(10, dtype=np.uint8)[np.arange(n) % 10]


def write_npz(path: Path, **overrides) -> Path:
    x_train, y_train = digits(100)
    x_test, y_test = digits(50)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dir(folder: Path, skip: str = "", truncate: str = "", bad_magic: str = "") -> Path:
    folder.mkdir()
    x_train, y_train = digits(100)
    x_test, y_test = digits(50)
    parts = {
        "train-images-idx3-ubyte": x_train,
        "train-labels-idx1-ubyte": y_train,
        "t10k-images-idx3-ubyte": x_test,
        "t10k-labels-idx1-ubyte": y_test,
    }
    for name, array in parts.items():
        if name == skip:
            continue
        data = idx_bytes(array)
        if name == bad_magic:
            data = b"\x12\x34" + data[2:]
        blob = gzip.compress(data)
        if name == truncate:
            blob = blob[: len(blob) // 2]
        (folder / f"{name}.gz").write_bytes(blob)
    return folder


def fake_run_dir(tmp: Path, model_bytes: bytes | None = b"", state: str | None = None) -> Path:
    """A run directory as an interrupted smoke run leaves it, with a broken checkpoint."""
    run = tmp / "interrupted"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(f"- {SMOKE}\n- training.epochs=2\n")
    (run / "metrics.json").write_text('{"status": "interrupted"}\n')
    folder = run / "checkpoints"
    folder.mkdir()
    if model_bytes is not None:
        (folder / "epoch-1.keras").write_bytes(model_bytes)
    if state is None:
        state = json.dumps(
            {"epoch": 1, "model_file": "epoch-1.keras", "history": [], "fit_seconds": 1.0}
        )
    if state:
        (folder / "state.json").write_text(state)
    return run


def unsafe_model(tmp: Path) -> bytes:
    """A .keras file with a Lambda layer: arbitrary code, refused in safe mode."""
    import keras

    inputs = keras.Input(shape=(784,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(outputs)
    path = tmp / "unsafe.keras"
    keras.Model(inputs, outputs).save(path)
    return path.read_bytes()


def valid_npz_bytes(tmp: Path) -> bytes:
    return write_npz(tmp / "ok.npz").read_bytes()


# --- the table --------------------------------------------------------------------

Row = tuple[str, Callable[[Path], list[str]], str]

CONFIG_ROWS: list[Row] = [
    ("epochs negative", lambda t: ["training.epochs=-3"], "training.epochs=-3"),
    ("epochs zero", lambda t: ["training.epochs=0"], "training.epochs=0"),
    ("batch size zero", lambda t: ["training.batch_size=0"], "training.batch_size=0"),
    ("batch size negative", lambda t: ["training.batch_size=-8"], "training.batch_size=-8"),
    ("units zero", lambda t: ["model.units=0"], "model.units=0"),
    ("layers zero", lambda t: ["model.layers=0"], "model.layers=0"),
    ("dropout above one", lambda t: ["model.dropout=1.5"], "model.dropout=1.5"),
    ("dropout of one", lambda t: ["model.dropout=1.0"], "model.dropout=1.0"),
    ("dropout negative", lambda t: ["model.dropout=-0.1"], "model.dropout=-0.1"),
    ("learning rate zero", lambda t: ["optimizer.learning_rate=0"], "optimizer.learning_rate"),
    ("learning rate negative", lambda t: ["optimizer.learning_rate=-1e-3"], "learning_rate"),
    ("rho out of range", lambda t: ["optimizer.rho=1.5"], "optimizer.rho=1.5"),
    ("momentum out of range", lambda t: ["optimizer=sgd", "optimizer.momentum=2"], "momentum"),
    ("optimizer name vs fields", lambda t: ["optimizer.name=sgd"], "optimizer.name"),
    # a value where a config group's option is meant: the group's syntax and its options
    (
        "pruner as a value",
        lambda t: ["--multirun", "+hparams_search=optuna", "hydra.sweeper.pruner=median"],
        "use hydra/sweeper/optuna_pruner=median (options: hyperband, median, none, "
        "successive_halving)",
    ),
    (
        "sampler as a value",
        lambda t: ["--multirun", "+hparams_search=optuna", "hydra.sweeper.sampler=tpe"],
        "use hydra/sweeper/optuna_sampler=tpe (options: grid, nsgaii, random, tpe)",
    ),
    (
        "a sweep ranked by a metric outside the vocabulary",
        lambda t: ["--multirun", "optimized_metric=val/f1", "optimizer=adam,sgd"],
        "optimized_metric='val/f1' is not allowed: one of ('val/accuracy'",
    ),
    (
        "a search for a metric outside the vocabulary",
        lambda t: ["--multirun", "+hparams_search=optuna", "optimized_metric=test/error_rate"],
        "optimized_metric='test/error_rate' is not allowed: one of ('val/accuracy'",
    ),
    (
        "launcher as a value",
        lambda t: ["--multirun", "optimizer=adam,sgd", "hydra.launcher=joblib"],
        "use hydra/launcher=joblib (options: basic, joblib, ",
    ),
    (
        "optimizer as a dict",
        lambda t: ["optimizer={beta_1:0.8}"],
        "optimizer=NAME (options: adam, rmsprop, sgd), then its fields with optimizer.FIELD=",
    ),
    (
        "another optimizer's class for these fields",
        lambda t: ["optimizer={_target_:keras.optimizers.Adam}"],
        "optimizer._target_='keras.optimizers.Adam' is not allowed: 'keras.optimizers.RMSprop'"
        " for these fields; pick another with optimizer=",
    ),
    ("seed negative", lambda t: ["training.seed=-1"], "training.seed=-1"),
    ("no model.keras", lambda t: ["save.keras=false"], "save.keras=False is not allowed: true"),
    ("unknown optimizer", lambda t: ["optimizer=adamm"], "optimizer/adamm"),
    ("unknown loss", lambda t: ["loss=hinge"], "loss/hinge"),
    ("unknown model", lambda t: ["model=three_hidden"], "model/three_hidden"),
    ("unknown data", lambda t: ["data=cifar10"], "data/cifar10"),
    ("unknown validation", lambda t: ["validation=kfold"], "validation/kfold"),
    ("unknown key", lambda t: ["training.epochz=3"], "training.epochz"),
    ("unknown key added", lambda t: ["+training.foo=1"], "training.foo"),
    ("unknown top-level key", lambda t: ["+foo=1"], "foo is not a config key"),
    ("epochs not a number", lambda t: ["training.epochs=abc"], "training.epochs"),
    ("dropout not a number", lambda t: ["model.dropout=high"], "model.dropout"),
    ("flag not a bool", lambda t: ["training.shuffle=maybe"], "training.shuffle"),
    ("unknown activation", lambda t: ["model.activation=relux"], "model.activation"),
    ("unknown metric", lambda t: ["optimized_metric=val/f1"], "optimized_metric"),
    ("unparsable override", lambda t: ["training.epochs=["], "training.epochs=["),
    ("validation size zero", lambda t: ["validation.size=0"], "validation.size"),
    ("validation size fraction > 1", lambda t: ["validation.size=1.5"], "validation.size"),
    ("validation size > train", lambda t: ["validation.size=4000"], "validation.size=4000"),
    ("batch size > train", lambda t: ["training.batch_size=100000"], "training.batch_size"),
    ("limit too small", lambda t: ["data.limit_train=5"], "data.limit_train=5"),
    ("a path for the bundled digits", lambda t: [f"data.path={t}/x.npz"], "data.path="),
    # model families
    ("no widths", lambda t: ["model=mlp", "model.units=[]"], "model.units=[]"),
    ("a negative width", lambda t: ["model=mlp", "model.units=[64,-3]"], "model.units="),
    ("a zero filter count", lambda t: ["model=cnn", "model.filters=[32,0]"], "model.filters="),
    (
        "pooling below 1x1",
        lambda t: ["model=cnn", "model.filters=[8,8,8,8]"],
        "shrinks the 28x28 image below 1x1",
    ),
    (
        "XLA with a deterministic max pooling",
        lambda t: ["model=cnn", "training.jit_compile=true"],
        "training.jit_compile=true is not allowed",
    ),
    # callbacks and schedules
    ("unknown callback", lambda t: ["callbacks=[nope]"], "callbacks/nope"),
    (
        "a monitor in Keras' words",
        lambda t: ["callbacks=[early_stopping]", "callbacks.early_stopping.monitor=val_loss"],
        "callbacks.early_stopping.monitor='val_loss' is not allowed: one of",
    ),
    (
        "negative patience",
        lambda t: ["callbacks=[early_stopping]", "callbacks.early_stopping.patience=-1"],
        "callbacks.early_stopping.patience=-1",
    ),
    (
        "a warm-up longer than the run",
        lambda t: ["schedule=cosine", "schedule.warmup_epochs=3"],
        "schedule.warmup_epochs=3",
    ),
    (
        "two things setting the learning rate",
        lambda t: ["schedule=step", "callbacks=[reduce_lr_on_plateau]"],
        "callbacks.reduce_lr_on_plateau",
    ),
    (
        "a _target_ outside the allow-list",
        lambda t: [f"--config-dir={own_callback(t, 'os.system')}", "callbacks=[mine]"],
        "callbacks.mine._target_='os.system' is not allowed",
    ),
    (
        "a _target_ nested in a callback's arguments",
        lambda t: [f"--config-dir={own_callback(t, 'os.getcwd', nested=True)}", "callbacks=[mine]"],
        "callbacks.mine.argument._target_='os.getcwd' is not allowed",
    ),
    (
        "a tracker's _target_ outside the trackers",
        lambda t: [f"--config-dir={own_callback(t, 'os.system', group='logger')}", "logger=mine"],
        "logger.mine._target_='os.system' is not allowed: a class or function of "
        "mnist_exp.training.callbacks.trackers",
    ),
    (
        "another tracker's class for these fields",
        lambda t: ["logger=tensorboard", f"logger.tensorboard._target_={MLFLOW}"],
        f"logger.tensorboard._target_='{MLFLOW}' is not allowed: '{TENSORBOARD}'",
    ),
    (
        "an optimizer's _target_ outside keras.optimizers",
        lambda t: ["optimizer._target_=os.system"],
        "optimizer._target_='os.system' is not allowed: a class or function of keras.optimizers",
    ),
    (
        "a model's _target_ outside mnist_exp.models",
        lambda t: ["model._target_=os.system"],
        "model._target_='os.system' is not allowed: a class or function of mnist_exp.models",
    ),
    (
        "a model YAML of one's own naming a _target_ outside mnist_exp.models",
        lambda t: [f"--config-dir={own_model(t, 'os.system')}", "model=mine"],
        "model._target_='os.system' is not allowed",
    ),
    (
        "another family's build for these fields",
        lambda t: ["model=cnn", "model._target_=mnist_exp.models.mlp.build"],
        "model._target_='mnist_exp.models.mlp.build' is not allowed: "
        "'mnist_exp.models.cnn.build' for these fields",
    ),
    (
        "a loss's _target_ outside keras.losses",
        lambda t: ["loss._target_=keras.optimizers.Adam"],
        "loss._target_='keras.optimizers.Adam' is not allowed",
    ),
    (
        "a schedule's _target_ outside its module",
        lambda t: ["schedule._target_=mnist_exp.training.run.train"],
        "schedule._target_='mnist_exp.training.run.train' is not allowed",
    ),
    (
        "a data reader outside mnist_exp.data.sources",
        lambda t: ["data._target_=os.system"],
        "data._target_='os.system' is not allowed: a class or function of mnist_exp.data.sources",
    ),
    (
        "a data reader that names nothing",
        lambda t: ["data._target_=mnist_exp.data.sources.nope"],
        "data._target_='mnist_exp.data.sources.nope' names nothing that can be imported",
    ),
]


def own_callback(tmp: Path, target: str, nested: bool = False, group: str = "callbacks") -> Path:
    """A config folder of the user's own with GROUP/mine.yaml naming `target`: the
    run must refuse it before anything calls it (it would write PWNED)."""
    folder = tmp / "my_conf" / group
    folder.mkdir(parents=True)
    spec = (
        {"_target_": "keras.callbacks.EarlyStopping", "argument": {"_target_": target}}
        if nested
        else {"_target_": target, "command": f"touch {tmp / 'PWNED'}"}
    )
    import yaml

    (folder / "mine.yaml").write_text(yaml.safe_dump({"mine": spec}))
    return folder.parent


def own_model(tmp: Path, target: str) -> Path:
    """A config folder of the user's own with model/mine.yaml, an MLP naming `target`."""
    folder = tmp / "my_conf" / "model"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(
        f"defaults:\n  - /schema/model/base@_here_\n  - _self_\n\n_target_: {target}\nname: mine\n"
    )
    return folder.parent


DATA_ROWS: list[Row] = [
    ("missing path", lambda t: ["data=mnist", f"data.path={t / 'nope.npz'}"], "does not exist"),
    (
        "empty file",
        lambda t: ["data=mnist", f"data.path={(t / 'e.npz').write_bytes(b'') or t / 'e.npz'}"],
        "is empty",
    ),
    (
        "truncated npz",
        lambda t: [
            "data=mnist",
            f"data.path={_write(t / 'cut.npz', valid_npz_bytes(t)[:3000])}",
        ],
        "not a readable npz",
    ),
    (
        "not an npz",
        lambda t: ["data=mnist", f"data.path={_write(t / 'junk.npz', b'hello world' * 50)}"],
        "not a readable npz",
    ),
    (
        "npz missing a key",
        lambda t: ["data=mnist", f"data.path={write_npz(t / 'k.npz', y_test=None)}"],
        "lacks the keys ['y_test']",
    ),
    (
        "images of the wrong shape",
        lambda t: ["data=mnist", f"data.path={write_npz(t / 's.npz', x_train=digits(100, 32)[0])}"],
        "expected (n, 28, 28)",
    ),
    (
        "images of the wrong dtype",
        lambda t: [
            "data=mnist",
            f"data.path={write_npz(t / 'd.npz', x_test=digits(50, dtype=np.float64)[0])}",
        ],
        "expected uint8",
    ),
    (
        "labels out of range",
        lambda t: [
            "data=mnist",
            f"data.path={write_npz(t / 'r.npz', y_train=np.arange(100) % 12)}",
        ],
        "labels span 0..11",
    ),
    (
        "labels and images disagree",
        lambda t: ["data=mnist", f"data.path={write_npz(t / 'c.npz', y_test=np.arange(40) % 10)}"],
        "50 test images but 40 labels",
    ),
    (
        "one-hot labels in the file",
        lambda t: [
            "data=mnist",
            f"data.path={write_npz(t / 'o.npz', y_test=one_hot(50))}",
        ],
        "expected class ids",
    ),
    (
        "IDX folder missing a file",
        lambda t: [
            "data=mnist",
            f"data.path={write_idx_dir(t / 'idx', skip='t10k-labels-idx1-ubyte')}",
        ],
        "lacks the IDX files",
    ),
    (
        "truncated gzip IDX",
        lambda t: [
            "data=mnist",
            f"data.path={write_idx_dir(t / 'idx', truncate='train-images-idx3-ubyte')}",
        ],
        "train-images-idx3-ubyte.gz",
    ),
    (
        "IDX with a bad magic number",
        lambda t: [
            "data=mnist",
            f"data.path={write_idx_dir(t / 'idx', bad_magic='t10k-images-idx3-ubyte')}",
        ],
        "bad magic number",
    ),
    (
        "empty folder",
        lambda t: ["data=mnist", f"data.path={(t / 'empty').mkdir() or t / 'empty'}"],
        "lacks the IDX files",
    ),
]

MODEL_ROWS: list[Row] = [
    (
        "checkpoint of garbage bytes",
        lambda t: [f"resume={fake_run_dir(t, model_bytes=b'not a model' * 100)}"],
        "cannot load model",
    ),
    ("empty checkpoint", lambda t: [f"resume={fake_run_dir(t, b'')}"], "cannot load model"),
    (
        "checkpoint that is an npz",
        lambda t: [f"resume={fake_run_dir(t, valid_npz_bytes(t))}"],
        "cannot load model",
    ),
    (
        "unsafe checkpoint (Lambda layer)",
        lambda t: [f"resume={fake_run_dir(t, unsafe_model(t))}"],
        "cannot load model",
    ),
    (
        "corrupt checkpoint state",
        lambda t: [f"resume={fake_run_dir(t, state='{not json')}"],
        "not a readable checkpoint state",
    ),
    (
        "no checkpoint at all",
        lambda t: [f"resume={fake_run_dir(t, model_bytes=None, state='')}"],
        "no checkpoint to resume from",
    ),
    ("resume a folder that is no run", lambda t: [f"resume={t}"], "not a run directory"),
    (
        "resume with other overrides",
        lambda t: [f"resume={fake_run_dir(t)}", "training.epochs=9"],
        "takes no other overrides",
    ),
]

OUTPUT_ROWS: list[Row] = [
    (
        "output directory under a file",
        lambda t: [SMOKE, f"hydra.run.dir={_write(t / 'file', b'x')}/run"],
        "Not a directory",
    ),
    (
        "output directory of another run",
        lambda t: [SMOKE, f"hydra.run.dir={fake_run_dir(t)}"],
        "already holds a run",
    ),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _ids(rows: list[Row]) -> list[str]:
    return [row[0] for row in rows]


def assert_one_line_failure(
    tmp_path: Path, args: list[str], expected: str, runner=run_in_process
) -> None:
    """`mnist-exp ARGS` ends in one `error:` line naming `expected`, exit 2, nothing
    half-written. In this process; runner=run_cli for the command's own process."""
    result = runner(tmp_path, *args, "training.progress=false")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing half-written: no temporary files, and no results of a run that failed.
    assert not [p for p in tmp_path.rglob(".*") if p.is_file() and p.name != ".hydra"]
    run_dir = tmp_path / "run"
    for name in ("model.keras", "history.csv", "predictions.csv"):
        assert not (run_dir / name).exists()
    if (run_dir / "metrics.json").exists():
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "failed" and expected in metrics["message"]


def test_the_table_is_large_enough():
    assert len(CONFIG_ROWS + DATA_ROWS + MODEL_ROWS + OUTPUT_ROWS) >= 30


def test_a_wrappers_line_keeps_its_reason():
    """Hydra's InstantiationException names the target on its first line and the reason
    on the next; a wrapper raised `from` another has its reason there."""
    wrapped = InstantiationException(
        "Error in call to target 'x.Sweeper':\nValueError('Input cfg is not an OmegaConf "
        "config object (str)')"
    )
    assert first_line(wrapped) == (
        "Error in call to target 'x.Sweeper': ValueError('Input cfg is not an OmegaConf "
        "config object (str)')"
    )
    try:
        try:
            raise ValueError("the reason")
        except ValueError as exc:
            raise RuntimeError("could not start:") from exc
    except RuntimeError as exc:
        assert first_line(exc) == "could not start: the reason"
    assert first_line(RuntimeError("one line\nmore")) == "one line"


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_a_refused_target_was_never_called(tmp_path, group):
    config_dir = own_callback(tmp_path, "os.system", group=group)
    choice = "callbacks=[mine]" if group == "callbacks" else "logger=mine"
    assert_one_line_failure(
        tmp_path,
        [f"--config-dir={config_dir}", SMOKE, choice],
        "is not allowed",
        runner=run_cli,
    )
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(("name", "make", "expected"), CONFIG_ROWS, ids=_ids(CONFIG_ROWS))
def test_bad_config(tmp_path, name, make, expected):
    assert_one_line_failure(tmp_path, with_flags_first(SMOKE, *make(tmp_path)), expected)


def with_flags_first(*args: str) -> list[str]:
    """Hydra's flags (--config-dir=...) before its overrides, as its parser wants them."""
    return [a for a in args if a.startswith("--")] + [a for a in args if not a.startswith("--")]


@pytest.mark.parametrize(("name", "make", "expected"), DATA_ROWS, ids=_ids(DATA_ROWS))
def test_bad_data_file(tmp_path, name, make, expected):
    assert_one_line_failure(tmp_path, make(tmp_path), expected)


@pytest.mark.parametrize(("name", "make", "expected"), MODEL_ROWS, ids=_ids(MODEL_ROWS))
def test_bad_model_file(tmp_path, name, make, expected):
    args = make(tmp_path)
    assert_one_line_failure(tmp_path, args, expected)
    run_dir = Path(args[0].split("=", 1)[1])
    if (run_dir / "checkpoints").exists():  # the broken checkpoint is left for inspection
        assert not (run_dir / "model.keras").exists()


@pytest.mark.parametrize(("name", "make", "expected"), OUTPUT_ROWS, ids=_ids(OUTPUT_ROWS))
def test_bad_output_directory(tmp_path, name, make, expected):
    args = make(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert_one_line_failure(tmp_path, args, expected)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "a refused run must not touch existing files"
