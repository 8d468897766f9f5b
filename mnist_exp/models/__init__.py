"""Model families (one module each, found by catalog.py), and models on disk."""
