"""Folding parsed exports into the current core tables.

Exports are applied in order. A task present in an export replaces everything known about that task
(its row, its annotations and predictions, their regions); tasks the export does not contain are left
as they were. So a later export of a project supersedes an earlier one for the tasks it contains, and
an annotation missing from the later export of its task is gone from the current state (it stays in
the history of the GT that referenced it).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.contract import ANNOTATIONS, REGIONS, TASKS
from pipeline.ingest.records import ParsedExport

TASK = ["project_id", "task_id"]


@dataclass
class CoreState:
    tasks: pl.DataFrame
    annotations: pl.DataFrame
    regions: pl.DataFrame

    def apply(self, export: ParsedExport) -> CoreState:
        """The state after `export`: its tasks replace the same tasks here."""
        incoming = export.tasks.select(TASK)
        return CoreState(
            tasks=_supersede(self.tasks, export.tasks, incoming, TASKS),
            annotations=_supersede(self.annotations, export.annotations, incoming, ANNOTATIONS),
            regions=_supersede(self.regions, export.regions, incoming, REGIONS),
        )


def _supersede(current: pl.DataFrame, new: pl.DataFrame, incoming: pl.DataFrame, table) -> pl.DataFrame:
    kept = current.join(incoming, on=TASK, how="anti")
    return pl.concat([table.conform(kept), table.conform(new)])
