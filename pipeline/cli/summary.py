"""What a `gtq run` did, read once from its Dagster results and the warehouse into one typed summary
(`RunSummary`), which gives the printed summary, the failures and the exit status.

The asset keys and metadata entries the summary reads are named by the modules that write them (the steps'
figures, the assets' metadata), imported here: renaming one there renames what the summary reads. (The module is
imported after a run, when Dagster is loaded.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import polars as pl

from pipeline.assets.groundtruth import EXAMPLES as CHECK_EXAMPLES  # a failed check's examples
from pipeline.assets.incremental import RECOMPUTED
from pipeline.assets.metadata import ROW_COUNT, asset_key  # ROW_COUNT: every table asset's rows as written
from pipeline.assets.report import PATH as REPORT_PATH
from pipeline.assets.report import REPORT
from pipeline.contract import GROUND_TRUTH, QUARANTINE, SOURCE_FILES
from pipeline.steps import groundtruth as gt_step
from pipeline.steps import ingest as ingest_step
from pipeline.validation import DataDocs
from pipeline.warehouse import Warehouse

# What the assets report, by asset key (as Dagster's results spell it).
INGEST_ASSET = asset_key(SOURCE_FILES).to_user_string()
GROUND_TRUTH_ASSET = asset_key(GROUND_TRUTH).to_user_string()
REPORT_ASSET = REPORT.to_user_string()


@dataclass(frozen=True)
class Ingest:
    """The ingest of one run: files new and skipped, and the records of the new files."""

    files_ingested: int
    files_skipped: int
    records_read: int
    records_accepted: int
    records_quarantined: int
    tasks_replaced_with_other_data: int
    tasks_unchanged: int

    @classmethod
    def of(cls, metadata: dict) -> Ingest:
        return cls(
            files_ingested=metadata[ingest_step.FILES_INGESTED],
            files_skipped=metadata[ingest_step.FILES_SKIPPED],
            records_read=metadata[ingest_step.RECORDS_READ],
            records_accepted=metadata[ingest_step.RECORDS_ACCEPTED],
            records_quarantined=metadata[ingest_step.RECORDS_QUARANTINED],
            tasks_replaced_with_other_data=metadata.get(ingest_step.TASKS_REPLACED, 0),
            tasks_unchanged=metadata.get(ingest_step.TASKS_UNCHANGED, 0),
        )


@dataclass(frozen=True)
class FileRead:
    """One export file a run read, from the ledger (`core.source_files`)."""

    source_file: str
    format: str
    records_read: int
    records_accepted: int
    records_quarantined: int
    tasks_unchanged: int | None  # null on ledger rows written before gtq counted them


@dataclass(frozen=True)
class GroundTruth:
    """The project's GT after the run: its tasks and version (None: none published yet), and this run's changes."""

    tasks: int
    version: int | None
    changes: int
    changes_set: int
    changes_replaced: int
    changes_unset: int
    changes_edited: int

    @classmethod
    def of(cls, metadata: dict) -> GroundTruth:
        version = metadata[gt_step.GT_VERSION]
        return cls(
            tasks=metadata[ROW_COUNT],
            version=None if version < 0 else version,
            changes=metadata[gt_step.CHANGES],
            changes_set=metadata[gt_step.CHANGES_OF["set"]],
            changes_replaced=metadata[gt_step.CHANGES_OF["replaced"]],
            changes_unset=metadata[gt_step.CHANGES_OF["unset"]],
            changes_edited=metadata[gt_step.CHANGES_OF["edited"]],
        )


@dataclass(frozen=True)
class Check:
    """One asset check's result in a run."""

    asset: str
    name: str
    passed: bool
    error: bool  # severity ERROR: failing it fails `gtq run`
    examples: str | None

    @property
    def fails_the_run(self) -> bool:
        return not self.passed and self.error


