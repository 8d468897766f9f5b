"""The class of mnist-exp's hydra/launcher=slurm (conf/hydra/launcher/slurm.yaml):
hydra-submitit-launcher's SLURM launcher, waiting on its jobs in a way that always
ends (mnist_exp/sweeps/slurm.py). Hydra instantiates launchers only from the
hydra_plugins package, or (Hydra 1.4) from the entry point naming this class. Without
hydra-submitit-launcher, hydra/launcher=slurm says which package to install before any
launcher is made; the class is then one that says the same, so that the entry point
always loads.
"""

from collections.abc import Sequence
from typing import Any

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        SlurmLauncher as SubmititSlurmLauncher,
    )
except ImportError:
    SubmititSlurmLauncher = None

if SubmititSlurmLauncher is not None:

    class SlurmLauncher(SubmititSlurmLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
            from mnist_exp.sweeps import slurm

            return slurm.launch(self, job_overrides, initial_job_idx)

else:
    from hydra.plugins.launcher import Launcher

    class SlurmLauncher(Launcher):
        def __init__(self, **params: Any) -> None:
            from mnist_exp.errors import ConfigError

            raise ConfigError(
                "hydra/launcher=slurm needs the hydra-submitit-launcher package, which is not "
                "installed: pip install 'mnist-exp[cluster]'"
            )

        def setup(self, **kwargs: Any) -> None: ...

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any: ...
