"""Start a worker as a fresh interpreter, with three pipes and the listening sockets.

Why not ``multiprocessing``'s spawn: every spawn starts multiprocessing's resource
tracker, a third process that does nothing for a server (we use no semaphores or
shared memory) yet costs about 12 MiB of RSS. A worker here is a plain
``subprocess.Popen`` of ``sys.executable`` with the interpreter flags of this one:

* a **payload** pipe carries, pickled, the parent's ``sys.path``, the config and which
  inherited descriptor is which socket (the descriptors themselves pass by ``pass_fds``
  and keep their numbers);
* a **channel** pipe carries the worker's reports (``READY``, ``DRAINING``, ``FAILED``)
  as length-prefixed pickles (``_pipe.Channel``); EOF there means the worker is gone;
* a **stop** pipe is held open by the supervisor: closing it (or the supervisor dying,
  whichever way) tells the worker to drain. That also makes an orphaned worker stop.

The exit is watched through a pidfd where the OS has one (Linux), else through a
"life" pipe the worker inherits and never closes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import subprocess
import sys
import threading

from hypercorn_cli._pipe import Channel
from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets

_CHILD_CODE = "from hypercorn_cli._spawn import child_main; child_main()"


class WorkerProcess:
    """The supervisor's handle on one worker: the attributes it used of ``multiprocessing``'s.

    Attributes:
        pid: the worker's process id.
        sentinel: a descriptor that becomes readable once the worker has exited.
        channel: the worker's reports (read end); the supervisor closes it when done.
    """

    def __init__(self, config: Config, sockets: Sockets) -> None:
        socket_fds = tuple(
            [sock.fileno() for sock in group]
            for group in (sockets.secure_sockets, sockets.insecure_sockets, sockets.quic_sockets)
        )
        payload_read, payload_write = os.pipe()
        channel_read, channel_write = os.pipe()
        stop_read, self._stop_write = os.pipe()
        life_read, life_write = (-1, -1) if hasattr(os, "pidfd_open") else os.pipe()
        child_fds = [payload_read, channel_write, stop_read]
        if life_write >= 0:
            child_fds.append(life_write)
        inherited = [fd for group in socket_fds for fd in group]
        try:
            self._popen = subprocess.Popen(
                [
                    sys.executable,
                    *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]
                    "-c",
                    _CHILD_CODE,
                    *(str(fd) for fd in child_fds[:3]),
                ],
                pass_fds=[*child_fds, *inherited],
            )
        finally:
            for fd in child_fds:
                os.close(fd)
        self.pid = self._popen.pid
        self.channel = Channel(channel_read)
        self.sentinel = os.pidfd_open(self.pid) if life_read < 0 else life_read
        # sys.path first, on its own: the worker sets it before unpickling the rest.
        payload = pickle.dumps(list(sys.path)) + pickle.dumps((config, socket_fds))
        with contextlib.suppress(BrokenPipeError), open(payload_write, "wb") as stream:
            stream.write(payload)  # the worker reads it at once; a worker already gone is reaped

    @property
    def exitcode(self) -> int | None:
        """None while running; the exit status, or ``-N`` when killed by signal N."""
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def stop(self) -> None:
        """Ask the worker to drain (idempotent)."""
        if self._stop_write >= 0:
            os.close(self._stop_write)
            self._stop_write = -1

    def kill(self) -> None:
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                self._popen.kill()

    def join(self) -> None:
        """Wait for the exit and let go of the worker's descriptors."""
        self._popen.wait()
        self.stop()
        if self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1


class StopPipe:
    """The worker's side of the stop pipe: ``is_set()`` once the supervisor said stop.

    The SIGTERM handler only flips a Python attribute (``on_signal``); a thread waits
    for the pipe's EOF, so nothing blocks in a signal handler.
    """

    def __init__(self, fd: int) -> None:
        self.flagged = False
        self._fd = fd
        threading.Thread(target=self._watch, name="hypercorn-stop-watch", daemon=True).start()

    def _watch(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._fd, 4096):  # nothing is ever written: this waits for EOF
                pass
        self.flagged = True

    def is_set(self) -> bool:
        return self.flagged

    def set(self) -> None:
        self.flagged = True

    def on_signal(self, signum: int, frame: object) -> None:
        self.flagged = True


def child_main() -> None:
    """The worker interpreter's entry point (see ``_CHILD_CODE``)."""
    from hypercorn_cli._worker_process import worker_process_main

    payload_fd, channel_fd, stop_fd = (int(arg) for arg in sys.argv[1:4])
    with open(payload_fd, "rb") as stream:
        sys.path[:] = pickle.load(stream)
        config, socket_fds = pickle.load(stream)
    secure, insecure, quic = ([socket.socket(fileno=fd) for fd in group] for group in socket_fds)
    worker_process_main(
        config,
        Sockets(secure, insecure, quic),
        StopPipe(stop_fd),
        Channel(channel_fd),
    )
