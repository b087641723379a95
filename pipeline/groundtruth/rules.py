"""Ground-truth rules: each a small pure function over Polars frames that decides some tasks' GT.

Every rule returns *decisions*, one row per task it decides, with the columns of `DECISION`:
project_id, task_id, annotation_id (null: the task has no GT, which only an override can say),
method, decided_by, decided_at, n_candidates (how many annotations the rule could have picked), reason
and source_file. `resolve` applies them in each project's precedence order: the highest-ranked rule
that decides a task wins. Predictions and cancelled (skipped) annotations are never candidates.

Ties inside a rule never depend on row order: the later `updated_at` wins, then the larger id (numeric
ids compare as numbers).
"""

from __future__ import annotations

import polars as pl

from pipeline.groundtruth.policy import latest_reverts, overrides_in_force
from pipeline.metrics.aggregate import majority_vote
from pipeline.metrics.matching import box_label, closest_to_mean, iou_clusters, scorable_box
from pipeline.metrics.scores import answer_votes
from pipeline.metrics.scores import answers as answers_of
from pipeline.reviews import with_review_state
from pipeline.vocabulary import ANNOTATION, CATEGORICAL_TYPES, TASK, submitted_human

DECISION = {
    "project_id": pl.String,
    "task_id": pl.String,
    "annotation_id": pl.String,
    "method": pl.String,
    "decided_by": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
    "n_candidates": pl.Int64,
    "reason": pl.String,
    "source_file": pl.String,
    "content_hash": pl.String,
    "consensus_regions": pl.List(pl.Struct({"annotation_id": pl.String, "item_index": pl.Int32})),
}
VERIFIED_METHODS = ("override", "flag", "review", "annotator")


def eligible(annotations: pl.LazyFrame) -> pl.LazyFrame:
    """Annotations that may be GT at all: submitted by a human."""
    return annotations.filter(submitted_human())


def _id_order() -> list[pl.Expr]:
    return [pl.col("annotation_id").str.len_chars(), pl.col("annotation_id")]


def _decisions(frame: pl.LazyFrame, **columns: pl.Expr | str) -> pl.LazyFrame:
    """Shape a rule's output as DECISION: each column from `columns`, else the frame's column of that
    name, else null."""
    present = frame.collect_schema().names()
    exprs = []
    for name, dtype in DECISION.items():
        value = columns.get(name, name if name in present else None)
        expr = pl.col(value) if isinstance(value, str) else (value if isinstance(value, pl.Expr) else pl.lit(None))
        exprs.append(expr.cast(dtype).alias(name))
    return frame.select(exprs)


def by_override(overrides: pl.LazyFrame, source_file: str, content_hash: str) -> pl.LazyFrame:
    """Each task's override in force (`overrides_in_force`: its latest set or unset that no revert withdrew):
    `set` makes an annotation the GT, `unset` leaves the task without.

    The override is applied as written: an override naming an annotation that is missing or cancelled is
    reported by the GT checks (and blocks publication), never silently skipped.
    """
    return _override_decisions(overrides_in_force(overrides), source_file, content_hash)


def by_revert(overrides: pl.LazyFrame, source_file: str, content_hash: str) -> pl.LazyFrame:
    """The tasks whose latest override entry is a revert, as decisions without an annotation (reason
    `revert: <reason>`, by its author): they decide no GT, but say who withdrew an override and why, for the
    change the withdrawal brings (`versioning.diff`)."""
    return _override_decisions(latest_reverts(overrides), source_file, content_hash)


def _override_decisions(entries: pl.LazyFrame, source_file: str, content_hash: str) -> pl.LazyFrame:
    """Override entries as decisions: by their author, at their time, `<action>: <reason>`, from the overrides file."""
    return _decisions(
        entries,
        method=pl.lit("override"),
        decided_by="author",
        decided_at="at",
        n_candidates=pl.lit(1),
        reason=pl.concat_str(pl.col("action"), pl.lit(": "), pl.col("reason")),
        source_file=pl.lit(source_file),
        content_hash=pl.lit(content_hash),
    )


