"""Tasks in batches: scoring reads one task at a time, so a project can be scored batch by batch and its
memory follow the batch, not the project."""

from __future__ import annotations

import polars as pl

TASKS_PER_BATCH = 250_000  # tasks scored together; more only costs memory


def task_batches(n_tasks: int, per_batch: int = TASKS_PER_BATCH) -> list[pl.Expr]:
    """Predicates that split tasks into batches by a hash of `task_id`.

    Parameters
    ----------
    n_tasks : int
        How many distinct tasks there are to split.
    per_batch : int, default=TASKS_PER_BATCH
        The most tasks wanted in one batch (on average: the hash decides which batch a task is in).

    Returns
    -------
    list of pl.Expr
        ceil(n_tasks / per_batch) predicates, batch b being `hash(task_id) % n_batches == b`: every row of a
        task lands in the same batch, and each task in exactly one.

    Notes
    -----
    One batch is the predicate `True` (no hashing); no task (n_tasks = 0) is no batch, an empty list.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.batches import task_batches
    >>> tasks = pl.DataFrame({"task_id": [1, 2, 3, 4, 5, 6]})
    >>> batches = task_batches(6, per_batch=4)
    >>> len(batches), sum(tasks.filter(batch).height for batch in batches)
    (2, 6)
    >>> tasks.filter(task_batches(6)[0]).height
    6
    >>> task_batches(0)
    []
    """
    n_batches = -(-n_tasks // per_batch)
    if n_batches == 1:
        return [pl.lit(True)]
    return [pl.col("task_id").hash() % n_batches == batch for batch in range(n_batches)]
