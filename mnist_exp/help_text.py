"""`mnist-exp --help`: the config groups a user chooses from, without the schemas.

Hydra's own `$APP_CONFIG_GROUPS` also lists `schema/*`, the typed schemas that
the YAML options extend (config.py); they are not options to choose. The help
template (conf/hydra/help/mnist_exp.yaml) calls :func:`config_groups` through the
`mnist_exp_groups` resolver instead.
"""

from __future__ import annotations

HIDDEN = ("hydra", "schema")  # Hydra's own groups (see --hydra-help) and the schemas


def config_groups() -> str:
    """One line per group: `group: option, option  (chosen: option)`."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    hydra = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    if hydra is None:
        return "(run mnist-exp --help to list the config groups)"
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    groups = [g for g in hydra.list_all_config_groups() if g.split("/", 1)[0] not in HIDDEN]
    lines = {
        group: f"{group}: {', '.join(sorted(hydra.config_loader.get_group_options(group)))}"
        for group in sorted(groups)
    }
    width = max(map(len, lines.values()), default=0) + 2
    return "\n".join(
        f"{line:<{width}}(chosen: {choices[group]})" if choices.get(group) else line
        for group, line in lines.items()
    )