def by_flag(annotations: pl.LazyFrame) -> pl.LazyFrame:
    """Label Studio: the flagged annotation; several flags on one task: the most recently updated."""
    flagged = eligible(annotations).filter(pl.col("gt_flag"))
    return _decisions(
        flagged.group_by(TASK).agg(
            pl.col("annotation_id", "updated_at", "source_file", "content_hash")
            .sort_by("updated_at", *_id_order())
            .last(),
            pl.len().alias("n"),
        ),
        method=pl.lit("flag"),
        decided_at="updated_at",
        n_candidates="n",
    )


def by_review(annotations: pl.LazyFrame, reviews: pl.LazyFrame) -> pl.LazyFrame:
    """A reviewer's "fix and accept" first, then an accepted annotation; a rejected one never.

    The review state is `pipeline.reviews.with_review_state`. Among several accepted annotations of a
    task, the later updated wins.
    """
    strength = pl.col("review_state").replace_strict(
        {"fixed_and_accepted": 2, "accepted": 1}, default=None, return_dtype=pl.Int64
    )
    accepted = (
        with_review_state(eligible(annotations), reviews)
        .with_columns(strength=strength)
        .filter(pl.col("strength").is_not_null())
    )
    return _decisions(
        accepted.group_by(TASK).agg(
            pl.col("annotation_id", "reviewer", "reviewed_at", "updated_at", "source_file", "content_hash", "strength")
            .sort_by("strength", "updated_at", *_id_order())
            .last(),
            pl.len().alias("n"),
        ),
        method=pl.lit("review"),
        decided_by="reviewer",
        decided_at=pl.coalesce("reviewed_at", "updated_at"),
        n_candidates="n",
        reason=pl.when(pl.col("strength") == 2).then(pl.lit("fixed and accepted")).otherwise(pl.lit("accepted")),
    )


def by_annotator(annotations: pl.LazyFrame, trusted: pl.LazyFrame) -> pl.LazyFrame:
    """ "Set ground truths by user": the annotation of the first-listed trusted annotator who annotated the
    task (their earliest, if several)."""
    candidates = eligible(annotations).join(trusted, on=["project_id", "annotator"])
    return _decisions(
        candidates.group_by(TASK).agg(
            pl.col("annotation_id", "annotator", "created_at", "source_file", "content_hash")
            .sort_by("preference", "created_at", *_id_order(), descending=False)
            .first(),
            pl.len().alias("n"),
        ),
        method=pl.lit("annotator"),
        decided_by="annotator",
        decided_at="created_at",
        n_candidates="n",
        reason=pl.concat_str(pl.lit("trusted annotator "), pl.col("annotator")),
    )


def consensus_votes(annotations: pl.LazyFrame, regions: pl.LazyFrame, settings: pl.LazyFrame) -> pl.LazyFrame:
    """Per task and classification control of a consensus project: the majority answer and how sure it is.

    Votes are the answers of submitted human annotations (`scores.answer_votes`: an empty answer is no vote),
    counted by `aggregate.majority_vote`. Returns project_id, task_id, control, n_votes, majority (answer_key;
    null on a tie), top (votes for it), tied (another answer has as many), agreement (top / n_votes), and
    whether the control is `decided` under the project's min_agreement and quorum.
    """
    answers = answers_of(
        eligible(annotations).join(settings.select("project_id"), on="project_id", how="semi"),
        regions,
        types=CATEGORICAL_TYPES,
    )
    votes = majority_vote(answer_votes(answers), ["project_id", "control"])
    return (
        votes.select(
            "project_id",
            pl.col("item").alias("task_id"),
            "control",
            pl.col("n_votes").cast(pl.UInt32),
            "majority",
            (pl.col("majority_share") * pl.col("n_votes")).round().cast(pl.UInt32).alias("top"),
            "tied",
        )
        .join(settings, on="project_id")
        .with_columns(agreement=pl.col("top") / pl.col("n_votes"))
        .with_columns(
            decided=~pl.col("tied")
            & (pl.col("agreement") >= pl.col("min_agreement"))
            & (pl.col("n_votes") >= pl.col("quorum"))
        )
    )


