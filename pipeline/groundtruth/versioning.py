"""Turning a freshly resolved GT into changes, a new snapshot and history rows. Pure: no storage.

A change is `set` (the task had no GT), `replaced` (another annotation is now GT) or `unset` (the task
lost its GT; the annotation itself stays in core.annotations). Tasks whose GT did not change keep their
previous row, including the version that set it, so an unchanged input produces no change at all.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipeline.contract import GROUND_TRUTH, GROUND_TRUTH_HISTORY

TASK = ["project_id", "task_id"]


def diff(previous: pl.DataFrame, resolved: pl.DataFrame, tasks: pl.DataFrame) -> pl.DataFrame:
    """Changes from the previous GT snapshot to the resolved one, one row per changed task.

    Returns project_id, task_id, annotation_id (new GT, null for unset), previous_annotation_id, change,
    method (the rule that decided; for unset, the rule under which the task had its GT) and the
    source_file and content_hash of the export that brought the task's current state.
    """
    before = previous.select(*TASK, pl.col("annotation_id").alias("previous_annotation_id"), pl.col("method").alias("previous_method"))
    after = resolved.select(*TASK, "annotation_id", "method")
    return (
        before.join(after, on=TASK, how="full", coalesce=True)
        .filter(pl.col("annotation_id").ne_missing(pl.col("previous_annotation_id")))
        .join(tasks.select(*TASK, "source_file", "content_hash"), on=TASK, how="left")
        .with_columns(pl.coalesce("method", "previous_method").alias("method"))
        .with_columns(
            pl.when(pl.col("previous_annotation_id").is_null())
            .then(pl.lit("set"))
            .when(pl.col("annotation_id").is_null())
            .then(pl.lit("unset"))
            .otherwise(pl.lit("replaced"))
            .alias("change")
        )
        .sort(TASK)
    )


def next_snapshot(previous: pl.DataFrame, resolved: pl.DataFrame, changes: pl.DataFrame, version: int) -> pl.DataFrame:
    """The GT table after applying `changes`: changed tasks take the resolved row stamped `version`."""
    changed = changes.select(TASK)
    kept = previous.join(changed, on=TASK, how="anti")
    updated = resolved.join(changed, on=TASK, how="semi").with_columns(pl.lit(version, pl.Int64).alias("version"))
    return GROUND_TRUTH.conform(pl.concat([GROUND_TRUTH.conform(kept), GROUND_TRUTH.conform(updated)])).sort(TASK)


def next_history(
    history: pl.DataFrame,
    changes: pl.DataFrame,
    *,
    version: int,
    at: datetime,
    run_id: str,
) -> pl.DataFrame:
    """Close the open period of every changed task at `at` and open a new one per change."""
    open_and_changed = pl.col("valid_to").is_null() & pl.struct(TASK).is_in(changes.select(pl.struct(TASK)).to_series().implode())
    closed = history.with_columns(
        pl.when(open_and_changed).then(pl.lit(at, GROUND_TRUTH_HISTORY.columns["valid_to"])).otherwise(pl.col("valid_to")).alias("valid_to")
    )
    opened = changes.with_columns(
        pl.lit(version, pl.Int64).alias("version"),
        pl.lit(at).alias("valid_from"),
        pl.lit(None).alias("valid_to"),
        pl.lit(run_id).alias("run_id"),
    )
    return pl.concat([GROUND_TRUTH_HISTORY.conform(closed), GROUND_TRUTH_HISTORY.conform(opened)])
