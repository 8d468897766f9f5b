"""CPython's atexit internals (3.11 to 3.13).

A run that loaded TensorFlow ends with os._exit, skipping the interpreter's teardown
(TensorFlow's runtime takes seconds to unload); the exit hooks (logging's flush, a
sweep's summary, trackers) still run first, as atexit runs them at a normal exit.
"""

from __future__ import annotations

import atexit


def run_exit_hooks() -> None:
    """Run (and clear) the functions registered with atexit, as a normal exit would."""
    atexit._run_exitfuncs()
