"""Ground truth: core tables + policy + overrides -> per-project GT versions (frozen content), core.ground_truth,
history, conflicts."""

import dagster as dg
import polars as pl

from pipeline.assets.events import log_messages
from pipeline.assets.incremental import when_inputs_change
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
from pipeline.groundtruth.policy import load_overrides
from pipeline.ingest import content_hash
from pipeline.resources import GroundTruthPolicyResource, WarehouseResource
from pipeline.steps.groundtruth import figures, next_ground_truth
from pipeline.warehouse import Warehouse

EXAMPLES = "examples"  # the check's metadata entry of the problem rows, which `gtq run` prints when it fails
PUBLISHABLE = dg.AssetCheckSpec(
    "publishable_ground_truth",
    asset=asset_key(GROUND_TRUTH),
    description="The candidate GT version meets expectations/core.ground_truth.json (one GT per task, each a submitted"
    " human annotation of its task) and its regions are sound. When it fails, the version is not published,"
    " core.ground_truth is not materialized, and everything downstream is skipped (not failed).",
)


@dg.multi_asset(
    outs=table_outs(GROUND_TRUTH, GROUND_TRUTH_HISTORY, GROUND_TRUTH_CONFLICTS, optional=(GROUND_TRUTH,)),
    ins=table_ins(SOURCE_FILES, TASKS, ANNOTATIONS, REGIONS, REVIEWS, LABEL_CONFIG, QUARANTINE),
    partitions_def=projects,
    check_specs=[PUBLISHABLE],
)
@when_inputs_change(described=lambda store, project: {GROUND_TRUTH: _figures(store, project)})
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
    replaced, unset, edited) with who or what decided each, its run, file and validity period
    (`steps.groundtruth.next_ground_truth`).
    """
    project, store = context.partition_key, warehouse.store()
    policy, overrides_path = groundtruth.policy(), groundtruth.overrides_path
    overrides_hash = content_hash(overrides_path) if overrides_path.exists() else ""
    step = next_ground_truth(
        project,
        policy,
        overrides=load_overrides(overrides_path),
        overrides_file=(str(overrides_path), overrides_hash),
        source_files=source_files,
        tasks=tasks,
        annotations=annotations,
        regions=regions,
        reviews=reviews,
        label_config=label_config,
        quarantine=quarantine,
        previous=store.read_gt_version(project),
        published_changes=store.gt_changes(project),
        run_id=context.run_id,
    )
    if step.published:
        store.publish_gt_version(project, step.published, step.info)
    log_messages(context, step.messages)

    examples = dg.MetadataValue.md(markdown_preview(step.problems, cell_width=None))
    yield dg.AssetCheckResult(
        check_name=PUBLISHABLE.name,
        asset_key=PUBLISHABLE.asset_key,
        passed=step.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": step.problems.height, EXAMPLES: examples},
    )
    yield dg.Output(step.history, output_name(GROUND_TRUTH_HISTORY))
    yield dg.Output(step.conflicts, output_name(GROUND_TRUTH_CONFLICTS))
    if not step.passed:
        return  # core.ground_truth unmaterialized: the steps that read it are skipped
    where = step.current and _version_path(store, project, step.current.version)
    yield dg.Output(step.ground_truth, output_name(GROUND_TRUTH), metadata=step.figures(gt_version_path=where))


def _figures(store: Warehouse, project: str) -> dict:
    """core.ground_truth's figures as they stand, when the step computed nothing: no change published."""
    versions = store.gt_versions(project)
    rows = store.scan_project(GROUND_TRUTH, project).select("method", "confirmed_empty").collect()
    version = versions[-1] if versions else None
    where = version is not None and _version_path(store, project, version)
    return figures(rows, version, GROUND_TRUTH_HISTORY.empty(), gt_version_path=where)


def _version_path(store: Warehouse, project: str, version: int) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(store.gt_version_path(project, version)))
