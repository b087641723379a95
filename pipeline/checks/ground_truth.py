"""Checks on core.ground_truth that block everything downstream when they fail."""


import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH
from pipeline.resources import WarehouseResource


def ground_truth_violations(ground_truth: pl.LazyFrame, annotations: pl.LazyFrame) -> pl.DataFrame:
    """Tasks breaking the GT contract: more than one GT, or a GT that is not a submitted human annotation.

    Returns project_id, task_id, annotation_id, problem. Empty when the GT is sound.
    """
    duplicated = (
        ground_truth.group_by("project_id", "task_id")
        .agg(pl.col("annotation_id").sort().str.join(", "), pl.len().alias("n"))
        .filter(pl.col("n") > 1)
        .select("project_id", "task_id", "annotation_id", pl.format("{} GT rows for one task", "n").alias("problem"))
    )
    eligible = annotations.filter((pl.col("origin") == "human") & ~pl.col("was_cancelled"))
    dangling = ground_truth.join(eligible, on=["project_id", "task_id", "annotation_id"], how="anti").select(
        "project_id",
        "task_id",
        "annotation_id",
        pl.lit("GT is not a submitted human annotation of the task (missing, cancelled or a prediction)").alias("problem"),
    )
    return pl.concat([duplicated, dangling]).collect()


@dg.asset_check(asset=asset_key(GROUND_TRUTH), blocking=True, additional_deps=[asset_key(ANNOTATIONS)])
def exactly_one_ground_truth_per_task(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every task has at most one GT, and each GT is a submitted human annotation of that task."""
    store = warehouse.store()
    violations = ground_truth_violations(store.scan(GROUND_TRUTH), store.scan(ANNOTATIONS))
    return dg.AssetCheckResult(
        passed=violations.is_empty(),
        metadata={"violations": violations.height, "examples": dg.MetadataValue.md(markdown_preview(violations))},
    )
