"""The live progress display: what it shows and how seldom it draws."""

from __future__ import annotations

import io
import re

from rich.console import Console

from mnist_exp.training.callbacks.progress import RichProgress


class Model:
    stop_training = False


def display(interval: float) -> tuple[RichProgress, list[str]]:
    """A display over a terminal-like console, recording the epoch shown at each draw."""
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    progress = RichProgress(console, batch_size=128, interval=interval)
    progress.set_model(Model())
    progress.set_params({"epochs": 3, "steps": 10})
    drawn: list[str] = []
    original = progress.progress.make_tasks_table  # rich's one way to render the tasks

    def make_tasks_table(tasks):
        drawn.extend(f"{t.fields['epoch']} {t.completed:.0f}/{t.total:.0f}" for t in tasks)
        return original(tasks)

    progress.progress.make_tasks_table = make_tasks_table
    return progress, drawn


def train(progress: RichProgress) -> None:
    progress.on_train_begin()
    for epoch in range(3):
        progress.on_epoch_begin(epoch)
        for block_end in (4, 9):  # two blocks of steps per epoch
            progress.on_train_batch_end(block_end, {"loss": 0.5, "accuracy": 0.9})
        progress.on_epoch_end(epoch, {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.4})
    progress.on_train_end()


def test_each_epoch_draws_at_its_first_block_then_no_more_often_than_the_interval():
    progress, drawn = display(interval=3600.0)  # nothing redraws on time alone
    train(progress)
    # start (no task yet), each epoch's first block of steps, the final draw at stop
    assert drawn[1:-1] == ["1/3 5/10", "2/3 5/10", "3/3 5/10"]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", progress.console.file.getvalue())
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3  train/loss 0.5000" in text


def test_every_block_draws_when_the_interval_has_passed():
    progress, drawn = display(interval=0.0)
    train(progress)
    for epoch in (1, 2, 3):
        assert f"{epoch}/3 5/10" in drawn and f"{epoch}/3 10/10" in drawn
