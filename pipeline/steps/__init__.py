"""What each asset does, as plain functions: frames in, frames and figures out. No Dagster, no warehouse.

A step is handed what its asset reads (the project's tables as frames, the GT policy, the previous GT
version, the run's id) and returns a result: the tables to write, the figures its asset reports, the
log messages it has to say (as data, `Message`) and what its checks found. The asset around it reads the
inputs, makes the one call, writes what the result says and turns the rest into Dagster events; so the
logic of ingest, ground truth and every quality table is tested here with small frames, without a run.

- `steps.ingest`: a project's new export files into its core tables (`ingest_new_files`);
- `steps.groundtruth`: the project's next GT version and the gate before publication (`next_ground_truth`);
- `steps.quality`: each quality table, stamped with its run and the GT version it was scored against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Journal", "Message"]

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Message:
    """One line a step has to say in its run's log, at `level` (info, warning or error)."""

    level: Level
    text: str


@dataclass
class Journal:
    """The messages of a step, in the order it says them; each is also handed to `sink` as it is said (the
    run's live log: a large file's progress is worth reading while it lasts). Thread-safe for appends.

    Examples
    --------
    >>> from pipeline.steps import Journal
    >>> heard = []
    >>> journal = Journal(sink=heard.append)
    >>> journal.info("export.json: 3 records read")
    >>> journal.warning("export.json task 2: no annotation")
    >>> [m.level for m in journal.messages], heard == journal.messages
    (['info', 'warning'], True)
    """

    sink: Callable[[Message], None] | None = None
    messages: list[Message] = field(default_factory=list)

    def say(self, level: Level, text: str) -> None:
        message = Message(level, text)
        self.messages.append(message)
        if self.sink is not None:
            self.sink(message)

    def info(self, text: str) -> None:
        self.say("info", text)

    def warning(self, text: str) -> None:
        self.say("warning", text)

    def error(self, text: str) -> None:
        self.say("error", text)
