"""One run, end to end: data -> model -> fit -> evaluate -> save -> reload -> predict.

`run` is the edge that ties the pure stages together and hands every result to
artifacts.py; it returns the metrics dict whose keys are the metric vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from rich.console import Console

from mnist_exp import (
    artifacts,
    checkpoint,
    data,
    devices,
    labels,
    loggers,
    plots,
    report,
    runtime,
    speed,
)
from mnist_exp.config import Config
from mnist_exp.errors import DivergedError, ModelFileError, RunInterrupted, describe_failure
from mnist_exp.guards import StopOnNaN, StopOnSignal
from mnist_exp.loop import EVAL_BATCH, TensorLoop, predict
from mnist_exp.metrics import HISTORY_COLUMNS
from mnist_exp.model import build_loss, build_model, build_optimizer
from mnist_exp.progress import EpochRecorder, RichProgress

log = logging.getLogger(__name__)


def run(
    cfg: Config,
    run_dir: Path,
    console: Console | None = None,
    dataset: data.Dataset | None = None,
    resume: bool = False,
) -> dict:
    """Train and evaluate as configured, write the run directory, return its metrics.

    metrics.json says "running" while the run is alive, then "completed",
    "failed" (with a reason code and message) or "interrupted"; on failure the
    error is raised again for the caller. With resume=True the run continues
    from the last completed epoch in run_dir/checkpoints.
    """
    console = console or Console()
    run_dir.mkdir(parents=True, exist_ok=True)
    base = describe(cfg, run_dir)
    state = checkpoint.read_state(run_dir) if resume else None
    if resume and state is None:
        raise ModelFileError(f"{run_dir} has no checkpoint to resume from")
    artifacts.write_json(run_dir / artifacts.METRICS, {"status": "running", **base})
    tracking = loggers.Tracking()  # logger=tensorboard / mlflow: callbacks, then finish()
    try:
        tracking = loggers.start(cfg, run_dir, resume)
        metrics = _run(cfg, run_dir, console, base, dataset, state, tracking.callbacks)
    except RunInterrupted as exc:
        artifacts.record_status(run_dir, "interrupted", reason=exc.signal_name, message=str(exc))
        tracking.finish("interrupted")
        raise
    except Exception as exc:
        reason, message = describe_failure(exc)
        artifacts.record_status(run_dir, "failed", reason=reason, message=message)
        tracking.finish("failed")
        raise
    tracking.finish("completed")
    return metrics


def _run(
    cfg: Config,
    run_dir: Path,
    console: Console,
    base: dict,
    dataset: data.Dataset | None,
    state: checkpoint.State | None,
    extra_callbacks: list,
) -> dict:
    started = time.perf_counter()
    threads = runtime.configure(cfg.training.threads, cfg.training.seed, cfg.training.deterministic)
    dataset = dataset or data.load(cfg.data, cfg.validation, cfg.training.seed)
    if cfg.validation.split == "test":
        log.warning(
            "validation=test: the test set is used for validation, so the test score "
            "is no longer an unbiased estimate (as in the tutorial)"
        )
    one_hot, n_classes = speed.one_hot_labels(cfg.loss, cfg.training), dataset.n_classes
    y_train = labels.encode(dataset.y_train, one_hot, n_classes)
    y_val = labels.encode(dataset.y_val, one_hot, n_classes)
    y_test = labels.encode(dataset.y_test, one_hot, n_classes)

    placement = devices.place(cfg.training)
    learning_rate = devices.scaled_learning_rate(
        cfg.optimizer.learning_rate, placement.replicas, cfg.training.lr_scaling
    )
    with placement.strategy.scope():
        if state is None:
            model = build_model(cfg.model, dataset.input_dim, n_classes)
            model.compile(
                optimizer=build_optimizer(cfg.optimizer, learning_rate),
                loss=build_loss(cfg.loss, one_hot),
                metrics=["accuracy"],
                jit_compile=False,  # speed.apply sets XLA and steps_per_execution
            )
            done, rows, fit_before = 0, [], 0.0
        else:
            model = load_model(run_dir / checkpoint.FOLDER / state.model_file)
            done, rows, fit_before = state.epoch, state.history, state.fit_seconds
            console.print(f"resuming {run_dir} after epoch {done} of {cfg.training.epochs}")
        train_steps = math.ceil(len(y_train) / cfg.training.batch_size) * cfg.training.epochs
        tensor_loop = None
        if speed.tensor_loop(cfg.training):
            jit = speed.jit_compile(cfg.training, train_steps)
            tensor_loop = TensorLoop(model, cfg.training.batch_size, jit)
        else:
            speed.apply(model, cfg.training, train_steps)

    stop_on_signal, stop_on_nan = StopOnSignal(), StopOnNaN()
    recorder = EpochRecorder(rows, keep=lambda: stop_on_signal.received is None)
    fit_started = time.perf_counter()

    def write_history() -> None:
        artifacts.write_csv(run_dir / artifacts.HISTORY, history_frame(recorder.rows))

    callbacks: list = [
        recorder,
        stop_on_nan,
        stop_on_signal,
        checkpoint.Checkpointer(
            run_dir,
            recorder.rows,
            write_history,
            keep_epoch=lambda: not stop_on_nan.tripped and stop_on_signal.received is None,
            fit_seconds=lambda: fit_before + time.perf_counter() - fit_started,
        ),
    ]
    callbacks.extend(extra_callbacks)
    if cfg.training.progress:
        callbacks.append(RichProgress(console, cfg.training.batch_size))
    if done < cfg.training.epochs:
        x_train = speed.as_tensor(dataset.x_train)  # no copy of the training set
        common = dict(
            epochs=cfg.training.epochs,
            initial_epoch=done,
            validation_data=(speed.as_tensor(dataset.x_val), y_val),
            shuffle=cfg.training.shuffle,
            callbacks=callbacks,
        )
        if tensor_loop is not None:
            tensor_loop.fit(
                x_train,
                y_train,
                seed=cfg.training.seed,
                steps_per_execution=cfg.training.steps_per_execution,
                **common,
            )
        else:
            model.fit(
                x_train,
                y_train,
                batch_size=cfg.training.batch_size,
                validation_batch_size=EVAL_BATCH,  # same mean, an eighth of the calls
                verbose=0,
                **common,
            )
    fit_seconds = fit_before + time.perf_counter() - fit_started
    history = history_frame(recorder.rows)
    if stop_on_signal.received or stop_on_nan.tripped:
        write_history()
    if stop_on_signal.received:
        raise RunInterrupted(
            f"{stop_on_signal.received} after epoch {len(history)} of {cfg.training.epochs}; "
            f"continue with: mnist-exp resume={run_dir}",
            stop_on_signal.received,
        )
    if stop_on_nan.tripped:
        epoch, step = stop_on_nan.tripped_at
        raise DivergedError(
            f"the training loss became NaN at epoch {epoch}, step {step}: try a smaller "
            f"optimizer.learning_rate (now {cfg.optimizer.learning_rate:g})"
        )
    x_test = speed.as_tensor(dataset.x_test)
    if tensor_loop is not None:
        test = tensor_loop.evaluate(x_test, y_test)
    else:
        test = model.evaluate(x_test, y_test, batch_size=EVAL_BATCH, verbose=0, return_dict=True)

    model_path = artifacts.save_model(model, run_dir, h5=cfg.save.h5)
    reloaded = load_model(model_path)
    probabilities = predict(reloaded, x_test)
    predicted, confidence = labels.decode(probabilities)
    correct, incorrect = labels.count_correct(dataset.y_test, predicted, n_classes)
    check_reload(test["accuracy"], correct, len(predicted))

    predictions = pd.DataFrame(
        {
            "index": np.arange(len(predicted)),
            "label": dataset.y_test,
            "predicted": predicted,
            "confidence": confidence,
        }
    )
    write_history()
    artifacts.write_csv(run_dir / artifacts.PREDICTIONS, predictions)
    write_plots(run_dir, history, dataset, predicted)

    best = int(history["val/accuracy"].idxmax())
    epochs_run = len(history)
    metrics = {
        "status": "completed",
        "test/loss": float(test["loss"]),
        "test/accuracy": correct / len(predicted),
        "test/correct": correct,
        "test/incorrect": incorrect,
        "val/accuracy": float(history["val/accuracy"][best]),
        "val/loss": float(history["val/loss"][best]),
        "val/best_epoch": int(history["epoch"][best]),
        "train/accuracy": float(history["train/accuracy"].iloc[-1]),
        "train/loss": float(history["train/loss"].iloc[-1]),
        "epochs": epochs_run,
        "train/seconds": fit_seconds,
        "train/samples_per_second": len(dataset.y_train) * epochs_run / fit_seconds,
        "params": model.count_params(),
        "threads": threads,
        **placement.describe(cfg.training.batch_size, learning_rate),
        "data": dataset.meta,
        **base,
        "wall_seconds": time.perf_counter() - started,
    }
    if state is not None:
        metrics["resumed_after_epoch"] = state.epoch
    artifacts.write_json(run_dir / artifacts.METRICS, metrics)
    shutil.rmtree(run_dir / checkpoint.FOLDER, ignore_errors=True)  # model.keras supersedes it
    report.print_run(console, metrics, run_dir)
    return metrics


def history_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def load_model(path: Path) -> keras.Model:
    """Load a saved model in Keras' safe mode; a bad file is one clear error."""
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(f"cannot load model {path}: {first}") from exc


