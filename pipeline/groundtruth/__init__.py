"""Ground truth: rules decide, the policy orders them, versioning records the changes. No Dagster.

`resolve_ground_truth` is the one function the pipeline calls: it runs every rule, applies each
project's precedence, adds what the GT table tells about each decision (verified, confirmed empty, the
item), and for projects whose GT belongs to the item (Scout) spreads an item's GT to every task that
holds the item.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.groundtruth import rules
from pipeline.groundtruth.policy import Policy
from pipeline.vocabulary import ANNOTATION, BOX_TYPES, TASK

ITEM_SCOPED_FORMATS = ("scout-annotations-csv", "scout-images-csv", "cvat-for-images")


@dataclass
class Resolution:
    decided: pl.DataFrame  # one row per decided task; annotation_id null where an override unset the GT
    conflicts: pl.DataFrame
    reverts: (
        pl.DataFrame
    )  # rules.by_revert: who withdrew a task's override, and why (versioning credits them with the change)

    @property
    def ground_truth(self) -> pl.DataFrame:
        return self.decided.filter(pl.col("annotation_id").is_not_null())


def item_scoped_projects(policy: Policy, project_formats: dict[str, set[str]]) -> list[str]:
    """Projects whose GT belongs to the item: `scope: item`, or `auto` for projects from Scout or CVAT exports."""
    return sorted(
        project
        for project, formats in project_formats.items()
        if (scope := policy.for_project(project).scope) == "item"
        or (scope == "auto" and formats & set(ITEM_SCOPED_FORMATS))
    )


def resolve_ground_truth(
    *,
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    reviews: pl.LazyFrame,
    overrides: pl.LazyFrame,
    overrides_file: tuple[str, str],
    policy: Policy,
    item_scoped: list[str],
    rejected: pl.LazyFrame | None = None,
) -> Resolution:
    """Decide every task's GT. `overrides_file` is the (path, content hash) the overrides came from;
    `rejected` are the GT candidates validation quarantined (project_id, task_id, annotation_id, reason)."""
    projects = tasks.select(pl.col("project_id").unique()).collect().to_series().to_list()
    consensus = policy.consensus_settings(projects)
    voting = not consensus.collect().is_empty()  # votes read every region: only where a project takes them
    votes = rules.consensus_votes(annotations, regions, consensus) if voting else None
    decisions = {
        "override": rules.by_override(overrides, *overrides_file),
        "flag": rules.by_flag(annotations),
        "review": rules.by_review(annotations, reviews),
        "annotator": rules.by_annotator(annotations, policy.trusted(projects)),
        **({"consensus": rules.by_consensus(annotations, regions, consensus, votes)} if voting else {}),
    }
    decided = rules.resolve(decisions, policy.rule_ranks(projects))
    with_regions = regions.select(ANNOTATION).unique().with_columns(_has_regions=pl.lit(True))
    described = (
        decided.join(tasks.select(*TASK, "item_key"), on=TASK, how="left")
        .join(annotations.select(*ANNOTATION, "annotator"), on=ANNOTATION, how="left")
        .join(with_regions, on=ANNOTATION, how="left")
        .with_columns(
            source_task_id=pl.col("task_id"),
            verified=pl.col("method").is_in(rules.VERIFIED_METHODS),
            confirmed_empty=pl.col("_has_regions").is_null(),  # a GT with no region at all
        )
        .drop("_has_regions")
    )
    by_name = [p for p in item_scoped if policy.for_project(p).item_match == "name"]
    item_rows, item_conflicts = _spread_over_items(described, tasks, item_scoped, by_name)
    task_rows = described.filter(~pl.col("project_id").is_in(item_scoped))
    conflicts = pl.concat([rules.conflicts(annotations, decided, votes, rejected), item_conflicts])
    # Together, so that the decisions both read (consensus votes over every region most of all) are made once.
    reverts = rules.by_revert(overrides, *overrides_file)
    return Resolution(*pl.collect_all([pl.concat([task_rows, item_rows], how="diagonal"), conflicts, reverts]))


def _spread_over_items(
    described: pl.LazyFrame, tasks: pl.LazyFrame, item_scoped: list[str], by_name: list[str]
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Scout: the GT decided for an item (in whichever task) is the GT of every task holding the item.
    In the `by_name` projects an item is the file name its item_key ends with (`item_name`), so that a Label
    Studio task and a CVAT frame of one image are one item.

    When tasks decided different annotations for one item, the latest decision wins and a conflict is
    recorded.
    """
    item = pl.when(pl.col("project_id").is_in(by_name)).then(item_name(pl.col("item_key"))).otherwise("item_key")
    scoped = described.filter(pl.col("project_id").is_in(item_scoped) & pl.col("annotation_id").is_not_null())
    per_item = (
        scoped.with_columns(_item=item)
        .group_by("project_id", "_item")
        .agg(
            pl.all().sort_by("decided_at", "task_id", nulls_last=False).last(),
            pl.col("annotation_id").unique().sort().alias("candidate_annotation_ids"),
        )
    )
    holders = tasks.filter(pl.col("project_id").is_in(item_scoped)).select(*TASK, "item_key", _item=item)
    rows = per_item.drop("task_id", "item_key", "candidate_annotation_ids").join(holders, on=["project_id", "_item"])
    item_conflicts = per_item.filter(pl.col("candidate_annotation_ids").list.len() > 1).select(
        *TASK,
        pl.col("annotation_id").alias("chosen_annotation_id"),
        "candidate_annotation_ids",
        pl.lit("item decided differently in several tasks: the latest decision wins").alias("rule"),
    )
    unsets = described.filter(pl.col("project_id").is_in(item_scoped) & pl.col("annotation_id").is_null())
    return pl.concat([rows.select(described.collect_schema().names()), unsets]), item_conflicts


