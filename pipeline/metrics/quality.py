"""The quality tables, composed from the answer and score frames with the metric functions.

Each function returns exactly the columns of its contract table (pipeline.contract).
"""

from __future__ import annotations

import polars as pl

from pipeline.metrics.agreement import (
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha_nominal,
    krippendorff_band,
    landis_koch,
    rater_pairs,
)
from pipeline.metrics.scores import categorical_ratings

PARTICIPANT = ["project_id", "annotator", "origin"]


def annotator_performance(annotations: pl.LazyFrame, scores: pl.LazyFrame) -> pl.LazyFrame:
    """Per annotator or model version: volume, accuracy (mean score against GT) and Cohen's kappa.

    accuracy follows Label Studio's score (an empty answer against a non-empty GT scores 0). Kappa is
    over the answers both the participant and the GT gave (a missing answer is not a category), with
    categories kept apart per control. Null when nothing was scored or kappa is undefined.
    """
    volume = annotations.group_by(PARTICIPANT).agg(
        pl.len().alias("n_annotations"), pl.col("was_cancelled").sum().cast(pl.Int64).alias("n_skipped")
    )
    accuracy = scores.group_by(PARTICIPANT).agg(pl.len().alias("n_scored"), pl.col("score").mean().alias("accuracy"))
    per_control = [pl.concat_str("control", pl.col(c), separator="\x1e").alias(c) for c in ("answer_key", "gt_answer_key")]
    answered = scores.filter(pl.col("answer_key").is_not_null() & pl.col("gt_answer_key").is_not_null())
    kappa = cohen_kappa(answered.with_columns(per_control), PARTICIPANT, a="answer_key", b="gt_answer_key")
    return (
        volume.join(accuracy, on=PARTICIPANT, how="left")
        .join(kappa.select(*PARTICIPANT, "cohen_kappa"), on=PARTICIPANT, how="left")
        .with_columns(pl.col("n_scored").fill_null(0))
        .sort(PARTICIPANT)
    )


def agreement_matrix(answers: pl.LazyFrame) -> pl.LazyFrame:
    """Every ordered pair of participants (annotators and model versions) per project and control.

    Over the tasks both answered: agreement = share of identical answers, cohen_kappa as in
    `cohen_kappa`. Both orders of a pair are present so the table pivots into a full matrix.
    """
    by = ["project_id", "control"]
    pairs = rater_pairs(categorical_ratings(answers).drop("origin"), by)
    return (
        cohen_kappa(pairs, [*by, "rater_a", "rater_b"])
        .select(
            *by,
            pl.col("rater_a").alias("annotator_a"),
            pl.col("rater_b").alias("annotator_b"),
            pl.col("n_items").alias("n_tasks"),
            "agreement",
            "cohen_kappa",
        )
        .sort(*by, "annotator_a", "annotator_b")
    )


def project_agreement(answers: pl.LazyFrame) -> pl.LazyFrame:
    """Inter-annotator reliability per project and classification control, human annotators only.

    Generalised Fleiss' kappa (with its Landis & Koch band), nominal Krippendorff's alpha (with
    Krippendorff's band) and Gwet's AC1 (see `pipeline.metrics.agreement`); `undefined_reason` says why a
    value is null.
    """
    by = ["project_id", "control"]
    ratings = categorical_ratings(answers, origins=("human",)).drop("origin")
    return (
        fleiss_kappa(ratings, by)
        .join(krippendorff_alpha_nominal(ratings, by), on=by)
        .join(gwet_ac1(ratings, by), on=by)
        .select(
            *by,
            pl.col("n_items").alias("n_tasks"),
            "n_raters",
            "n_ratings",
            "percent_agreement",
            "fleiss_kappa",
            landis_koch(pl.col("fleiss_kappa")).alias("fleiss_kappa_band"),
            "krippendorff_alpha",
            krippendorff_band(pl.col("krippendorff_alpha")).alias("krippendorff_alpha_band"),
            "gwet_ac1",
            pl.when(pl.col("n_items") == 0)
            .then(pl.lit("no task has two ratings"))
            .when(pl.col("fleiss_kappa").is_null())
            .then(pl.lit("every rating has the same label: chance agreement is 1"))
            .alias("undefined_reason"),
        )
        .sort(by)
    )
