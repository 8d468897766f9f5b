"""`mnist-exp resume=RUN_DIR`: continue a run with its own config, in its own directory.

The command line is rebuilt from the run's saved overrides, so Hydra composes
exactly the config the run started with; Hydra is told to reuse the directory
and not to rewrite its `.hydra/` files.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mnist_exp.errors import ConfigError


def rewrite_argv(args: list[str]) -> list[str]:
    """Replace `resume=PATH` by the run's overrides; other arguments pass unchanged."""
    chosen = [a for a in args if a.startswith("resume=")]
    if not chosen:
        return args
    others = [a for a in args if not a.startswith(("resume=", "training.progress="))]
    if len(chosen) > 1 or others:
        raise ConfigError(
            "resume=RUN_DIR continues a run with its own config; it takes no other "
            f"overrides (got: {' '.join(others or chosen)})"
        )
    run_dir = Path(chosen[0].split("=", 1)[1]).expanduser().resolve()
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
