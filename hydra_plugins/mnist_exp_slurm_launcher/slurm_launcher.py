"""The class of mnist-exp's hydra/launcher=slurm (conf/hydra/launcher/slurm.yaml):
hydra-submitit-launcher's SLURM launcher, waiting on its jobs in a way that always
ends (mnist_exp/sweeps/slurm.py). Hydra instantiates launchers only from the
hydra_plugins package; without hydra-submitit-launcher there is no class here, and
hydra/launcher=slurm says which package to install.
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
