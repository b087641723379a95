"""Scores: the core tables and the GT -> quality.* tables. Each asset is one table."""

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, summary_stats, table_asset, table_result, table_spec
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
from pipeline.groundtruth import ground_truth_regions
from pipeline.ingest.scout import image_confidence
from pipeline.metrics import classification, detection, quality, scores
from pipeline.resources import GroundTruthPolicyResource, WarehouseResource


def _publish(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, table, rows: pl.LazyFrame, stats: tuple[str, ...] = ()
) -> dg.MaterializeResult:
    """Replace the project's rows of `table` with `rows`, stamped with the run and, when the table is computed
    from core.ground_truth, the GT version they were scored against; the metadata describes them, with the
    mean and count of each `stats` column: numbers the Dagster UI plots run after run."""
    store, project = warehouse.store(), context.partition_key
    # Only a table downstream of the GT in the graph runs after this run's GT step: any other would stamp
    # whichever version the step order happened to leave.
    reads_ground_truth = asset_key(GROUND_TRUTH) in context.job_def.asset_layer.asset_graph.get_ancestor_asset_keys(asset_key(table))
    gt_version = store.head(project).gt_version if reads_ground_truth else None
    stamped = rows.with_columns(gt_version=pl.lit(gt_version, pl.Int64), run_id=pl.lit(context.run_id))
    written = store.write_project(project, {table: stamped}, run_id=context.run_id)[table]
    figures = {name: value for column in stats for name, value in summary_stats(written, column).items()}
    return table_result(table, written, **({"gt_version": gt_version} if reads_ground_truth else {}), **figures)


@dg.asset(**table_asset(ANSWERS, deps=[ANNOTATIONS, REGIONS, LABEL_CONFIG]))
def answers(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """What each submitted annotation and prediction answered per task-level control (choices, taxonomy,
    rating, number, datetime, textarea), with the numeric controls' declared scale."""
    store, project = warehouse.store(), context.partition_key
    rows = scores.answers(*(store.scan_project(t, project) for t in (ANNOTATIONS, REGIONS, LABEL_CONFIG)))
    return _publish(context, warehouse, ANSWERS, rows)


@dg.asset(**table_asset(ANNOTATION_SCORES, deps=[ANSWERS, ANNOTATIONS, REGIONS, GROUND_TRUTH]))
def annotation_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, groundtruth: GroundTruthPolicyResource
) -> dg.MaterializeResult:
    """Each annotation and prediction scored against its task's GT per control (0..1): answers by type,
    regions (boxes, spans, polygons, keypoints) by one-to-one matching, per-region values with their region;
    with the control's weight from the policy."""
    store, project = warehouse.store(), context.partition_key
    ground_truth, regions = store.scan_project(GROUND_TRUTH, project), store.scan_project(REGIONS, project)
    rows = scores.scores_against_ground_truth(
        store.scan_project(ANNOTATIONS, project),
        store.scan_project(ANSWERS, project),
        regions,
        ground_truth,
        ground_truth_regions(ground_truth, regions),
    )
    rows = scores.with_control_weights(rows, groundtruth.policy().control_weights([project]))
    return _publish(context, warehouse, ANNOTATION_SCORES, rows, stats=("score",))


@dg.asset(**table_asset(ANNOTATOR_PERFORMANCE, deps=[ANNOTATIONS, REVIEWS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES]))
def annotator_performance(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per annotator and model version: volume, reviews, lead time, and agreement with GT, model and peers."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.annotator_performance(
        *(store.scan_project(t, project) for t in (ANNOTATIONS, REVIEWS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES))
    )
    return _publish(context, warehouse, ANNOTATOR_PERFORMANCE, rows, stats=("accuracy", "cohen_kappa", "macro_f1"))


@dg.asset(**table_asset(ANNOTATOR_DAILY, deps=[ANNOTATIONS, ANNOTATION_SCORES]))
def annotator_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The trend per annotator and model: submitted work and accuracy per day."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.annotator_daily(store.scan_project(ANNOTATIONS, project), store.scan_project(ANNOTATION_SCORES, project))
    return _publish(context, warehouse, ANNOTATOR_DAILY, rows)


