"""Where a number comes from: for an annotator's accuracy or a task's GT, the chain from the export file
(and its content hash) to the annotation, the GT decision (method, version, who, why, run) and the score
rows behind the aggregate. Read from a warehouse's tables; no Dagster here. docs/lineage.md gives the
same chain as SQL."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.contract import (
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANNOTATOR_PERFORMANCE,
    GROUND_TRUTH,
    GROUND_TRUTH_HISTORY,
    SOURCE_FILES,
    TASKS,
)
from pipeline.metrics.scores import overall


@dataclass(frozen=True)
class Explanation:
    """What `gtq explain` prints: a few sentences, then one row per annotation behind the number."""

    lines: list[str]
    rows: pl.DataFrame


def _overall(scores: pl.LazyFrame) -> pl.LazyFrame:
    """Each annotation's overall score against GT, as annotator_performance averages it (`scores.overall`),
    beside its control scores."""
    keys = ["task_id", "annotation_id", "gt_annotation_id"]
    controls = scores.group_by(keys).agg(
        pl.format("{}={}", "control", pl.col("score").round(3)).sort().str.join(" ").alias("control_scores")
    )
    return overall(scores, keys).select(*keys, overall="score").join(controls, on=keys, how="left")


def _decision() -> pl.Expr:
    """A GT decision in words: 'review v0 by lead@lab.example: accepted' (who and why when known)."""

    def known(column: str, prefix: str) -> pl.Expr:
        return pl.when(pl.col(column).fill_null("") != "").then(pl.lit(prefix) + pl.col(column)).otherwise(pl.lit(""))

    return pl.concat_str(
        pl.col("method"),
        pl.lit(" v"),
        pl.col("version").cast(pl.String),
        known("decided_by", " by "),
        known("reason", ": "),
    )


def _decisions(store, project: str) -> pl.LazyFrame:
    """Per task, its GT decision with where the GT annotation came from."""
    return store.scan_project(GROUND_TRUTH, project).select(
        "task_id",
        pl.col("annotation_id").alias("gt_annotation_id"),
        _decision().alias("gt_decision"),
        pl.col("source_file").alias("gt_source_file"),
        pl.col("content_hash").alias("gt_content_hash"),
    )


def explain_annotator(store, project: str, annotator: str) -> Explanation:
    """An annotator's accuracy in quality.annotator_performance, as the annotations and GT decisions behind it."""
    performance = store.scan_project(ANNOTATOR_PERFORMANCE, project).filter(pl.col("annotator") == annotator).collect()
    if performance.is_empty():
        known = store.scan_project(ANNOTATOR_PERFORMANCE, project).select("annotator").collect()["annotator"].to_list()
        raise LookupError(
            f"project {project} has no annotator {annotator!r} (annotators: {', '.join(sorted(known)) or 'none'})"
        )
    row = performance.row(0, named=True)
    scores = store.scan_project(ANNOTATION_SCORES, project).filter(pl.col("annotator") == annotator)
    sources = store.scan_project(ANNOTATIONS, project).select("task_id", "annotation_id", "source_file", "content_hash")
    rows = (
        _overall(scores)
        .join(sources, on=["task_id", "annotation_id"], how="left")
        .join(_decisions(store, project).drop("gt_annotation_id"), on="task_id", how="left")
        .sort("task_id", "annotation_id")
        .select(
            "task_id",
            "annotation_id",
            "overall",
            "control_scores",
            "gt_annotation_id",
            "gt_decision",
            "source_file",
            "content_hash",
            "gt_source_file",
            "gt_content_hash",
        )
        .collect()
    )
    lines = [
        (
            f"project {project}, {row['origin']} {annotator}: accuracy {_number(row['accuracy'])} over"
            f" {row['n_scored']} scored annotation(s)"
        ),
        f"  from quality.annotator_performance, scored against GT version {row['gt_version']} by run {row['run_id']}",
        (
            f"  = the mean of the {rows.height} overall score(s) below (quality.annotation_scores: each annotation's"
            f" control scores, weighted); mean {_number(rows['overall'].mean())}"
        ),
        *_files(store, project, rows),
    ]
    return Explanation(lines, rows)


def explain_task(store, project: str, task: str) -> Explanation:
    """A task's GT and every score against it: the task's file, the GT decision and its history, the annotations."""
    tasks = store.scan_project(TASKS, project).filter(pl.col("task_id") == task).collect()
    if tasks.is_empty():
        raise LookupError(f"project {project} has no task {task!r}")
    source = tasks.row(0, named=True)
    decision = _decisions(store, project).filter(pl.col("task_id") == task).collect()
    history = (
        store.scan_project(GROUND_TRUTH_HISTORY, project)
        .filter(pl.col("task_id") == task)
        .sort("valid_from")
        .select("version", "change", "annotation_id", _decision().alias("decision"), "valid_from", "run_id")
        .collect()
    )
    scores = _overall(store.scan_project(ANNOTATION_SCORES, project).filter(pl.col("task_id") == task))
    rows = (
        store.scan_project(ANNOTATIONS, project)
        .filter(pl.col("task_id") == task)
        .select("annotation_id", "annotator", "origin", "was_cancelled", "updated_at", "source_file", "content_hash")
        .join(scores.select("annotation_id", "overall", "control_scores"), on="annotation_id", how="left")
        .sort("annotation_id")
        .collect()
    )
    gt = decision.row(0, named=True) if not decision.is_empty() else None
    lines = [
        f"project {project}, task {task}: from {source['source_file']} (sha256 {source['content_hash']})",
        (
            f"  GT: annotation {gt['gt_annotation_id']} ({gt['gt_decision']}); from {gt['gt_source_file']} (sha256"
            f" {gt['gt_content_hash']})"
        )
        if gt
        else "  GT: none (no rule decided this task; see core.ground_truth_conflicts and quality.review_queue)",
        *(
            f"  GT history: v{h['version']} {h['change']} -> {h['annotation_id']} ({h['decision']})"
            f" at {h['valid_from']:%Y-%m-%d %H:%M} by run {h['run_id']}"
            for h in history.iter_rows(named=True)
        ),
        *_files(store, project, rows),
    ]
    return Explanation(lines, rows)


def _files(store, project: str, rows: pl.DataFrame) -> list[str]:
    """The export files the rows came from, with when and by which run they were ingested."""
    files = store.scan_project(SOURCE_FILES, project).collect()
    hashes = set(rows["content_hash"].drop_nulls()) | (
        set(rows["gt_content_hash"].drop_nulls()) if "gt_content_hash" in rows.columns else set()
    )
    return [
        (
            f"  file {f['source_file']} (sha256 {f['content_hash']}, {f['format']}): ingested"
            f" {f['ingested_at']:%Y-%m-%d %H:%M} by run {f['run_id']}"
        )
        for f in files.filter(pl.col("content_hash").is_in(sorted(hashes))).iter_rows(named=True)
    ]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
