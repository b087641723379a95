"""Folding parsed exports into the current core tables, lazily (nothing is loaded whole).

Two kinds of rows:
- a task's *snapshot*: the task row and the annotations that came in the same export as it. Per task,
  the newest snapshot wins: the greatest `updated_at`; on a tie (or without dates) the export given
  later wins, and the warehouse's current state counts as earliest. So records update by id and are
  never duplicated, and an annotation missing from the newer snapshot of its task is gone from the
  current state (the GT history still names it). An export may carry a current snapshot *unchanged*
  (the same bytes, not read again): that snapshot then counts as that export's;
- *attached* annotations: ones whose export does not carry their task (a COCO results file scoring the
  images of a ground-truth file). They survive newer snapshots of the task and are replaced only by
  a later export carrying the same annotation id.
Regions, reviews and annotation history follow their annotation; per project, the labeling config of
the latest export that came with one applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import polars as pl

from pipeline.contract import ANNOTATION_HISTORY, ANNOTATIONS, LABEL_CONFIG, REGIONS, REVIEWS, TASKS, Table
from pipeline.vocabulary import ANNOTATION, TASK

SNAPSHOT = [*TASK, "content_hash"]  # a task as one export has it
SNAPSHOT_ANNOTATION = [*ANNOTATION, "content_hash"]  # an annotation as one export has it


@dataclass
class CoreState:
    """The frames of the core tables an export fills (see `TABLES`): an export's, or the warehouse's."""

    tasks: pl.LazyFrame
    annotations: pl.LazyFrame
    regions: pl.LazyFrame
    reviews: pl.LazyFrame
    history: pl.LazyFrame
    label_config: pl.LazyFrame

    TABLES = {
        "tasks": TASKS,
        "annotations": ANNOTATIONS,
        "regions": REGIONS,
        "reviews": REVIEWS,
        "history": ANNOTATION_HISTORY,
        "label_config": LABEL_CONFIG,
    }

    @classmethod
    def of(cls, frame: Callable[[Table], pl.LazyFrame]) -> CoreState:
        """A state whose frame of each table is `frame(table)` (for example the warehouse's scan)."""
        return cls(**{name: frame(table) for name, table in cls.TABLES.items()})

    def map(self, change: Callable[[Table, pl.LazyFrame], pl.LazyFrame]) -> CoreState:
        return CoreState(**{f.name: change(self.TABLES[f.name], getattr(self, f.name)) for f in fields(self)})

    def tables(self) -> dict[Table, pl.LazyFrame]:
        return {table: getattr(self, name) for name, table in self.TABLES.items()}

    def for_project(self, project_id: str) -> CoreState:
        return self.map(lambda _, frame: frame.filter(pl.col("project_id") == project_id))

    def merge(self, exports: list[CoreState], unchanged: list[pl.LazyFrame] | None = None) -> CoreState:
        """The state after `exports` (in the order given). `unchanged`, one per export, holds the tasks
        (project_id, task_id) of this state that the export carries unchanged: each such snapshot counts as
        given by the latest export that carries it."""
        if not exports:
            return self
        order = pl.col("_order")
        carried = pl.concat(
            [pl.LazyFrame(schema=dict.fromkeys(TASK, pl.String)).with_columns(_order=pl.lit(0))]
            + [u.select(TASK).with_columns(_order=pl.lit(i + 1)) for i, u in enumerate(unchanged or [])]
        )
        current = self.tasks.join(carried.group_by(TASK).agg(order.max()), on=TASK, how="left")
        candidates = pl.concat(
            [current.with_columns(order.fill_null(0))]
            + [e.tasks.with_columns(_order=pl.lit(i + 1)) for i, e in enumerate(exports)]
        )
        winners = candidates.group_by(TASK).agg(
            pl.col("content_hash").sort_by("updated_at", "_order", nulls_last=False).last()
        )

        snapshot_annotations = pl.concat([self.annotations, *(e.annotations for e in exports)]).join(
            winners, on=SNAPSHOT, how="semi"
        )
        attached = pl.concat(
            [self.annotations.join(self.tasks, on=SNAPSHOT, how="anti").with_columns(_order=pl.lit(0))]
            + [
                e.annotations.join(e.tasks, on=TASK, how="anti").with_columns(_order=pl.lit(i + 1))
                for i, e in enumerate(exports)
            ]
        )
        latest_attached = attached.filter(order == order.max().over(ANNOTATION)).drop("_order")
        annotations = pl.concat([snapshot_annotations, latest_attached])
        kept = annotations.select(SNAPSHOT_ANNOTATION)
        return CoreState(
            tasks=candidates.join(winners, on=SNAPSHOT, how="semi").drop("_order"),
            annotations=annotations,
            regions=pl.concat([self.regions, *(e.regions for e in exports)]).join(
                kept, on=SNAPSHOT_ANNOTATION, how="semi"
            ),
            reviews=pl.concat([self.reviews, *(e.reviews for e in exports)]).join(
                kept, on=SNAPSHOT_ANNOTATION, how="semi"
            ),
            history=pl.concat([self.history, *(e.history for e in exports)]).join(
                kept, on=SNAPSHOT_ANNOTATION, how="semi"
            ),
            label_config=_latest_config(self.label_config, [e.label_config for e in exports]),
        )


def replaced_task_data(current: CoreState, exports: list[CoreState], merged: CoreState) -> pl.LazyFrame:
    """The snapshots that `merged` (`current.merge(exports)`) replaced by one whose task data (`data_json`)
    differs: project_id, task_id, source_file (the replaced snapshot's) and replaced_by (the file of the
    one that won). A newer export of a task normally carries the same data; other data under the same ids
    usually means two exports that reuse project and task ids, whose tasks would silently replace each other."""
    snapshots = pl.concat([current.tasks, *(e.tasks for e in exports)]).select(*TASK, "data_json", "source_file")
    winners = merged.tasks.select(
        *TASK, pl.col("data_json").alias("winning_data"), pl.col("source_file").alias("replaced_by")
    )
    return (
        snapshots.join(winners, on=TASK)
        .filter(pl.col("data_json") != pl.col("winning_data"))
        .select(*TASK, "source_file", "replaced_by")
        .unique()
        .sort(TASK)
    )


def _latest_config(current: pl.LazyFrame, incoming: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Per project, the config of the latest export that came with one."""
    configs = pl.concat(
        [current.with_columns(_order=pl.lit(0))]
        + [c.with_columns(_order=pl.lit(i + 1)) for i, c in enumerate(incoming)]
    )
    return configs.filter(pl.col("_order") == pl.col("_order").max().over("project_id")).drop("_order")
