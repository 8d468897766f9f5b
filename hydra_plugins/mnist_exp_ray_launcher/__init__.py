# mnist-exp's Ray launcher (hydra/launcher=ray). Hydra instantiates plugins only from the
# hydra_plugins namespace package, so the class lives here, not in mnist_exp/.