def consensus_boxes(annotations: pl.LazyFrame, regions: pl.LazyFrame, settings: pl.LazyFrame) -> pl.LazyFrame:
    """IoU-clustered box voting per task, box control and label of a consensus project.

    Boxes of submitted human annotations that overlap with IoU >= the project's `iou` form a cluster
    (`iou_clusters`); a cluster is kept when at least `quorum` annotators drew into it, and its GT box is
    the member closest to the cluster's mean box. Returns project_id, task_id, control, cluster, kept,
    n_boxes, and the representative's annotation_id and item_index.
    """
    boxes = (
        regions.join(eligible(annotations).select(*TASK, "annotation_id", "annotator"), on=ANNOTATION)
        .join(settings, on="project_id")
        .filter(scorable_box())
        .with_columns(box_label())
        .collect()  # box ids must name the same box in every use below, and break ties the same way each run
        .sort(*TASK, "annotation_id", "item_index")
        .with_row_index("box")
        .with_columns(pl.col("box").cast(pl.Int64))
        .lazy()
    )
    by = [*TASK, "control", "label"]
    clustered = iou_clusters(boxes, by, "annotator", "iou")
    cluster = [*by, "cluster"]
    sizes = clustered.group_by(cluster).agg(
        pl.col("annotator").n_unique().alias("members"), pl.len().alias("n_boxes"), pl.col("quorum").first()
    )
    return (
        closest_to_mean(clustered, cluster)
        .join(sizes, on=cluster)
        .select(
            *TASK,
            "control",
            "cluster",
            (pl.col("members") >= pl.col("quorum")).alias("kept"),
            "n_boxes",
            "annotation_id",
            "item_index",
        )
    )


