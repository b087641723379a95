"""Ground truth: core tables + policy + overrides -> core.ground_truth (versioned in Delta), history, conflicts."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview, table_result, table_spec
from pipeline.contract import (
    ANNOTATIONS,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    REGIONS,
    REVIEWS,
    SOURCE_FILES,
    TASKS,
)
from pipeline.groundtruth import item_scoped_projects, resolve_ground_truth, versioning
from pipeline.groundtruth.checks import violations
from pipeline.groundtruth.policy import load_overrides
from pipeline.ingest import content_hash
from pipeline.resources import GroundTruthPolicyResource, WarehouseResource

PUBLISHABLE = dg.AssetCheckSpec(
    "publishable_ground_truth",
    asset=asset_key(GROUND_TRUTH),
    blocking=True,
    description="One GT per task, each a submitted human annotation whose regions pass validation;"
    " when this fails, the new GT version is not published and nothing downstream runs.",
)


@dg.multi_asset(
    specs=[
        table_spec(GROUND_TRUTH, deps=[ANNOTATIONS, TASKS, REGIONS, REVIEWS], extra_kinds=("delta",)),
        table_spec(GROUND_TRUTH_HISTORY, deps=[ANNOTATIONS, TASKS]),
        table_spec(GROUND_TRUTH_CONFLICTS, deps=[ANNOTATIONS]),
    ],
    check_specs=[PUBLISHABLE],
)
def ground_truth(context: dg.AssetExecutionContext, warehouse: WarehouseResource, groundtruth: GroundTruthPolicyResource):
    """Resolve one GT per task of the project under its policy; publish a new GT version when, and only
    when, any task's GT changed and the project's new snapshot passes the publication check.

    The GT dataset is a Delta table (`delta/core/ground_truth`): each publishing run commits one version,
    readable later with `pl.read_delta(path, version=N)`. core.ground_truth_history records every change
    (set, replaced, unset) with who or what decided it, its run, file and validity period.
    """
    project, store = context.partition_key, warehouse.store()
    policy = groundtruth.policy()
    overrides_path = groundtruth.overrides_path
    overrides_hash = content_hash(overrides_path) if overrides_path.exists() else ""
    formats = set(store.scan_project(SOURCE_FILES, project).select("format").collect()["format"])
    tasks = store.scan_project(TASKS, project)
    annotations, regions = store.scan_project(ANNOTATIONS, project), store.scan_project(REGIONS, project)
    resolution = resolve_ground_truth(
        tasks=tasks,
        annotations=annotations,
        regions=regions,
        reviews=store.scan_project(REVIEWS, project),
        overrides=load_overrides(overrides_path).lazy().filter(pl.col("project_id") == project),
        overrides_file=(str(overrides_path), overrides_hash),
        policy=policy,
        item_scoped=item_scoped_projects(policy, {project: formats}),
    )

    published = store.read_version(GROUND_TRUTH)
    previous = published.filter(pl.col("project_id") == project)
    latest = store.delta_version(GROUND_TRUTH)
    changes = versioning.diff(previous, resolution.decided, tasks.collect())
    version = latest if changes.is_empty() else (0 if latest is None else latest + 1)
    snapshot = previous if changes.is_empty() else versioning.next_snapshot(previous, resolution.ground_truth, changes, version)
    problems = violations(snapshot.lazy(), annotations, regions)
    history = store.read(GROUND_TRUTH_HISTORY)
    if not problems.is_empty():
        context.log.error(f"ground truth of project {project} not published: {problems.height} problem(s); version stays {latest}")
        snapshot, changes, version = previous, changes.clear(), latest
    elif not changes.is_empty():
        dataset = pl.concat([published.filter(pl.col("project_id") != project), snapshot]).sort("project_id", "task_id")
        committed = store.commit_version(GROUND_TRUTH, dataset, {"run_id": context.run_id, "project_id": project, "changes": str(changes.height)})
        if committed != version:  # another writer committed in between: our version numbers are wrong
            raise dg.Failure(f"ground truth committed as version {committed}, expected {version}")
        history = versioning.next_history(history, changes, version=version, at=datetime.now(UTC), run_id=context.run_id)
        context.log.info(f"ground truth version {version}: {changes.height} changes in project {project}")

    counts = dict(changes.group_by("change").len().iter_rows())
    written = store.write_many(
        {
            GROUND_TRUTH: store.with_project(GROUND_TRUTH, project, snapshot),
            GROUND_TRUTH_HISTORY: history,
            GROUND_TRUTH_CONFLICTS: store.with_project(GROUND_TRUTH_CONFLICTS, project, resolution.conflicts),
        }
    )
    methods = dict(snapshot.group_by("method").len().iter_rows())
    of_project = pl.col("project_id") == project
    yield table_result(
        GROUND_TRUTH,
        written[GROUND_TRUTH].filter(of_project),
        gt_version=-1 if version is None else version,
        changes=changes.height,
        delta_table=dg.MetadataValue.path(str(store.delta_path(GROUND_TRUTH))),
        **{f"changes_{kind}": counts.get(kind, 0) for kind in ("set", "replaced", "unset")},
        **{f"method_{method}": n for method, n in methods.items()},
        confirmed_empty=int(snapshot["confirmed_empty"].sum()),
    )
    yield table_result(GROUND_TRUTH_HISTORY, written[GROUND_TRUTH_HISTORY].filter(of_project))
    yield table_result(GROUND_TRUTH_CONFLICTS, written[GROUND_TRUTH_CONFLICTS].filter(of_project))
    yield dg.AssetCheckResult(
        check_name=PUBLISHABLE.name,
        asset_key=PUBLISHABLE.asset_key,
        passed=problems.is_empty(),
        metadata={"problems": problems.height, "examples": dg.MetadataValue.md(markdown_preview(problems))},
    )
