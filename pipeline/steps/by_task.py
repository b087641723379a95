"""Steps that compute task by task: what each task's rows are computed from, and which tasks changed. No Dagster.

A *task-local* step computes a task's rows from that task's rows of its inputs alone (and from settings that
hold for the whole project, such as the labeling config). Given the tasks whose input rows changed since it
last computed, it computes those tasks only and keeps its other rows as they are: the result is the one of
computing every task again. A task's input rows are told apart by a fingerprint (`task_fingerprints`).
"""

from __future__ import annotations

import polars as pl

from pipeline.vocabulary import TASK

__all__ = ["STAMPS", "changed_tasks", "kept_and_new", "task_fingerprints"]

STAMPS = ("run_id", "gt_version")  # stamped on rows by the computation that wrote them: not what they say
_FILE_TOLD = ("project_id", "task_id", "annotation_id", "content_hash")
_SEED = 20261206


def task_fingerprints(inputs: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Per task, a fingerprint of its rows in each of `inputs`.

    A row counts by all its columns but the `STAMPS`, except a row of a core table (one with `content_hash`):
    the rows one export file gives an annotation are fixed, so its ids and the file's content hash tell it.
    A task's fingerprint is the sum (wrapping) of the hashes of its rows, each hashed with its input's name,
    so the order of the rows does not count and their number does.

    Parameters
    ----------
    inputs : dict of str to pl.LazyFrame
        The step's inputs that have rows per task (project_id, task_id), by name.

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, fingerprint (UInt64): one row per task with a row in any input.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.steps.by_task import task_fingerprints
    >>> answers = pl.LazyFrame({"project_id": "p", "task_id": ["1", "1", "2"], "answer": ["cat", "dog", "cat"],
    ...                         "run_id": ["r1", "r1", "r1"]})
    >>> again = answers.reverse().with_columns(run_id=pl.lit("r2"))  # other order, other run: the same content
    >>> task_fingerprints({"answers": answers}).collect().equals(
    ...     task_fingerprints({"answers": again}).collect().sort("task_id"))
    True
    """
    hashed = []
    for name, frame in sorted(inputs.items()):
        schema = frame.collect_schema()
        told = [c for c in _FILE_TOLD if c in schema] if "content_hash" in schema else schema.names()
        columns = [pl.lit(name), *(pl.col(c) for c in told if c not in STAMPS)]
        hashed.append(frame.select(*TASK, row=pl.struct(columns).hash(_SEED)))
    return pl.concat(hashed).group_by(TASK).agg(fingerprint=pl.col("row").sum()).sort(TASK)


def changed_tasks(before: pl.DataFrame, now: pl.DataFrame) -> pl.DataFrame:
    """The tasks (project_id, task_id) whose fingerprint differs between `before` and `now`, or that only one of
    them has (a new task, or one whose input rows are all gone).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.steps.by_task import changed_tasks
    >>> before = pl.DataFrame({"project_id": "p", "task_id": ["1", "2", "3"], "fingerprint": [1, 2, 3]})
    >>> now = pl.DataFrame({"project_id": "p", "task_id": ["1", "2", "4"], "fingerprint": [1, 5, 4]})
    >>> changed_tasks(before, now)["task_id"].to_list()
    ['2', '3', '4']
    """
    both = before.join(now, on=TASK, how="full", coalesce=True, suffix="_now")
    differs = pl.col("fingerprint").ne_missing(pl.col("fingerprint_now"))
    return both.filter(differs).select(TASK).sort(TASK)


def kept_and_new(previous: pl.LazyFrame, new: pl.LazyFrame, tasks: pl.DataFrame) -> pl.LazyFrame:
    """A task-local step's rows: its `previous` rows of the tasks not in `tasks`, and its `new` rows, which it
    computed for `tasks` alone (in the columns and types of the previous ones)."""
    schema = previous.collect_schema()
    kept = previous.join(tasks.lazy(), on=TASK, how="anti")
    return pl.concat([kept, new.select(pl.col(name).cast(dtype) for name, dtype in schema.items())])
