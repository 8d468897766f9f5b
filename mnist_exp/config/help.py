"""`mnist-exp --help`: the config groups a user chooses from, without the schemas.

Hydra's own `$APP_CONFIG_GROUPS` also lists `schema/*`, the typed schemas that
the YAML options extend (config.py); they are not options to choose. The help
template (conf/hydra/help/mnist_exp.yaml) calls :func:`config_groups` through the
`mnist_exp_groups` resolver instead.
"""

from __future__ import annotations

import os

CONFIG_MODULE, CONFIG_NAME = "mnist_exp.conf", "config"  # the app's primary config
HIDDEN = ("hydra", "schema")  # Hydra's own groups (see --hydra-help) and the schemas


def config_groups() -> str:
    """One line per group: `group: option, option  (chosen: option)`.

    OmegaConf also resolves the help template whenever it merges a config into it,
    that is in every compose, and drops the value: listing the groups then (0.1 s)
    would delay every run. print_help sets the composed config before it reads the
    template; until then the resolver answers at once.
    """
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    if not GlobalHydra.instance().is_initialized() or not HydraConfig.initialized():
        return "(run mnist-exp --help to list the config groups)"
    choices = dict(HydraConfig.get().runtime.choices)
    options = group_options(GlobalHydra.instance().config_loader())
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


_listed: tuple[object, list[str], dict[str, list[str]]] | None = None  # loader, overrides


def group_options(loader, overrides: list[str] | None = None) -> dict[str, list[str]]:
    """Every config group that has options, with its options, as Hydra lists them.
    `overrides` may widen the search path (hydra.searchpath=[...]); None: those of
    the last listing for this loader.

    Read from one copy of Hydra's config repository, once per config loader (a
    --help asks three times). Hydra's own list_groups / get_group_options deep-copy
    the whole repository, the plugins' schemas included, on every call (about 0.1 s
    each): its ~170 calls for a --help cost 10-20 s.
    """
    global _listed
    stale = _listed is None or _listed[0] is not loader
    if stale or (overrides is not None and overrides != _listed[1]):
        overrides = list(overrides or [])
        _listed = (loader, overrides, _list_group_options(loader, overrides))
    return _listed[2]


def _list_group_options(loader, overrides: list[str]) -> dict[str, list[str]]:
    from hydra.core.object_type import ObjectType

    from mnist_exp.adapters.hydra import caching_repo

    repo = caching_repo(loader, overrides)  # what each get_group_options call does, once

    def options(group: str, kind: ObjectType) -> list[str]:
        if repo is None:  # another Hydra: its public, slower way
            return loader.get_group_options(group, kind, overrides=overrides)
        return repo.get_group_options(group, kind)

    found: dict[str, list[str]] = {}

    def walk(parent: str) -> None:
        for child in options(parent, ObjectType.GROUP):
            group = f"{parent}/{child}" if parent else child
            names = options(group, ObjectType.CONFIG)
            if names:
                found[group] = names
            walk(group)

    walk("")
    return found


def format_groups(options: dict[str, list[str]], predicate) -> str:
    """$APP_CONFIG_GROUPS and $HYDRA_CONFIG_GROUPS: the text Hydra's help writes."""
    lines = [
        f"{group}: {', '.join(sorted(names))}"
        for group, names in sorted(options.items())
        if predicate(group)
    ]
    return "".join(line + "\n" for line in lines)


def _is_hydra_group(group: str) -> bool:
    return group == "hydra" or group.startswith("hydra/")


def print_help(argv: list[str]) -> bool:
    """`mnist-exp --help` and `--hydra-help`, the text Hydra's would print, composed
    with Hydra's public compose API and listed from one copy of its repository
    (group_options): seconds faster than Hydra's own. False, printing nothing, where
    argv asks for neither, or names a --config-path (Hydra's own help then)."""
    import string

    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import SearchPathException
    from omegaconf import OmegaConf, open_dict, read_write

    from mnist_exp.adapters.hydra import VERSION_BASE, args_parser, flags_help

    parser = args_parser()
    args = parser.parse_args(argv)
    if not (args.help or args.hydra_help) or args.config_path is not None:
        return False
    overrides = list(args.overrides)
    if args.config_dir is not None:
        folder = os.path.abspath(args.config_dir)
        if not os.path.isdir(folder):
            raise SearchPathException(f"Additional config directory '{folder}' not found")
        overrides.append(f"hydra.searchpath=[file://{folder}]")
    GlobalHydra.instance().clear()
    with initialize_config_module(CONFIG_MODULE, job_name="cli", **VERSION_BASE):
        name = (args.config_name or CONFIG_NAME) if args.help else None
        cfg = compose(config_name=name, overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        options = group_options(GlobalHydra.instance().config_loader(), overrides)
        if args.help:
            template = cfg.hydra.help.template
            shown = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        else:
            template = cfg.hydra.hydra_help.template
            shown = OmegaConf.masked_copy(cfg, ["hydra"])
            with read_write(shown.hydra), open_dict(shown.hydra):
                del shown.hydra["hydra_help"], shown.hydra["help"]
        text = string.Template(template).substitute(
            FLAGS_HELP=flags_help(parser),
            HYDRA_CONFIG_GROUPS=format_groups(options, _is_hydra_group),
            APP_CONFIG_GROUPS=format_groups(options, lambda g: not _is_hydra_group(g)),
            CONFIG=OmegaConf.to_yaml(shown, resolve=args.resolve and args.help),
        )
    print(text)
    return True
