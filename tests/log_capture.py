"""Capture the JSON lines of one of our loggers (they do not propagate to the root logger, so caplog misses them)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class LineRecorder(logging.Handler):
    """Keeps each formatted line (worker threads log too)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed: each must be one JSON object."""
        with self._lock:
            return [json.loads(line) for line in self.lines]


@contextmanager
def captured_lines(logger_name: str) -> Iterator[LineRecorder]:
    logger = logging.getLogger(logger_name)
    recorder = LineRecorder()
    previous = logger.level
    logger.addHandler(recorder)
    logger.setLevel(logging.INFO)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(previous)
