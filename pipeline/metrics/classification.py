"""Per-label precision, recall and F1 and confusion matrices against GT, as Polars expressions.

Definitions follow scikit-learn's `precision_recall_fscore_support`: precision = tp / (tp + fp),
recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn) (the harmonic mean where both are defined, and 0
when the label was never predicted but is in the GT, as scikit-learn's default). Precision of a label
never predicted, and recall of a label absent from the GT, are null, never 0 or NaN.
"""

from __future__ import annotations

import polars as pl

from pipeline.metrics.ordered import ordered_mean, ordered_sum
from pipeline.vocabulary import ANSWER, CATEGORICAL_TYPES, PARTICIPANT_CONTROL

EMPTY = "(empty)"  # an answer that chose nothing, as a row or column of the confusion matrix
UNMATCHED = "(unmatched)"  # a box without a match (detection), as a row or column


def precision(tp: pl.Expr, fp: pl.Expr) -> pl.Expr:
    return pl.when(tp + fp > 0).then(tp / (tp + fp))


def recall(tp: pl.Expr, fn: pl.Expr) -> pl.Expr:
    return pl.when(tp + fn > 0).then(tp / (tp + fn))


def f1(tp: pl.Expr, fp: pl.Expr, fn: pl.Expr) -> pl.Expr:
    return pl.when(tp + fp + fn > 0).then(2 * tp / (2 * tp + fp + fn))


def confusion_matrix(scores: pl.LazyFrame, region_values: pl.LazyFrame) -> pl.LazyFrame:
    """Long confusion matrix per participant and control: project_id, annotator, origin, control, gt_label,
    label, count; only classification controls (choices, taxonomy, rating) count.

    Task-level answers come from `scores` (quality.annotation_scores: answer_key against gt_answer_key per
    annotation; "(empty)" for an empty answer). A control answered per region (`region_values`, as
    `scores.region_value_pairs` gives them) counts once per region, not per annotation: a region's value
    against the value of the GT region it is matched with ("(empty)" when the matched region carries none);
    a region with no matched GT region counts against "(unmatched)" in the GT, a GT region no region is
    matched with as "(unmatched)" in the answer, as for boxes (`label_scores`: a false positive, a false
    negative). The per-region rows of `scores` (no answer keys) are left out."""
    categorical = pl.col("type").is_in(CATEGORICAL_TYPES)
    answers = scores.filter(categorical).join(region_values.select(ANSWER), on=ANSWER, how="anti")
    per_region = region_values.filter(categorical).with_columns(
        answer_key=pl.when(pl.col("region_id").is_null()).then(pl.lit(UNMATCHED)).otherwise("answer_key"),
        gt_answer_key=pl.when(pl.col("gt_region_id").is_null()).then(pl.lit(UNMATCHED)).otherwise("gt_answer_key"),
    )
    labelled = [rows.select(*PARTICIPANT_CONTROL, "gt_answer_key", "answer_key") for rows in (answers, per_region)]
    return (
        pl.concat(labelled)
        .with_columns(gt_label=pl.col("gt_answer_key").fill_null(EMPTY), label=pl.col("answer_key").fill_null(EMPTY))
        .group_by(*PARTICIPANT_CONTROL, "gt_label", "label")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .sort(*PARTICIPANT_CONTROL, "gt_label", "label")
    )


def label_scores(confusion: pl.LazyFrame) -> pl.LazyFrame:
    """Per participant, control and label: support (GT count), predicted, tp, precision, recall, f1.

    For box controls and per-region values the matrix has an "(unmatched)" row and column: an unmatched GT
    region is a false negative of its label, an extra region a false positive of its own; "(unmatched)"
    itself is no label."""
    support = confusion.group_by(*PARTICIPANT_CONTROL, pl.col("gt_label").alias("label")).agg(pl.col("count").sum().alias("support"))
    predicted = confusion.group_by(*PARTICIPANT_CONTROL, "label").agg(pl.col("count").sum().alias("predicted"))
    hits = (
        confusion.filter(pl.col("gt_label") == pl.col("label"))
        .group_by(*PARTICIPANT_CONTROL, "label")
        .agg(pl.col("count").sum().alias("tp"))
    )
    keys = [*PARTICIPANT_CONTROL, "label"]
    counts = (
        support.join(predicted, on=keys, how="full", coalesce=True)
        .join(hits, on=keys, how="left")
        .with_columns(pl.col("support", "predicted", "tp").fill_null(0).cast(pl.Int64))
    )
    tp, fp, fn = pl.col("tp"), pl.col("predicted") - pl.col("tp"), pl.col("support") - pl.col("tp")
    return (
        counts.filter(pl.col("label") != UNMATCHED)
        .with_columns(precision=precision(tp, fp), recall=recall(tp, fn), f1=f1(tp, fp, fn))
        .sort(keys)
    )


def calibration_bins(predictions: pl.LazyFrame, by: list[str], bins: int = 10) -> pl.LazyFrame:
    """The reliability diagram of confidence scores: per equal-width bin of `confidence` in [0, 1] (a
    confidence of exactly 1 falls in the top bin), how many, their mean confidence and the share correct.

    `predictions` has `confidence` and `correct` (bool); rows without a confidence are left out. Returns
    `by`, bin (0 .. bins-1), n_predictions, mean_confidence, accuracy; empty bins have no row.
    """
    return (
        predictions.drop_nulls("confidence")
        .with_columns(bin=(pl.col("confidence") * bins).floor().clip(0, bins - 1).cast(pl.Int64))
        .group_by([*by, "bin"])
        .agg(
            pl.len().cast(pl.Int64).alias("n_predictions"),
            ordered_mean("confidence").alias("mean_confidence"),
            ordered_mean(pl.col("correct").cast(pl.Float64)).alias("accuracy"),
        )
        .sort([*by, "bin"])
    )


def expected_calibration_error(predictions: pl.LazyFrame, by: list[str], bins: int = 10) -> pl.LazyFrame:
    """ECE of confidence scores: sum over the bins of `calibration_bins` of (n_bin / n) |accuracy_bin - mean confidence_bin|.

    Returns `by`, n_predictions, mean_confidence, calibration_error.
    """
    per_bin = calibration_bins(predictions, by, bins)
    return (
        per_bin.with_columns(_total=pl.col("n_predictions").sum().over(by))
        .group_by(by)
        .agg(
            pl.col("n_predictions").sum(),
            (ordered_sum(pl.col("mean_confidence") * pl.col("n_predictions")) / pl.col("n_predictions").sum()).alias("mean_confidence"),
            ordered_sum((pl.col("n_predictions") / pl.col("_total")) * (pl.col("accuracy") - pl.col("mean_confidence")).abs()).alias(
                "calibration_error"
            ),
        )
    )