def item_name(item_key: pl.Expr) -> pl.Expr:
    """The file name an item key ends with: its last path component, without a URL's query or fragment, and
    without the `<8 hex digits>-` that Label Studio puts before the name of a file uploaded to it
    (`/data/upload/7/1a2b3c4d-IMG_001.jpg` is `IMG_001.jpg`, as is CVAT's `images/IMG_001.jpg`)."""
    name = item_key.str.replace(r"[?#].*$", "").str.extract(r"([^/\\]+)$")
    uploaded = item_key.str.contains(r"/data/upload/")
    return pl.when(uploaded).then(name.str.replace(r"^[0-9a-f]{8}-", "")).otherwise(name)


def ground_truth_regions(ground_truth: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """The regions that make up each GT: its annotation's regions, except that a consensus GT's boxes
    are the voted boxes listed in `consensus_regions` (taken from the annotations that drew them).

    Returns the GT columns (task_id is the task the GT applies to) joined with the region columns.
    """
    gt = ground_truth.drop("content_hash", "source_file")  # the regions' own provenance is kept
    by_source = regions.rename({"task_id": "source_task_id"})
    own = gt.join(by_source, on=["project_id", "source_task_id", "annotation_id"], how="left").filter(
        pl.col("consensus_regions").is_null() | ~pl.col("type").is_in(BOX_TYPES).fill_null(False)
    )
    voted = (
        gt.filter(pl.col("consensus_regions").is_not_null())
        .explode("consensus_regions")
        .drop_nulls("consensus_regions")
        .with_columns(
            pl.col("consensus_regions").struct.field("annotation_id").alias("_from"),
            pl.col("consensus_regions").struct.field("item_index"),
        )
        .join(by_source.rename({"annotation_id": "_from"}), on=["project_id", "source_task_id", "_from", "item_index"])
        .drop("_from")
    )
    return pl.concat([own.drop("consensus_regions"), voted.drop("consensus_regions")], how="diagonal")
