"""GT versions as content. Pure: no storage.

A version of a project's GT is what the GT said when it was published, frozen: per task the GT row (which
annotation, how and by whom it was decided), the regions that make up the GT (labels, geometry, values),
the task and annotation rows exports need, the labeling config in force, the COCO category ids and the
changes the version made. A newer export or rule can never alter a published version.

A change is `set` (the task had no GT), `replaced` (another annotation is now GT), `unset` (the task lost
its GT; the annotation itself stays in core.annotations) or `edited` (the same annotation, but what it
says changed in a newer export). Tasks with no change keep their previous row, including the version that
set it, so an unchanged input produces no version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from datetime import datetime

import polars as pl

from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, GROUND_TRUTH_HISTORY, LABEL_CONFIG, TASKS, Table
from pipeline.groundtruth import ground_truth_regions
from pipeline.groundtruth.policy import DEFAULT_SPLITS
from pipeline.vocabulary import ANNOTATION, BOX_TYPES, TASK

_WHO = ["method", "decided_by", "reason", "source_file", "content_hash"]
# What a region says: the parsed columns. Provenance (file, hash), positions in the export and the raw JSON's
# spacing and key order are not content; the raw value counts only for types gtq does not parse (brushes, ...).
_CONTENT = [
    "control",
    "to_name",
    "type",
    "labels",
    "x",
    "y",
    "width",
    "height",
    "rotation",
    "points",
    "start",
    "end",
    "text",
    "number",
    "original_width",
    "original_height",
    "parent_id",
    "coordinate_unit",
    "scorable",
]
_UNPARSED_VALUE = (
    pl.when(pl.col("scorable").fill_null(True)).then(None).otherwise(pl.col("value_json")).alias("unparsed_value")
)
# A version's GT rows: core.ground_truth without the version the table holds (the folder's name says it).
SNAPSHOT = Table(
    "core",
    "ground_truth",
    {c: t for c, t in GROUND_TRUTH.columns.items() if c != "gt_version"},
    GROUND_TRUTH.description,
)
CATEGORIES = pl.Schema({"label": pl.String, "category_id": pl.Int64})


@dataclass(frozen=True)
class GroundTruthVersion:
    """Version `version` of one project's GT. Every part is a frame, stored as one Parquet file each."""

    version: int
    ground_truth: pl.DataFrame  # core.ground_truth rows: one per task
    regions: pl.DataFrame  # the GT's regions: core.ground_truth columns joined with core.regions columns
    tasks: pl.DataFrame  # core.tasks rows of the GT tasks, with image_width and image_height (pixels, from any region)
    annotations: pl.DataFrame  # core.annotations rows of the GT annotations
    label_config: pl.DataFrame  # the project's labeling config in force
    categories: pl.DataFrame  # label -> COCO category id, stable across versions
    changes: pl.DataFrame  # core.ground_truth_history rows this version opened (valid_to null)

    @classmethod
    def parts(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "version"]

    def only_split(self, split: str) -> GroundTruthVersion:
        """The version restricted to the tasks of one split (train, validation, test, ...); LookupError naming the
        version's splits when none of its tasks is in `split`."""
        if split not in (splits := sorted(self.ground_truth["split"].drop_nulls().unique())):
            raise LookupError(
                f"GT version {self.version} has no task in split {split!r} (its splits: {', '.join(splits) or 'none'})"
            )
        tasks = self.ground_truth.filter(pl.col("split") == split).select(TASK)
        return replace(
            self,
            **{
                part: getattr(self, part).join(tasks, on=TASK, how="semi")
                for part in ("ground_truth", "regions", "tasks", "changes")
            },
        )


