# mnist-exp's SLURM launcher, hydra/launcher=slurm in mnist-exp. Hydra instantiates plugins
# only from the hydra_plugins namespace package, so the class lives here, not in mnist_exp/.
