"""The supervisor's signals: counted by plain handlers, acted on by its main loop."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Stop the server gracefully (SIGBREAK is Ctrl-Break on Windows).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGBREAK")
#: Re-read the configuration and replace the workers one at a time.
RELOAD_SIGNALS = ("SIGHUP",)
#: Replace the workers one at a time with the same configuration.
RESTART_SIGNALS = ("SIGUSR1",)


class SignalCounts:
    """How many stop, reload and restart requests arrived.

    The handlers only increment integers, which is safe whatever the main thread was
    doing when the signal came.
    """

    def __init__(self) -> None:
        self.stop = 0
        self.reload = 0
        self.restart = 0

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop += 1

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload += 1

    def _on_restart(self, signum: int, frame: FrameType | None) -> None:
        self.restart += 1

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the signals this platform has while the block runs."""
        handlers = {
            **dict.fromkeys(STOP_SIGNALS, self._on_stop),
            **dict.fromkeys(RELOAD_SIGNALS, self._on_reload),
            **dict.fromkeys(RESTART_SIGNALS, self._on_restart),
        }
        previous = {}
        for name, handler in handlers.items():
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, handler)
        try:
            yield
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while the block runs.

    A spawned interpreter inherits an ignored SIGINT, so a Ctrl-C during its start-up
    cannot print a ``KeyboardInterrupt`` traceback.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
