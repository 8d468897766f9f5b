# mnist-exp's grid sweeper, the default hydra/sweeper. Hydra instantiates plugins only
# from the hydra_plugins namespace package, so the class lives here, not in mnist_exp/.
