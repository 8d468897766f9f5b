"""Files of a run or sweep directory: their names, and atomic writes.

A file is written beside its final name and renamed into place, so a crash or
kill -9 leaves either the old complete file or the new complete file, never half.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

METRICS = "metrics.json"
HISTORY = "history.csv"
PREDICTIONS = "predictions.csv"
MODEL = "model.keras"
MODEL_H5 = "model.h5"
PLOTS = "plots"
CHECKPOINTS = "checkpoints"  # an unfinished run's last epochs (training/callbacks/checkpoint.py)
CHECKPOINT_STATE = "state.json"  # in CHECKPOINTS: names the complete files to resume from
MULTIRUN = "multirun.yaml"  # Hydra's record of a sweep, in its directory


@functools.cache
def _umask() -> int:
    """The process's umask, read once: os.umask can only be read by setting it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it over `path` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; results are as readable as any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_with(path: Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def write_json(path: Path, data: dict) -> Path:
    text = json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n"
    return write_with(path, lambda tmp: tmp.write_text(text))


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    return write_with(path, lambda tmp: table.to_csv(tmp, index=False))


def write_figure(path: Path, figure, fit: bool = True) -> Path:
    """Save a figure as PNG. fit=True trims or grows the canvas to what is drawn
    (bbox_inches="tight"), which draws the figure twice: for figures laid out to fit
    their canvas, fit=False saves a third of the time."""
    bbox = "tight" if fit else None
    return write_with(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches=bbox))


def record_status(run_dir: Path, status: str, **fields) -> Path:
    """Set metrics.json's status (failed, interrupted), keeping what it already says."""
    path = run_dir / METRICS
    return write_json(path, {**read_json_or_empty(path), "status": status, **fields})


def run_id(run_dir: Path, new: bool = False) -> str:
    """The id that names a run wherever its directory is copied (metrics.json's `id`): a
    new one for a new run, else the one it has. A directory written before runs had one
    is named by the path it was made at, which its metrics.json keeps (`run_dir`), else
    by where it is now."""
    if new:
        return uuid.uuid4().hex
    metrics = read_json_or_empty(Path(run_dir) / METRICS)
    if metrics.get("id"):
        return str(metrics["id"])
    made_at = str(metrics.get("run_dir") or Path(run_dir).resolve())
    return hashlib.sha256(made_at.encode()).hexdigest()[:32]


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_json_or_empty(path: Path) -> dict:
    """A JSON object's content; {} when the file is missing, half-written or not one."""
    try:
        content = read_json(path)
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def read_yaml_or_empty(path: Path, kind: type = dict):
    """A YAML file's content, or an empty `kind` when it is missing, half-written or
    not a `kind`."""
    import yaml

    try:
        content = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return kind()
    return content if isinstance(content, kind) else kind()


def _jsonable(value: Any) -> Any:
    """NaN and infinity become null: JSON has no spelling for them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sqlite_path(uri: object) -> Path | None:
    """The database file of a sqlite:///PATH URI (relative or absolute), else None."""
    prefix = "sqlite:///"
    if not isinstance(uri, str) or not uri.startswith(prefix):
        return None
    path = uri[len(prefix) :]
    if not path or path.startswith(":memory:"):
        return None
    return Path(path)
