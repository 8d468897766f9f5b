"""The composed config as typed settings: every check runs here, before TensorFlow."""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from mnist_exp.config import optimizers
from mnist_exp.config.schema import Config
from mnist_exp.config.targets import TARGETS, check_targets, locate_allowed
from mnist_exp.config.trackers import configured
from mnist_exp.errors import ConfigError, require
from mnist_exp.results.metrics import EPOCH_NAMES


def to_settings(cfg: DictConfig) -> Config:
    """Turn a composed config into dataclasses, running every range check.

    Raises ConfigError naming the key when a value is out of range.
    """
    check_keys(cfg, "")
    for group in ("model", "optimizer", "loss", "schedule"):  # before to_object: nothing built yet
        if OmegaConf.is_dict(cfg.get(group)):
            check_targets(OmegaConf.to_container(cfg[group], resolve=True), group, TARGETS[group])
    if OmegaConf.select(cfg, "data._target_") is not None:  # null: the schema picks the reader
        check_targets({"_target_": cfg.data._target_}, "data", TARGETS["data"])
    callbacks = cfg.get("callbacks")
    if OmegaConf.is_config(callbacks):  # before to_object builds the callbacks' schemas
        check_callbacks(OmegaConf.to_container(callbacks, resolve=True))
    logger = cfg.get("logger")
    if OmegaConf.is_config(logger):  # before to_object builds the trackers' schemas
        specs = OmegaConf.to_container(logger, resolve=True)
        check_specs(dict(configured(specs)), "logger", "a tracker")
    try:
        settings = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except MissingMandatoryValue as exc:  # e.g. a group removed with ~optimizer
        raise ConfigError(
            f"{exc.full_key} has no value; choose one with {exc.full_key}=..."
        ) from None
    except Exception as exc:  # OmegaConf wraps __post_init__ errors
        cause = exc.__cause__ if isinstance(exc.__cause__, ConfigError) else None
        if cause is None:
            raise
        raise cause from None
    locate_allowed(settings.data._target_, "data", TARGETS["data"])  # names a reader
    if not isinstance(settings.optimizer, optimizers.OptimizerConfig):
        raise ConfigError(f"optimizer: no optimizer chosen; use optimizer={optimizers.names()}")
    return settings


def check_callbacks(callbacks: dict[str, Any]) -> None:
    """Each callback names an allowed class, and watches a metric of the vocabulary."""
    check_specs(callbacks, "callbacks", "a callback")
    for name, spec in callbacks.items():
        if "monitor" in spec:
            monitor = spec["monitor"]
            key = f"callbacks.{name}.monitor"
            require(monitor in EPOCH_NAMES, key, monitor, f"one of {EPOCH_NAMES}")


def check_specs(specs: dict[str, Any], group: str, what: str) -> None:
    """Each entry of a group of named specs (callbacks, logger) names its class as
    `_target_`, from the group's allow-list."""
    for name, spec in specs.items():
        key = f"{group}.{name}"
        if not isinstance(spec, dict) or "_target_" not in spec:
            raise ConfigError(f"{key}: {what}'s config names its class as _target_")
        check_targets(spec, key, TARGETS[group])


def check_keys(node: DictConfig, prefix: str) -> None:
    """Keys added with `+key=value` that no schema knows are mistakes: refuse them."""
    schema = OmegaConf.get_type(node)
    known = (
        {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    )
    for key in node.keys():
        path = f"{prefix}{key}"
        if known is not None and key not in known:
            raise ConfigError(
                f"{path} is not a config key; {prefix.rstrip('.') or 'the top level'} has: "
                f"{', '.join(sorted(known))}"
            )
        if OmegaConf.is_missing(node, key):
            continue
        child = node[key]  # None, a value, or a node (an interpolation resolved)
        if isinstance(child, DictConfig):
            check_keys(child, f"{path}.")
