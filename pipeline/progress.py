"""What `gtq run` shows while it works, when a person is watching (stderr is a terminal): one line that
follows the run, step by step, with the steps' own news (the file being read). Quiet otherwise, so a
nightly job's log holds only the summary. A Dagster logger, so the UI's runs are untouched."""

from __future__ import annotations

import logging
import shutil
import sys
import time

import dagster as dg


class ProgressHandler(logging.Handler):
    """Rewrites one terminal line: the run's elapsed time, steps done, and the latest step's news."""

    def __init__(self, stream=None) -> None:
        super().__init__(logging.DEBUG)  # Dagster logs step events at DEBUG
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.done = 0

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event, step = meta.get("dagster_event"), meta.get("step_key") or ""
        kind = getattr(event, "event_type_value", None)
        if kind == "STEP_SUCCESS":
            self.done += 1
            news = f"{step} done"
        elif kind == "STEP_START":
            news = f"{step} ..."
        elif event is None and step:
            news = f"{step}: {meta.get('orig_message', record.getMessage())}"
        else:
            return
        line = f"  [{time.monotonic() - self.started:6.1f} s, {self.done} steps done] {news}"
        width = shutil.get_terminal_size((120, 20)).columns - 1
        self.stream.write("\r" + line[:width].ljust(width))
        self.stream.flush()


@dg.logger(description="One terminal line that follows a `gtq run` step by step (only when stderr is a terminal).")
def progress_logger(init_context) -> logging.Logger:
    logger = logging.Logger("gtq.progress", level=logging.DEBUG)
    logger.addHandler(ProgressHandler())
    return logger


def watching() -> bool:
    """Whether a person watches the command: stderr is a terminal."""
    return sys.stderr.isatty()


def clear_line() -> None:
    """Make room for what follows the progress line."""
    sys.stderr.write("\r" + " " * (shutil.get_terminal_size((120, 20)).columns - 1) + "\r")
    sys.stderr.flush()
