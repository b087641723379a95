"""Scores: the core tables and the GT -> quality.* tables. Each asset is one table (or a few), one call of
`steps.quality`."""

import dagster as dg
import polars as pl

from pipeline.assets.events import outputs
from pipeline.assets.incremental import when_inputs_change
from pipeline.assets.metadata import asset_key, output_name, table_asset, table_ins, table_outs
from pipeline.assets.partitions import projects
from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANNOTATOR_CONFUSION,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    ANSWERS,
    AVERAGE_PRECISION,
    CALIBRATION_CURVE,
    CONFUSION_MATRIX,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    IMAGE_DETECTION_SCORES,
    JOB_QUALITY,
    LABEL_CONFIG,
    LABEL_SCORES,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    PROJECT_AGREEMENT,
    REGION_CONFLICTS,
    REGIONS,
    REVIEW_QUEUE,
    REVIEWS,
    TASK_AGREEMENT,
    TASK_AGREEMENT_DISTRIBUTION,
    TASKS,
)
from pipeline.resources import GroundTruthPolicyResource
from pipeline.steps import quality as steps


@dg.asset(**table_asset(ANSWERS, ins=(ANNOTATIONS, REGIONS, LABEL_CONFIG)))
@when_inputs_change
def answers(
    context: dg.AssetExecutionContext, annotations: pl.LazyFrame, regions: pl.LazyFrame, label_config: pl.LazyFrame
) -> pl.LazyFrame:
    """What each submitted annotation and prediction answered per task-level control (choices, taxonomy,
    rating, number, datetime, textarea), with the numeric controls' declared scale."""
    return steps.answers(annotations, regions, label_config, run_id=context.run_id)


@dg.asset(**table_asset(ANNOTATION_SCORES, ins=(ANSWERS, ANNOTATIONS, REGIONS, GROUND_TRUTH), summary=("score",)))
@when_inputs_change
def annotation_scores(
    context: dg.AssetExecutionContext,
    groundtruth: GroundTruthPolicyResource,
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
) -> pl.LazyFrame:
    """Each annotation and prediction scored against its task's GT per control (0..1): answers by type,
    regions (boxes, spans, polygons, keypoints) by one-to-one matching, per-region values with their region;
    with the control's weight from the policy."""
    weights = groundtruth.policy().control_weights([context.partition_key])
    return steps.annotation_scores(answers, annotations, regions, ground_truth, weights=weights, run_id=context.run_id)