@dg.asset(**table_asset(CONFUSION_MATRIX, deps=[ANNOTATION_SCORES, REGION_CONFLICTS, ANNOTATIONS, ANSWERS, REGIONS, GROUND_TRUTH]))
def confusion_matrix(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per annotator and model, each categorical control's confusion matrix against GT (per-region values region by
    region, against the GT region each is matched with), and each box region control's (CVAT's: the region conflicts
    at IoU 0.5), in long form; regions without a match count in an '(unmatched)' row and column."""
    store, project = warehouse.store(), context.partition_key
    ground_truth, regions = store.scan_project(GROUND_TRUTH, project), store.scan_project(REGIONS, project)
    region_values = scores.region_value_pairs(
        store.scan_project(ANNOTATIONS, project),
        store.scan_project(ANSWERS, project),
        regions,
        ground_truth,
        ground_truth_regions(ground_truth, regions),
    )
    categorical = classification.confusion_matrix(store.scan_project(ANNOTATION_SCORES, project), region_values)
    boxes = detection.conflict_counts(store.scan_project(REGION_CONFLICTS, project).drop("gt_version", "run_id"))
    return _publish(context, warehouse, CONFUSION_MATRIX, pl.concat([categorical, boxes]))


@dg.asset(**table_asset(LABEL_SCORES, deps=[CONFUSION_MATRIX]))
def label_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per annotator and model, each label's precision, recall and F1 against GT."""
    rows = classification.label_scores(warehouse.store().scan_project(CONFUSION_MATRIX, context.partition_key))
    return _publish(context, warehouse, LABEL_SCORES, rows, stats=("f1",))