@dataclass(frozen=True)
class ProjectRun:
    """The Dagster run of one project (partition) of a `gtq run`."""

    project: str
    run_id: str
    success: bool
    ingest: Ingest | None  # None: ingest was not materialized
    files: tuple[FileRead, ...]  # the files this run read
    unreadable_files: tuple[str, ...]  # files this run found unreadable as a whole, each with why
    ground_truth: GroundTruth | None  # None: the GT was not materialized (not publishable, or a failed step)
    checks: tuple[Check, ...]
    step_failures: tuple[str, ...]  # each failed step with its error's own message
    data_docs: Path | None
    report: str | None  # the quality report's path
    tables_written: tuple[tuple[str, int], ...]  # (table, the project's rows), in the order the run wrote them
    tables_unchanged: tuple[str, ...] = ()  # tables not computed again: nothing they are computed from changed

    @classmethod
    def of(cls, project: str, run, warehouse: Path | str, store) -> ProjectRun:
        """The run's summary from its Dagster result (`ExecuteInProcessResult`) and the warehouse it wrote
        (`store`, the `Warehouse` of `warehouse`)."""
        metadata = {
            e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in run.get_asset_materialization_events()
        }
        this_run = pl.col("run_id") == run.run_id
        ledger = store.scan_project(SOURCE_FILES, project).filter(this_run).collect()
        reasons = store.scan_project(QUARANTINE, project).filter(this_run).select("content_hash", "reason")
        unreadable = ledger.lazy().filter(pl.col("format") == "unreadable").join(reasons, on="content_hash", how="left")
        docs = DataDocs.of(warehouse, project).index
        return cls(
            project=project,
            run_id=run.run_id,
            success=run.success,
            ingest=Ingest.of(metadata[INGEST_ASSET]) if INGEST_ASSET in metadata else None,
            files=tuple(
                FileRead(**{f.name: row[f.name] for f in fields(FileRead)}) for row in ledger.iter_rows(named=True)
            ),
            unreadable_files=tuple(
                f"{row['source_file']}: unreadable, nothing in it was ingested: {row['reason']}"
                for row in unreadable.collect().iter_rows(named=True)
            ),
            ground_truth=GroundTruth.of(metadata[GROUND_TRUTH_ASSET]) if GROUND_TRUTH_ASSET in metadata else None,
            checks=tuple(
                Check(
                    asset=c.asset_key.to_user_string(),
                    name=c.check_name,
                    passed=c.passed,
                    error=c.severity.value == "ERROR",
                    examples=c.metadata[CHECK_EXAMPLES].value if CHECK_EXAMPLES in c.metadata else None,
                )
                for c in run.get_asset_check_evaluations()
            ),
            step_failures=tuple(
                f"step {e.step_key} failed: {_error_message(e.step_failure_data.error)}"
                for e in run.all_events
                if e.is_step_failure
            ),
            data_docs=docs if docs.exists() else None,
            report=metadata[REPORT_ASSET][REPORT_PATH] if REPORT_ASSET in metadata else None,
            tables_written=tuple((key, m[ROW_COUNT]) for key, m in metadata.items() if ROW_COUNT in m),
            tables_unchanged=tuple(key for key, m in metadata.items() if m.get(RECOMPUTED) is False),
        )

    def lines(self) -> list[str]:
        """The project's part of the printed summary."""
        lines = [f"project {self.project} (Dagster run {self.run_id}):"]
        if ingest := self.ingest:
            lines.append(
                f"  ingest: {ingest.files_ingested} new file(s), {ingest.files_skipped} already ingested;"
                f" records read {ingest.records_read} = accepted {ingest.records_accepted}"
                f" + quarantined {ingest.records_quarantined}"
                + (f"; {ingest.tasks_unchanged} task(s) unchanged, not read again" if ingest.tasks_unchanged else "")
            )
            if replaced := ingest.tasks_replaced_with_other_data:
                lines.append(
                    f"  WARNING: {replaced} task(s) replaced by a snapshot whose task data differs (two exports reusing"
                    " project and task ids? namespace them: --source NAME=PATH); --verbose lists them"
                )
            lines += [
                f"    {f.source_file} [{f.format}]: read {f.records_read} = accepted"
                f" {f.records_accepted} + quarantined {f.records_quarantined}"
                + (f"; {f.tasks_unchanged} task(s) unchanged" if f.tasks_unchanged else "")
                for f in self.files
            ]
        if gt := self.ground_truth:
            version = "none yet" if gt.version is None else gt.version
            lines.append(
                f"  ground truth: {gt.tasks} task(s), project version {version};"
                f" this run {gt.changes} change(s) (set {gt.changes_set}, replaced {gt.changes_replaced},"
                f" unset {gt.changes_unset}, edited {gt.changes_edited})"
            )
        failed = [c.name for c in self.checks if not c.passed]
        named = ": " + ", ".join(failed) if failed else ""
        lines.append(f"  checks: {len(self.checks) - len(failed)} passed, {len(failed)} failed{named}")
        if self.data_docs:
            lines.append(f"  data docs: {self.data_docs}")
        if self.report:
            lines.append(f"  quality report: {self.report}")
        written = ", ".join(
            f"{key.replace('/', '.')} ({rows}{', unchanged' if key in self.tables_unchanged else ''})"
            for key, rows in self.tables_written
        )
        lines.append(f"  tables written (the project's rows): {written or 'none'}")
        if self.tables_unchanged:
            lines.append(
                f"  {len(self.tables_unchanged)} table(s) unchanged: nothing they are computed from changed since an"
                " earlier run computed them (gtq run --recompute computes every table again)"
            )
        return lines


