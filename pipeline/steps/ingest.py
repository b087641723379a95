"""Ingest as a step: a project's export files and its current core tables -> the tables to write, the
ledger rows of the run's new files, what the screening suites found and what to say. No Dagster, no
warehouse: the files are read into `staging` and validations kept in `docs`, both given by the caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.contract import QUARANTINE, SOURCE_FILES, Table
from pipeline.ingest import ParsedExport, Source, content_hash, read_export
from pipeline.ingest.merge import CoreState, replaced_task_data
from pipeline.steps import Journal, Message
from pipeline.validation import DataDocs, Screening, screen

__all__ = [
    "FILES_INGESTED",
    "FILES_SKIPPED",
    "INGESTED",
    "RECORDS_ACCEPTED",
    "RECORDS_QUARANTINED",
    "RECORDS_READ",
    "TASKS_REPLACED",
    "IngestResult",
    "file_row",
    "files_markdown",
    "ingest_new_files",
    "origin_counts",
]

# The tables ingest writes, in the order they are committed: the ledger last.
INGESTED = (*CoreState.TABLES.values(), QUARANTINE, SOURCE_FILES)
# The run's figures (`IngestResult.totals`), each by the name of its entry in core.source_files' asset metadata:
# the UI shows them and `gtq run`'s summary reads them (`cli.summary.Ingest`).
FILES_INGESTED = "files_ingested"
FILES_SKIPPED = "files_skipped"
RECORDS_READ = "records_read"
RECORDS_ACCEPTED = "records_accepted"
RECORDS_QUARANTINED = "records_quarantined"
TASKS_REPLACED = "tasks_replaced_with_other_data"
WARNED_ROWS = 20  # quarantine records and replaced tasks named in the log per file or run; the tables hold all


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IngestResult:
    """What ingesting a project's sources came to.

    Attributes
    ----------
    tables : dict of Table to frame
        The project's new rows of every core table, its quarantine and its ledger (core.source_files), in the
        order they are to be committed: the ledger last, so it never vouches for a file whose rows are not in
        the tables. Empty when no source brought a new file: nothing is to be rewritten.
    files : pl.DataFrame
        The ledger rows of the run's new files (core.source_files columns).
    files_given : int
        The export files the run was given.
    files_skipped : int
        Those already ingested for the project (same content hash).
    replaced : pl.DataFrame
        Tasks whose snapshot a new file replaced by one with other task data: project_id, task_id,
        source_file (the replaced snapshot's) and replaced_by (see `merge.replaced_task_data`).
    screening : Screening
        What the core.annotations and core.regions suites found in the new files' rows (the check results).
    messages : list of Message
        What the step said, in order.
    """

    tables: dict[Table, pl.DataFrame | pl.LazyFrame]
    files: pl.DataFrame
    files_given: int
    files_skipped: int
    replaced: pl.DataFrame
    screening: Screening
    messages: list[Message]

    @property
    def totals(self) -> dict[str, int]:
        """The run's figures: files ingested and skipped, records read, accepted and quarantined (read =
        accepted + quarantined), and tasks replaced with other data."""
        return {
            FILES_INGESTED: self.files.height,
            FILES_SKIPPED: self.files_skipped,
            RECORDS_READ: int(self.files["records_read"].sum()),
            RECORDS_ACCEPTED: int(self.files["records_accepted"].sum()),
            RECORDS_QUARANTINED: int(self.files["records_quarantined"].sum()),
            TASKS_REPLACED: self.replaced.height,
        }

    @property
    def files_markdown(self) -> str:
        """The run's new files as a Markdown table (`files_markdown`)."""
        return files_markdown(self.files)


