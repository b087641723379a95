"""Every quality step on a project held in memory (`tests.steps.conftest.Project`), as a run's quality assets
call them: each step is given the tables the ones before it wrote, conformed to the contract as the warehouse
writes them. The quality tables of a run, without Dagster or a warehouse."""

from __future__ import annotations

import polars as pl

from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    ANSWERS,
    AVERAGE_PRECISION,
    CALIBRATION_CURVE,
    CONFUSION_MATRIX,
    DETECTION_SCORES,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    IMAGE_DETECTION_SCORES,
    LABEL_CONFIG,
    LABEL_SCORES,
    MODEL_PERFORMANCE,
    PROJECT_AGREEMENT,
    REGION_CONFLICTS,
    REGIONS,
    REVIEW_QUEUE,
    REVIEWS,
    TASK_AGREEMENT,
    TASK_AGREEMENT_DISTRIBUTION,
    TASKS,
    Table,
)
from pipeline.steps import quality as steps
from pipeline.steps.groundtruth import GroundTruthStep
from tests.steps.conftest import Project


def score(
    project: Project, gt: GroundTruthStep, *, weights: pl.LazyFrame | None = None, run_id: str = "run-q"
) -> dict[Table, pl.DataFrame]:
    """The project's quality tables after the GT step `gt`, each step given what the ones before wrote (the
    job's order of assets); kept in `project.tables` with core.ground_truth, its history and its conflicts."""
    tables = project.tables
    kept = {GROUND_TRUTH: gt.ground_truth, GROUND_TRUTH_HISTORY: gt.history, GROUND_TRUTH_CONFLICTS: gt.conflicts}

    write = project.keep

    def read(*names: Table) -> list[pl.LazyFrame]:
        return [tables[t].lazy() for t in names]

    for table, rows in kept.items():
        write(table, rows)
    write(ANSWERS, steps.answers(*read(ANNOTATIONS, REGIONS, LABEL_CONFIG), run_id=run_id))
    write(
        ANNOTATION_SCORES,
        steps.annotation_scores(*read(ANSWERS, ANNOTATIONS, REGIONS, GROUND_TRUTH), weights=weights, run_id=run_id),
    )
    for table, rows in steps.detection_scores(*read(ANNOTATIONS, REGIONS, GROUND_TRUTH, TASKS), run_id=run_id):
        write(table, rows)
    confusion = read(ANNOTATION_SCORES, REGION_CONFLICTS, ANNOTATIONS, ANSWERS, REGIONS, GROUND_TRUTH)
    write(CONFUSION_MATRIX, steps.confusion_matrix(*confusion, run_id=run_id))
    write(LABEL_SCORES, steps.label_scores(*read(CONFUSION_MATRIX), run_id=run_id))
    performance = read(ANNOTATIONS, REVIEWS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES)
    write(ANNOTATOR_PERFORMANCE, steps.annotator_performance(*performance, run_id=run_id))
    write(ANNOTATOR_DAILY, steps.annotator_daily(*read(ANNOTATIONS, ANNOTATION_SCORES), run_id=run_id))
    write(AGREEMENT_MATRIX, steps.agreement_matrix(*read(ANSWERS, ANNOTATION_SCORES), run_id=run_id))
    write(TASK_AGREEMENT, steps.task_agreement(*read(ANSWERS, ANNOTATIONS, REGIONS), weights=weights, run_id=run_id))
    write(TASK_AGREEMENT_DISTRIBUTION, steps.task_agreement_distribution(*read(TASK_AGREEMENT), run_id=run_id))
    write(PROJECT_AGREEMENT, steps.project_agreement(*read(ANSWERS), run_id=run_id))
    queue = read(TASKS, ANNOTATIONS, ANSWERS, TASK_AGREEMENT, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS)
    write(REVIEW_QUEUE, steps.review_queue(*queue, run_id=run_id))
    for table, rows in steps.consensus_labels(*read(ANSWERS, GROUND_TRUTH), run_id=run_id):
        write(table, rows)
    scored = read(
        ANNOTATOR_PERFORMANCE, DETECTION_SCORES, AVERAGE_PRECISION, IMAGE_DETECTION_SCORES, ANNOTATION_SCORES, REGIONS
    )
    write(MODEL_PERFORMANCE, steps.model_performance(*scored, run_id=run_id))
    write(CALIBRATION_CURVE, steps.calibration_curve(*read(ANNOTATION_SCORES, REGIONS), run_id=run_id))
    return tables
