"""What every format parser produces, and how it reports records it cannot read.

A parser streams rows into an `ExportWriter`, which flushes each table to Parquet in batches (bounded
memory) under a staging folder, and collects quarantine rows. Every record read is either accepted or
quarantined: `records_read = records_accepted + records_quarantined`.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from pipeline.contract import ANNOTATION_HISTORY, ANNOTATIONS, LABEL_CONFIG, REGIONS, REVIEWS, TASKS, Table
from pipeline.ingest.merge import CoreState
from pipeline.ingest.sink import TableSink, tuple_columns
from pipeline.vocabulary import ANNOTATION, BOM

PROVENANCE = ("source_file", "content_hash")


class BadRecord(Exception):
    """A record (or a whole file, locator "$") that cannot be read; `reason` says what to fix."""

    def __init__(self, locator: str, reason: str) -> None:
        super().__init__(f"{locator}: {reason}" if locator else reason)
        self.locator = locator
        self.reason = reason


def without_bom(buffer: bytes | mmap.mmap) -> bytes | mmap.mmap:
    """The bytes after a UTF-8 byte-order mark, which JSON and CSV parsers reject (a copy: files with one are rare)."""
    return bytes(buffer[len(BOM) :]) if buffer[: len(BOM)] == BOM else buffer


def parsed_columns(table: Table) -> pl.Schema:
    """The columns a parser fills: the contract's, less the provenance that `read_export` stamps."""
    return pl.Schema({c: t for c, t in table.columns.items() if c not in PROVENANCE})


@dataclass
class ParsedExport:
    """One export file as lazy frames over staged Parquet, plus its accounting."""

    format: str
    frames: CoreState
    quarantine: pl.DataFrame
    records_accepted: int
    project_ids: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what was read in an unusual way, for the run's log
    source_file: str = ""
    content_hash: str = ""
    # The raw hashes of the tasks not read because their bytes were known (`KnownTasks`): their rows are as
    # the file that brought them left them, and they are not records read.
    unchanged: list[str] = field(default_factory=list)

    @property
    def records_quarantined(self) -> int:
        return self.quarantine.height

    @property
    def records_read(self) -> int:
        return self.records_accepted + self.records_quarantined

    def without(self, rejected: pl.DataFrame) -> ParsedExport:
        """The export less `rejected` annotations (project_id, task_id, annotation_id, gt_candidate, locator,
        reason): their rows, regions, reviews and history leave the frames, and each becomes a quarantine
        record, so records read = accepted + quarantined still holds."""
        if rejected.is_empty():
            return self
        gone = rejected.select(ANNOTATION).unique().lazy()
        frames = self.frames.map(
            lambda table, frame: (
                frame.join(gone, on=ANNOTATION, how="anti") if "annotation_id" in table.columns else frame
            )
        )
        added = rejected.unique(ANNOTATION, keep="first", maintain_order=True).select(
            "project_id",
            pl.lit(self.source_file).alias("source_file"),
            pl.lit(self.content_hash).alias("content_hash"),
            "locator",
            "reason",
            "task_id",
            "annotation_id",
            "gt_candidate",
            pl.lit(None, pl.String).alias("run_id"),
        )
        return replace(
            self,
            frames=frames,
            quarantine=pl.concat([self.quarantine, added.cast(self.quarantine.schema)]),
            records_accepted=self.records_accepted - added.height,
        )


@dataclass(frozen=True)
class Format:
    """An export format: its name, its streaming parser, how its region rows become columns, and how a file
    shows it is one (`ingest.detect_format` asks each format in turn)."""

    name: str
    parse: Callable[[bytes | mmap.mmap, str, ExportWriter], None]
    region_columns: Callable[[list], list[list]] = tuple_columns
    companion: Callable[[Path], Path | None] = lambda path: None  # another file read with this one
    projects: Callable[[Path], list[str]] = lambda path: [path.name.split(".")[0]]  # without a full parse
    # The file's first bytes (byte-order mark and leading white space removed) are this format's.
    sniff: Callable[[bytes], bool] = lambda head: False
    # A JSON file whose first bytes did not tell is this format's by its keys: (True, the top-level keys) of an
    # object, (False, the keys of its first element) of an array.
    keys: Callable[[bool, frozenset[str]], bool] = lambda is_object, keys: False


@dataclass(frozen=True)
class KnownTasks:
    """A project's current tasks, by the hash of their bytes (core.tasks `raw_hash`): an export's task with one
    of these hashes is that project's task as it is. A parser that hashes its tasks (Label Studio JSON) does
    not read it again, since that would give the rows the project has."""

    project_id: str  # as the export names it: without the namespace the file was given
    hashes: Collection[str]


class ExportWriter:
    """Where a parser puts rows: one Parquet sink per core table, quarantine rows in memory. The file's
    `namespace` and the `known` tasks are for a parser that recognises tasks by their bytes."""

    def __init__(
        self,
        staging: Path,
        fmt: str,
        region_columns=tuple_columns,
        known: KnownTasks | None = None,
        namespace: str | None = None,
    ) -> None:
        self.format = fmt
        self.staging = staging
        self.known = known
        self.namespace = namespace
        self.unchanged: list[str] = []
        self.tasks = TableSink(staging / "tasks.parquet", parsed_columns(TASKS))
        self.annotations = TableSink(staging / "annotations.parquet", parsed_columns(ANNOTATIONS))
        self.regions = TableSink(staging / "regions.parquet", parsed_columns(REGIONS), region_columns)
        self.reviews = TableSink(staging / "reviews.parquet", parsed_columns(REVIEWS))
        self.history = TableSink(staging / "history.parquet", parsed_columns(ANNOTATION_HISTORY))
        self.label_config = TableSink(staging / "label_config.parquet", parsed_columns(LABEL_CONFIG))
        self.locators: list[str] = []
        self.reasons: list[str] = []
        self.accepted = 0
        self.projects: set[str] = set()
        self.notices: list[str] = []
        self.parts: list[CoreState] = []  # rows parsed by other processes (slices of a large file), after this writer's

    def quarantine(self, locator: str, reason: str) -> None:
        self.locators.append(locator)
        self.reasons.append(reason)

    def finish(self) -> ParsedExport:
        own = CoreState(**{name: getattr(self, name).close() for name in CoreState.TABLES})
        return ParsedExport(
            format=self.format,
            frames=own.map(lambda table, frame: pl.concat([frame, *(part.tables()[table] for part in self.parts)])),
            quarantine=pl.DataFrame(
                {"locator": self.locators, "reason": self.reasons}, schema={"locator": pl.String, "reason": pl.String}
            ),
            records_accepted=self.accepted,
            project_ids=sorted(self.projects),
            notices=self.notices,
            unchanged=self.unchanged,
        )
