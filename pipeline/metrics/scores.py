"""Per-control answers and their Label Studio-style scores, as lazy Polars frames.

An *answer* is what one annotation chose for one classification control: the sorted list of chosen
labels, empty when the annotation left the control blank. Choices attached to a region (per-region
choices, which share the region's id) describe that region, not the task, and are not answers here.

Scoring follows Label Studio: exact match of the chosen label sets, both empty = 1, exactly one
empty = 0. Cancelled (skipped) annotations have no answers and are never scored.
"""

from __future__ import annotations

import polars as pl

CLASSIFICATION_TYPES = ("choices",)
ANSWER_KEYS = ["project_id", "task_id", "annotation_id", "control"]
_LABEL_SEPARATOR = "\x1f"


def choice_answers(annotations: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """One row per submitted annotation and classification control of its project.

    Returns project_id, task_id, annotation_id, annotator, origin, updated_at, control, answer
    (sorted labels, possibly empty) and answer_key (the labels joined; null when the answer is empty).
    """
    choices = regions.filter(pl.col("type").is_in(CLASSIFICATION_TYPES))
    region_ids = regions.filter(~pl.col("type").is_in(CLASSIFICATION_TYPES)).select(
        "project_id", "task_id", "annotation_id", "region_id"
    )
    task_level = choices.join(region_ids, on=["project_id", "task_id", "annotation_id", "region_id"], how="anti")
    chosen = task_level.group_by(ANSWER_KEYS).agg(
        pl.col("labels").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort().alias("answer")
    )
    controls = task_level.select("project_id", "control").unique()
    submitted = annotations.filter(~pl.col("was_cancelled")).select(
        "project_id", "task_id", "annotation_id", "annotator", "origin", "updated_at"
    )
    return (
        submitted.join(controls, on="project_id")
        .join(chosen, on=ANSWER_KEYS, how="left")
        .with_columns(pl.col("answer").fill_null(pl.lit([], pl.List(pl.String))))
        .with_columns(
            pl.when(pl.col("answer").list.len() > 0)
            .then(pl.col("answer").list.join(_LABEL_SEPARATOR))
            .alias("answer_key")
        )
    )


def exact_match(answer: str, reference: str) -> pl.Expr:
    """Score of two answer_key columns: 1 when equal, including both empty (null); 0 otherwise."""
    return pl.col(answer).eq_missing(pl.col(reference)).cast(pl.Float64)


def scores_against_ground_truth(answers: pl.LazyFrame, ground_truth: pl.LazyFrame) -> pl.LazyFrame:
    """Each answer of a task that has GT, scored against the GT annotation's answer for that control.

    The GT annotation may live in another task holding the same item (Scout: `source_task_id`). The GT
    annotation itself is not scored (it would score 1 by construction). Returns project_id, task_id,
    annotation_id, annotator, origin, control, score, gt_annotation_id, answer_key, gt_answer_key.
    """
    gt = ground_truth.select("project_id", "task_id", "source_task_id", pl.col("annotation_id").alias("gt_annotation_id"))
    gt_answers = gt.join(
        answers.select("project_id", pl.col("task_id").alias("source_task_id"), pl.col("annotation_id").alias("gt_annotation_id"), "control", "answer_key"),
        on=["project_id", "source_task_id", "gt_annotation_id"],
    ).select("project_id", "task_id", "control", pl.col("answer_key").alias("gt_answer_key"))
    return (
        answers.join(gt.drop("source_task_id"), on=["project_id", "task_id"])
        .filter(pl.col("annotation_id") != pl.col("gt_annotation_id"))
        .join(gt_answers, on=["project_id", "task_id", "control"])
        .with_columns(exact_match("answer_key", "gt_answer_key").alias("score"))
    )


def pairwise_task_agreement(answers: pl.LazyFrame) -> pl.LazyFrame:
    """Label Studio's pairwise task agreement over human annotations.

    Each unordered pair of a task's submitted human annotations scores the mean over controls of
    `exact_match`; the task's agreement is the mean over its n (n - 1) / 2 pairs. Returns project_id,
    task_id, n_annotations, agreement. A task with fewer than two annotations has agreement null (no
    pair to compare; Label Studio shows 100%), and a project without classification controls has
    no scored pair.
    """
    human = answers.filter(pl.col("origin") == "human")
    keys = ["project_id", "task_id", "control"]
    left = human.select(*keys, pl.col("annotation_id").alias("a"), pl.col("answer_key").alias("key_a"))
    right = human.select(*keys, pl.col("annotation_id").alias("b"), pl.col("answer_key").alias("key_b"))
    pair_scores = (
        left.join(right, on=keys)
        .filter(pl.col("a") < pl.col("b"))
        .group_by("project_id", "task_id", "a", "b")
        .agg(exact_match("key_a", "key_b").mean().alias("pair_score"))
    )
    per_task = pair_scores.group_by("project_id", "task_id").agg(pl.col("pair_score").mean().alias("agreement"))
    return human.group_by("project_id", "task_id").agg(pl.col("annotation_id").n_unique().alias("n_annotations")).join(
        per_task, on=["project_id", "task_id"], how="left"
    )


def categorical_ratings(answers: pl.LazyFrame, origins: tuple[str, ...] = ("human", "model")) -> pl.LazyFrame:
    """Answers as ratings for chance-corrected agreement: item = task, rater = annotator, label = answer.

    An empty answer is a missing rating (not a category). When a rater answered a task twice, the
    latest update counts. Returns project_id, control, item, rater, origin, label.
    """
    return (
        answers.filter(pl.col("answer_key").is_not_null() & pl.col("origin").is_in(origins))
        .group_by("project_id", "control", "task_id", "annotator")
        .agg(pl.col("answer_key", "origin").sort_by("updated_at", "annotation_id").last())
        .select(
            "project_id",
            "control",
            pl.col("task_id").alias("item"),
            pl.col("annotator").alias("rater"),
            "origin",
            pl.col("answer_key").alias("label"),
        )
    )
