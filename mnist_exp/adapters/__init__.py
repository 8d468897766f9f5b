"""Where mnist-exp leans on what its libraries do not publish: one small module per
library, each touch point named and tested (tests/test_adapters.py), so that a version
bump that moves one fails there, saying which. Everything else uses public APIs, but
for submitit's SLURM watcher, whose private hook sweeps/slurm.py's QueueWatcher
overrides (a subclass cannot move here); that test file checks it too."""
