"""The live progress display: what it shows and how seldom it draws."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
from rich.console import Console

from mnist_exp.sweeps.progress import SweepProgress, clock_time
from mnist_exp.training.callbacks.progress import RichProgress


class Model:
    stop_training = False


class FakeClock:
    """Time that moves only when a test says: no test depends on the machine's clock
    (perf_counter counts from boot, and CI machines are booted minutes before)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def display(interval: float, clock: FakeClock) -> tuple[RichProgress, list[str]]:
    """A display over a terminal-like console, recording the epoch shown at each draw."""
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    progress = RichProgress(console, batch_size=128, interval=interval, clock=clock)
    progress.set_model(Model())
    progress.set_params({"epochs": 3, "steps": 10})
    drawn: list[str] = []
    original = progress.progress.make_tasks_table  # rich's one way to render the tasks

    def make_tasks_table(tasks):
        drawn.extend(f"{t.fields['epoch']} {t.completed:.0f}/{t.total:.0f}" for t in tasks)
        return original(tasks)

    progress.progress.make_tasks_table = make_tasks_table
    return progress, drawn


def train(progress: RichProgress, clock: FakeClock, block_seconds: float) -> None:
    progress.on_train_begin()
    for epoch in range(3):
        progress.on_epoch_begin(epoch)
        for block_end in (4, 9):  # two blocks of steps per epoch
            clock.now += block_seconds
            progress.on_train_batch_end(block_end, {"loss": 0.5, "accuracy": 0.9})
        progress.on_epoch_end(epoch, {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.4})
    progress.on_train_end()


# A clock that reads 0 (a machine just booted), one at a day's uptime, one far on.
CLOCKS = [0.0, 86_400.0, 1e9]


@pytest.mark.parametrize("start", CLOCKS)
def test_each_epoch_draws_at_its_first_block_then_no_more_often_than_the_interval(start):
    clock = FakeClock(start)
    progress, drawn = display(interval=3600.0, clock=clock)  # nothing redraws on time alone
    train(progress, clock, block_seconds=1.0)
    # start (no task yet), each epoch's first block of steps, the final draw at stop
    assert drawn[1:-1] == ["1/3 5/10", "2/3 5/10", "3/3 5/10"]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", progress.console.file.getvalue())
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3  train/loss 0.5000" in text
        assert "(2.0s)" in text  # the epoch's seconds, by the same clock


@pytest.mark.parametrize("start", CLOCKS)
def test_a_block_draws_once_the_interval_has_passed(start):
    clock = FakeClock(start)
    progress, drawn = display(interval=2.0, clock=clock)
    train(progress, clock, block_seconds=2.5)  # each block ends after the interval
    for epoch in (1, 2, 3):
        assert f"{epoch}/3 5/10" in drawn and f"{epoch}/3 10/10" in drawn


# --- the sweep's line -----------------------------------------------------------------


def sweep_job(sweep_dir, num: int, status: str | None, accuracy: float | None = None) -> None:
    job = sweep_dir / str(num)
    job.mkdir(parents=True)
    if status is not None:
        metrics = {"status": status, "val/accuracy": accuracy, "val/loss": 1.0}
        (job / "metrics.json").write_text(json.dumps(metrics))


def test_the_sweep_line_counts_jobs_by_how_they_ended_and_names_the_best(tmp_path):
    sweep_job(tmp_path, 0, "completed", 0.91)
    sweep_job(tmp_path, 1, "failed")
    sweep_job(tmp_path, 2, "completed", 0.95)
    sweep_job(tmp_path, 3, "pruned", 0.99)  # a pruned trial is never the best
    sweep_job(tmp_path, 4, "interrupted")
    sweep_job(tmp_path, 5, "running")
    (tmp_path / "plots").mkdir()  # not a job
    clock, shown = FakeClock(100.0), []
    progress = SweepProgress(tmp_path, 10, ["val/accuracy", "val/loss"], clock, shown.append)
    clock.now += 65
    progress.show()
    assert shown == [
        "sweep: 5 of 10 jobs done (2 failed, 1 pruned) · best val/accuracy 0.9500 (job 2) "
        "· 1:05 elapsed"  # no estimate: no job has ended since this process began
    ]


def test_the_sweep_line_estimates_the_rest_from_the_jobs_this_process_saw_end(tmp_path):
    sweep_job(tmp_path, 0, "completed", 0.9)  # finished before a resume
    clock, shown = FakeClock(0.0), []
    progress = SweepProgress(tmp_path, 5, "val/loss", clock, shown.append)
    progress.show()
    assert shown[-1] == (
        "sweep: 1 of 5 jobs done (0 failed, 0 pruned) · best val/loss 1.0000 (job 0) · 0:00 elapsed"
    )
    clock.now = 30.0
    sweep_job(tmp_path, 1, "completed", 0.8)
    sweep_job(tmp_path, 2, "completed", 0.7)
    progress.show()
    # 2 jobs in 30 s, 2 left: about 30 s more; of equal losses the first stays the best
    assert shown[-1] == (
        "sweep: 3 of 5 jobs done (0 failed, 0 pruned) · best val/loss 1.0000 (job 0) "
        "· 0:30 elapsed, ~0:30 to go"
    )
    clock.now = 3700.0
    progress.show()  # only the times changed: nothing new to say
    assert len(shown) == 2
    assert clock_time(3700.0) == "1:01:40"


def test_the_sweep_line_is_watched_while_jobs_run_elsewhere(tmp_path):
    shown: list[str] = []
    progress = SweepProgress(tmp_path, 2, "val/accuracy", FakeClock(0.0), shown.append)
    event = threading.Event()
    progress.emit = lambda line: (shown.append(line), event.set())
    with progress.watching(every=0.01):
        sweep_job(tmp_path, 0, "completed", 0.9)
        assert event.wait(10)
    assert shown[-1].startswith("sweep: 1 of 2 jobs done")
