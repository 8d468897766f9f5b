"""Predicting image files: reading them, normalising them as MNIST's digits, inference."""
