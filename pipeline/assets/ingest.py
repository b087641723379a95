"""Ingest: export files -> the core tables (tasks, annotations, regions, reviews, history, label config,
quarantine) and the ledger of ingested files."""

import shutil

import dagster as dg
from pydantic import Field

from pipeline import settings
from pipeline.assets.events import log_message
from pipeline.assets.metadata import output_name, provenance, table_outs
from pipeline.assets.partitions import projects
from pipeline.checks.expectations import screening_check_results, screening_check_specs
from pipeline.contract import ANNOTATIONS, QUARANTINE, SOURCE_FILES
from pipeline.ingest import expand_sources
from pipeline.ingest.merge import CoreState
from pipeline.resources import WarehouseResource
from pipeline.steps.ingest import INGESTED, RECORDS_QUARANTINED, ingest_new_files, origin_counts


class IngestConfig(dg.Config):
    sources: list[str] = Field(
        default_factory=list,
        description="Export files or folders of exports, applied in this order; NAME=PATH puts the projects of PATH in"
        " a namespace (project 1 becomes NAME:1). Empty: the inbox folder.",
    )


# The labeling tools' export files: made outside gtq, so lineage in the UI starts at them. Each run records
# the files it was given as an observation of this asset (paths, formats and content hashes).
EXPORT_FILES = dg.AssetSpec(
    key=["exports", "export_files"],
    description="Export files of the labeling tools (Label Studio JSON/JSON-MIN/CSV, Scout CSVs, COCO JSON), made"
    " outside gtq: each run observes the files it was given, with their content hashes.",
    group_name="exports",
    kinds={"json", "csv"},
    partitions_def=projects,
    **provenance("exports"),
)


@dg.multi_asset(
    outs=table_outs(*INGESTED),
    deps=[EXPORT_FILES],
    partitions_def=projects,
    check_specs=screening_check_specs(),
)
def core_tables(context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource):
    """Read the project's new export files (by content hash) and fold them into the core tables.

    A file already ingested for this project (same bytes) is skipped, so re-ingesting changes nothing.
    Per task the newest snapshot wins. Unreadable records land in core.quarantine with file, locator and
    reason, and so does an annotation whose rows fail a critical expectation of the core.annotations or
    core.regions suite (validated before use: it never reaches GT or scoring); every record read is
    either accepted or quarantined. Only this project's rows change, and all
    core tables are replaced together or not at all (`steps.ingest.ingest_new_files`).
    """
    project, store = context.partition_key, warehouse.store()
    inbox = warehouse.inbox_path()
    try:
        sources = expand_sources(config.sources or ([inbox] if inbox.is_dir() else []))
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from exc

    docs = warehouse.data_docs(project)
    ingested = store.scan_project(SOURCE_FILES, project).collect()
    staging = store.staging_path(project, context.run_id)
    try:
        result = ingest_new_files(
            project,
            sources,
            ingested=ingested,
            current=CoreState.of(lambda table: store.scan_project(table, project)),
            quarantine=store.scan_project(QUARANTINE, project),
            staging=staging,
            docs=docs,
            run_id=context.run_id,
            known_files=settings.known_files(warehouse.root),
            log=lambda message: log_message(context, message),
        )
        # Every file is written before any commit, so a failure while writing changes nothing, and the ledger
        # is committed last. The parsed exports in `staging` are read while writing.
        if result.tables:
            store.write_project(project, result.tables, run_id=context.run_id, views=False)  # views: the IO manager's
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    totals, files = result.totals, dg.MetadataValue.md(result.files_markdown)
    observed = {"files": files, "files_given": result.files_given, **totals}
    context.log_event(dg.AssetObservation(asset_key=EXPORT_FILES.key, partition=project, metadata=observed))
    extra = {
        SOURCE_FILES: {"this_run": files, **totals},
        ANNOTATIONS: origin_counts(store.scan_project(ANNOTATIONS, project)),
        QUARANTINE: {"quarantined_this_run": totals[RECORDS_QUARANTINED]},
    }
    for table in INGESTED:  # written above: the IO manager describes them
        yield dg.Output(None, output_name(table), metadata=extra.get(table, {}))
    yield from screening_check_results(result.screening, project, docs)
