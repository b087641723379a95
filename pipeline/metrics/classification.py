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
    """Precision from counts of true and false positives: tp / (tp + fp).

    Parameters
    ----------
    tp : pl.Expr
        True positives: predictions of the label that are right.
    fp : pl.Expr
        False positives: predictions of the label that are wrong.

    Returns
    -------
    pl.Expr
        tp / (tp + fp), Float64.

    Notes
    -----
    A label never predicted (tp + fp = 0) has a null precision, never 0 or NaN (scikit-learn's
    `zero_division` left undecided).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import precision
    >>> counts = pl.DataFrame({"tp": [3, 0], "fp": [1, 0]})
    >>> counts.select(precision(pl.col("tp"), pl.col("fp")).alias("precision"))["precision"].to_list()
    [0.75, None]
    """
    return pl.when(tp + fp > 0).then(tp / (tp + fp))


def recall(tp: pl.Expr, fn: pl.Expr) -> pl.Expr:
    """Recall from counts of true positives and false negatives: tp / (tp + fn).

    Parameters
    ----------
    tp : pl.Expr
        True positives: items of the label found.
    fn : pl.Expr
        False negatives: items of the label missed.

    Returns
    -------
    pl.Expr
        tp / (tp + fn), Float64.

    Notes
    -----
    A label absent from the GT (tp + fn = 0) has a null recall, never 0 or NaN.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import recall
    >>> counts = pl.DataFrame({"tp": [3, 0, 0], "fn": [1, 2, 0]})
    >>> counts.select(recall(pl.col("tp"), pl.col("fn")).alias("recall"))["recall"].to_list()
    [0.75, 0.0, None]
    """
    return pl.when(tp + fn > 0).then(tp / (tp + fn))


def f1(tp: pl.Expr, fp: pl.Expr, fn: pl.Expr) -> pl.Expr:
    """F1 from counts: 2 tp / (2 tp + fp + fn).

    The harmonic mean of precision and recall where both are defined, written on the counts so that it is
    also defined when only one of them is.

    Parameters
    ----------
    tp : pl.Expr
        True positives.
    fp : pl.Expr
        False positives.
    fn : pl.Expr
        False negatives.

    Returns
    -------
    pl.Expr
        2 tp / (2 tp + fp + fn), Float64.

    Notes
    -----
    A label never predicted but present in the GT scores 0 (scikit-learn's default); with nothing to count
    at all (tp + fp + fn = 0) F1 is null.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import f1
    >>> counts = pl.DataFrame({"tp": [3, 0, 0], "fp": [1, 0, 0], "fn": [1, 2, 0]})
    >>> counts.select(f1(pl.col("tp"), pl.col("fp"), pl.col("fn")).alias("f1"))["f1"].to_list()
    [0.75, 0.0, None]
    """
    return pl.when(tp + fp + fn > 0).then(2 * tp / (2 * tp + fp + fn))