def diff(
    previous: pl.DataFrame, decided: pl.DataFrame, tasks: pl.DataFrame, reverts: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Changes of annotation from the previous GT rows to the decided ones, one row per changed task.

    `decided` may hold rows with a null annotation_id (an override that unset the GT). Returns
    project_id, task_id, annotation_id (null for unset), previous_annotation_id, change, and who or what
    decided it: method, decided_by, reason, source_file, content_hash. A task that lost its GT without a
    decision (a newer export without the flag) is attributed to the rule under which it had its GT and
    to the export that brought the task's current state. A task whose previous GT an override decided and
    whose latest override entry is a revert (`reverts`, `rules.by_revert`) changed because the revert
    withdrew that override: the change is the revert's, with its author and reason.
    """
    before = previous.select(
        *TASK, pl.col("annotation_id").alias("previous_annotation_id"), pl.col("method").alias("previous_method")
    )
    after = decided.select(*TASK, "annotation_id", *_WHO)
    current = tasks.select(
        *TASK, pl.col("source_file").alias("task_source_file"), pl.col("content_hash").alias("task_content_hash")
    )
    withdrawn = (
        reverts if reverts is not None else pl.DataFrame(schema=dict.fromkeys([*TASK, *_WHO], pl.String))
    ).select(*TASK, *[pl.col(c).alias(f"revert_{c}") for c in _WHO])
    by_revert = (pl.col("previous_method") == "override") & pl.col("revert_method").is_not_null()
    return (
        before.join(after, on=TASK, how="full", coalesce=True)
        .filter(pl.col("annotation_id").ne_missing(pl.col("previous_annotation_id")))
        .join(current, on=TASK, how="left")
        .join(withdrawn, on=TASK, how="left")
        .with_columns(pl.when(by_revert).then(pl.col(f"revert_{c}")).otherwise(pl.col(c)).alias(c) for c in _WHO)
        .with_columns(
            method=pl.coalesce("method", "previous_method"),
            source_file=pl.coalesce("source_file", "task_source_file"),
            content_hash=pl.coalesce("content_hash", "task_content_hash"),
            change=pl.when(pl.col("previous_annotation_id").is_null())
            .then(pl.lit("set"))
            .when(pl.col("annotation_id").is_null())
            .then(pl.lit("unset"))
            .otherwise(pl.lit("replaced")),
        )
        .select(*TASK, "annotation_id", "previous_annotation_id", "change", *_WHO)
        .sort(TASK)
    )


def edits(previous: GroundTruthVersion, ground_truth: pl.DataFrame, regions: pl.DataFrame) -> pl.DataFrame:
    """Tasks whose GT is still the same annotation but whose GT regions now say something else.

    `regions` are the GT regions as they are now (`ground_truth_regions`). Returns the changes, shaped as `diff`'s.
    """
    same = ground_truth.join(previous.ground_truth.select(ANNOTATION), on=ANNOTATION, how="semi")
    then, now = fingerprints(previous.regions), fingerprints(regions)
    edited = (
        same.join(then, on=TASK, how="left")
        .join(now, on=TASK, how="left", suffix="_now")
        .filter(pl.col("fingerprint").ne_missing(pl.col("fingerprint_now")))
    )
    return edited.select(
        *TASK,
        "annotation_id",
        pl.col("annotation_id").alias("previous_annotation_id"),
        pl.lit("edited").alias("change"),
        *_WHO,
    )


def fingerprints(regions: pl.DataFrame) -> pl.DataFrame:
    """project_id, task_id, fingerprint: everything a task's GT regions say, as the sorted list of their rows'
    JSON text (a list: cheaper to build and compare than one string joined from them)."""
    rows = regions.select(*TASK, pl.struct(*_CONTENT, _UNPARSED_VALUE).struct.json_encode().alias("row"))
    return rows.group_by(TASK).agg(pl.col("row").sort().alias("fingerprint"))


def next_version(
    previous: GroundTruthVersion | None,
    *,
    decided: pl.DataFrame,
    ground_truth: pl.DataFrame,
    tasks: pl.DataFrame,
    annotations: pl.DataFrame,
    regions: pl.LazyFrame,
    label_config: pl.DataFrame,
    at: datetime,
    run_id: str,
    splits: dict[str, float] = DEFAULT_SPLITS,
    split_seed: str = "gtq",
    reverts: pl.DataFrame | None = None,
) -> GroundTruthVersion | None:
    """The version the fresh resolution makes, or None when no task's GT changed.

    `decided` and `ground_truth` come from `resolve_ground_truth`; the other frames are the project's current core
    tables (`regions` a scan: only the GT's regions are read into memory). Changed tasks take their new row stamped
    with the new version; the others keep theirs. A task keeps the split it had in the previous version; a new one
    gets `split_of`'s. `reverts` (`Resolution.reverts`) credit the changes a revert brought to its author (`diff`)."""
    before = previous.ground_truth if previous else SNAPSHOT.empty()
    changes = diff(before, decided, tasks, reverts)
    if previous is not None:
        current = ground_truth_regions(ground_truth.lazy(), regions).collect()
        changes = pl.concat([changes, edits(previous, ground_truth, current)]).unique(TASK, keep="first").sort(TASK)
    if changes.is_empty() and not (previous and schema_changes(previous.label_config, label_config)):
        return None
    version = 0 if previous is None else previous.version + 1
    changed = changes.select(TASK)
    snapshot = pl.concat(
        [
            SNAPSHOT.conform(before.join(changed, on=TASK, how="anti")),
            SNAPSHOT.conform(
                with_splits(ground_truth.join(changed, on=TASK, how="semi"), before, splits, split_seed).with_columns(
                    version=pl.lit(version, pl.Int64)
                )
            ),
        ]
    ).sort(TASK)
    content = (
        ground_truth_regions(snapshot.lazy(), regions).collect().sort(*TASK, "item_index", "region_id", nulls_last=True)
    )
    gt_annotations = annotations.join(
        snapshot.select("project_id", pl.col("source_task_id").alias("task_id"), "annotation_id"),
        on=ANNOTATION,
        how="semi",
    )
    return GroundTruthVersion(
        version=version,
        ground_truth=snapshot,
        regions=content,
        tasks=_with_image_size(
            TASKS.conform(tasks.join(snapshot.select(TASK), on=TASK, how="semi")), snapshot, regions
        ).sort(TASK),
        annotations=ANNOTATIONS.conform(gt_annotations).sort(*TASK, "annotation_id"),
        label_config=LABEL_CONFIG.conform(label_config).sort("control"),
        categories=next_categories(
            previous.categories if previous else pl.DataFrame(schema=CATEGORIES), label_config, content
        ),
        changes=GROUND_TRUTH_HISTORY.conform(
            changes.with_columns(
                version=pl.lit(version, pl.Int64), valid_from=pl.lit(at), valid_to=pl.lit(None), run_id=pl.lit(run_id)
            )
        ),
    )


def with_splits(rows: pl.DataFrame, previous: pl.DataFrame, shares: dict[str, float], seed: str) -> pl.DataFrame:
    """`rows` with a `split`: the task's split in `previous` when it had one, else `split_of`'s."""
    kept = rows.drop("split", strict=False).join(previous.select(*TASK, "split"), on=TASK, how="left")
    new = kept.filter(pl.col("split").is_null()).select(TASK)
    fresh = new.with_columns(
        _fresh=pl.Series([split_of(p, t, shares, seed) for p, t in new.iter_rows()], dtype=pl.String)
    )
    return kept.join(fresh, on=TASK, how="left").with_columns(split=pl.coalesce("split", "_fresh")).drop("_fresh")


def split_of(project_id: str, task_id: str, shares: dict[str, float], seed: str) -> str:
    """The split of a task: a point in [0, 1) from SHA-256 of seed, project and task id, placed on the
    cumulative shares (in the order given). The same task gets the same split on any machine, forever;
    a share of 0 gets no task."""
    digest = hashlib.sha256(f"{seed}\0{project_id}\0{task_id}".encode()).digest()
    point, upper = int.from_bytes(digest[:8], "big") / 2**64, 0.0
    for name, share in shares.items():
        upper += share
        if point < upper:
            return name
    return next(name for name, share in reversed(shares.items()) if share > 0)  # rounding at the top end


def _with_image_size(tasks: pl.DataFrame, snapshot: pl.DataFrame, regions: pl.LazyFrame) -> pl.DataFrame:
    """An image's size is on any region of its task, not only on the GT's (a confirmed empty has none)."""
    sources = snapshot.lazy().select("project_id", pl.col("source_task_id").alias("task_id")).unique()
    sizes = (
        regions.join(sources, on=TASK, how="semi")
        .group_by("project_id", pl.col("task_id").alias("source_task_id"))
        .agg(pl.col("original_width").max().alias("image_width"), pl.col("original_height").max().alias("image_height"))
        .collect()
    )
    by_task = (
        snapshot.select(*TASK, "source_task_id")
        .join(sizes, on=["project_id", "source_task_id"], how="left")
        .drop("source_task_id")
    )
    return tasks.join(by_task, on=TASK, how="left")


def schema_changes(before: pl.DataFrame, after: pl.DataFrame) -> list[str]:
    """What changed in the labeling config, in words: controls and labels added or removed, scales changed.
    A label renamed shows as one removed and one added."""

    def described(config: pl.DataFrame) -> dict[str, tuple]:
        return {
            r["control"]: (r["type"], r["allowed_labels"] or [], r["min_value"], r["max_value"])
            for r in config.iter_rows(named=True)
        }

    old, new = described(before), described(after)
    notes = [f"control {c} added" for c in new.keys() - old.keys()] + [
        f"control {c} removed" for c in old.keys() - new.keys()
    ]
    for control in sorted(old.keys() & new.keys()):
        (old_type, old_labels, *old_scale), (new_type, new_labels, *new_scale) = old[control], new[control]
        notes += [f"control {control}: label {label!r} added" for label in new_labels if label not in old_labels]
        notes += [f"control {control}: label {label!r} removed" for label in old_labels if label not in new_labels]
        if old_type != new_type or old_scale != new_scale:
            notes.append(f"control {control}: {old_type} {old_scale} became {new_type} {new_scale}")
    return sorted(notes)


def next_categories(previous: pl.DataFrame, label_config: pl.DataFrame, regions: pl.DataFrame) -> pl.DataFrame:
    """COCO category ids (box labels) that never move: the previous version's, then new labels after them,
    in the order of the labeling config when there is one, else sorted by name."""
    from_config = (
        label_config.filter(pl.col("type").is_in(BOX_TYPES)).explode("allowed_labels")["allowed_labels"].drop_nulls()
    )
    from_regions = (
        regions.filter(pl.col("type").is_in(BOX_TYPES))
        .select(pl.col("labels").list.first())
        .to_series()
        .drop_nulls()
        .unique()
        .sort()
    )
    known = set(previous["label"])
    new = [label for label in dict.fromkeys([*from_config, *from_regions]) if label not in known]
    start = int(previous["category_id"].max() or 0) + 1
    added = pl.DataFrame({"label": new, "category_id": range(start, start + len(new))}, schema=CATEGORIES)
    return pl.concat([previous, added])


def history(changes: list[pl.DataFrame]) -> pl.DataFrame:
    """core.ground_truth_history from every version's changes: each change is valid until the task's next."""
    rows = pl.concat([GROUND_TRUTH_HISTORY.empty(), *changes]).sort(*TASK, "version")
    return rows.with_columns(valid_to=pl.col("valid_from").shift(-1).over(TASK))
