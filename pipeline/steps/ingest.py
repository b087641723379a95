"""Ingest as a step: a project's export files and its current core tables -> the tables to write, the
ledger rows of the run's new files, what the screening suites found and what to say. No Dagster, no
warehouse: the files are read into `staging` and validations kept in `docs`, both given by the caller."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.contract import QUARANTINE, SOURCE_FILES, Table
from pipeline.ingest import KnownTasks, ParsedExport, Source, content_hash, read_export
from pipeline.ingest.merge import CoreState, replaced_task_data
from pipeline.steps import Journal, Message
from pipeline.validation import DataDocs, Screening, screen
from pipeline.vocabulary import TASK

__all__ = [
    "FILES_INGESTED",
    "FILES_SKIPPED",
    "INGESTED",
    "RECORDS_ACCEPTED",
    "RECORDS_QUARANTINED",
    "RECORDS_READ",
    "TASKS_REPLACED",
    "TASKS_UNCHANGED",
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
TASKS_UNCHANGED = "tasks_unchanged"
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
        accepted + quarantined), tasks replaced with other data, and tasks the new files carried unchanged."""
        return {
            FILES_INGESTED: self.files.height,
            FILES_SKIPPED: self.files_skipped,
            RECORDS_READ: int(self.files["records_read"].sum()),
            RECORDS_ACCEPTED: int(self.files["records_accepted"].sum()),
            RECORDS_QUARANTINED: int(self.files["records_quarantined"].sum()),
            TASKS_REPLACED: self.replaced.height,
            TASKS_UNCHANGED: int(self.files["tasks_unchanged"].sum()),
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
    known_files: Path | None = None,
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
    known_files : Path, optional
        The folder of what earlier commands learned of export files (`ingest.content_hash`): a file not written
        since is not hashed again.
    clock : callable, optional
        The time a file's ledger row is made (`ingested_at`); UTC now by default.
    log : callable, optional
        Hears each message as it is said (the run's live log); the result holds them all.

    Returns
    -------
    IngestResult
        The tables to write, the ledger rows of the new files, the figures, the screening and the messages.

    Notes
    -----
    With no new file (every source already ingested, or holding other projects only) the result's `tables`
    is empty: nothing is rewritten. A file that cannot be read at all is one quarantined record, and its
    ledger row has the format "unreadable".

    Examples
    --------
    A Label Studio JSON export of one task with two annotations, one of them without an annotator, ingested
    twice into an empty project:

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from pipeline.contract import ANNOTATIONS, QUARANTINE, SOURCE_FILES
    >>> from pipeline.ingest import expand_sources
    >>> from pipeline.ingest.merge import CoreState
    >>> from pipeline.steps.ingest import ingest_new_files
    >>> choice = {"id": "r1", "type": "choices", "from_name": "label", "to_name": "image",
    ...           "value": {"choices": ["cat"]}}
    >>> task = {"id": 1, "project": 1, "data": {"image": "a.jpg"},
    ...         "annotations": [{"id": 10, "completed_by": 7, "result": [choice]}, {"id": 11, "result": [choice]}]}
    >>> empty = CoreState.of(lambda table: table.empty().lazy())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     export = Path(folder) / "export.json"
    ...     _ = export.write_text(json.dumps([task]))
    ...     def ingest(ledger, run_id):
    ...         return ingest_new_files("1", expand_sources([export]), ingested=ledger, current=empty,
    ...                                 quarantine=QUARANTINE.empty().lazy(), staging=Path(folder) / run_id,
    ...                                 docs=None, run_id=run_id)
    ...     first = ingest(SOURCE_FILES.empty(), "run-1")
    ...     annotations = first.tables[ANNOTATIONS].lazy().collect()  # read from the staging folder: before it goes
    ...     again = ingest(first.tables[SOURCE_FILES].lazy().collect(), "run-2")
    >>> first.totals  # records: the task and its annotations; read = accepted + quarantined
    {'files_ingested': 1, 'files_skipped': 0, 'records_read': 3, 'records_accepted': 2, 'records_quarantined': 1,
     'tasks_replaced_with_other_data': 0, 'tasks_unchanged': 0}
    >>> annotations.select("project_id", "task_id", "annotation_id", "annotator").rows()
    [('1', '1', '10', '7')]
    >>> print(first.messages[-1].text)
    /.../export.json $[0].annotations[1] (task 1, annotation 11): annotation has no annotator (...)
    >>> again.totals["files_skipped"], again.tables  # the same bytes again: skipped, nothing to write
    (1, {})
    """
    journal = Journal(log)
    seen = set(ingested["content_hash"].to_list())
    hashes = None  # the raw hashes of the project's current tasks, read once a new file comes
    exports, skipped, carried_by = [], 0, {}  # by file, the current tasks it holds unchanged
    for source in sources:
        path = source.path
        digest = content_hash(path, known_files)
        if digest in seen:
            journal.info(f"{path}: already ingested for project {project} (sha256 {digest[:12]}), skipped")
            skipped += 1
            continue
        seen.add(digest)
        folder = staging / str(len(exports))
        if hashes is None:
            hashes = set(current.tasks.select("raw_hash").drop_nulls().collect().to_series())
        export = _read(source, folder, digest, _known_tasks(project, source, hashes), journal)
        carried_by[digest] = _unchanged_tasks(current, export)
        if not (twice := _held_twice(export, carried_by[digest])).is_empty():
            journal.info(
                f"{path}: {twice.height} task id(s) held twice, one copy unchanged since an earlier export (task"
                f" {twice['task_id'][0]}): the file is read in full, so that the later copy is quarantined"
            )
            export = _read(source, folder, digest, None, journal)
            carried_by[digest] = _unchanged_tasks(current, export)
        if export.project_ids and project not in export.project_ids:
            journal.info(f"{path}: holds projects {export.project_ids}, not {project}; left for their runs")
            continue
        exports.append(export)

    # Validate before use, each new file on its own: an annotation failing a critical expectation is quarantined.
    screening = screen([e.frames for e in exports], current.label_config, docs, run_id)
    exports = [e.without(screening.rejected_from(e.content_hash)) for e in exports]
    for export in exports:
        path = export.source_file
        carried = f"; {len(export.unchanged):,} task(s) unchanged, not read again" if export.unchanged else ""
        journal.info(
            f"{path}: {export.format}, {export.records_read} records read = {export.records_accepted} accepted"
            f" + {export.records_quarantined} quarantined{carried}"
        )
        for notice in export.notices:
            journal.warning(f"{path}: {notice}")
        for row in export.quarantine.head(WARNED_ROWS).iter_rows(named=True):
            journal.warning(f"{path} {row['locator']}: {row['reason']}")

    # A file's quarantine and record counts belong to the run of its first project.
    owns = [project == (e.project_ids or [project])[0] for e in exports]
    incoming = [e.frames.for_project(project) for e in exports]
    state = current.merge(incoming, [carried_by[e.content_hash].lazy() for e in exports])
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


def _unchanged_tasks(current: CoreState, export: ParsedExport) -> pl.DataFrame:
    """The current tasks (project_id, task_id) that `export` carries unchanged, once per copy it holds."""
    if not export.unchanged:
        return pl.DataFrame(schema=dict.fromkeys(TASK, pl.String))
    hashes = pl.LazyFrame({"raw_hash": export.unchanged}, schema={"raw_hash": pl.String})
    return hashes.join(current.tasks.select(*TASK, "raw_hash"), on="raw_hash").select(TASK).collect()


def _known_tasks(project: str, source: Source, hashes: set[str]) -> KnownTasks | None:
    """The project's current tasks as `source` names them; None when it cannot hold them (another namespace)."""
    if source.namespace is None:
        return KnownTasks(project, hashes)
    prefix = f"{source.namespace}:"
    return KnownTasks(project.removeprefix(prefix), hashes) if project.startswith(prefix) else None


def _read(source: Source, folder: Path, digest: str, known: KnownTasks | None, journal: Journal) -> ParsedExport:
    """`read_export` into a fresh `folder`, telling the journal how far it got."""
    shutil.rmtree(folder, ignore_errors=True)
    progress = functools.partial(_progress, journal, source.path)
    return read_export(source, folder, progress, digest=digest, known=known)


def _progress(journal: Journal, path: Path, records: int) -> None:
    journal.info(f"{path}: {records:,} records read so far")


def _held_twice(export: ParsedExport, carried: pl.DataFrame) -> pl.DataFrame:
    """The tasks (project_id, task_id) that `export` holds more than once, a copy `carried` unchanged among
    them: a duplicate task id, whose later copy is to be quarantined, which only a full reading tells."""
    if carried.is_empty():
        return carried
    held = pl.concat([carried.lazy(), export.frames.tasks.select(TASK)])
    return held.group_by(TASK).len().filter(pl.col("len") > 1).select(TASK).collect()


def file_row(export: ParsedExport, project: str, run_id: str, owned: bool, ingested_at: datetime) -> dict:
    """The ledger row (core.source_files) of a file read by the run of `project`.

    A file is counted once: its record counts are on the row of the run that `owned` it (the run of the file's
    first project), zeros on the others.

    Parameters
    ----------
    export : ParsedExport
        The file as read (`ingest.read_export`).
    project : str
        The project of the run.
    run_id : str
        The run.
    owned : bool
        Whether `project` is the file's first project.
    ingested_at : datetime
        When the run read the file.

    Returns
    -------
    dict
        The row, by the columns of core.source_files.

    Examples
    --------
    >>> import json, tempfile
    >>> from datetime import UTC, datetime
    >>> from pathlib import Path
    >>> from pipeline.ingest import read_export
    >>> from pipeline.steps.ingest import file_row
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     export = Path(folder) / "export.json"
    ...     _ = export.write_text(json.dumps([{"id": 1, "project": 1, "data": {}, "annotations": []}]))
    ...     parsed = read_export(export, Path(folder) / "staging")
    >>> at = datetime(2026, 3, 1, tzinfo=UTC)
    >>> row = file_row(parsed, "1", "run-1", owned=True, ingested_at=at)
    >>> row["format"], row["project_ids"], row["records_read"], row["records_accepted"]
    ('label-studio-json', ['1'], 1, 1)
    >>> file_row(parsed, "2", "run-1", owned=False, ingested_at=at)["records_read"]  # counted by project 1's run
    0
    """
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
        "tasks_unchanged": len(export.unchanged),
        "ingested_at": ingested_at,
        "run_id": run_id,
    }


def files_markdown(files: pl.DataFrame) -> str:
    """Ledger rows as a Markdown table, as the UI shows a run's new files.

    Parameters
    ----------
    files : pl.DataFrame
        core.source_files rows.

    Returns
    -------
    str
        One line per file: file, format, records read, accepted and quarantined, and the first 12 digits of the
        content hash; a sentence when there is no file.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import SOURCE_FILES
    >>> from pipeline.steps.ingest import files_markdown
    >>> files = pl.DataFrame({"source_file": ["export.json"], "format": "label-studio-json", "records_read": 3,
    ...                       "records_accepted": 2, "records_quarantined": 1, "content_hash": "0123456789abcdef"})
    >>> print(files_markdown(files))
    | file | format | read | accepted | quarantined | sha256 |
    |---|---|---|---|---|---|
    | export.json | label-studio-json | 3 | 2 | 1 | 0123456789ab |
    >>> files_markdown(SOURCE_FILES.empty())
    '_no new file: every source was already ingested_'
    """
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
    """The number of annotations per origin, as core.annotations' asset metadata shows them.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations rows (cancelled ones included).

    Returns
    -------
    dict of str to int
        Origin ("human", "model") -> its annotations; an origin without any is absent.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.steps.ingest import origin_counts
    >>> annotations = pl.LazyFrame({"annotation_id": ["10", "11", "12"], "origin": ["human", "model", "human"]})
    >>> sorted(origin_counts(annotations).items())
    [('human', 2), ('model', 1)]
    """
    return dict(annotations.group_by("origin").len().collect().iter_rows())
