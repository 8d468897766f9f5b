"""mnist-exp: train, compare and sweep Keras networks on MNIST-style data."""

__version__ = "0.1.0"