@dg.asset(**table_asset(AGREEMENT_MATRIX, deps=[ANSWERS, ANNOTATION_SCORES]))
def agreement_matrix(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Pairwise agreement, Cohen's kappa and (ratings) weighted kappa between all participants and the GT,
    per categorical control and pooled over them."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.agreement_matrix(store.scan_project(ANSWERS, project), store.scan_project(ANNOTATION_SCORES, project))
    return _publish(context, warehouse, AGREEMENT_MATRIX, rows, stats=("cohen_kappa",))


@dg.multi_asset(
    specs=[
        table_spec(TASK_AGREEMENT, deps=[ANSWERS, ANNOTATIONS, REGIONS]),
        table_spec(TASK_AGREEMENT_DISTRIBUTION, deps=[ANSWERS, ANNOTATIONS, REGIONS]),
    ]
)
def task_agreement(context: dg.AssetExecutionContext, warehouse: WarehouseResource, groundtruth: GroundTruthPolicyResource):
    """Label Studio's task agreement (pairwise mean and consensus share) over pairs of human annotations, on
    every control, and its spread over the project's tasks."""
    store, project = warehouse.store(), context.partition_key
    weights = groundtruth.policy().control_weights([project])
    rows = scores.pairwise_task_agreement(
        *(store.scan_project(t, project) for t in (ANSWERS, ANNOTATIONS, REGIONS)), weights=weights
    ).collect()
    yield _publish(context, warehouse, TASK_AGREEMENT, rows.lazy(), stats=("agreement",))
    yield _publish(context, warehouse, TASK_AGREEMENT_DISTRIBUTION, quality.task_agreement_distribution(rows.lazy()))


@dg.asset(**table_asset(PROJECT_AGREEMENT, deps=[ANSWERS]))
def project_agreement(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Generalised Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha (at the control's level) per project
    and control, with seeded bootstrap intervals."""
    rows = quality.project_agreement(warehouse.store().scan_project(ANSWERS, context.partition_key))
    return _publish(context, warehouse, PROJECT_AGREEMENT, rows, stats=("fleiss_kappa", "krippendorff_alpha", "gwet_ac1"))


@dg.multi_asset(
    specs=[
        table_spec(table, deps=[ANNOTATIONS, REGIONS, GROUND_TRUTH, TASKS])
        for table in (DETECTION_SCORES, REGION_CONFLICTS, AVERAGE_PRECISION, PRECISION_RECALL_CURVE, IMAGE_DETECTION_SCORES)
    ]
)
def detection_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Boxes of every annotator and model against the GT boxes: TP, FP, FN, mismatched labels, precision,
    recall and F1 per matching rule at IoU 0.5:0.95; the conflict list of every region (boxes, polygons, spans, keypoints) at
    IoU 0.5; COCO AP and precision-recall curves of scored boxes;
    and Scout's whole-image evaluation (with its whole-image classifier's confidence, when the export has it)."""
    store, project = warehouse.store(), context.partition_key
    ground_truth, regions = store.scan_project(GROUND_TRUTH, project), store.scan_project(REGIONS, project)
    annotations, gt_regions = store.scan_project(ANNOTATIONS, project), ground_truth_regions(ground_truth, regions)
    gt_boxes, boxes, crowd = detection.detection_inputs(annotations, regions, gt_regions, ground_truth)
    yield _publish(context, warehouse, DETECTION_SCORES, detection.detection_scores(gt_boxes, boxes).lazy(), stats=("f1",))
    conflicts = [detection.box_conflicts(gt_boxes, boxes), detection.region_conflicts(annotations, regions, gt_regions, ground_truth)]
    yield _publish(context, warehouse, REGION_CONFLICTS, pl.concat(conflicts).lazy())
    ap, curves = detection.average_precision(gt_boxes, boxes, crowd)
    yield _publish(context, warehouse, AVERAGE_PRECISION, ap.lazy(), stats=("ap",))
    yield _publish(context, warehouse, PRECISION_RECALL_CURVE, curves.lazy())
    wic = image_confidence(store.scan_project(TASKS, project)).collect()
    yield _publish(
        context, warehouse, IMAGE_DETECTION_SCORES, detection.image_detection_scores(gt_boxes, boxes, wic).lazy(), stats=("roc_auc",)
    )


@dg.asset(**table_asset(REVIEW_QUEUE, deps=[ANNOTATIONS, ANSWERS, TASK_AGREEMENT, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS]))
def review_queue(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Tasks without GT, ordered the way a reviewer should take them, with the reason."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.review_queue(
        *(store.scan_project(t, project) for t in (TASKS, ANNOTATIONS, ANSWERS, TASK_AGREEMENT, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS))
    )
    return _publish(context, warehouse, REVIEW_QUEUE, rows)


@dg.multi_asset(specs=[table_spec(CONSENSUS_LABELS, deps=[ANSWERS, GROUND_TRUTH]), table_spec(ANNOTATOR_CONFUSION, deps=[ANSWERS])])
def consensus_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Majority vote and Dawid-Skene labels for tasks without GT, and each annotator's estimated confusion."""
    store, project = warehouse.store(), context.partition_key
    labels, confusion = quality.consensus_labels(store.scan_project(ANSWERS, project), store.scan_project(GROUND_TRUTH, project))
    yield _publish(context, warehouse, CONSENSUS_LABELS, labels.lazy())
    yield _publish(context, warehouse, ANNOTATOR_CONFUSION, confusion.lazy())


@dg.asset(
    **table_asset(
        MODEL_PERFORMANCE,
        deps=[ANNOTATOR_PERFORMANCE, DETECTION_SCORES, AVERAGE_PRECISION, IMAGE_DETECTION_SCORES, ANNOTATION_SCORES, REGIONS],
    )
)
def model_performance(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per model version: classification and box figures against GT, and the calibration of its confidence."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.model_performance(
        *(
            store.scan_project(t, project)
            for t in (ANNOTATOR_PERFORMANCE, DETECTION_SCORES, AVERAGE_PRECISION, IMAGE_DETECTION_SCORES, ANNOTATION_SCORES, REGIONS)
        )
    )
    return _publish(context, warehouse, MODEL_PERFORMANCE, rows, stats=("map_50_95", "accuracy", "calibration_error"))


@dg.asset(**table_asset(CALIBRATION_CURVE, deps=[ANNOTATION_SCORES, REGIONS]))
def calibration_curve(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per model version and confidence bin: how often its classification answers equal the GT's."""
    store, project = warehouse.store(), context.partition_key
    rows = quality.calibration_curve(store.scan_project(ANNOTATION_SCORES, project), store.scan_project(REGIONS, project))
    return _publish(context, warehouse, CALIBRATION_CURVE, rows)
