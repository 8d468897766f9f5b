"""The `mnist-exp` command: a thin Hydra entry around train.run.

TensorFlow is imported only once a run really starts (on a thread, while the data
loads), so `--help`, `--cfg job` and config errors answer at once.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs: noise to a user
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are files; no display needed

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.errors import HydraException  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from mnist_exp import errors, resume  # noqa: E402
from mnist_exp.config import Config, register, to_settings  # noqa: E402
from mnist_exp.errors import ConfigError, DataError, RunInterrupted, UserError  # noqa: E402
from mnist_exp.help_text import speed_up_hydra_help  # noqa: E402
from mnist_exp.speed import (  # noqa: E402
    exit_without_teardown,
    import_keras,
    start_keras_import,
    use_xla_cache,
)

register()
speed_up_hydra_help()  # --help lists the groups in ms, not seconds (help_text.py)
log = logging.getLogger("mnist_exp")
# The user asked for stack traces instead of one-line errors.
DEBUG = os.environ.get("HYDRA_FULL_ERROR") == "1"


def main() -> None:
    """Console entry: Hydra's app, with bad input reported in one line (exit 2).

    Set HYDRA_FULL_ERROR=1 to see Hydra's own report with its stack trace.
    """
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; the line is printed here
    code: int | str | None = 0
    try:
        sys.argv[1:] = resume.rewrite_argv(sys.argv[1:])
        app()
    except (HydraException, OmegaConfBaseException, UserError, OSError) as exc:
        if DEBUG:
            raise
        print_error(errors.one_line(exc))
        code = 2
    except SystemExit as exc:
        code = exc.code
    exit_without_teardown(code)  # everything is written: skip TensorFlow's C++ teardown


@hydra.main(version_base="1.3", config_path="pkg://mnist_exp.conf", config_name="config")
def app(cfg: DictConfig) -> float:
    """One run. In a sweep a failed job returns NaN so that the others go on;
    its metrics.json says why, and the sweep's summary lists it."""
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        settings = to_settings(cfg)
        use_xla_cache(settings.training.xla_cache)  # before TensorFlow reads its flags
        start_keras_import()  # on a thread, while the data loads
        dataset = load_data(settings)  # bad data fails here, before training starts
    except (ConfigError, DataError) as exc:
        from mnist_exp.artifacts import record_status

        record_status(run_dir, "failed", reason=exc.reason, message=str(exc))
        return fail(str(exc), in_sweep)
    try:
        import_keras()  # TensorFlow is imported from here on
        from mnist_exp.train import run

        metrics = run(settings, run_dir, Console(), dataset, resume=settings.resume is not None)
    except RunInterrupted as exc:
        print_error(f"interrupted by {exc}")
        sys.exit(130 if exc.signal_name == "SIGINT" else 143)
    except UserError as exc:  # train.run has recorded it in metrics.json
        return fail(str(exc), in_sweep)
    except Exception as exc:
        if not in_sweep:
            raise
        log.exception("job %s failed", hydra_cfg.job.num)
        return fail(errors.describe_failure(exc)[1], in_sweep)
    return metrics[settings.optimized_metric]


def load_data(settings: Config):
    from mnist_exp.data import load

    dataset = load(settings.data, settings.validation, settings.training.seed)
    if settings.training.batch_size > len(dataset.y_train):
        raise ConfigError(
            f"training.batch_size={settings.training.batch_size} is larger than the "
            f"{len(dataset.y_train)} training examples; use at most that"
        )
    return dataset


def fail(message: str, in_sweep: bool) -> float:
    """One line on stderr; exit 2 for a single run, NaN for a sweep job so others go on."""
    if DEBUG and sys.exc_info()[0] is not None:
        raise  # the error being handled, with its traceback
    print_error(message)
    if in_sweep:
        return float("nan")
    sys.exit(2)


def print_error(message: str) -> None:
    # escape: a message that quotes [brackets] (logger=[a,b], 'mnist-exp[tracking]') is text.
    text = f"[bold red]error:[/] {escape(message)}"
    Console(stderr=True).print(text, highlight=False, soft_wrap=True)
