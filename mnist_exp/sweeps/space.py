"""hydra.sweeper.params (and sweep overrides on the command line) as Optuna's search
space, read as hydra-optuna-sweeper reads them:

- `choice(a, b, c)` -> CategoricalDistribution
- `range(start, stop, step)` -> IntDistribution or FloatDistribution with a step,
  stop included (`shuffle(range(...))`: categorical)
- `interval(low, high)` -> FloatDistribution (Hydra reads an interval's ends as
  floats); `tag(log, interval(...))` samples on a log scale
- anything else (`key=value`) -> a fixed override for every trial

A key given on the command line replaces the same key of the search file.
"""

from __future__ import annotations

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from mnist_exp.errors import ConfigError


def search_space(arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """({key: distribution}, fixed overrides), later arguments replacing earlier keys."""
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = override.input_line or f"{key}={override.get_value_element_as_str()}"
    return space, list(fixed.values())


def distribution(override: Override) -> BaseDistribution:
    value = override.value()
    key = override.get_key_element()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(Transformer.encode)))
    if override.is_range_sweep():
        if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
            return FloatDistribution(value.start, value.stop, step=value.step)
        # stop included, as hydra-optuna-sweeper reads it (a grid sweep's range excludes it)
        return IntDistribution(int(value.start), int(value.stop), step=int(value.step))
    if override.is_interval_sweep():
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(value.start, value.end, log=log)
    raise ConfigError(f"hydra.sweeper.params.{key}: {override.input_line} is not a search space")


def grid(space: dict[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The values a grid sampler walks: choices, or a range's steps."""
    values = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[key] = list(dist.choices)
        elif dist.step is not None and not getattr(dist, "log", False):
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            values[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise ConfigError(
                f"hydra.sweeper.params.{key}: the grid sampler needs choice() or range(), "
                "not an interval"
            )
    return values
