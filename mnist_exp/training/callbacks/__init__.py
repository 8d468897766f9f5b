"""Keras callbacks: the run's own (history, progress, guards, checkpoints, trackers)
and those the config's `callbacks` group names (from_config.py)."""
