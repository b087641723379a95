"""Ground-truth resolution rules: small pure functions over the core annotation frame.

Label Studio semantics: an annotation's `ground_truth` flag marks the task's GT. A task has at most one
GT; when an export flags several annotations of a task, the most recently updated one wins (ties go to
the larger annotation id, so the choice never depends on row order) and the conflict is reported.
Predictions and cancelled (skipped) annotations are never GT.
"""

from __future__ import annotations

import polars as pl

TASK = ["project_id", "task_id"]


def flagged_candidates(annotations: pl.LazyFrame) -> pl.LazyFrame:
    """Annotations that may be GT by flag: human, submitted, flagged."""
    return annotations.filter(
        (pl.col("origin") == "human") & pl.col("gt_flag") & ~pl.col("was_cancelled")
    )


def _latest_first() -> list[pl.Expr]:
    # Numeric ids compare as numbers, so annotation 10 beats annotation 9.
    return [pl.col("updated_at"), pl.col("annotation_id").str.len_chars(), pl.col("annotation_id")]


def resolve_by_flag(annotations: pl.LazyFrame) -> pl.LazyFrame:
    """One GT per task among the flagged candidates: the most recently updated wins.

    Returns project_id, task_id, annotation_id, method ('flag'), annotator, decided_at (the winning
    annotation's updated_at), n_flagged, source_file.
    """
    return (
        flagged_candidates(annotations)
        .group_by(TASK)
        .agg(
            pl.col("annotation_id", "annotator", "updated_at", "source_file").sort_by(_latest_first()).last(),
            pl.len().alias("n_flagged"),
        )
        .select(
            *TASK,
            "annotation_id",
            pl.lit("flag").alias("method"),
            "annotator",
            pl.col("updated_at").alias("decided_at"),
            "n_flagged",
            "source_file",
        )
    )


def flag_conflicts(annotations: pl.LazyFrame, resolved: pl.LazyFrame) -> pl.LazyFrame:
    """Tasks with several flagged annotations, the one the rule chose and all that were flagged."""
    flagged = (
        flagged_candidates(annotations)
        .group_by(TASK)
        .agg(pl.col("annotation_id").sort_by(_latest_first()).alias("flagged_annotation_ids"))
        .filter(pl.col("flagged_annotation_ids").list.len() > 1)
    )
    return flagged.join(resolved.select(*TASK, pl.col("annotation_id").alias("chosen_annotation_id")), on=TASK).select(
        *TASK,
        "chosen_annotation_id",
        "flagged_annotation_ids",
        pl.lit("latest updated_at wins").alias("rule"),
    )
