"""What `checkpoints/` holds, so that an interrupted or killed run can resume.

After every completed epoch: the model with its optimizer state
(`epoch-N.keras`), the arrays that file does not keep (`epoch-N.npz`: the state of
the model's random number generators, which dropout draws its masks from, and what
callbacks keep, such as early stopping's best weights), then `state.json` naming
them, with the history so far and each stateful callback's counters. All are
written atomically and state.json last, so it always names complete files.

A callback is stateful when it has checkpoint_state() -> (dict, arrays) and
resume_from(dict, arrays): Resumable gives both to a callback that names its
counters (training/callbacks/early_stopping.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from mnist_exp.errors import ModelFileError
from mnist_exp.results import files

FOLDER = files.CHECKPOINTS
STATE = files.CHECKPOINT_STATE


@dataclass
class State:
    epoch: int  # completed epochs
    model_file: str
    history: list[dict]
    fit_seconds: float
    callbacks: dict[str, dict] = field(default_factory=dict)  # each stateful one's counters
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)  # and its arrays

    def resume(self, callbacks: dict) -> None:
        """Hand each stateful callback what the checkpoint kept of it."""
        for name, state in self.callbacks.items():
            if name in callbacks:
                callbacks[name].resume_from(state, self.arrays.get(name, []))


def read_state(run_dir: Path) -> State | None:
    path = run_dir / FOLDER / STATE
    if not path.exists():
        return None
    try:
        raw = files.read_json(path)
        state = State(
            int(raw["epoch"]), str(raw["model_file"]), list(raw["history"]), raw["fit_seconds"]
        )
        state.callbacks = dict(raw.get("callbacks") or {})
        if raw.get("arrays_file"):
            state.arrays = read_arrays(run_dir / FOLDER / raw["arrays_file"])
        return state
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint state ({exc})") from exc


def read_arrays(path: Path) -> dict[str, list[np.ndarray]]:
    """{callback: [array, ...]} from an npz of keys "callback/i"."""
    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            name, index = key.rsplit("/", 1)
            found.setdefault(name, []).append((int(index), npz[key]))
    return {
        name: [a for _, a in sorted(items, key=lambda x: x[0])] for name, items in found.items()
    }


class Resumable:
    """A callback whose counters (STATE: attribute names) and arrays survive a
    checkpoint. They are set again once training begins, after the callback's own
    on_train_begin has reset them."""

    STATE: tuple[str, ...] = ()
    _resumed: tuple[dict, list[np.ndarray]] | None = None

    def checkpoint_state(self) -> tuple[dict, list[np.ndarray]]:
        state = {name: getattr(self, name) for name in self.STATE}
        plain = {k: v if v is None or isinstance(v, int) else float(v) for k, v in state.items()}
        return plain, self.checkpoint_arrays()

    def checkpoint_arrays(self) -> list[np.ndarray]:
        return []

    def restore_arrays(self, arrays: list[np.ndarray]) -> None:
        pass

    def resume_from(self, state: dict, arrays: list[np.ndarray]) -> None:
        self._resumed = (state, arrays)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resumed is not None:
            state, arrays = self._resumed
            for name in self.STATE:
                setattr(self, name, state[name])
            self.restore_arrays(arrays)


RNG = "model_rng"  # the key of the model's generator states among the arrays


def rng_variables(model) -> list:
    """The state variables of the model's random generators (dropout's masks): model.save
    leaves them out, and a resumed run must draw the masks the straight run would."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def rng_states(model) -> list[np.ndarray]:
    return [np.asarray(v.numpy()) for v in rng_variables(model)]


def restore_rng_states(model, states: list[np.ndarray]) -> None:
    """Set the generators' states a checkpoint kept (none: a checkpoint made before
    they were kept, whose run then goes on with fresh masks)."""
    if states:
        for variable, value in zip(rng_variables(model), states, strict=True):
            variable.assign(value)


def stateful(callbacks: dict) -> dict:
    """The callbacks (by name) that keep a state across a checkpoint."""
    return {n: c for n, c in callbacks.items() if hasattr(c, "checkpoint_state")}


class Checkpointer(keras.callbacks.Callback):
    """Saves model, optimizer state, history.csv and state.json after each good epoch."""

    def __init__(
        self,
        run_dir: Path,
        rows: list[dict],
        write_history: Callable[[], None],
        keep_epoch: Callable[[], bool],
        fit_seconds: Callable[[], float],
        callbacks: dict | None = None,
    ) -> None:
        super().__init__()
        self.folder = run_dir / FOLDER
        self.rows = rows
        self.write_history = write_history
        self.keep_epoch = keep_epoch
        self.fit_seconds = fit_seconds
        self.stateful = stateful(callbacks or {})

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
            "callbacks": {},
        }
        arrays = {f"{RNG}/{i}": a for i, a in enumerate(rng_states(self.model))}
        for key, callback in self.stateful.items():
            state["callbacks"][key], kept = callback.checkpoint_state()
            arrays.update({f"{key}/{i}": a for i, a in enumerate(kept)})
        if arrays:
            state["arrays_file"] = f"epoch-{epoch + 1}.npz"
            files.write_with(self.folder / state["arrays_file"], lambda p: np.savez(p, **arrays))
        files.write_json(self.folder / STATE, state)
        kept = {name, state.get("arrays_file")}
        for old in [*self.folder.glob("epoch-*.keras"), *self.folder.glob("epoch-*.npz")]:
            if old.name not in kept:
                old.unlink(missing_ok=True)
