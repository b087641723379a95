"""The quality report: one self-contained HTML page per project, written after the quality tables."""

import dagster as dg

from pipeline.assets.metadata import asset_key, provenance
from pipeline.assets.partitions import projects
from pipeline.report import People, report_tables, write_report
from pipeline.resources import ReportResource, WarehouseResource

REPORT = dg.AssetKey(["reports", "quality_report"])
PATH = "path"  # the metadata entry of the report's file, which `gtq run` prints


@dg.asset(
    key=REPORT,
    deps=[asset_key(t) for t in report_tables()],
    partitions_def=projects,
    group_name="reports",
    kinds={"html", "plotly"},
    **provenance("reports"),
)
def quality_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, report: ReportResource
) -> dg.MaterializeResult:
    """The project's quality report for its labeling lead: annotators, agreement, per-label F1, confusion
    matrices, models against GT, GT versions, the review queue and accuracy over time, in one HTML file
    that opens without a network (`reports/<project>.html`). Its metadata holds the headline numbers, so
    the asset page plots them run after run."""
    people = People.read(report.people or None)
    path, figures = write_report(warehouse.store(), context.partition_key, people, report.label_studio_url or None)
    numbers = {name: float("nan") if value is None else value for name, value in figures.items()}
    return dg.MaterializeResult(metadata={PATH: dg.MetadataValue.path(str(path)), **numbers})