def confusion_matrix(scores: pl.LazyFrame, region_values: pl.LazyFrame) -> pl.LazyFrame:
    """Long confusion matrix of the classification answers against the GT, per participant and control.

    Only classification controls (choices, taxonomy, rating) count. A task-level answer counts once per
    annotation; a control answered per region counts once per region, not per annotation.

    Parameters
    ----------
    scores : pl.LazyFrame
        Per annotation and control, as quality.annotation_scores: project_id, task_id, annotation_id,
        annotator, origin, control, type, answer_key and gt_answer_key (null for an empty answer).
    region_values : pl.LazyFrame
        The per-region values as `scores.region_value_pairs` gives them: the same columns plus region_id and
        gt_region_id (null on the side no region of is matched).

    Returns
    -------
    pl.LazyFrame
        project_id, annotator, origin, control, gt_label, label, count; one row per (gt_label, label) cell
        that occurs, sorted.

    Notes
    -----
    An empty answer is the label "(empty)", on either side. A region's value counts against the value of
    the GT region it is matched with ("(empty)" when the matched region carries none); a region with no
    matched GT region counts against "(unmatched)" in the GT, a GT region no region is matched with as
    "(unmatched)" in the answer, as for boxes (`label_scores`: a false positive, a false negative). The
    per-region rows of `scores` (no answer keys) are left out.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import confusion_matrix
    >>> who = {"project_id": "p", "annotator": "ann", "origin": "human", "type": "choices"}
    >>> scores = pl.LazyFrame({**who, "task_id": [1, 2, 3], "annotation_id": [11, 12, 13], "control": "label",
    ...                        "answer_key": ["cat", "dog", None], "gt_answer_key": ["cat", "cat", "dog"]})
    >>> region_values = pl.LazyFrame({**who, "task_id": 4, "annotation_id": 14, "control": "species",
    ...                               "region_id": ["r1", None], "gt_region_id": ["g1", "g2"],
    ...                               "answer_key": ["cat", None], "gt_answer_key": ["cat", "dog"]})
    >>> matrix = confusion_matrix(scores, region_values).collect()
    >>> matrix.select("control", "gt_label", "label", "count").rows()
    [('label', 'cat', 'cat', 1), ('label', 'cat', 'dog', 1), ('label', 'dog', '(empty)', 1),
     ('species', 'cat', 'cat', 1), ('species', 'dog', '(unmatched)', 1)]
    """
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
    """Precision, recall and F1 of each label, per participant and control, from a long confusion matrix.

    With tp the diagonal cell of the label, fp = predicted - tp and fn = support - tp: precision = tp / (tp +
    fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn) (`precision`, `recall`, `f1`).

    Parameters
    ----------
    confusion : pl.LazyFrame
        A long confusion matrix: project_id, annotator, origin, control, gt_label, label, count (as
        `confusion_matrix` or `detection.conflict_counts` give it).

    Returns
    -------
    pl.LazyFrame
        project_id, annotator, origin, control, label, support (GT count), predicted, tp, precision, recall,
        f1; one row per label that is in the GT or predicted, sorted.

    Notes
    -----
    For box controls and per-region values the matrix has an "(unmatched)" row and column: an unmatched GT
    region is a false negative of its label, an extra region a false positive of its own; "(unmatched)"
    itself is no label. "(empty)" is a label like any other. Precision of a label never predicted and
    recall of a label absent from the GT are null.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import label_scores
    >>> confusion = pl.LazyFrame({"project_id": "p", "annotator": "ann", "origin": "human", "control": "label",
    ...                           "gt_label": ["cat", "cat", "dog", "dog"],
    ...                           "label": ["cat", "dog", "cat", "(unmatched)"], "count": [3, 1, 1, 1]})
    >>> scored = label_scores(confusion).collect().with_columns(pl.col(pl.Float64).round(4))
    >>> scored.select("label", "support", "predicted", "tp", "precision", "recall", "f1").rows()
    [('cat', 4, 4, 3, 0.75, 0.75, 0.75), ('dog', 2, 1, 0, 0.0, 0.0, 0.0)]
    """
    support = confusion.group_by(*PARTICIPANT_CONTROL, pl.col("gt_label").alias("label")).agg(
        pl.col("count").sum().alias("support")
    )
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
    """The reliability diagram of confidence scores: per equal-width bin of confidence, how many, their mean
    confidence and the share correct.

    A confidence c falls in bin floor(c * bins), clipped to 0 .. bins - 1.

    Parameters
    ----------
    predictions : pl.LazyFrame
        `by`, `confidence` (in [0, 1]) and `correct` (bool), one row per prediction.
    by : list of str
        The grouping columns (for example project and model version).
    bins : int, default=10
        The number of equal-width bins of [0, 1].

    Returns
    -------
    pl.LazyFrame
        `by`, bin (0 .. bins - 1), n_predictions, mean_confidence, accuracy (the share correct), sorted.

    Notes
    -----
    A confidence of exactly 1 falls in the top bin; rows without a confidence are left out; empty bins
    have no row.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import calibration_bins
    >>> predictions = pl.LazyFrame({"model": "m", "confidence": [0.9, 0.8, 0.3, 0.2, None],
    ...                             "correct": [True, False, False, False, True]})
    >>> diagram = calibration_bins(predictions, ["model"], bins=2).collect()
    >>> diagram.select("bin", "n_predictions", pl.col("mean_confidence", "accuracy").round(4)).rows()
    [(0, 2, 0.25, 0.0), (1, 2, 0.85, 0.5)]
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
    """Expected calibration error (ECE) of confidence scores.

    ECE = sum over the bins of `calibration_bins` of (n_bin / n) |accuracy_bin - mean confidence_bin|.

    Parameters
    ----------
    predictions : pl.LazyFrame
        `by`, `confidence` (in [0, 1]) and `correct` (bool), one row per prediction.
    by : list of str
        The grouping columns (for example project and model version).
    bins : int, default=10
        The number of equal-width bins of [0, 1].

    Returns
    -------
    pl.LazyFrame
        `by`, n_predictions, mean_confidence, calibration_error; one row per group with a confidence.

    Notes
    -----
    Rows without a confidence are left out (a group with none has no row); 0 means perfectly calibrated.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.classification import expected_calibration_error
    >>> predictions = pl.LazyFrame({"model": "m", "confidence": [0.9, 0.8, 0.3, 0.2],
    ...                             "correct": [True, False, False, False]})
    >>> ece = expected_calibration_error(predictions, ["model"], bins=2).collect()
    >>> ece.select("n_predictions", pl.col("mean_confidence", "calibration_error").round(4)).to_dicts()
    [{'n_predictions': 4, 'mean_confidence': 0.55, 'calibration_error': 0.3}]
    """
    per_bin = calibration_bins(predictions, by, bins)
    return (
        per_bin.with_columns(_total=pl.col("n_predictions").sum().over(by))
        .group_by(by)
        .agg(
            pl.col("n_predictions").sum(),
            (ordered_sum(pl.col("mean_confidence") * pl.col("n_predictions")) / pl.col("n_predictions").sum()).alias(
                "mean_confidence"
            ),
            ordered_sum(
                (pl.col("n_predictions") / pl.col("_total")) * (pl.col("accuracy") - pl.col("mean_confidence")).abs()
            ).alias("calibration_error"),
        )
    )
