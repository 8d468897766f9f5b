"""The sweep as a whole on the console: one line, printed before each job the sweep
process runs itself and whenever a job of a parallel launcher ends.

    sweep: 3 of 8 jobs done (1 failed, 0 pruned) · best val/accuracy 0.9612 (job 1) ·
    0:42 elapsed, ~1:24 to go                                   (on one line)

The line is rebuilt from the jobs' metrics.json files (as the summary is), so it
counts jobs finished before a resume too; the estimate comes from the jobs that
ended since this process started. Plain text where output is not a terminal.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_exp.results import files
from mnist_exp.results.metrics import direction, finite, format_value, objectives
from mnist_exp.results.status import ENDED, Status


@dataclass
class State:
    """What the job directories say: how many ended each way, and the best so far."""

    counts: Counter
    best: tuple[float, int] | None  # objective, job number

    @property
    def ended(self) -> int:
        return sum(self.counts[s] for s in ENDED)


def read_state(sweep_dir: Path, metric: str) -> State:
    """Every job directory (SWEEP_DIR/N) of the sweep: its status and objective; of
    equal objectives the first job's is the best."""
    counts: Counter = Counter()
    best = None
    sign = 1.0 if direction(metric) == "maximize" else -1.0
    found_dirs = Path(sweep_dir).iterdir() if Path(sweep_dir).is_dir() else ()
    for job_dir in sorted((d for d in found_dirs if d.name.isdigit()), key=lambda d: int(d.name)):
        found = files.read_json_or_empty(job_dir / files.METRICS)
        status = found.get("status")
        counts[status] += 1
        value = finite(found.get(metric))
        if status == Status.COMPLETED and value is not None:
            if best is None or sign * value > sign * best[0]:
                best = (value, int(job_dir.name))
    return State(counts, best)


def describe(state: State, total: int, metric: str, elapsed: float, ended_here: int) -> str:
    """The sweep's line; `ended_here`: jobs that ended since this process began, whose
    pace gives the estimate of the rest."""
    counts = state.counts
    parts = [
        f"sweep: {state.ended} of {total} jobs done "
        f"({counts['failed'] + counts['interrupted']} failed, {counts['pruned']} pruned)"
    ]
    if state.best is not None:
        value, job = state.best
        parts.append(f"best {metric} {format_value(value, metric)} (job {job})")
    timing = f"{clock_time(elapsed)} elapsed"
    left = total - state.ended
    if ended_here > 0 and left > 0:
        timing += f", ~{clock_time(elapsed / ended_here * left)} to go"
    parts.append(timing)
    return " · ".join(parts)


def clock_time(seconds: float) -> str:
    """1:05 for 65 s, 1:00:05 for 3605 s."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class SweepProgress:
    """The line of one sweep: `show()` prints it when it says something new."""

    sweep_dir: Path
    total: int
    optimized_metric: Any = "val/accuracy"
    clock: Callable[[], float] = time.monotonic
    emit: Callable[[str], None] | None = None  # prints a line; default: a rich console's
    _start: float = field(init=False)
    _ended_before: int = field(init=False)
    _shown: State | None = field(init=False, default=None)  # what the last line said

    def __post_init__(self) -> None:
        self.metric = objectives(self.optimized_metric)[0]
        self._start = self.clock()
        self._ended_before = read_state(self.sweep_dir, self.metric).ended
        if self.emit is None:
            from rich.console import Console

            console = Console(highlight=False, soft_wrap=True)
            self.emit = lambda line: console.print(line, style="bold cyan", markup=False)

    def show(self) -> None:
        """Print the line when the jobs' state has changed since it was last printed; the
        times alone changing print nothing. Called from one thread at a time: the watcher
        has stopped before the launching loop calls it again."""
        state = read_state(self.sweep_dir, self.metric)
        if state == self._shown:
            return
        self._shown = state
        elapsed, ended = self.clock() - self._start, state.ended - self._ended_before
        self.emit(describe(state, self.total, self.metric, elapsed, ended))

    @contextlib.contextmanager
    def watching(self, every: float = 2.0) -> Iterator[None]:
        """While jobs run in other processes: look at their directories every `every`
        seconds, and print the line when one has ended."""
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(every):
                with contextlib.suppress(OSError):  # a directory moved under us: next time
                    self.show()

        thread = threading.Thread(target=watch, name="sweep-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
