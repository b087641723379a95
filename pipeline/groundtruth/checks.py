"""What makes a GT snapshot unpublishable. Pure: the GT asset calls it before publishing a version."""

from __future__ import annotations

import polars as pl

from pipeline.contract import GROUND_TRUTH
from pipeline.groundtruth import ground_truth_regions
from pipeline.validation import expectations_dir, failing_rows, load_suite_json, validation_view
from pipeline.vocabulary import ANNOTATION, BOX_TYPES, CHOICE_TYPES, LABELLED_REGION_TYPES

PROBLEMS = pl.Schema({"project_id": pl.String, "task_id": pl.String, "annotation_id": pl.String, "problem": pl.String})
# A GT result without a label: a region of a labelled type, or a choice or taxonomy that chose nothing.
_LABELLED = (*sorted(LABELLED_REGION_TYPES), *CHOICE_TYPES)


def violations(ground_truth: pl.LazyFrame, annotations: pl.LazyFrame, regions: pl.LazyFrame) -> pl.DataFrame:
    """Rows of a GT snapshot that must not be published, with the problem in words.

    - a row failing a critical expectation of `expectations/core.ground_truth.json` (as the team's file says
      now): by default a task with more than one GT, or a GT that is not a submitted human annotation of
      its source task (missing, cancelled, a prediction);
    - a GT region a model must not learn from: a labelled region without a label, a box with no area, or
      a percent box reaching outside the image.
    Returns project_id, task_id, annotation_id, problem; empty when the snapshot is sound.
    """
    return pl.concat([_suite_failures(ground_truth, annotations), _region_problems(ground_truth, regions)])


def _suite_failures(ground_truth: pl.LazyFrame, annotations: pl.LazyFrame) -> pl.DataFrame:
    path = expectations_dir() / f"{GROUND_TRUTH.key}.json"
    if not path.exists():
        return pl.DataFrame(schema=PROBLEMS)
    rows = validation_view(GROUND_TRUTH, ground_truth, annotations).collect()
    failing = failing_rows(rows, load_suite_json(path), ids=ANNOTATION)
    return failing.select(
        *ANNOTATION,
        pl.format(
            "expectations/{}.json: {} on {} ({})", pl.lit(GROUND_TRUTH.key), "expectation", "column", "value"
        ).alias("problem"),
    ).cast(PROBLEMS)


def _region_problems(ground_truth: pl.LazyFrame, regions: pl.LazyFrame) -> pl.DataFrame:
    gt_regions = ground_truth_regions(ground_truth, regions).filter(pl.col("scorable").fill_null(False))
    box = pl.col("width").is_not_null() & pl.col("type").is_in(BOX_TYPES)
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
        .select(*ANNOTATION, pl.format("{} (region {})", "problem", "region_id").alias("problem"))
    )
    return bad_regions.collect()
