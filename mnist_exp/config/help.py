"""`mnist-exp --help`: the config groups a user chooses from, without the schemas.

Hydra's own `$APP_CONFIG_GROUPS` also lists `schema/*`, the typed schemas that
the YAML options extend (config.py); they are not options to choose. The help
template (conf/hydra/help/mnist_exp.yaml) calls :func:`config_groups` through the
`mnist_exp_groups` resolver instead.
"""

from __future__ import annotations

HIDDEN = ("hydra", "schema")  # Hydra's own groups (see --hydra-help) and the schemas


def config_groups() -> str:
    """One line per group: `group: option, option  (chosen: option)`.

    OmegaConf also resolves the help template whenever it merges a config into it,
    that is in every compose, and drops the value: listing the groups then (0.1 s)
    would delay every run. --help sets the composed config before it reads the
    template; until then the resolver answers at once.
    """
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    hydra = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    if hydra is None or not HydraConfig.initialized():
        return "(run mnist-exp --help to list the config groups)"
    choices = dict(HydraConfig.get().runtime.choices)
    options = group_options(hydra)
    lines = {
        group: f"{group}: {', '.join(sorted(names))}"
        for group, names in sorted(options.items())
        if group.split("/", 1)[0] not in HIDDEN
    }
    width = max(map(len, lines.values()), default=0) + 2
    return "\n".join(
        f"{line:<{width}}(chosen: {choices[group]})" if choices.get(group) else line
        for group, line in lines.items()
    )


_listed: tuple[object, dict[str, list[str]]] | None = None  # (Hydra instance, listing)


def group_options(hydra) -> dict[str, list[str]]:
    """Every config group that has options, with its options, as Hydra lists them.

    Read from one copy of Hydra's config repository, once per Hydra instance (a
    --help asks four times). Hydra's own list_all_config_groups / get_group_options
    deep-copy the whole repository, the plugins' schemas included, on every call
    (tens of ms each): the ~70 calls of a listing cost seconds, and this resolver
    runs whenever a config is composed.
    """
    global _listed
    if _listed is None or _listed[0] is not hydra:
        _listed = (hydra, _list_group_options(hydra))
    return _listed[1]


def _list_group_options(hydra) -> dict[str, list[str]]:
    from hydra.core.object_type import ObjectType

    from mnist_exp.adapters.hydra import caching_repo

    loader = hydra.config_loader
    repo = caching_repo(loader)  # what each get_group_options call does, once
    if repo is None:  # another Hydra: its public, slower way
        return {g: loader.get_group_options(g) for g in hydra.list_all_config_groups()}
    found: dict[str, list[str]] = {}

    def walk(parent: str) -> None:
        for child in repo.get_group_options(parent, ObjectType.GROUP):
            group = f"{parent}/{child}" if parent else child
            names = repo.get_group_options(group, ObjectType.CONFIG)
            if names:
                found[group] = names
            walk(group)

    walk("")
    return found


def format_config_groups(self, predicate, compact: bool = True) -> str:
    """Hydra.format_config_groups (for $APP_CONFIG_GROUPS, $HYDRA_CONFIG_GROUPS), with
    the same output, from group_options: Hydra's own takes seconds (see above), and
    it runs for every --help and --hydra-help even where the template does not use it."""
    lines = []
    for group, names in sorted(group_options(self).items()):
        if predicate(group):
            names = sorted(names)
            items = ", ".join(names) if compact else "\n".join("  " + n for n in names)
            lines.append(f"{group}: {items}" if compact else f"{group}:\n{items}")
    return "".join(line + "\n" for line in lines)


def speed_up_hydra_help() -> None:
    from mnist_exp.adapters.hydra import replace_help_groups

    replace_help_groups(format_config_groups)
