"""Folding parsed exports into the current core tables, lazily (nothing is loaded whole).

Per task, the newest snapshot wins: the version of the task with the greatest `updated_at`; on a tie
(or without dates) the export given later wins, and the warehouse's current state counts as earliest.
The winning snapshot brings everything about the task (its row, its annotations and predictions, their
regions and reviews), so records update by id and are never duplicated, and an annotation missing from
the newer snapshot of its task is gone from the current state (the GT history still names it).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.ingest.records import ParsedExport

TASK = ["project_id", "task_id"]
SNAPSHOT = [*TASK, "content_hash"]


@dataclass
class CoreState:
    tasks: pl.LazyFrame
    annotations: pl.LazyFrame
    regions: pl.LazyFrame
    reviews: pl.LazyFrame

    def merge(self, exports: list[ParsedExport]) -> CoreState:
        """The state after `exports` (in the order given): per task, the newest snapshot."""
        if not exports:
            return self
        candidates = pl.concat(
            [self.tasks.with_columns(pl.lit(0).alias("_order"))]
            + [e.tasks.with_columns(pl.lit(i + 1).alias("_order")) for i, e in enumerate(exports)]
        )
        winners = candidates.group_by(TASK).agg(
            pl.col("content_hash").sort_by("updated_at", "_order", nulls_last=False).last()
        )

        def newest(current: pl.LazyFrame, incoming: list[pl.LazyFrame]) -> pl.LazyFrame:
            return pl.concat([current, *incoming]).join(winners, on=SNAPSHOT, how="semi")

        return CoreState(
            tasks=candidates.join(winners, on=SNAPSHOT, how="semi").drop("_order"),
            annotations=newest(self.annotations, [e.annotations for e in exports]),
            regions=newest(self.regions, [e.regions for e in exports]),
            reviews=newest(self.reviews, [e.reviews for e in exports]),
        )
