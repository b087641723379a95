"""The quality tables as steps: the project's core tables and GT -> each quality.* table, stamped with the run
and the GT version it was scored against (`stamped`). No Dagster, no warehouse.

One function per quality asset, named like it; a step that makes several tables yields (table, rows)
pairs in the order they are written, each computed when the one before is written."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from pipeline.contract import (
    ANNOTATOR_CONFUSION,
    AVERAGE_PRECISION,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    IMAGE_DETECTION_SCORES,
    PRECISION_RECALL_CURVE,
    REGION_CONFLICTS,
    TASK_AGREEMENT,
    TASK_AGREEMENT_DISTRIBUTION,
    Table,
)
from pipeline.groundtruth import ground_truth_regions
from pipeline.ingest.scout import image_confidence
from pipeline.metrics import classification, detection, quality, scores

Tables = Iterator[tuple[Table, pl.LazyFrame]]


def gt_version_of(*inputs: pl.LazyFrame) -> int | None:
    """The GT version rows computed from `inputs` were scored against: the greatest `gt_version` the inputs carry
    (core.ground_truth, or scores computed from it); None when none carries one.

    Parameters
    ----------
    *inputs : pl.LazyFrame
        The frames the rows were computed from; those without a `gt_version` column are passed over.

    Returns
    -------
    int or None
    """
    carried = [i.select(pl.col("gt_version").max()) for i in inputs if "gt_version" in i.collect_schema().names()]
    return pl.concat(carried).select(pl.col("gt_version").max()).collect().item() if carried else None


def stamped(rows: pl.LazyFrame, run_id: str, *inputs: pl.LazyFrame) -> pl.LazyFrame:
    """`rows` with `gt_version` (`gt_version_of(*inputs)`, as Int64; null when no input carries one) and `run_id`."""
    return rows.with_columns(gt_version=pl.lit(gt_version_of(*inputs), pl.Int64), run_id=pl.lit(run_id))


def answers(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, label_config: pl.LazyFrame, *, run_id: str
) -> pl.LazyFrame:
    """quality.answers: what each submitted annotation and prediction answered per task-level control."""
    return stamped(scores.answers(annotations, regions, label_config), run_id)


def annotation_scores(
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    *,
    weights: pl.LazyFrame | None,
    run_id: str,
) -> pl.LazyFrame:
    """quality.annotation_scores: each annotation and prediction scored against its task's GT per control, with
    the control's weight (`weights`: project_id, control, weight; 1 where none is set)."""
    gt_regions = ground_truth_regions(ground_truth, regions)
    rows = scores.scores_against_ground_truth(annotations, answers, regions, ground_truth, gt_regions)
    return stamped(scores.with_control_weights(rows, weights), run_id, ground_truth)


