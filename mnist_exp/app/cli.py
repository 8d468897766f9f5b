"""The `mnist-exp` command: a thin Hydra entry around training.run.

Hydra composes the config; `app` checks it, starts importing TensorFlow on a thread
while the data load, trains, and returns the objective to a sweeper.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console

from mnist_exp.adapters import hydra as hydra_adapter
from mnist_exp.app import resume, startup
from mnist_exp.app.messages import group_as_value, one_line
from mnist_exp.app.store import register
from mnist_exp.config.help import CONFIG_MODULE, CONFIG_NAME, print_help
from mnist_exp.config.schema import Config
from mnist_exp.config.settings import to_settings
from mnist_exp.config.targets import ALLOWED_MODULES
from mnist_exp.errors import ConfigError, DataError, RunInterrupted, UserError, describe_failure
from mnist_exp.results.console import print_error
from mnist_exp.results.files import record_status
from mnist_exp.results.status import Status
from mnist_exp.sweeps import study

# At import, as Hydra's decorator expects: sweep workers that unpickle `app` need them too.
register()
log = logging.getLogger("mnist_exp")
# The user asked for stack traces instead of one-line errors.
DEBUG = os.environ.get("HYDRA_FULL_ERROR") == "1"


def main() -> None:
    """Console entry: Hydra's app, with bad input reported in one line (exit 2).

    Set HYDRA_FULL_ERROR=1 to see Hydra's own report with its stack trace.
    """
    startup.run_command(_main)


def _main() -> int | str | None:
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; the line is printed here
    try:
        sys.argv[1:] = resume.rewrite_argv(sys.argv[1:])
        if not print_help(sys.argv[1:]):  # --help: listed in ms, not Hydra's seconds
            app()
    except BrokenPipeError:
        raise
    except (HydraException, OmegaConfBaseException, UserError, OSError) as exc:
        if DEBUG:
            raise
        reason = one_line(exc)
        print_error(group_as_value(sys.argv[1:], reason) or reason)
        return exc.exit_code if isinstance(exc, UserError) else 2
    return 0


@hydra_adapter.main(f"pkg://{CONFIG_MODULE}", CONFIG_NAME, ALLOWED_MODULES)
def app(cfg: DictConfig) -> float | list[float]:
    """One run; it returns optimized_metric (a list of values for several). In a sweep
    a failed job returns NaN so that the others go on; its metrics.json says why, and
    the sweep's summary lists it."""
    startup.quiet_environment()  # sweep workers start here, not in main()
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        settings = to_settings(cfg)
        from mnist_exp.training.xla_cache import use_xla_cache

        use_xla_cache(settings.training.xla_cache)  # before TensorFlow reads its flags
        startup.start_keras_import()  # on a thread, while the data load
        dataset = load_data(settings)  # bad data fails here, before training starts
        trial = study.job_trial(hydra_cfg) if in_sweep else None  # a pruned search's
    except (ConfigError, DataError) as exc:
        record_status(run_dir, Status.FAILED, reason=exc.reason, message=str(exc))
        return fail(str(exc), in_sweep)
    try:
        startup.import_keras()  # TensorFlow is imported from here on
        from mnist_exp.training.run import run

        metrics = run(settings, run_dir, Console(), dataset, settings.resume is not None, trial)
    except RunInterrupted as exc:
        print_error(f"interrupted by {exc}")
        sys.exit(130 if exc.signal_name == "SIGINT" else 143)
    except UserError as exc:  # training.run has recorded it in metrics.json
        return fail(str(exc), in_sweep)
    except Exception as exc:
        if not in_sweep:
            raise
        log.exception("job %s failed", hydra_cfg.job.num)
        return fail(describe_failure(exc)[1], in_sweep)
    if isinstance(settings.optimized_metric, str):
        return metrics[settings.optimized_metric]
    return [metrics[name] for name in settings.optimized_metric]


def load_data(settings: Config):
    from mnist_exp.data.dataset import load

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
