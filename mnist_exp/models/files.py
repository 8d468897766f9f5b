"""A model on disk: saved atomically, loaded in Keras' safe mode, and checked after
the reload against what the trained model scored."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.errors import ModelFileError, first_line
from mnist_exp.results.files import MODEL, MODEL_H5, write_with


def save_model(model, run_dir: Path, h5: bool = False) -> Path:
    """model.keras (and model.h5) in run_dir, each written whole or not at all."""
    path = write_with(run_dir / MODEL, model.save)
    if h5:
        write_with(run_dir / MODEL_H5, model.save)
    return path


def load_model(path: Path):
    """Load a saved model in Keras' safe mode; a bad file is one clear error."""
    import keras

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(f"cannot load model {path}: {first_line(exc)}") from exc


def check_reload(in_memory_accuracy: float, correct: int, n: int) -> None:
    """The reloaded model must score exactly what the trained one scored."""
    if round(in_memory_accuracy * n) != correct:
        raise ModelFileError(
            f"the reloaded model gets {correct}/{n} right but the trained one got "
            f"{in_memory_accuracy:.4f}: the saved model does not match the trained one"
        )
