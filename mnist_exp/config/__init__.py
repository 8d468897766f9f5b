"""The typed schemas every config group extends, their checks, and --help."""
