"""How a run trains: its steps (run.py), the two loops, speed options, devices, threads."""
