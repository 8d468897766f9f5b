"""One run, end to end: data -> model -> fit -> evaluate -> save -> reload -> predict.

`run` reads as its steps: build_or_resume, fit, evaluate_and_verify, write_results.
It hands every file to results/ and returns the metrics dict, whose keys are the
metric vocabulary (results/metrics.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from mnist_exp.config.schema import Config
from mnist_exp.data import labels
from mnist_exp.data.dataset import Dataset, load
from mnist_exp.errors import DivergedError, ModelFileError, RunInterrupted, describe_failure
from mnist_exp.models.catalog import build_model
from mnist_exp.models.files import check_reload, load_model, save_model
from mnist_exp.models.inference import predict
from mnist_exp.results import files, run_files
from mnist_exp.results.console import print_run
from mnist_exp.results.metrics import (
    DEFAULT_OBJECTIVE,
    EPOCH_NAMES,
    direction,
    forms,
    objectives,
)
from mnist_exp.results.status import FINISHED, Status
from mnist_exp.training import devices, reuse, schedules, threads
from mnist_exp.training.callbacks import checkpoint, pruning, trackers
from mnist_exp.training.callbacks.from_config import configured_callbacks, how_it_stopped
from mnist_exp.training.callbacks.guards import StopOnNaN, StopOnSignal
from mnist_exp.training.callbacks.history import EpochRecorder
from mnist_exp.training.callbacks.progress import RichProgress
from mnist_exp.training.compile import compile_model
from mnist_exp.training.loops import Loop, make_loop
from mnist_exp.training.tensors import as_tensor

log = logging.getLogger(__name__)
# What a signal that stops fit means, where its name alone does not say
SIGNAL_MEANS = {"SIGUSR2": "SIGUSR2 (SLURM: the job's time limit is near, or it is preempted)"}


def run(
    cfg: Config,
    run_dir: Path,
    console: Console | None = None,
    dataset: Dataset | None = None,
    resume: bool = False,
    trial=None,
) -> dict:
    """Train and evaluate as configured, write the run directory, return its metrics.

    metrics.json says "running" while the run is alive, then "completed" ("pruned"),
    "failed" (with a reason code and message) or "interrupted"; on failure the
    error is raised again for the caller. With resume=True the run continues
    from the last completed epoch in run_dir/checkpoints. `trial`, an Optuna trial of
    a pruned search, hears the objective after every epoch and may stop the run:
    its status is then "pruned".
    """
    console = console or Console()
    run_dir.mkdir(parents=True, exist_ok=True)
    state = checkpoint.read_state(run_dir) if resume else None
    base = {**describe(cfg, run_dir), "id": files.run_id(run_dir, new=not resume)}
    if resume and state is None:
        ended = files.read_json_or_empty(run_dir / files.METRICS).get("status")
        if ended in FINISHED:
            raise ModelFileError(f"{run_dir} is {ended}: there is nothing to resume")
        raise ModelFileError(f"{run_dir} has no checkpoint to resume from")
    files.write_json(
        run_dir / files.METRICS, {"status": Status.RUNNING, **base, "pid": os.getpid()}
    )
    tracking = trackers.Tracking()  # logger=tensorboard / mlflow: callbacks, then finish()
    try:
        tracking = trackers.start(cfg, run_dir, resume)
        metrics = _run(cfg, run_dir, console, base, dataset, state, tracking.callbacks, trial)
    except RunInterrupted as exc:
        files.record_status(run_dir, Status.INTERRUPTED, reason=exc.signal_name, message=str(exc))
        tracking.finish(Status.INTERRUPTED)
        raise
    except Exception as exc:
        reason, message = describe_failure(exc)
        files.record_status(run_dir, Status.FAILED, reason=reason, message=message)
        tracking.finish(Status.FAILED)
        raise
    tracking.finish(metrics["status"])
    return metrics


def _run(cfg, run_dir, console, base, dataset, state, tracker_callbacks, trial) -> dict:
    started = time.perf_counter()
    n_threads = threads.configure(
        cfg.training.threads, cfg.training.seed, cfg.training.deterministic
    )
    dataset = dataset or load(cfg.data, cfg.validation, cfg.training.seed)
    if cfg.validation.split == "test":
        log.warning(
            "validation=test: the test set is used for validation, so the test score "
            "is no longer an unbiased estimate (as in the tutorial)"
        )
    one_hot = labels.one_hot_labels(cfg.loss, cfg.training)
    y_train, y_val, y_test = (
        labels.encode(y, one_hot, dataset.n_classes)
        for y in (dataset.y_train, dataset.y_val, dataset.y_test)
    )
    built = build_or_resume(cfg, run_dir, console, dataset, state, one_hot)
    history, fit_seconds, stopped = fit(
        cfg, run_dir, console, built, dataset, y_train, y_val, tracker_callbacks, trial
    )
    evaluation = evaluate_and_verify(cfg, run_dir, built, dataset, y_test)
    measured = {
        "train/seconds": fit_seconds,
        "threads": n_threads,
        "started": started,
        "stopped": stopped,
    }
    return write_results(
        cfg, run_dir, console, base, built, dataset, history, evaluation, measured, state
    )


@dataclass
class Built:
    """The model to train, the loop that trains it, and where a resumed run was."""

    model: object
    loop: Loop
    placement: devices.Placement
    learning_rate: float
    state: checkpoint.State | None  # the checkpoint it resumes from


def build_or_resume(cfg: Config, run_dir: Path, console, dataset, state, one_hot) -> Built:
    """A new compiled model, or the checkpointed one of an interrupted run, with its loop."""
    placement = devices.place(cfg.training)
    learning_rate = devices.scaled_learning_rate(
        cfg.optimizer.learning_rate, placement.replicas, cfg.training.lr_scaling
    )
    with placement.strategy.scope():
        steps_per_epoch = math.ceil(len(dataset.y_train) / cfg.training.batch_size)
        train_steps = steps_per_epoch * cfg.training.epochs
        if state is None:
            model = build_model(cfg.model, dataset.image_shape, dataset.n_classes)
            rate = schedules.build(
                cfg.schedule, learning_rate, steps_per_epoch, cfg.training.epochs
            )
            reused = reuse.take(cfg, model, rate, one_hot, train_steps)
            if reused is not None:  # the job before's traced steps, with this job's state
                model, loop = reused
                return Built(model, loop, placement, learning_rate, state)
            compile_model(model, cfg.optimizer, cfg.loss, rate, one_hot)
            loop = make_loop(model, cfg.training, train_steps)
            reuse.keep(cfg, model, loop, rate, one_hot, train_steps)
            return Built(model, loop, placement, learning_rate, state)
        # its optimizer, schedule and step count come with it
        model = load_model(run_dir / checkpoint.FOLDER / state.model_file)
        checkpoint.restore_rng_states(model, state.arrays.get(checkpoint.RNG, []))
        console.print(f"resuming {run_dir} after epoch {state.epoch} of {cfg.training.epochs}")
        loop = make_loop(model, cfg.training, train_steps)
    return Built(model, loop, placement, learning_rate, state)


def fit(cfg, run_dir, console, built: Built, dataset, y_train, y_val, tracker_callbacks, trial):
    """Train the remaining epochs; (history, fit seconds, how the configured callbacks
    stopped it). A signal or a NaN loss ends it with its error, after the last
    completed epoch is written."""
    state = built.state or checkpoint.State(0, "", [], 0.0)  # a new run: nothing done yet
    stop_on_signal, stop_on_nan = StopOnSignal(), StopOnNaN()
    recorder = EpochRecorder(state.history, keep=lambda: stop_on_signal.received is None)
    configured = configured_callbacks(cfg.callbacks)
    if trial is not None:
        configured[pruning.STOP_REASON] = pruning.ReportToTrial(trial, cfg.optimized_metric)
    state.resume(configured)
    fit_started = time.perf_counter()

    def fit_seconds() -> float:
        return state.fit_seconds + time.perf_counter() - fit_started

    callbacks: list = [
        recorder,
        stop_on_nan,
        stop_on_signal,
        *configured.values(),
        checkpoint.Checkpointer(
            run_dir,
            recorder.rows,
            lambda: run_files.write_history(run_dir, recorder.rows),
            keep_epoch=lambda: not stop_on_nan.tripped and stop_on_signal.received is None,
            fit_seconds=fit_seconds,
            callbacks=configured,
        ),
        *tracker_callbacks,
    ]
    if cfg.training.progress:
        callbacks.append(RichProgress(console, cfg.training.batch_size))
    # Run even with no epoch left (the checkpoint is of the last one, or a callback
    # had stopped the run): the callbacks' state resumes and ends as it would have.
    built.loop.fit(
        as_tensor(dataset.x_train),  # no copy of the training set
        y_train,
        epochs=state.epoch if stopped_early(state) else cfg.training.epochs,
        initial_epoch=state.epoch,
        validation_data=(as_tensor(dataset.x_val), y_val),
        callbacks=callbacks,
    )
    seconds = fit_seconds()
    raise_if_cut_short(cfg, run_dir, recorder.rows, stop_on_signal, stop_on_nan)
    return run_files.history_frame(recorder.rows), seconds, how_it_stopped(configured)


def raise_if_cut_short(cfg, run_dir, rows, stop_on_signal, stop_on_nan) -> None:
    """A signal or a NaN loss ended fit: keep the history of the completed epochs and
    say how to go on."""
    if stop_on_signal.received or stop_on_nan.tripped:
        run_files.write_history(run_dir, rows)
    if stop_on_signal.received:
        said = SIGNAL_MEANS.get(stop_on_signal.received, stop_on_signal.received)
        raise RunInterrupted(
            f"{said} after epoch {len(rows)} of "
            f"{cfg.training.epochs}; continue with: mnist-exp resume={run_dir}",
            stop_on_signal.received,
        )
    if stop_on_nan.tripped:
        epoch, step = stop_on_nan.tripped_at
        raise DivergedError(
            f"the training loss became NaN at epoch {epoch}, step {step}: try a smaller "
            f"optimizer.learning_rate (now {cfg.optimizer.learning_rate:g})"
        )


def stopped_early(state: checkpoint.State) -> bool:
    """Whether a callback had stopped the run by the checkpoint's epoch (its process
    ended before the results were written)."""
    return any(
        kept.get("stopped_epoch") or kept.get("stopped_after") for kept in state.callbacks.values()
    )


@dataclass
class Evaluation:
    loss: float
    predicted: np.ndarray  # class ids of the reloaded model's predictions
    confidence: np.ndarray
    correct: int
    incorrect: int


def evaluate_and_verify(cfg: Config, run_dir: Path, built: Built, dataset, y_test) -> Evaluation:
    """Test the trained model, save it, reload it, and check that the reloaded model
    predicts exactly what the trained one scored."""
    x_test = as_tensor(dataset.x_test)
    test = built.loop.evaluate(x_test, y_test)
    reloaded = load_model(save_model(built.model, run_dir, h5=cfg.save.h5))
    predicted, confidence = labels.decode(predict(reloaded, x_test))
    correct, incorrect = labels.count_correct(dataset.y_test, predicted, dataset.n_classes)
    check_reload(test["accuracy"], correct, len(predicted))
    return Evaluation(float(test["loss"]), predicted, confidence, correct, incorrect)


def write_results(
    cfg, run_dir, console, base, built, dataset, history, evaluation, measured, state
) -> dict:
    """history.csv, predictions.csv, plots/ and metrics.json; the checkpoints go."""
    run_files.write_history(run_dir, history)
    run_files.write_predictions(
        run_dir, dataset.y_test, evaluation.predicted, evaluation.confidence
    )
    run_files.write_plots(
        run_dir,
        history,
        dataset.x_test,
        dataset.y_test,
        evaluation.predicted,
        dataset.meta["class_names"],
    )
    best_by = best_epoch_metric(cfg.optimized_metric)
    metrics = {
        **run_metrics(
            history,
            evaluation,
            len(dataset.y_train),
            measured["train/seconds"],
            best_by,
        ),
        **measured["stopped"],
        "params": built.model.count_params(),
        "threads": measured["threads"],
        **built.placement.describe(cfg.training.batch_size, built.learning_rate),
        "data": dataset.meta,
        **base,
        "wall_seconds": time.perf_counter() - measured["started"],
    }
    if metrics.get("stop_reason") == pruning.STOP_REASON:
        metrics["status"] = Status.PRUNED
    if state is not None:
        metrics["resumed_after_epoch"] = state.epoch
    files.write_json(run_dir / files.METRICS, metrics)
    shutil.rmtree(run_dir / checkpoint.FOLDER, ignore_errors=True)  # model.keras supersedes it
    print_run(console, metrics, run_dir, best_by)
    return metrics


def best_epoch_metric(optimized_metric) -> str:
    """What picks the run's best epoch: the (first) objective where it is a validation
    metric measured every epoch (val/loss: its lowest), else val/accuracy."""
    first = objectives(optimized_metric)[0]
    return first if first.startswith("val/") and first in EPOCH_NAMES else DEFAULT_OBJECTIVE


def run_metrics(
    history: pd.DataFrame,
    evaluation: Evaluation,
    n_train: int,
    seconds: float,
    best_by: str = DEFAULT_OBJECTIVE,
):
    """What the run measured, by the vocabulary's names; val/* are the best epoch's, the
    best by `best_by`."""
    column = history[best_by]
    best = int(column.idxmin() if direction(best_by) == "minimize" else column.idxmax())
    n_test = evaluation.correct + evaluation.incorrect
    return {
        "status": Status.COMPLETED,
        "test/loss": evaluation.loss,
        "test/accuracy": evaluation.correct / n_test,
        "test/correct": evaluation.correct,
        "test/incorrect": evaluation.incorrect,
        **{m.name: float(history[m.name][best]) for m in forms("val")},
        "val/best_epoch": int(history["epoch"][best]),
        **{m.name: float(history[m.name].iloc[-1]) for m in forms("train")},
        "epochs": len(history),
        "train/seconds": seconds,
        "train/samples_per_second": n_train * len(history) / seconds,
    }


def describe(cfg: Config, run_dir: Path) -> dict:
    """What identifies the run: seed, config hash, library versions, directory."""
    import keras
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
