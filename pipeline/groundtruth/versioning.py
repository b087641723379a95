"""Turning a fresh resolution into changes, a new snapshot and history rows. Pure: no storage.

A change is `set` (the task had no GT), `replaced` (another annotation is now GT) or `unset` (the task
lost its GT; the annotation itself stays in core.annotations). Tasks whose GT annotation did not change
keep their previous row, including the version that set it, so an unchanged input produces no change.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipeline.contract import GROUND_TRUTH, GROUND_TRUTH_HISTORY

TASK = ["project_id", "task_id"]
_WHO = ["method", "decided_by", "reason", "source_file", "content_hash"]


def diff(previous: pl.DataFrame, decided: pl.DataFrame, tasks: pl.DataFrame) -> pl.DataFrame:
    """Changes from the previous GT snapshot to the decided one, one row per changed task.

    `decided` may hold rows with a null annotation_id (an override that unset the GT). Returns
    project_id, task_id, annotation_id (null for unset), previous_annotation_id, change, and who or what
    decided it: method, decided_by, reason, source_file, content_hash. A task that lost its GT without a
    decision (a newer export without the flag) is attributed to the rule under which it had its GT and
    to the export that brought the task's current state.
    """
    before = previous.select(*TASK, pl.col("annotation_id").alias("previous_annotation_id"), pl.col("method").alias("previous_method"))
    after = decided.select(*TASK, "annotation_id", *_WHO)
    current = tasks.select(*TASK, pl.col("source_file").alias("task_source_file"), pl.col("content_hash").alias("task_content_hash"))
    return (
        before.join(after, on=TASK, how="full", coalesce=True)
        .filter(pl.col("annotation_id").ne_missing(pl.col("previous_annotation_id")))
        .join(current, on=TASK, how="left")
        .with_columns(
            method=pl.coalesce("method", "previous_method"),
            source_file=pl.coalesce("source_file", "task_source_file"),
            content_hash=pl.coalesce("content_hash", "task_content_hash"),
            change=pl.when(pl.col("previous_annotation_id").is_null())
            .then(pl.lit("set"))
            .when(pl.col("annotation_id").is_null())
            .then(pl.lit("unset"))
            .otherwise(pl.lit("replaced")),
        )
        .select(*TASK, "annotation_id", "previous_annotation_id", "change", *_WHO)
        .sort(TASK)
    )


def next_snapshot(previous: pl.DataFrame, ground_truth: pl.DataFrame, changes: pl.DataFrame, version: int) -> pl.DataFrame:
    """The GT table after applying `changes`: changed tasks take their new row, stamped `version`."""
    changed = changes.select(TASK)
    kept = previous.join(changed, on=TASK, how="anti")
    updated = ground_truth.join(changed, on=TASK, how="semi").with_columns(version=pl.lit(version, pl.Int64))
    return pl.concat([GROUND_TRUTH.conform(kept), GROUND_TRUTH.conform(updated)]).sort(TASK)


def next_history(history: pl.DataFrame, changes: pl.DataFrame, *, version: int, at: datetime, run_id: str) -> pl.DataFrame:
    """Close the open period of every changed task at `at` and open a new one per change."""
    changed = pl.struct(TASK).is_in(changes.select(pl.struct(TASK)).to_series().implode())
    closed = history.with_columns(
        valid_to=pl.when(pl.col("valid_to").is_null() & changed).then(pl.lit(at)).otherwise(pl.col("valid_to"))
    )
    opened = changes.with_columns(
        version=pl.lit(version, pl.Int64), valid_from=pl.lit(at), valid_to=pl.lit(None), run_id=pl.lit(run_id)
    )
    return pl.concat([GROUND_TRUTH_HISTORY.conform(closed), GROUND_TRUTH_HISTORY.conform(opened)])
