"""The quality report: one self-contained HTML page per project, written after the quality tables."""

import dagster as dg

from pipeline.assets.incremental import RECOMPUTED
from pipeline.assets.metadata import asset_key, provenance
from pipeline.assets.partitions import projects
from pipeline.contract import PROJECT_AGREEMENT
from pipeline.report import People, report_tables, write_report
from pipeline.resources import ReportResource, WarehouseResource
from pipeline.warehouse import history_table

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
    store, project = warehouse.store(), context.partition_key
    read = (*report_tables(), history_table(PROJECT_AGREEMENT))
    digest = store.inputs_digest(project, read, [report.digest()])  # rendered again only when that changes
    people = People.read(report.people or None)
    path, figures, rendered = write_report(store, project, people, report.label_studio_url or None, digest)
    numbers = {name: float("nan") if value is None else value for name, value in figures.items()}
    return dg.MaterializeResult(metadata={PATH: dg.MetadataValue.path(str(path)), RECOMPUTED: rendered, **numbers})
