"""Sweeps: the summary of their jobs, its tables, and the Hydra callbacks around them."""
