"""Tasks in batches: scoring reads one task at a time, so a project can be scored batch by batch and its
memory follow the batch, not the project."""

from __future__ import annotations

import polars as pl

TASKS_PER_BATCH = 250_000  # tasks scored together; more only costs memory


def task_batches(n_tasks: int, per_batch: int = TASKS_PER_BATCH) -> list[pl.Expr]:
    """Predicates that split tasks into ceil(n_tasks / per_batch) batches by a hash of `task_id` (every row
    of a task lands in the same batch); one batch is `True`, no task is no batch."""
    n_batches = -(-n_tasks // per_batch)
    if n_batches == 1:
        return [pl.lit(True)]
    return [pl.col("task_id").hash() % n_batches == batch for batch in range(n_batches)]
