"""Scores: the core tables and the GT -> quality.* tables. Each asset is one table."""


import dagster as dg
import polars as pl

from pipeline.assets.metadata import summary_stats, table_asset, table_result
from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANNOTATOR_PERFORMANCE,
    ANSWERS,
    GROUND_TRUTH,
    PROJECT_AGREEMENT,
    REGIONS,
    TASK_AGREEMENT,
)
from pipeline.metrics import quality, scores
from pipeline.resources import WarehouseResource


@dg.asset(**table_asset(ANSWERS, deps=[ANNOTATIONS, REGIONS]))
def answers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """What each submitted annotation and prediction chose per classification control."""
    store = warehouse.store()
    written = store.write(ANSWERS, scores.choice_answers(store.scan(ANNOTATIONS), store.scan(REGIONS)))
    return table_result(ANSWERS, written, controls=written.select(pl.col("control").n_unique()).collect().item())


@dg.asset(**table_asset(ANNOTATION_SCORES, deps=[ANSWERS, GROUND_TRUTH]))
def annotation_scores(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each annotation and prediction scored against its task's GT per control (exact match, 0..1)."""
    store = warehouse.store()
    written = store.write(ANNOTATION_SCORES, scores.scores_against_ground_truth(store.scan(ANSWERS), store.scan(GROUND_TRUTH)))
    return table_result(ANNOTATION_SCORES, written, **summary_stats(written, "score"))


@dg.asset(**table_asset(ANNOTATOR_PERFORMANCE, deps=[ANNOTATIONS, ANNOTATION_SCORES]))
def annotator_performance(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per annotator and model version: volume, skips, accuracy and Cohen's kappa against GT."""
    store = warehouse.store()
    frame = quality.annotator_performance(store.scan(ANNOTATIONS), store.scan(ANNOTATION_SCORES))
    return table_result(ANNOTATOR_PERFORMANCE, store.write(ANNOTATOR_PERFORMANCE, frame))


@dg.asset(**table_asset(AGREEMENT_MATRIX, deps=[ANSWERS]))
def agreement_matrix(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Pairwise agreement and Cohen's kappa between all participants, per project and control."""
    store = warehouse.store()
    frame = quality.agreement_matrix(store.scan(ANSWERS))
    return table_result(AGREEMENT_MATRIX, store.write(AGREEMENT_MATRIX, frame))


@dg.asset(**table_asset(TASK_AGREEMENT, deps=[ANSWERS]))
def task_agreement(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Label Studio's pairwise agreement per task (mean over pairs of human annotations)."""
    store = warehouse.store()
    written = store.write(TASK_AGREEMENT, scores.pairwise_task_agreement(store.scan(ANSWERS)))
    return table_result(TASK_AGREEMENT, written, **summary_stats(written, "agreement"))


@dg.asset(**table_asset(PROJECT_AGREEMENT, deps=[ANSWERS]))
def project_agreement(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Generalised Fleiss' kappa and Krippendorff's alpha per project and control."""
    store = warehouse.store()
    frame = quality.project_agreement(store.scan(ANSWERS))
    return table_result(PROJECT_AGREEMENT, store.write(PROJECT_AGREEMENT, frame))