def ingest_new_files(
    project: str,
    sources: list[Source],
    *,
    ingested: pl.DataFrame,
    current: CoreState,
    quarantine: pl.LazyFrame,
    staging: Path,
    docs: DataDocs | None,
    run_id: str,
    clock: Callable[[], datetime] = _utc_now,
    log: Callable[[Message], None] | None = None,
) -> IngestResult:
    """Read the project's new export files (by content hash) and fold them into its core tables.

    A file already ingested for this project (same bytes) is skipped, so re-ingesting changes nothing; a file
    that holds other projects only is left for their runs. Per task the newest snapshot wins. Unreadable
    records land in the quarantine with file, locator and reason, and so does an annotation whose rows fail a
    critical expectation of the core.annotations or core.regions suite (validated before use: it never reaches
    GT or scoring); every record read is either accepted or quarantined. A file's quarantine and record counts
    belong to the run of its first project; a file's quarantine rows are those of its latest reading.

    Parameters
    ----------
    project : str
        The project of the run: only its rows change.
    sources : list of Source
        The export files, in the order they apply (`ingest.expand_sources`).
    ingested : pl.DataFrame
        The project's ledger so far (core.source_files rows).
    current : CoreState
        The project's current core tables.
    quarantine : pl.LazyFrame
        The project's current core.quarantine rows.
    staging : Path
        A folder for the parsed exports; the result's tables read from it, so it must outlive their writing.
    docs : DataDocs or None
        Where the screening keeps its validations and builds the Data Docs (None: nowhere).
    run_id : str
        The run, stamped on the ledger and quarantine rows.
    clock : callable, optional
        The time a file's ledger row is made (`ingested_at`); UTC now by default.
    log : callable, optional
        Hears each message as it is said (the run's live log); the result holds them all.

    Returns
    -------
    IngestResult
        The tables to write, the ledger rows of the new files, the figures, the screening and the messages.
    """
    journal = Journal(log)
    seen = set(ingested["content_hash"].to_list())
    exports, skipped = [], 0
    for source in sources:
        path = source.path
        digest = content_hash(path)
        if digest in seen:
            journal.info(f"{path}: already ingested for project {project} (sha256 {digest[:12]}), skipped")
            skipped += 1
            continue
        seen.add(digest)
        export = read_export(
            source,
            staging / str(len(exports)),
            progress=lambda n, path=path: journal.info(f"{path}: {n:,} records read so far"),
            digest=digest,
        )
        if export.project_ids and project not in export.project_ids:
            journal.info(f"{path}: holds projects {export.project_ids}, not {project}; left for their runs")
            continue
        exports.append(export)

    # Validate before use, each new file on its own: an annotation failing a critical expectation is quarantined.
    screening = screen([e.frames for e in exports], current.label_config, docs, run_id)
    exports = [e.without(screening.rejected_from(e.content_hash)) for e in exports]
    for export in exports:
        path = export.source_file
        journal.info(
            f"{path}: {export.format}, {export.records_read} records read = {export.records_accepted} accepted"
            f" + {export.records_quarantined} quarantined"
        )
        for notice in export.notices:
            journal.warning(f"{path}: {notice}")
        for row in export.quarantine.head(WARNED_ROWS).iter_rows(named=True):
            journal.warning(f"{path} {row['locator']}: {row['reason']}")

    # A file's quarantine and record counts belong to the run of its first project.
    owns = [project == (e.project_ids or [project])[0] for e in exports]
    incoming = [e.frames.for_project(project) for e in exports]
    state = current.merge(incoming)
    replaced = replaced_task_data(current, incoming, state).collect()
    for row in replaced.head(WARNED_ROWS).iter_rows(named=True):
        journal.warning(
            f"project {project}, task {row['task_id']}: {row['replaced_by']} replaces its snapshot from"
            f" {row['source_file']}, whose task data differs. Two exports that reuse project and task ids?"
            " Give each its namespace: --source NAME=PATH"
        )
    rows = [file_row(e, project, run_id, owned, clock()) for e, owned in zip(exports, owns, strict=True)]
    files = pl.DataFrame(rows, schema=SOURCE_FILES.polars_schema)
    # A file's quarantine rows are those of its latest reading: a run killed before its ledger was written
    # reads the file again and quarantines the same records once.
    quarantined = [quarantine.filter(~pl.col("content_hash").is_in(files["content_hash"].implode()))]
    quarantined += [
        e.quarantine.lazy().with_columns(project_id=pl.coalesce("project_id", pl.lit(project)), run_id=pl.lit(run_id))
        for e, owned in zip(exports, owns, strict=True)
        if owned
    ]
    # The tables are replaced together, as they merge with their own previous rows; the ledger is committed
    # last. With no new file nothing is rewritten.
    tables = {**state.tables(), QUARANTINE: pl.concat(quarantined), SOURCE_FILES: pl.concat([ingested, files])}
    return IngestResult(
        tables=tables if exports else {},
        files=files,
        files_given=len(sources),
        files_skipped=skipped,
        replaced=replaced,
        screening=screening,
        messages=journal.messages,
    )


def file_row(export: ParsedExport, project: str, run_id: str, owned: bool, ingested_at: datetime) -> dict:
    """The ledger row (core.source_files) of a file read by the run of `project`: its record counts when the
    run `owned` it (the run of the file's first project), else zeros, so a file is counted once."""
    counts = (export.records_read, export.records_accepted, export.records_quarantined) if owned else (0, 0, 0)
    return {
        "source_file": export.source_file,
        "content_hash": export.content_hash,
        "format": export.format,
        "project_id": project,
        "project_ids": export.project_ids,
        "records_read": counts[0],
        "records_accepted": counts[1],
        "records_quarantined": counts[2],
        "ingested_at": ingested_at,
        "run_id": run_id,
    }


def files_markdown(files: pl.DataFrame) -> str:
    """Ledger rows as a Markdown table: file, format, records read, accepted and quarantined, and the first 12
    digits of the content hash; a sentence when there is none."""
    if files.is_empty():
        return "_no new file: every source was already ingested_"
    lines = ["| file | format | read | accepted | quarantined | sha256 |", "|---|---|---|---|---|---|"]
    lines.extend(
        f"| {f['source_file']} | {f['format']} | {f['records_read']} | {f['records_accepted']}"
        f" | {f['records_quarantined']} | {f['content_hash'][:12]} |"
        for f in files.iter_rows(named=True)
    )
    return "\n".join(lines)


def origin_counts(annotations: pl.LazyFrame) -> dict[str, int]:
    """The number of annotations per origin (human, model) in core.annotations rows."""
    return dict(annotations.group_by("origin").len().collect().iter_rows())
