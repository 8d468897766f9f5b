"""logger=tensorboard: Keras' own TensorBoard callback, event files in the run directory,
and at the run's end one session of the HParams dashboard: its hyperparameters, final
metrics and status, so that `tensorboard --logdir SWEEP_DIR` compares a sweep's jobs."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_exp.config.schema import Config
from mnist_exp.config.trackers import TrackerConfig
from mnist_exp.errors import first_line, require
from mnist_exp.results import files
from mnist_exp.results.status import Status
from mnist_exp.training.callbacks.tracked import final_metrics, task_overrides, what_values
from mnist_exp.training.callbacks.trackers import Finisher

HPARAMS_SUFFIX = ".hparams"  # the event file of the run's HParams session, one per run
# How a run ended in the words of TensorBoard's hparams api_pb2.Status; a pruned trial
# finished what it was allowed to do (as in MLflow), and TensorBoard has no word for
# killed: an interrupted run did not succeed (its resume replaces the session).
SESSION_STATUS = {
    Status.COMPLETED: "STATUS_SUCCESS",
    Status.PRUNED: "STATUS_SUCCESS",
    Status.FAILED: "STATUS_FAILURE",
    Status.INTERRUPTED: "STATUS_FAILURE",
}

HParam = bool | int | float | str


@dataclass
class TensorBoardConfig(TrackerConfig):
    """logger=tensorboard: Keras' TensorBoard callback, event files in the run directory."""

    NAME = "tensorboard"
    PACKAGE = DISTRIBUTION = "tensorboard"
    _target_: str = f"{__name__}.TensorBoard"
    log_dir: str = "tensorboard"  # relative to the run directory
    graph: bool = True  # the model's graph for the Graphs tab: written once, costs little
    histogram_freq: int = 0  # weight histograms every N epochs; 0: none

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.histogram_freq >= 0,
            self.key("histogram_freq"),
            self.histogram_freq,
            "an integer >= 0",
        )


SCHEMA = TensorBoardConfig


class TensorBoard:
    """The tracker: event files for each epoch, the HParams session when the run ends."""

    def __init__(self, **fields) -> None:
        self.cfg = TensorBoardConfig(**fields)

    def start(self, config: Config, run_dir: Path, resume: bool) -> tuple[list, Finisher]:
        return [tensorboard_callback(self.cfg, run_dir)], hparams_writer(self.cfg, config, run_dir)

    def on_failure(self, run_dir: Path) -> dict:
        """A log dir that cannot be written, a full disk: TensorFlow's message, without
        its op and function names."""
        return {"describe": lambda exc: f"event files not written ({tf_message(exc)})"}


def tf_message(exc: BaseException) -> str:
    """`{{function_node ...}} /x is not a directory [Op:CreateSummaryFileWriter] ...`
    -> `/x is not a directory`; other exceptions: their first line."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", first_line(exc))
    return re.sub(r"\s*\[Op:.*$", "", text).strip() or type(exc).__name__


def tensorboard_callback(cfg: TensorBoardConfig, run_dir: Path):
    """Keras' own TensorBoard callback: RUN_DIR/tensorboard/{train,validation} event files
    with epoch_loss, epoch_accuracy (and epoch_learning_rate for train) at step epoch - 1."""
    import keras

    return keras.callbacks.TensorBoard(
        log_dir=str(run_dir / cfg.log_dir),
        write_graph=cfg.graph,
        histogram_freq=cfg.histogram_freq,
        update_freq="epoch",
        profile_batch=0,
    )


def hparams_writer(cfg: TensorBoardConfig, config: Config, run_dir: Path) -> Finisher:
    """A Tracking finisher: the run's HParams session, written when it ends."""
    values = hparams(config, task_overrides())
    started = time.time()

    def finish(status: str) -> None:
        metrics = files.read_json_or_empty(run_dir / files.METRICS)
        write_session(
            run_dir / cfg.log_dir,
            trial_id=str(run_dir.resolve()),
            values=values,
            metrics=final_metrics(metrics),
            status=status,
            step=int(metrics.get("epochs") or 0),
            started=started,
        )

    return finish


def hparams(config: Config, overrides: list[str]) -> dict[str, HParam]:
    """The run's hyperparameters: what names its network and training (so that runs
    without overrides compare too), then each override that changes what is trained
    (`model.units=16`: what a sweep varies and fixes). The whole config would be a
    hundred columns, nearly all the same in every run."""
    values: dict[str, HParam] = {
        "data.name": config.data.name,
        "model.name": config.model.name,
        "optimizer.name": config.optimizer.name,
        "optimizer.learning_rate": float(config.optimizer.learning_rate),
        "training.epochs": config.training.epochs,
        "training.batch_size": config.training.batch_size,
    }
    values.update({key: typed(value) for key, value in what_values(overrides).items()})
    return values


def typed(value: str) -> HParam:
    """An override's value as the dashboard sorts and filters it: a bool, a number, or text."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        return number if math.isfinite(number) else value
    return value


def write_session(
    log_dir: Path,
    trial_id: str,
    values: dict[str, HParam],
    metrics: dict[str, float],
    status: str,
    step: int,
    started: float | None = None,
) -> None:
    """One HParams session in log_dir: its hyperparameters, its final metrics as scalars
    (which the dashboard reads from the session's own directory) and its status.

    TensorBoard keeps the first session it reads in a directory, so a resumed run's
    session replaces the one its interrupted start wrote: one session, the last status.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_summary

    earlier = list(log_dir.glob(f"events.out.tfevents.*{HPARAMS_SUFFIX}"))
    ended = api_pb2.Status.Value(SESSION_STATUS.get(status, "STATUS_UNKNOWN"))
    end = hp_summary.session_end_pb(ended)
    writer = tf.summary.create_file_writer(str(log_dir), filename_suffix=HPARAMS_SUFFIX)
    with writer.as_default():
        hp.hparams(values, trial_id=trial_id, start_time_secs=started)
        for name, value in metrics.items():
            tf.summary.scalar(name, value, step=step)
        tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=step)
    writer.close()
    for path in earlier:
        path.unlink(missing_ok=True)
