# Makes conf/ the importable package mnist_exp.conf (see pyproject.toml), so the
# configs travel inside the wheel and Hydra finds them as pkg://mnist_exp.conf.