def check_reload(in_memory_accuracy: float, correct: int, n: int) -> None:
    """The reloaded model must score exactly what the trained one scored."""
    if round(in_memory_accuracy * n) != correct:
        raise ModelFileError(
            f"the reloaded model gets {correct}/{n} right but the trained one got "
            f"{in_memory_accuracy:.4f}: the saved model does not match the trained one"
        )


def write_plots(run_dir: Path, history: pd.DataFrame, dataset: data.Dataset, predicted) -> None:
    folder = run_dir / artifacts.PLOTS
    names = dataset.meta["class_names"]
    truth = dataset.y_test
    # Curves and digit grids fit their canvas whatever the data: saved as laid out.
    # The confusion matrix's tick labels are class names, as long as "Ankle boot"
    # for Fashion-MNIST: its canvas is then fitted to them.
    for metric in ("loss", "accuracy"):
        figure = plots.curves(history, metric)
        artifacts.write_figure(folder / f"{metric}.png", figure, fit=False)
    right = np.flatnonzero(truth == predicted)[:9]
    wrong = np.flatnonzero(truth != predicted)[:9]
    for name, index, title in (
        ("correct", right, "correctly classified"),
        ("incorrect", wrong, "incorrectly classified"),
    ):
        figure = plots.digit_grid(
            dataset.x_test[index], truth[index], predicted[index], title, names
        )
        artifacts.write_figure(folder / f"{name}.png", figure, fit=False)
    figure = plots.confusion_matrix(truth, predicted, names)
    fit = plots.long_names(names)
    artifacts.write_figure(folder / "confusion_matrix.png", figure, fit=fit)


def describe(cfg: Config, run_dir: Path) -> dict:
    """What identifies the run: seed, config hash, library versions, directory."""
    import tensorflow as tf

    resolved = json.dumps(asdict(cfg), sort_keys=True, default=str)
    return {
        "seed": cfg.training.seed,
        "config_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "backend": keras.backend.backend(),
        },
        "run_dir": str(run_dir),
    }
