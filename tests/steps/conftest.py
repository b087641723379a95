"""A project's tables held in memory between steps, as the warehouse would hand them to the next run's assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import (
    ANNOTATIONS,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    LABEL_CONFIG,
    QUARANTINE,
    REGIONS,
    REVIEWS,
    SOURCE_FILES,
    TASKS,
    Table,
)
from pipeline.groundtruth.policy import Policy, load_overrides
from pipeline.ingest import expand_sources
from pipeline.ingest.merge import CoreState
from pipeline.steps.groundtruth import GroundTruthStep, next_ground_truth
from pipeline.steps.ingest import INGESTED, IngestResult, ingest_new_files
from pipeline.warehouse import Warehouse

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass
class Project:
    """One project's tables, GT versions and runs, in memory: each step reads what the one before left."""

    root: Path
    project: str = "1"
    tables: dict[Table, pl.DataFrame] = field(default_factory=lambda: {t: t.empty() for t in INGESTED})
    versions: list = field(default_factory=list)  # the published GT versions, oldest first
    runs: int = 0
    # When given, what each step's asset writes is written there too (no Dagster, no run): a warehouse the CLI reads.
    store: Warehouse | None = None

    def ingest(self, *sources: str | Path, run_id: str | None = None, **options) -> IngestResult:
        """Ingest `sources` (files or folders, NAME=PATH for a namespace) as a run of this project would, and
        keep the tables the result says to write."""
        self.runs += 1
        run_id = run_id or f"run-{self.runs}"
        result = ingest_new_files(
            self.project,
            expand_sources(list(sources)),
            ingested=self.tables[SOURCE_FILES],
            current=CoreState.of(lambda table: self.tables[table].lazy()),
            quarantine=self.tables[QUARANTINE].lazy(),
            staging=self.root / "staging" / str(self.runs),
            docs=None,
            run_id=run_id,
            clock=lambda: T0,
            **options,
        )
        written = {table: self.keep(table, rows) for table, rows in result.tables.items()}
        if self.store is not None and result.tables:
            self.store.write_project(self.project, written, run_id=run_id, views=False)
        return result

    def keep(self, table: Table, rows: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
        """Keep `rows` as the project's `table`, as the warehouse writes a project's rows: conformed to the
        contract, the project's only."""
        kept = table.conform(rows.lazy()).filter(pl.col("project_id") == self.project).collect()
        self.tables[table] = kept
        return kept

    def resolve(self, policy: Policy = Policy(), overrides: Path | None = None, at: datetime = T0) -> GroundTruthStep:
        """The GT step on the tables as they are; a version the step publishes is kept."""
        self.runs += 1
        frames = {
            t.name: self.tables[t].lazy()
            for t in (SOURCE_FILES, TASKS, ANNOTATIONS, REGIONS, REVIEWS, LABEL_CONFIG, QUARANTINE)
        }
        step = next_ground_truth(
            self.project,
            policy,
            overrides=load_overrides(overrides or self.root / "no-overrides.yaml"),
            overrides_file=(str(overrides or ""), "hash"),
            previous=self.versions[-1] if self.versions else None,
            published_changes=[v.changes for v in self.versions],
            run_id=f"run-{self.runs}",
            clock=lambda: at,
            **frames,
        )
        if step.published:
            self.versions.append(step.published)
        if self.store is not None:  # as the ground_truth asset writes: the version, then its tables
            if step.published:
                self.store.publish_gt_version(self.project, step.published, step.info)
            tables = {GROUND_TRUTH_HISTORY: step.history, GROUND_TRUTH_CONFLICTS: step.conflicts}
            tables |= {GROUND_TRUTH: step.ground_truth} if step.passed else {}
            self.store.write_project(self.project, tables, run_id=f"run-{self.runs}", views=False)
        return step


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)
