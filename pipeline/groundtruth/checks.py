"""What makes a GT snapshot unpublishable. Pure: the Dagster check in the GT asset calls it."""

from __future__ import annotations

import polars as pl

from pipeline.groundtruth import ground_truth_regions

TASK = ["project_id", "task_id"]
PROBLEMS = pl.Schema({"project_id": pl.String, "task_id": pl.String, "annotation_id": pl.String, "problem": pl.String})
_LABELLED = ("rectanglelabels", "polygonlabels", "keypointlabels", "ellipselabels", "labels", "choices", "taxonomy")


def violations(ground_truth: pl.LazyFrame, annotations: pl.LazyFrame, regions: pl.LazyFrame) -> pl.DataFrame:
    """Rows of a GT snapshot that must not be published, with the problem in words.

    - a task with more than one GT;
    - a GT that is not a submitted human annotation of its source task (missing, cancelled, a prediction);
    - a GT region that fails validation: a labelled region without a label, a box with no area, or a
      percent box reaching outside the image.
    Returns project_id, task_id, annotation_id, problem; empty when the snapshot is sound.
    """
    duplicated = (
        ground_truth.group_by(TASK)
        .agg(pl.col("annotation_id").sort().str.join(", "), pl.len().alias("n"))
        .filter(pl.col("n") > 1)
        .select(*TASK, "annotation_id", pl.format("{} GT rows for one task", "n").alias("problem"))
    )
    submitted = annotations.filter((pl.col("origin") == "human") & ~pl.col("was_cancelled")).select(
        "project_id", pl.col("task_id").alias("source_task_id"), "annotation_id"
    )
    dangling = ground_truth.join(submitted, on=["project_id", "source_task_id", "annotation_id"], how="anti").select(
        *TASK, "annotation_id", pl.lit("GT is not a submitted human annotation (missing, cancelled or a prediction)").alias("problem")
    )
    gt_regions = ground_truth_regions(ground_truth, regions).filter(pl.col("scorable").fill_null(False))
    box = pl.col("width").is_not_null() & pl.col("type").str.contains("rectangle")
    percent = pl.col("coordinate_unit") == "percent"
    problem = (
        pl.when(pl.col("type").is_in(_LABELLED) & (pl.col("labels").list.len().fill_null(0) == 0))
        .then(pl.lit("GT region has no label"))
        .when(box & ((pl.col("width") <= 0) | (pl.col("height") <= 0)))
        .then(pl.lit("GT box has no area"))
        .when(
            box
            & percent
            & (
                (pl.col("x") < -0.5)
                | (pl.col("y") < -0.5)
                | (pl.col("x") + pl.col("width") > 100.5)
                | (pl.col("y") + pl.col("height") > 100.5)
            )
        )
        .then(pl.lit("GT box reaches outside the image"))
    )
    bad_regions = (
        gt_regions.with_columns(problem=problem)
        .filter(pl.col("problem").is_not_null())
        .select(*TASK, "annotation_id", pl.format("{} (region {})", "problem", "region_id").alias("problem"))
    )
    return pl.concat([duplicated, dangling, bad_regions]).collect()
