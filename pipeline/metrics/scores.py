"""Per-control answers and their Label Studio-style scores, as lazy Polars frames.

An *answer* is what one annotation chose for one classification control: the sorted list of chosen
labels, empty when the annotation left the control blank. Choices attached to a region (per-region
choices, which share the region's id) describe that region, not the task, and are not answers here.

Scoring follows Label Studio: exact match of a single choice, Jaccard partial credit for several
choices, both empty = 1, exactly one empty = 0. Cancelled (skipped) annotations have no answers and are never scored.
"""

from __future__ import annotations

import polars as pl

from pipeline.metrics.matching import GEOMETRY, box_iou, box_label, scorable_box

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


def choice_similarity(answer: str, reference: str) -> pl.Expr:
    """Score of two answer_key columns: the Jaccard index of the chosen label sets, |A ∩ B| / |A ∪ B|.

    With single choices this is Label Studio's exact match (1 when equal, else 0); with several choices
    it gives partial credit. Both empty (null) = 1, exactly one empty = 0.
    """
    empty = pl.lit([], pl.List(pl.String))
    a = pl.col(answer).str.split(_LABEL_SEPARATOR).fill_null(empty)
    b = pl.col(reference).str.split(_LABEL_SEPARATOR).fill_null(empty)
    union = a.list.set_union(b).list.len()
    return pl.when(union == 0).then(1.0).otherwise(a.list.set_intersection(b).list.len() / union)


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
        .with_columns(choice_similarity("answer_key", "gt_answer_key").alias("score"), pl.lit("choices").alias("type"))
    )


