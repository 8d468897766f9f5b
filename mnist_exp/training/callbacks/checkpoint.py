"""What `checkpoints/` holds, so that an interrupted or killed run can resume.

After every completed epoch: the model with its optimizer state
(`epoch-N.keras`), then `state.json` naming it with the history so far. Both are
written atomically and state.json last, so it always names a complete model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from mnist_exp.errors import ModelFileError
from mnist_exp.results import files

FOLDER = "checkpoints"
STATE = "state.json"


@dataclass
class State:
    epoch: int  # completed epochs
    model_file: str
    history: list[dict]
    fit_seconds: float


def read_state(run_dir: Path) -> State | None:
    path = run_dir / FOLDER / STATE
    if not path.exists():
        return None
    try:
        raw = files.read_json(path)
        return State(
            int(raw["epoch"]), str(raw["model_file"]), list(raw["history"]), raw["fit_seconds"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint state ({exc})") from exc


class Checkpointer(keras.callbacks.Callback):
    """Saves model, optimizer state, history.csv and state.json after each good epoch."""

    def __init__(
        self,
        run_dir: Path,
        rows: list[dict],
        write_history: Callable[[], None],
        keep_epoch: Callable[[], bool],
        fit_seconds: Callable[[], float],
    ) -> None:
        super().__init__()
        self.folder = run_dir / FOLDER
        self.rows = rows
        self.write_history = write_history
        self.keep_epoch = keep_epoch
        self.fit_seconds = fit_seconds

    def on_epoch_end(self, epoch, logs=None):
        if not self.keep_epoch():
            return
        self.write_history()
        name = f"epoch-{epoch + 1}.keras"
        files.write_with(self.folder / name, self.model.save)
        state = {
            "epoch": epoch + 1,
            "model_file": name,
            "history": self.rows,
            "fit_seconds": self.fit_seconds(),
        }
        files.write_json(self.folder / STATE, state)
        for old in self.folder.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)