def annotator_performance(
    annotations: pl.LazyFrame,
    reviews: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    answers: pl.LazyFrame,
    label_scores: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.annotator_performance: per annotator and model version, volume, reviews, lead time and agreement."""
    rows = quality.annotator_performance(annotations, reviews, annotation_scores, answers, label_scores)
    return stamped(rows, run_id, annotation_scores, label_scores)


def annotator_daily(annotations: pl.LazyFrame, annotation_scores: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.annotator_daily: submitted work and accuracy per annotator and model per day."""
    return stamped(quality.annotator_daily(annotations, annotation_scores), run_id, annotation_scores)


def confusion_matrix(
    annotation_scores: pl.LazyFrame,
    region_conflicts: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.confusion_matrix: each categorical control's confusion against GT (per-region values against the GT
    region each is matched with) and each box region control's (the region conflicts), in long form."""
    gt_regions = ground_truth_regions(ground_truth, regions)
    region_values = scores.region_value_pairs(annotations, answers, regions, ground_truth, gt_regions)
    categorical = classification.confusion_matrix(annotation_scores, region_values)
    boxes = detection.conflict_counts(region_conflicts.drop("gt_version", "run_id"))
    return stamped(pl.concat([categorical, boxes]), run_id, annotation_scores, region_conflicts)


def label_scores(confusion_matrix: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.label_scores: each label's precision, recall and F1 against GT."""
    return stamped(classification.label_scores(confusion_matrix), run_id, confusion_matrix)


def agreement_matrix(answers: pl.LazyFrame, annotation_scores: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.agreement_matrix: pairwise agreement and kappas between all participants and the GT."""
    return stamped(quality.agreement_matrix(answers, annotation_scores), run_id, annotation_scores)


def task_agreement(
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    *,
    weights: pl.LazyFrame | None,
    run_id: str,
) -> Tables:
    """quality.task_agreement (Label Studio's task agreement over pairs of human annotations, every control
    weighted by `weights`), then quality.task_agreement_distribution (its spread over the tasks)."""
    rows = scores.pairwise_task_agreement(answers, annotations, regions, weights=weights).collect().lazy()
    yield TASK_AGREEMENT, stamped(rows, run_id)
    yield TASK_AGREEMENT_DISTRIBUTION, stamped(quality.task_agreement_distribution(rows), run_id)


def project_agreement(answers: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.project_agreement: Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha per control, with intervals."""
    return stamped(quality.project_agreement(answers), run_id)


def detection_scores(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, ground_truth: pl.LazyFrame, tasks: pl.LazyFrame, *, run_id: str
) -> Tables:
    """quality.detection_scores, region_conflicts, average_precision, precision_recall_curve and
    image_detection_scores: every annotator's and model's boxes against the GT's, in that order."""
    gt_regions = ground_truth_regions(ground_truth, regions)
    gt_boxes, boxes, crowd = detection.detection_inputs(annotations, regions, gt_regions, ground_truth)

    def scored(table: Table, rows: pl.DataFrame) -> tuple[Table, pl.LazyFrame]:
        return table, stamped(rows.lazy(), run_id, ground_truth)

    yield scored(DETECTION_SCORES, detection.detection_scores(gt_boxes, boxes))
    conflicts = [
        detection.box_conflicts(gt_boxes, boxes),
        detection.region_conflicts(annotations, regions, gt_regions, ground_truth),
    ]
    yield scored(REGION_CONFLICTS, pl.concat(conflicts))
    ap, curves = detection.average_precision(gt_boxes, boxes, crowd)
    yield scored(AVERAGE_PRECISION, ap)
    yield scored(PRECISION_RECALL_CURVE, curves)
    wic = image_confidence(tasks).collect()
    yield scored(IMAGE_DETECTION_SCORES, detection.image_detection_scores(gt_boxes, boxes, wic))


def review_queue(
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    task_agreement: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    ground_truth_conflicts: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.review_queue: tasks without GT, in the order a reviewer should take them, with the reason."""
    rows = quality.review_queue(tasks, annotations, answers, task_agreement, ground_truth, ground_truth_conflicts)
    return stamped(rows, run_id, ground_truth)


def consensus_labels(answers: pl.LazyFrame, ground_truth: pl.LazyFrame, *, run_id: str) -> Tables:
    """quality.consensus_labels (majority vote and Dawid-Skene labels of tasks without GT), then
    quality.annotator_confusion (each annotator's estimated confusion)."""
    labels, confusion = quality.consensus_labels(answers, ground_truth)
    yield CONSENSUS_LABELS, stamped(labels.lazy(), run_id, ground_truth)
    yield ANNOTATOR_CONFUSION, stamped(confusion.lazy(), run_id)


def model_performance(
    annotator_performance: pl.LazyFrame,
    detection_scores: pl.LazyFrame,
    average_precision: pl.LazyFrame,
    image_detection_scores: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    regions: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.model_performance: per model version, classification and box figures and its calibration."""
    scored = (annotator_performance, detection_scores, average_precision, image_detection_scores, annotation_scores)
    return stamped(quality.model_performance(*scored, regions), run_id, *scored)


def calibration_curve(annotation_scores: pl.LazyFrame, regions: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.calibration_curve: per model version and confidence bin, how often its answers equal the GT's."""
    return stamped(quality.calibration_curve(annotation_scores, regions), run_id, annotation_scores)
