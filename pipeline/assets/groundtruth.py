"""Ground truth: core tables + policy + overrides -> per-project GT versions (frozen content), core.ground_truth, history, conflicts."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview, output_name, table_ins, table_outs
from pipeline.assets.partitions import projects
from pipeline.contract import (
    ANNOTATIONS,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    LABEL_CONFIG,
    QUARANTINE,
    REGIONS,
    REVIEWS,
    SOURCE_FILES,
    TASKS,
)
from pipeline.groundtruth import item_scoped_projects, resolve_ground_truth, versioning
from pipeline.groundtruth.checks import PROBLEMS, violations
from pipeline.groundtruth.policy import load_overrides
from pipeline.ingest import content_hash
from pipeline.resources import GroundTruthPolicyResource, WarehouseResource

PUBLISHABLE = dg.AssetCheckSpec(
    "publishable_ground_truth",
    asset=asset_key(GROUND_TRUTH),
    description="The candidate GT version meets expectations/core.ground_truth.json (one GT per task, each a submitted"
    " human annotation of its task) and its regions are sound. When it fails, the version is not published,"
    " core.ground_truth is not materialized, and everything downstream is skipped (not failed).",
)


CHANGE_KINDS = ("set", "replaced", "unset", "edited")


@dg.multi_asset(
    outs=table_outs(GROUND_TRUTH, GROUND_TRUTH_HISTORY, GROUND_TRUTH_CONFLICTS, optional=(GROUND_TRUTH,)),
    ins=table_ins(SOURCE_FILES, TASKS, ANNOTATIONS, REGIONS, REVIEWS, LABEL_CONFIG, QUARANTINE),
    partitions_def=projects,
    check_specs=[PUBLISHABLE],
)
def ground_truth(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    groundtruth: GroundTruthPolicyResource,
    source_files: pl.LazyFrame,
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    reviews: pl.LazyFrame,
    label_config: pl.LazyFrame,
    quarantine: pl.LazyFrame,
):
    """Resolve one GT per task of the project under its policy; publish the project's next GT version
    when, and only when, any task's GT changed (another annotation, or what the GT annotation says) and
    the new snapshot passes the publication check.

    A version is content, frozen in `projects/<project>/ground_truth/<version>/` (the GT regions, tasks,
    annotations, labeling config, COCO categories and changes) and never changed afterwards. Versions
    count 0, 1, 2, ... per project. core.ground_truth_history is derived from the versions' changes (set,
    replaced, unset, edited) with who or what decided each, its run, file and validity period.
    """
    project, store = context.partition_key, warehouse.store()
    policy = groundtruth.policy()
    overrides_path = groundtruth.overrides_path
    overrides_hash = content_hash(overrides_path) if overrides_path.exists() else ""
    formats = set(source_files.select("format").collect()["format"])
    # Tasks and annotations are read once (resolution, versioning and the publication check all look at
    # them); regions, the largest table, stay a scan, so only the GT's own regions are held in memory.
    tasks, annotations = tasks.collect(), annotations.collect()
    resolution = resolve_ground_truth(
        tasks=tasks.lazy(),
        annotations=annotations.lazy(),
        regions=regions,
        reviews=reviews,
        overrides=load_overrides(overrides_path).lazy().filter(pl.col("project_id") == project),
        overrides_file=(str(overrides_path), overrides_hash),
        policy=policy,
        item_scoped=item_scoped_projects(policy, {project: formats}),
        rejected=quarantine.filter(pl.col("gt_candidate")),
    )

    previous = store.read_gt_version(project)
    candidate = versioning.next_version(
        previous,
        decided=resolution.decided,
        ground_truth=resolution.ground_truth,
        tasks=tasks,
        annotations=annotations,
        regions=regions,
        label_config=label_config.collect(),
        at=datetime.now(UTC),
        run_id=context.run_id,
        splits=policy.for_project(project).splits,
        split_seed=policy.for_project(project).split_seed,
        reverts=resolution.reverts,
    )
    problems = violations(candidate.ground_truth.lazy(), annotations.lazy(), regions) if candidate else pl.DataFrame(schema=PROBLEMS)
    published = candidate if candidate is not None and problems.is_empty() else None
    if published:
        sources = sorted(set(published.changes["source_file"].drop_nulls()))
        schema = versioning.schema_changes(previous.label_config, published.label_config) if previous else []
        info = {"run_id": context.run_id, "changes": published.changes.height, "schema_changes": schema, "sources": sources}
        store.publish_gt_version(project, published, info)
        context.log.info(f"ground truth version {published.version} of project {project}: {published.changes.height} change(s)")
    elif candidate:
        context.log.error(
            f"ground truth of project {project} not published: {problems.height} problem(s); version stays {previous.version if previous else 'none yet'}"
        )
    current = published or previous
    changes = published.changes if published else GROUND_TRUTH_HISTORY.empty()

    yield dg.AssetCheckResult(
        check_name=PUBLISHABLE.name,
        asset_key=PUBLISHABLE.asset_key,
        passed=problems.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": problems.height, "examples": dg.MetadataValue.md(markdown_preview(problems, cell_width=None))},
    )
    yield dg.Output(versioning.history(store.gt_changes(project)), output_name(GROUND_TRUTH_HISTORY))
    yield dg.Output(resolution.conflicts, output_name(GROUND_TRUTH_CONFLICTS))
    if not problems.is_empty():
        return  # core.ground_truth unmaterialized: the steps that read it are skipped
    rows = current.ground_truth.with_columns(gt_version=pl.lit(current.version, pl.Int64)) if current else GROUND_TRUTH.empty()
    counts = dict(changes.group_by("change").len().iter_rows())
    methods = dict(rows.group_by("method").len().iter_rows())
    yield dg.Output(
        rows,
        output_name(GROUND_TRUTH),
        metadata={
            "gt_version": current.version if current else -1,
            "changes": changes.height,
            "gt_version_path": dg.MetadataValue.path(str(store.gt_version_path(project, current.version))) if current else "none",
            **{f"changes_{kind}": counts.get(kind, 0) for kind in CHANGE_KINDS},
            **{f"method_{method}": n for method, n in methods.items()},
            "confirmed_empty": int(rows["confirmed_empty"].sum()),
        },
    )
