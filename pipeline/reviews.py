"""The review state of each annotation, from its `last_action` and its reviews. No Dagster.

Label Studio records a reviewer's verdict twice: the annotation's `last_action` (fixed_and_accepted,
accepted, rejected) and the review objects (`accepted` true/false). `last_action` wins when it is a
verdict; otherwise the latest review decides. Used by the GT review rule and the annotator dashboard.
"""

from __future__ import annotations

import polars as pl

from pipeline.vocabulary import ANNOTATION

VERDICTS = ("fixed_and_accepted", "accepted", "rejected")


def with_review_state(annotations: pl.LazyFrame, reviews: pl.LazyFrame) -> pl.LazyFrame:
    """The annotations with `review_state` (one of VERDICTS, null when never reviewed), `reviewer` and
    `reviewed_at` (of the latest review)."""
    latest = (
        reviews.group_by(ANNOTATION)
        .agg(pl.col("accepted", "reviewer", "created_at").sort_by("created_at").last())
        .rename({"created_at": "reviewed_at", "accepted": "review_accepted"})
    )
    action = pl.col("last_action")
    return (
        annotations.join(latest, on=ANNOTATION, how="left")
        .with_columns(
            review_state=pl.when(action.is_in(VERDICTS))
            .then(action)
            .when(pl.col("review_accepted"))
            .then(pl.lit("accepted"))
            .when(pl.col("review_accepted") == False)  # noqa: E712 - null (no review) must stay null
            .then(pl.lit("rejected"))
        )
        .drop("review_accepted")
    )
