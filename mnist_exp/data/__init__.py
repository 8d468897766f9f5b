"""Data sets: their sources, checks, stratified splits, preparation and labels."""