def by_consensus(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, settings: pl.LazyFrame, votes: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Majority vote over classification controls and box voting over box controls (see
    `consensus_votes`, `consensus_boxes`). A task is decided when every classification control is decided
    and, if it has boxes, at least `min_agreement` of its boxes fall in kept clusters.

    The GT is the earliest annotation giving the majority answer on every classification control (or,
    without classification controls, the one that contributed most kept boxes); its boxes are replaced by
    the kept clusters' boxes, listed in `consensus_regions`. A consensus GT is never verified. `votes` are
    `consensus_votes(annotations, regions, settings)` when the caller has them already.
    """
    votes = consensus_votes(annotations, regions, settings) if votes is None else votes
    classified = votes.group_by(TASK).agg(
        pl.col("decided").all().alias("classes_decided"), pl.len().alias("n_controls"), pl.col("agreement").min()
    )
    boxes = consensus_boxes(annotations, regions, settings)
    voted = boxes.group_by(TASK).agg(
        (pl.col("n_boxes").filter("kept").sum() / pl.col("n_boxes").sum()).alias("box_agreement"),
        pl.struct("annotation_id", "item_index").filter("kept").alias("consensus_regions"),
    )
    tasks = (
        classified.join(voted, on=TASK, how="full", coalesce=True)
        .join(settings, on="project_id")
        .filter(
            pl.col("classes_decided").fill_null(True)
            & (pl.col("box_agreement").fill_null(1.0) >= pl.col("min_agreement"))
        )
        .with_columns(
            agreement=pl.min_horizontal("agreement", "box_agreement"), n_controls=pl.col("n_controls").fill_null(0)
        )
    )
    answers = answers_of(eligible(annotations), regions, types=CATEGORICAL_TYPES).join(
        votes.select(*TASK, "control", "majority"), on=[*TASK, "control"], how="left"
    )
    matches = answers.group_by(*TASK, "annotation_id").agg(
        (pl.col("answer_key") == pl.col("majority")).sum().alias("matches")
    )
    contributed = boxes.filter("kept").group_by(*TASK, "annotation_id").agg(pl.len().alias("kept_boxes"))
    candidates = (
        eligible(annotations)
        .select(*TASK, "annotation_id", "created_at", "source_file", "content_hash")
        .join(tasks, on=TASK)
        .join(matches, on=ANNOTATION, how="left")
        .join(contributed, on=ANNOTATION, how="left")
        .filter(pl.col("matches").fill_null(0) == pl.col("n_controls"))
        .with_columns(pl.col("kept_boxes").fill_null(0).cast(pl.Int64))
    )
    return _decisions(
        candidates.group_by(TASK).agg(
            pl.col("annotation_id", "created_at", "source_file", "content_hash", "agreement", "consensus_regions")
            .sort_by(-pl.col("kept_boxes"), "created_at", *_id_order())
            .first(),
            pl.len().alias("n"),
        ),
        method=pl.lit("consensus"),
        decided_at="created_at",
        n_candidates="n",
        reason=pl.format("majority vote, agreement {}", pl.col("agreement").round(3)),
    )


def resolve(decisions: dict[str, pl.LazyFrame], ranks: pl.LazyFrame) -> pl.LazyFrame:
    """Per task, the decision of the highest-ranked rule (ranks: project_id, rule, rank) that decided it.

    An `unset` override decides "no GT" (annotation_id null): it wins over the rules below it.
    """
    ranked = pl.concat([d.with_columns(rule=pl.lit(rule)) for rule, d in decisions.items()]).join(
        ranks, on=["project_id", "rule"]
    )
    return ranked.group_by(TASK).agg(pl.all().sort_by("rank").first()).select(list(DECISION))


def conflicts(
    annotations: pl.LazyFrame,
    resolved: pl.LazyFrame,
    votes: pl.LazyFrame | None = None,
    rejected: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Tasks a person should look at: several GT flags (the rule chose one), consensus ties (no GT) and GT
    candidates that validation quarantined (`rejected`: the GT was decided without them; the conflict
    goes once a later export brings a valid version of the annotation).

    Returns project_id, task_id, chosen_annotation_id, candidate_annotation_ids, rule.
    """
    flagged = (
        eligible(annotations)
        .filter(pl.col("gt_flag"))
        .group_by(TASK)
        .agg(pl.col("annotation_id").sort_by("updated_at", *_id_order()).alias("candidate_annotation_ids"))
        .filter(pl.col("candidate_annotation_ids").list.len() > 1)
        .join(resolved.select(*TASK, pl.col("annotation_id").alias("chosen_annotation_id")), on=TASK, how="left")
        .with_columns(rule=pl.lit("several GT flags: the latest updated wins"))
    )
    parts = [flagged]
    if votes is not None:
        tied = (
            votes.filter("tied")
            .select(TASK)
            .unique()
            .join(resolved.filter(pl.col("annotation_id").is_not_null()), on=TASK, how="anti")
        )
        parts.append(
            tied.join(
                eligible(annotations)
                .group_by(TASK)
                .agg(pl.col("annotation_id").sort().alias("candidate_annotation_ids")),
                on=TASK,
            ).with_columns(
                chosen_annotation_id=pl.lit(None, pl.String), rule=pl.lit("consensus tie: no majority, for review")
            )
        )
    if rejected is not None:
        parts.append(
            rejected.join(annotations, on=ANNOTATION, how="anti")
            .group_by(TASK)
            .agg(
                pl.col("annotation_id").sort().alias("candidate_annotation_ids"),
                pl.format("GT candidate {} quarantined, {}", "annotation_id", "reason")
                .sort()
                .str.join("; ")
                .alias("rule"),
            )
            .join(resolved.select(*TASK, pl.col("annotation_id").alias("chosen_annotation_id")), on=TASK, how="left")
        )
    return pl.concat([p.select(*TASK, "chosen_annotation_id", "candidate_annotation_ids", "rule") for p in parts])
