"""Folding parsed exports into the current core tables, lazily (nothing is loaded whole).

Two kinds of rows:
- a task's *snapshot*: the task row and the annotations that came in the same export as it. Per task,
  the newest snapshot wins: the greatest `updated_at`; on a tie (or without dates) the export given
  later wins, and the warehouse's current state counts as earliest. So records update by id and are
  never duplicated, and an annotation missing from the newer snapshot of its task is gone from the
  current state (the GT history still names it);
- *attached* annotations: ones whose export does not carry their task (a COCO results file scoring the
  images of a ground-truth file). They survive newer snapshots of the task and are replaced only by
  a later export carrying the same annotation id.
Regions, reviews and annotation history follow their annotation; per project, the labeling config of
the latest export that came with one applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.ingest.records import ParsedExport

TASK = ["project_id", "task_id"]
SNAPSHOT = [*TASK, "content_hash"]
ANNOTATION = [*TASK, "annotation_id", "content_hash"]


@dataclass
class CoreState:
    tasks: pl.LazyFrame
    annotations: pl.LazyFrame
    regions: pl.LazyFrame
    reviews: pl.LazyFrame
    history: pl.LazyFrame
    label_config: pl.LazyFrame

    def merge(self, exports: list[ParsedExport]) -> CoreState:
        """The state after `exports` (in the order given)."""
        if not exports:
            return self
        order = pl.col("_order")
        candidates = pl.concat(
            [self.tasks.with_columns(_order=pl.lit(0))] + [e.tasks.with_columns(_order=pl.lit(i + 1)) for i, e in enumerate(exports)]
        )
        winners = candidates.group_by(TASK).agg(pl.col("content_hash").sort_by("updated_at", "_order", nulls_last=False).last())

        snapshot_annotations = pl.concat([self.annotations, *(e.annotations for e in exports)]).join(winners, on=SNAPSHOT, how="semi")
        attached = pl.concat(
            [self.annotations.join(self.tasks, on=SNAPSHOT, how="anti").with_columns(_order=pl.lit(0))]
            + [e.annotations.join(e.tasks, on=TASK, how="anti").with_columns(_order=pl.lit(i + 1)) for i, e in enumerate(exports)]
        )
        latest_attached = attached.filter(order == order.max().over([*TASK, "annotation_id"])).drop("_order")
        annotations = pl.concat([snapshot_annotations, latest_attached])
        kept = annotations.select(ANNOTATION)
        return CoreState(
            tasks=candidates.join(winners, on=SNAPSHOT, how="semi").drop("_order"),
            annotations=annotations,
            regions=pl.concat([self.regions, *(e.regions for e in exports)]).join(kept, on=ANNOTATION, how="semi"),
            reviews=pl.concat([self.reviews, *(e.reviews for e in exports)]).join(kept, on=ANNOTATION, how="semi"),
            history=pl.concat([self.history, *(e.history for e in exports)]).join(kept, on=ANNOTATION, how="semi"),
            label_config=_latest_config(self.label_config, [e.label_config for e in exports]),
        )


def _latest_config(current: pl.LazyFrame, incoming: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Per project, the config of the latest export that came with one."""
    configs = pl.concat([current.with_columns(_order=pl.lit(0))] + [c.with_columns(_order=pl.lit(i + 1)) for i, c in enumerate(incoming)])
    return configs.filter(pl.col("_order") == pl.col("_order").max().over("project_id")).drop("_order")
