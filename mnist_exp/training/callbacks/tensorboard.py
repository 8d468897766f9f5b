"""logger=tensorboard: Keras' own TensorBoard callback, event files in the run directory."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.config.trackers import TensorBoardConfig


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