def pairwise_task_agreement(answers: pl.LazyFrame, annotations: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """Label Studio's pairwise task agreement over submitted human annotations.

    Each unordered pair of a task's annotations scores the mean over the project's controls of
    `choice_similarity` (classification) and `box_similarity` (boxes); the task's agreement is the mean over its
    n (n - 1) / 2 pairs. Returns project_id, task_id, n_annotations, agreement. A task with fewer than two
    annotations has agreement null (no pair to compare; Label Studio shows 100%).
    """
    human = annotations.filter((pl.col("origin") == "human") & ~pl.col("was_cancelled")).select("project_id", "task_id", "annotation_id")
    pairs = (
        human.rename({"annotation_id": "a"})
        .join(human.rename({"annotation_id": "b"}), on=["project_id", "task_id"])
        .filter(pl.col("a") < pl.col("b"))
    )
    keys = ["project_id", "task_id", "control"]
    given = answers.filter(pl.col("origin") == "human").select(*keys, "annotation_id", "answer_key")
    choice_scores = (
        pairs.join(given.rename({"annotation_id": "a", "answer_key": "key_a"}), on=["project_id", "task_id", "a"])
        .join(given.rename({"annotation_id": "b", "answer_key": "key_b"}), on=[*keys, "b"])
        .select("project_id", "task_id", "a", "b", "control", choice_similarity("key_a", "key_b").alias("score"))
    )
    boxes = regions.filter(scorable_box()).select(*keys, "annotation_id", box_label(), *GEOMETRY)
    on = ["project_id", "task_id", "a", "b", "control"]
    comparisons = pairs.join(boxes.select("project_id", "control").unique(), on="project_id")
    box_scores = box_similarity(
        comparisons,
        comparisons.join(boxes.rename({"annotation_id": "a"}), on=["project_id", "task_id", "control", "a"]).select(*on, "label", *GEOMETRY),
        comparisons.join(boxes.rename({"annotation_id": "b"}), on=["project_id", "task_id", "control", "b"]).select(*on, "label", *GEOMETRY),
        on,
    )
    per_pair = pl.concat([choice_scores, box_scores.select(*on, "score")]).group_by("project_id", "task_id", "a", "b").agg(pl.col("score").mean())
    per_task = per_pair.group_by("project_id", "task_id").agg(pl.col("score").mean().alias("agreement"))
    return (
        human.group_by("project_id", "task_id")
        .agg(pl.col("annotation_id").n_unique().alias("n_annotations"))
        .join(per_task, on=["project_id", "task_id"], how="left")
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


def box_similarity(comparisons: pl.LazyFrame, a_boxes: pl.LazyFrame, b_boxes: pl.LazyFrame, on: list[str]) -> pl.LazyFrame:
    """Label Studio's box score for each comparison (`on` keys: which two sides, which control).

    f(x -> y) = the mean over y's boxes of the best IoU with a box of x of the same label (0 without one);
    score = min(f(a -> b), f(b -> a)), so both directions must match. Both sides without boxes = 1,
    exactly one side without boxes = 0. Returns `on` + score.
    """
    counts_a = a_boxes.group_by(on).agg(pl.len().alias("n_a"))
    counts_b = b_boxes.group_by(on).agg(pl.len().alias("n_b"))
    pairs = (
        a_boxes.with_row_index("box_a")
        .join(b_boxes.with_row_index("box_b"), on=[*on, "label"], suffix="_b")
        .with_columns(iou=box_iou("", "_b").fill_null(0.0))
    )
    best_for_b = pairs.group_by(*on, "box_b").agg(pl.col("iou").max()).group_by(on).agg(pl.col("iou").sum().alias("sum_b"))
    best_for_a = pairs.group_by(*on, "box_a").agg(pl.col("iou").max()).group_by(on).agg(pl.col("iou").sum().alias("sum_a"))
    n_a, n_b = pl.col("n_a").fill_null(0), pl.col("n_b").fill_null(0)
    return (
        comparisons.join(counts_a, on=on, how="left")
        .join(counts_b, on=on, how="left")
        .join(best_for_b, on=on, how="left")
        .join(best_for_a, on=on, how="left")
        .with_columns(
            score=pl.when((n_a == 0) & (n_b == 0))
            .then(1.0)
            .when((n_a == 0) | (n_b == 0))
            .then(0.0)
            .otherwise(pl.min_horizontal(pl.col("sum_b").fill_null(0) / n_b, pl.col("sum_a").fill_null(0) / n_a))
        )
        .select(*on, "score")
    )


def box_scores_against_ground_truth(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, ground_truth: pl.LazyFrame, gt_regions: pl.LazyFrame
) -> pl.LazyFrame:
    """Each submitted annotation and prediction of a task with GT, scored per box control against the GT's
    boxes with `box_similarity` (the GT's boxes: `pipeline.groundtruth.ground_truth_regions`, consensus
    boxes included). The GT annotation itself is not scored. Same columns as
    `scores_against_ground_truth`, with no answer keys."""
    boxes = regions.filter(scorable_box())
    box_controls = boxes.select("project_id", "control").unique()
    gt = ground_truth.select("project_id", "task_id", "source_task_id", pl.col("annotation_id").alias("gt_annotation_id"))
    scored = (
        annotations.filter(~pl.col("was_cancelled"))
        .select("project_id", "task_id", "annotation_id", "annotator", "origin")
        .join(gt, on=["project_id", "task_id"])
        .filter(~((pl.col("annotation_id") == pl.col("gt_annotation_id")) & (pl.col("task_id") == pl.col("source_task_id"))))
        .join(box_controls, on="project_id")
    )
    on = ["project_id", "task_id", "annotation_id", "control"]
    mine = boxes.select("project_id", "task_id", "annotation_id", "control", box_label(), *GEOMETRY)
    theirs = (
        gt_regions.filter(scorable_box())
        .select("project_id", "task_id", "control", box_label(), *GEOMETRY)
        .join(scored.select(on).unique(), on=["project_id", "task_id", "control"])
    )
    similarity = box_similarity(scored.select(on), mine, theirs, on)
    return scored.join(similarity, on=on).select(
        "project_id", "task_id", "annotation_id", "annotator", "origin", "control", "score", "gt_annotation_id",
        pl.lit(None, pl.String).alias("answer_key"), pl.lit(None, pl.String).alias("gt_answer_key"),
        pl.lit("rectanglelabels").alias("type"),
    )  # fmt: skip
