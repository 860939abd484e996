"""``--reload``: the supervisor's check of an edit before workers are replaced.

The watcher (which files, how changes are noticed) is shared with ``serve()``'s
reloader: :mod:`hypercorn_protocol.server.reloading`. Before workers are replaced, the
new code is imported in a separate interpreter (``hypercorn_cli._import_check``): if
that fails, the error is logged and the running workers keep serving until the next
edit.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from typing import IO


class ImportCheck:
    """The application imported in a fresh interpreter, run in the background."""

    def __init__(self, application_path: str, wsgi_max_body_size: int) -> None:
        # Files, not pipes: nobody reads while the check runs, and a full pipe would
        # block it.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in result()/cancel()
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypercorn_cli._import_check",
                application_path,
                str(wsgi_max_body_size),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            text=True,
        )

    def result(self) -> tuple[bool, str, list[str]] | None:
        """None while running; then (succeeded, error line, imported module files)."""
        if self.process.poll() is None:
            return None
        out, err = self._read(self._out), self._read(self._err)
        lines = [line for line in err.splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit code {self.process.returncode}"
        return self.process.returncode == 0, message, out.splitlines()

    @staticmethod
    def _read(file: IO[str]) -> str:
        file.seek(0)
        text = file.read()
        file.close()
        return text

    def cancel(self) -> None:
        """Stop the check (a newer edit makes it moot)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._out.close()
        self._err.close()