@dataclass(frozen=True)
class RunSummary:
    """A whole `gtq run`: the run of each project, and the sources that are no export."""

    warehouse: str
    seconds: float
    projects: tuple[ProjectRun, ...]
    unreadable_sources: tuple[str, ...]  # each with why
    tables: str  # where the Delta tables are
    duckdb: Path | None  # the DuckDB file of views, for a local warehouse

    @classmethod
    def of(cls, results, warehouse: Path | str, seconds: float) -> RunSummary:
        """The summary of `results` (`RunResults`), which ran on `warehouse` in `seconds`."""
        store = Warehouse(warehouse)
        return cls(
            warehouse=str(warehouse),
            seconds=seconds,
            projects=tuple(ProjectRun.of(project, run, warehouse, store) for project, run in results.runs.items()),
            unreadable_sources=tuple(results.unreadable),
            tables=f"{store.root}/tables/<schema>/<table>/",
            duckdb=store.duckdb_path if store.storage.is_local() else None,
        )

    @property
    def success(self) -> bool:
        return all(p.success for p in self.projects)

    def failures(self) -> list[str]:
        """Why the run fails, one item each (none: it does not): sources and files that are no export, failed
        steps, failed ERROR checks; a run that did not succeed for none of these says so."""
        failures = [*self.unreadable_sources, *(f for p in self.projects for f in p.unreadable_files)]
        failures += [f for p in self.projects for f in p.step_failures]
        failures += [
            f"check {c.asset}:{c.name} failed" + (f"\n{c.examples}" if c.examples is not None else "")
            for p in self.projects
            for c in p.checks
            if c.fails_the_run
        ]
        if failures or self.success:
            return failures
        return ["the run did not succeed (see the Dagster logs with --verbose)"]

    @property
    def exit_code(self) -> int:
        """1 when the run fails (the data fails), else 0."""
        return 1 if self.failures() else 0

    def text(self) -> str:
        """The summary `gtq run` prints."""
        lines = [f"gtq run: {len(self.projects)} project(s) in {self.seconds:.1f} s, warehouse {self.warehouse}/"]
        for project in self.projects:
            lines += project.lines()
        query = f"query: duckdb -readonly {self.duckdb}  |  " if self.duckdb else ""
        lines.append(f"{query}tables: {self.tables} (Delta)")
        return "\n".join(lines)


def _error_message(error) -> str:
    """The innermost error's own message, without Dagster's wrapper class names."""
    while error.cause is not None and error.message.startswith("dagster._core.errors."):
        error = error.cause
    message = error.message.strip()
    return message.split(": ", 1)[1] if ": " in message else message
