"""What every tracker is sent beside its own per-epoch series, chosen once: the final
metrics (metrics.json's numbers under the vocabulary's names) and the overrides that
say what a run trains."""

from __future__ import annotations

from mnist_exp.results.metrics import HISTORY_COLUMNS, METRICS, finite

# metrics.json's best-epoch values under names that do not clash with the per-epoch
# series (whose last value is the last epoch's, not the best one's).
FINAL_RENAMES = {m.name: m.final for m in METRICS if m.final}
NOT_METRICS = {m.name for m in METRICS if not m.tracked}  # numbers that describe, not measure
# Overrides that say how a run is run, not what it trains: left out of its MLflow name
# and of its hyperparameters in TensorBoard.
HOW_KEYS = ("logger", "training.progress", "training.threads", "resume", "hydra.")


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers, less the per-epoch series the trackers already have."""
    per_epoch = set(HISTORY_COLUMNS) - {"epoch"}
    final = {}
    for key, value in metrics.items():
        value = finite(value)
        if value is None or key in NOT_METRICS:
            continue
        if key in FINAL_RENAMES:
            final[FINAL_RENAMES[key]] = value
        elif key not in per_epoch:
            final[key] = value
    return final


def what_overrides(overrides: list[str]) -> list[str]:
    """The overrides that change what is trained (model=two_hidden), not how it is run."""
    return [o for o in overrides if not o.lstrip("+~").startswith(HOW_KEYS)]


def what_values(overrides: list[str]) -> dict[str, str]:
    """what_overrides as {key: value} (`+model.units=16` -> {"model.units": "16"});
    a deletion (`~key`) has no value and is left out."""
    values = {}
    for override in what_overrides(overrides):
        key, given, value = override.partition("=")
        if given and not key.startswith("~"):
            values[key.lstrip("+")] = value
    return values


def task_overrides() -> list[str]:
    """This run's overrides (Hydra's overrides.task); none outside a Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
