"""`mnist-exp resume=DIR`: continue a run, or a sweep, with its own config in its own
directory.

The command line is rebuilt from the run's saved overrides, so Hydra composes
exactly the config the run started with; Hydra is told to reuse the directory
and not to rewrite its `.hydra/` files. A sweep's command line is rebuilt from
its multirun.yaml, and its sweeper launches only the jobs that did not finish
(mnist_exp/sweeps/resuming.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mnist_exp.errors import ConfigError
from mnist_exp.results.files import MULTIRUN


def rewrite_argv(args: list[str]) -> list[str]:
    """Replace `resume=PATH` by the run's overrides; other arguments pass unchanged."""
    chosen = [a for a in args if a.startswith("resume=")]
    if not chosen:
        return args
    target = Path(chosen[0].split("=", 1)[1]).expanduser().resolve()
    if len(chosen) == 1 and (target / MULTIRUN).is_file():
        return sweep_argv(target, [a for a in args if not a.startswith("resume=")])
    others = [a for a in args if not a.startswith(("resume=", "training.progress="))]
    if len(chosen) > 1 or others:
        raise ConfigError(
            "resume=RUN_DIR continues a run with its own config; it takes no other "
            f"overrides (got: {' '.join(others or chosen)})"
        )
    run_dir = target
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        raise ConfigError(f"resume={run_dir}: not a run directory (no .hydra/overrides.yaml)")
    try:
        overrides = yaml.safe_load(overrides_file.read_text()) or []
    except yaml.YAMLError as exc:
        raise ConfigError(f"resume={run_dir}: unreadable .hydra/overrides.yaml ({exc})") from exc
    progress = [a for a in args if a.startswith("training.progress=")]
    return [
        *[o for o in overrides if not o.startswith(("resume=", "training.progress="))],
        *progress,
        f"resume={run_dir}",
        f"hydra.run.dir={run_dir}",
        "hydra.output_subdir=null",  # keep the run's own .hydra/ files as they are
    ]


# Hydra's flags that take a value: they pass through a resumed sweep's command line.
VALUE_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")
HYDRA_KEYS = ("hydra.", "hydra/", "+hydra", "++hydra")
SET_HERE = ("hydra.mode=", "hydra.sweep.dir=")  # the resume sets these


def sweep_argv(sweep_dir: Path, args: list[str]) -> list[str]:
    """The command line of the sweep in `sweep_dir`, resumed. `args` may repeat the
    sweep's own overrides, change how it is run (hydra.* overrides: the launcher,
    n_jobs), and pass Hydra's flags (--config-dir); any other override is refused."""
    task, hydra, config_dirs = _recorded(sweep_dir)
    flags, given = _split_flags(args)
    if not any(flag in ("--config-dir", "-cd") for flag in flags):
        flags += [part for path in config_dirs for part in ("--config-dir", path)]
    own = [a for a in given if a.startswith(HYDRA_KEYS)]
    for arg in given:
        if arg not in own and arg not in task and not arg.startswith("training.progress="):
            key = arg.split("=", 1)[0].lstrip("+~")
            was = [t for t in task if t.split("=", 1)[0].lstrip("+~") == key]
            raise ConfigError(
                f"resume={sweep_dir}: {arg} is not how the sweep ran "
                f"({', '.join(was) if was else f'it did not set {key}'}); a resumed sweep "
                "keeps its overrides (start a new sweep to change them)"
            )
    progress = [a for a in given if a.startswith("training.progress=")]
    shown = [o for o in task if o.startswith("training.progress=")]
    return [
        "-m",
        *flags,
        *[o for o in [*hydra, *own] if not o.startswith(SET_HERE)],
        *[o for o in task if not (o.startswith("resume=") or progress and o in shown)],
        *progress,
        f"hydra.sweep.dir={sweep_dir}",
        f"resume={sweep_dir}",
    ]


def _recorded(sweep_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """The sweep's task and hydra overrides, and the config folders given with
    --config-dir, as its multirun.yaml recorded them."""
    try:
        hydra = (yaml.safe_load((sweep_dir / MULTIRUN).read_text()) or {})["hydra"]
        overrides = hydra["overrides"]
        sources = (hydra.get("runtime") or {}).get("config_sources") or []
        return (
            list(overrides.get("task") or []),
            list(overrides.get("hydra") or []),
            [
                str(source["path"])
                for source in sources
                if source.get("provider") == "command-line" and source.get("schema") == "file"
            ],
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"resume={sweep_dir}: unreadable {MULTIRUN} ({exc})") from exc


def _split_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (with their values) and the overrides; -m is implied."""
    flags, given, rest = [], [], iter(args)
    for arg in rest:
        if arg in ("-m", "--multirun"):
            continue
        if arg.startswith("-"):
            flags.append(arg)
            if arg in VALUE_FLAGS:
                flags.append(next(rest, ""))
        else:
            given.append(arg)
    return flags, given
