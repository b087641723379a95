"""Detection quality of annotators and models against the GT boxes, vectorised in Polars.

Per task, box control and IoU threshold, each participant's boxes are matched one to one with the GT's:
first boxes of the same label, heaviest IoU first (Scout's rule, `greedy_matches`); then, among what is
left, boxes whose geometry matches under another label (CVAT's "mismatching label"). What remains is a
false positive (the participant's) or a false negative (the GT's). A box on a confirmed-empty image is a
false positive. IoU is computed in the boxes' own unit: percent and pixel coordinates give the same IoU.

precision = tp / participant boxes, recall = tp / GT boxes (both null with no box to count),
F1 = 2 tp / (2 tp + fp + fn) with mismatched boxes counted on both sides (as in CVAT, and the same
definitions as `pipeline.metrics.classification`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipeline.metrics.classification import f1, precision, recall
from pipeline.metrics.matching import GEOMETRY, box_iou, box_label, greedy_matches, scorable_box

TASK = ["project_id", "task_id"]
THRESHOLDS = (0.5, 0.75)


def detection_scores(gt_boxes: pl.DataFrame, boxes: pl.DataFrame, thresholds: Sequence[float] = THRESHOLDS) -> pl.DataFrame:
    """Scores per project, participant (annotator, origin), control and IoU threshold.

    gt_boxes: project_id, task_id, control, label, box (unique id), x, y, width, height; plus one row per
      GT without a box (box null) so that its task counts.
    boxes: the participants' boxes with annotator and origin, same columns; plus one row per
      participant's annotation without a box (box null).
    Returns project_id, annotator, origin, control, iou_threshold, n_tasks, tp, fp, fn, mismatched_label,
    precision, recall, f1.
    """
    real_gt, real = gt_boxes.drop_nulls("box"), boxes.drop_nulls("box")
    key = [*TASK, "annotator", "control"]
    # Who is scored where: every participant of a task with GT, on every box control either side used.
    who = boxes.select(*TASK, "annotator", "origin").unique().join(gt_boxes.select(TASK).unique(), on=TASK)
    controls = pl.concat(
        [real.select(key), who.join(real_gt.select(*TASK, "control").unique(), on=TASK).select(key)]
    ).unique()
    combos = (
        controls.join(who, on=[*TASK, "annotator"])
        .join(real.group_by(key).len("n_boxes"), on=key, how="left")
        .join(real_gt.group_by(*TASK, "control").len("n_gt"), on=[*TASK, "control"], how="left")
    )
    candidates = (
        real.join(real_gt, on=[*TASK, "control"], suffix="_gt").with_columns(iou=box_iou("", "_gt")).filter(pl.col("iou") > 0)
    )
    scored = []
    for threshold in thresholds:
        above = candidates.filter(pl.col("iou") >= threshold)
        same = greedy_matches(above.filter(pl.col("label") == pl.col("label_gt")), key, "box", "box_gt", "iou")
        rest = above.join(same.select(*key, "box"), on=[*key, "box"], how="anti").join(
            same.select(*key, "box_gt"), on=[*key, "box_gt"], how="anti"
        )
        other = greedy_matches(rest.filter(pl.col("label") != pl.col("label_gt")), key, "box", "box_gt", "iou")
        scored.append(
            combos.join(same.group_by(key).len("tp"), on=key, how="left")
            .join(other.group_by(key).len("mismatched_label"), on=key, how="left")
            .with_columns(pl.col("n_boxes", "n_gt", "tp", "mismatched_label").fill_null(0).cast(pl.Int64), iou_threshold=pl.lit(threshold))
        )
    per_task = pl.concat(scored)
    totals = per_task.group_by("project_id", "annotator", "origin", "control", "iou_threshold").agg(
        pl.col("task_id").n_unique().alias("n_tasks"), pl.col("n_boxes", "n_gt", "tp", "mismatched_label").sum()
    )
    tp, mismatched = pl.col("tp"), pl.col("mismatched_label")
    return (
        totals.with_columns(
            fp=pl.col("n_boxes") - tp - mismatched,
            fn=pl.col("n_gt") - tp - mismatched,
        )
        .with_columns(
            precision=precision(tp, pl.col("fp") + mismatched),
            recall=recall(tp, pl.col("fn") + mismatched),
            f1=f1(tp, pl.col("fp") + mismatched, pl.col("fn") + mismatched),
        )
        .select(
            "project_id", "annotator", "origin", "control", "iou_threshold", "n_tasks", "tp", "fp", "fn", "mismatched_label",
            "precision", "recall", "f1",
        )  # fmt: skip
        .sort("project_id", "control", "iou_threshold", "annotator")
    )


def detection_inputs(annotations: pl.LazyFrame, regions: pl.LazyFrame, gt_regions: pl.LazyFrame, ground_truth: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The (gt_boxes, boxes) frames `detection_scores` takes.

    gt_regions are the GT's regions (`pipeline.groundtruth.ground_truth_regions`); boxes are those of each
    participant's latest submitted annotation or prediction on a task with GT, the GT annotation itself
    excluded. Box ids are numbered in a fixed order.
    """
    gt = (
        ground_truth.select(*TASK)
        .join(gt_regions.filter(scorable_box()).select(*TASK, "control", box_label(), *GEOMETRY), on=TASK, how="left")
    )
    latest = (
        annotations.filter(~pl.col("was_cancelled"))
        .join(ground_truth.select(*TASK, pl.col("annotation_id").alias("gt_annotation_id"), "source_task_id"), on=TASK)
        .filter(~((pl.col("annotation_id") == pl.col("gt_annotation_id")) & (pl.col("task_id") == pl.col("source_task_id"))))
        .group_by(*TASK, "annotator")
        .agg(pl.col("annotation_id", "origin").sort_by("updated_at", "annotation_id", nulls_last=False).last())
    )
    mine = regions.filter(scorable_box()).select(*TASK, "annotation_id", "item_index", "control", box_label(), *GEOMETRY)
    boxes = latest.join(mine, on=[*TASK, "annotation_id"], how="left").sort(*TASK, "annotator", "item_index")
    numbered = [
        frame.collect().with_row_index("box").with_columns(pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)).alias("box"))
        for frame in (gt.sort(*TASK, "control", *GEOMETRY), boxes)
    ]
    return numbered[0], numbered[1].drop("annotation_id", "item_index")
