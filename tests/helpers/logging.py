"""A logging handler that keeps what it is given, for assertions."""

from __future__ import annotations

import logging


class ListHandler(logging.Handler):
    """Collects every record (``records``) and its message (``lines``), as they come."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(record.getMessage())
