"""A tracker is a side channel: when it fails (a server down or slow, a log dir that
cannot be written, a full disk) the run says so in one line and goes on without it.

`Guarded` runs one tracker's Keras callbacks: the first exception a hook raises turns
the tracker off for the rest of the run, through its `TrackerState`, which also skips
its finisher. A SIGINT or SIGTERM that arrives while a hook waits (on a server that
does not answer) abandons that call, so fit stops as promptly as without a tracker.
Only the hooks the tracker overrides are wrapped, so a tracker without batch hooks
adds no per-step work to fit.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mnist_exp.errors import first_line

log = logging.getLogger(__name__)

HOOKS = tuple(
    f"on_{stage}_{event}"
    for stage in ("train", "epoch", "test", "predict", "train_batch", "test_batch",
                  "predict_batch")
    for event in ("begin", "end")
)  # fmt: skip
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Abandoned(BaseException):
    """A signal arrived while a tracker's hook was waiting: the wait is given up. Not an
    Exception, so that a client's catch-all (MLflow's "API request failed") lets it by."""


@dataclass
class TrackerState:
    """One tracker of one run: its name (logger=NAME), how to say what failed, and
    whether it is still on. `fail` says it once."""

    name: str
    describe: Callable[[BaseException], str] = first_line
    later: str = ""  # how the run can be sent afterwards, if it can
    what: str = "run"  # or "sweep": what goes on without it
    # Whether this failure is the one to say (else it is logged at debug): a sweep's
    # jobs that meet the same outage say it once.
    first: Callable[[], bool] = lambda: True
    down: bool = False

    def fail(self, exc: BaseException, when: str = "") -> None:
        if self.down:
            return
        self.down = True
        going_on = "" if when else f"the {self.what} goes on without it; "
        log.log(
            logging.WARNING if self.first() else logging.DEBUG,
            "logger=%s: %s%s; %severything is in its directory%s",
            self.name,
            f"{when}: " if when else "",
            self.describe(exc),
            going_on,
            f": {self.later}" if self.later else "",
        )

    def call(self, function: Callable, *args, when: str = "") -> None:
        """function(*args) unless the tracker is off; an exception turns it off."""
        if self.down:
            return
        try:
            with abandon_on_signal():
                function(*args)
        except Abandoned:
            pass  # fit stops after this step; the finisher sends what this call did not
        except Exception as exc:
            self.fail(exc, when)


@contextlib.contextmanager
def abandon_on_signal() -> Iterator[None]:
    """While a tracker call runs in the main thread, SIGINT or SIGTERM goes to the
    handler in place (during fit: StopOnSignal, which stops fit after this step) and
    then abandons the call, which may be waiting on a server that does not answer."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handle(signum, frame):
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)  # StopOnSignal records it; SIGINT's default raises
        elif handler == signal.SIG_DFL:  # SIGTERM's default: the process ends, as it would
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        raise Abandoned(signal.Signals(signum).name)

    for sig in SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def guarded(callback, state: TrackerState):
    """`callback` (a Keras callback) behind a Guarded that calls it through `state`."""
    import keras

    base = keras.callbacks.Callback
    hooks = [h for h in HOOKS if getattr(type(callback), h, None) is not getattr(base, h)]

    def hook(name):
        def run(self, *args, **kwargs):
            state.call(lambda: getattr(self.callback, name)(*args, **kwargs))

        run.__name__ = name
        return run

    class Guarded(base):
        def __init__(self) -> None:
            super().__init__()
            self.callback = callback
            self.async_safe = getattr(callback, "async_safe", False)

        def set_model(self, model):
            super().set_model(model)
            state.call(self.callback.set_model, model)

        def set_params(self, params):
            super().set_params(params)
            state.call(self.callback.set_params, params)

    for name in hooks:
        setattr(Guarded, name, hook(name))
    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{type(callback).__name__}"
    return Guarded()