@dg.asset(
    **table_asset(
        ANNOTATOR_PERFORMANCE,
        ins=(ANNOTATIONS, REVIEWS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES),
        summary=("accuracy", "cohen_kappa", "macro_f1"),
    )
)
@when_inputs_change
def annotator_performance(
    context: dg.AssetExecutionContext,
    annotations: pl.LazyFrame,
    reviews: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    answers: pl.LazyFrame,
    label_scores: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per annotator and model version: volume, reviews, lead time, and agreement with GT, model and peers."""
    return steps.annotator_performance(
        annotations, reviews, annotation_scores, answers, label_scores, run_id=context.run_id
    )


@dg.asset(**table_asset(ANNOTATOR_DAILY, ins=(ANNOTATIONS, ANNOTATION_SCORES)))
@when_inputs_change
def annotator_daily(
    context: dg.AssetExecutionContext, annotations: pl.LazyFrame, annotation_scores: pl.LazyFrame
) -> pl.LazyFrame:
    """The trend per annotator and model: submitted work and accuracy per day."""
    return steps.annotator_daily(annotations, annotation_scores, run_id=context.run_id)


@dg.asset(
    **table_asset(
        CONFUSION_MATRIX, ins=(ANNOTATION_SCORES, REGION_CONFLICTS, ANNOTATIONS, ANSWERS, REGIONS, GROUND_TRUTH)
    )
)
@when_inputs_change
def confusion_matrix(
    context: dg.AssetExecutionContext,
    annotation_scores: pl.LazyFrame,
    region_conflicts: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per annotator and model, each categorical control's confusion matrix against GT (per-region values region by
    region, against the GT region each is matched with), and each box region control's (CVAT's: the region conflicts
    at IoU 0.5), in long form; regions without a match count in an '(unmatched)' row and column."""
    inputs = (annotation_scores, region_conflicts, annotations, answers, regions, ground_truth)
    return steps.confusion_matrix(*inputs, run_id=context.run_id)


@dg.asset(**table_asset(LABEL_SCORES, ins=(CONFUSION_MATRIX,), summary=("f1",)))
@when_inputs_change
def label_scores(context: dg.AssetExecutionContext, confusion_matrix: pl.LazyFrame) -> pl.LazyFrame:
    """Per annotator and model, each label's precision, recall and F1 against GT."""
    return steps.label_scores(confusion_matrix, run_id=context.run_id)


@dg.asset(**table_asset(AGREEMENT_MATRIX, ins=(ANSWERS, ANNOTATION_SCORES), summary=("cohen_kappa",)))
@when_inputs_change
def agreement_matrix(
    context: dg.AssetExecutionContext, answers: pl.LazyFrame, annotation_scores: pl.LazyFrame
) -> pl.LazyFrame:
    """Pairwise agreement, Cohen's kappa and (ratings) weighted kappa between all participants and the GT,
    per categorical control and pooled over them."""
    return steps.agreement_matrix(answers, annotation_scores, run_id=context.run_id)


@dg.asset(**table_asset(TASK_AGREEMENT, ins=(ANSWERS, ANNOTATIONS, REGIONS), summary=("agreement",)))
@when_inputs_change(by_task=steps.task_agreement_context)
def task_agreement(
    context: dg.AssetExecutionContext,
    groundtruth: GroundTruthPolicyResource,
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    tasks: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """Label Studio's task agreement (pairwise mean and consensus share) over pairs of human annotations, on
    every control."""
    weights = groundtruth.policy().control_weights([context.partition_key])
    return steps.task_agreement(answers, annotations, regions, weights=weights, run_id=context.run_id, tasks=tasks)


@dg.asset(**table_asset(TASK_AGREEMENT_DISTRIBUTION, ins=(TASK_AGREEMENT,)))
@when_inputs_change
def task_agreement_distribution(context: dg.AssetExecutionContext, task_agreement: pl.LazyFrame) -> pl.LazyFrame:
    """How task agreement is spread over the project's tasks with two or more annotations."""
    return steps.task_agreement_distribution(task_agreement, run_id=context.run_id)


@dg.asset(**table_asset(PROJECT_AGREEMENT, ins=(ANSWERS,), summary=("fleiss_kappa", "krippendorff_alpha", "gwet_ac1")))
@when_inputs_change
def project_agreement(context: dg.AssetExecutionContext, answers: pl.LazyFrame) -> pl.LazyFrame:
    """Generalised Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha (at the control's level) per project
    and control, with seeded bootstrap intervals."""
    return steps.project_agreement(answers, run_id=context.run_id)


@dg.multi_asset(
    outs=table_outs(
        DETECTION_SCORES,
        REGION_CONFLICTS,
        JOB_QUALITY,
        AVERAGE_PRECISION,
        PRECISION_RECALL_CURVE,
        IMAGE_DETECTION_SCORES,
        summary={
            DETECTION_SCORES: ("f1",),
            JOB_QUALITY: ("accuracy", "precision", "recall"),
            AVERAGE_PRECISION: ("ap",),
            IMAGE_DETECTION_SCORES: ("roc_auc",),
        },
    ),
    ins=table_ins(ANNOTATIONS, REGIONS, GROUND_TRUTH, TASKS),
    partitions_def=projects,
)
@when_inputs_change
def detection_scores(
    context: dg.AssetExecutionContext,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    tasks: pl.LazyFrame,
    groundtruth: GroundTruthPolicyResource,
):
    """Boxes of every annotator and model against the GT boxes: TP, FP, FN, mismatched labels, precision,
    recall and F1 per matching rule at IoU 0.5:0.95; the conflict list of every region (boxes, polygons, spans,
    keypoints) at IoU 0.5, and of CVAT jobs' shapes as CVAT's quality report lists them, with its accuracy,
    precision and recall per job and annotator; COCO AP and precision-recall curves of scored boxes;
    and Scout's whole-image evaluation (with its whole-image classifier's confidence, when the export has it)."""
    cvat = groundtruth.policy().for_project(context.partition_key).cvat_quality
    yield from outputs(
        steps.detection_scores(annotations, regions, ground_truth, tasks, run_id=context.run_id, cvat=cvat)
    )


@dg.asset(
    **table_asset(REVIEW_QUEUE, ins=(TASKS, ANNOTATIONS, ANSWERS, TASK_AGREEMENT, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS))
)
@when_inputs_change
def review_queue(
    context: dg.AssetExecutionContext,
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    task_agreement: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    ground_truth_conflicts: pl.LazyFrame,
) -> pl.LazyFrame:
    """Tasks without GT, ordered the way a reviewer should take them, with the reason."""
    inputs = (tasks, annotations, answers, task_agreement, ground_truth, ground_truth_conflicts)
    return steps.review_queue(*inputs, run_id=context.run_id)


@dg.multi_asset(
    outs=table_outs(CONSENSUS_LABELS, ANNOTATOR_CONFUSION),
    ins=table_ins(ANSWERS, GROUND_TRUTH),
    partitions_def=projects,
    internal_asset_deps={
        output_name(CONSENSUS_LABELS): {asset_key(ANSWERS), asset_key(GROUND_TRUTH)},
        output_name(ANNOTATOR_CONFUSION): {asset_key(ANSWERS)},
    },
)
@when_inputs_change
def consensus_labels(context: dg.AssetExecutionContext, answers: pl.LazyFrame, ground_truth: pl.LazyFrame):
    """Majority vote and Dawid-Skene labels for tasks without GT, and each annotator's estimated confusion."""
    yield from outputs(steps.consensus_labels(answers, ground_truth, run_id=context.run_id))


@dg.asset(
    **table_asset(
        MODEL_PERFORMANCE,
        ins=(
            ANNOTATOR_PERFORMANCE,
            DETECTION_SCORES,
            AVERAGE_PRECISION,
            IMAGE_DETECTION_SCORES,
            ANNOTATION_SCORES,
            REGIONS,
        ),
        summary=("map_50_95", "accuracy", "calibration_error"),
    )
)
@when_inputs_change
def model_performance(
    context: dg.AssetExecutionContext,
    annotator_performance: pl.LazyFrame,
    detection_scores: pl.LazyFrame,
    average_precision: pl.LazyFrame,
    image_detection_scores: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    regions: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per model version: classification and box figures against GT, and the calibration of its confidence."""
    inputs = (
        annotator_performance,
        detection_scores,
        average_precision,
        image_detection_scores,
        annotation_scores,
        regions,
    )
    return steps.model_performance(*inputs, run_id=context.run_id)


@dg.asset(**table_asset(CALIBRATION_CURVE, ins=(ANNOTATION_SCORES, REGIONS)))
@when_inputs_change
def calibration_curve(
    context: dg.AssetExecutionContext, annotation_scores: pl.LazyFrame, regions: pl.LazyFrame
) -> pl.LazyFrame:
    """Per model version and confidence bin: how often its classification answers equal the GT's."""
    return steps.calibration_curve(annotation_scores, regions, run_id=context.run_id)
