"""Checks on core.regions that need more than a fixed Great Expectations suite (the allowed labels
differ per project and control, and come from the labeling configs users supply)."""

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview
from pipeline.assets.partitions import projects
from pipeline.contract import LABEL_CONFIG, REGIONS
from pipeline.resources import WarehouseResource


def labels_outside_config(regions: pl.LazyFrame, label_config: pl.LazyFrame) -> pl.DataFrame:
    """Labels used on a control whose project config does not allow them, with how often.

    Controls (or projects) without a config are not judged. Returns project_id, control, label, n.
    """
    used = regions.select("project_id", "control", pl.col("labels").alias("label")).explode("label").drop_nulls("label")
    allowed = label_config.select("project_id", "control", pl.col("allowed_labels").alias("label")).explode("label")
    configured = label_config.select("project_id", "control").unique()
    return (
        used.join(configured, on=["project_id", "control"], how="semi")
        .join(allowed, on=["project_id", "control", "label"], how="anti")
        .group_by("project_id", "control", "label")
        .agg(pl.len().alias("n"))
        .sort("n", descending=True)
        .collect()
    )


@dg.asset_check(asset=asset_key(REGIONS), additional_deps=[asset_key(LABEL_CONFIG)], partitions_def=projects)
def labels_allowed_by_label_config(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every label used on a configured control is one its project's labeling config allows."""
    store, project = warehouse.store(), context.partition_key
    outside = labels_outside_config(store.scan_project(REGIONS, project), store.scan_project(LABEL_CONFIG, project))
    return dg.AssetCheckResult(
        passed=outside.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"labels_outside_config": outside.height, "examples": dg.MetadataValue.md(markdown_preview(outside))},
    )
