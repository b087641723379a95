"""Ingest: export files -> the core tables (tasks, annotations, regions, reviews, history, label config,
quarantine) and the ledger of ingested files."""

import shutil
from datetime import UTC, datetime

import dagster as dg
import polars as pl
from pydantic import Field

from pipeline.assets.metadata import output_name, provenance, table_outs
from pipeline.assets.partitions import projects
from pipeline.checks.expectations import screening_check_results, screening_check_specs
from pipeline.contract import (
    ANNOTATIONS,
    LABEL_CONFIG,
    QUARANTINE,
    SOURCE_FILES,
)
from pipeline.ingest import ParsedExport, content_hash, expand_sources, read_export
from pipeline.ingest.merge import CoreState, replaced_task_data
from pipeline.resources import WarehouseResource
from pipeline.validation import screen


class IngestConfig(dg.Config):
    sources: list[str] = Field(
        default_factory=list,
        description="Export files or folders of exports, applied in this order; NAME=PATH puts the projects of PATH in a"
        " namespace (project 1 becomes NAME:1). Empty: the inbox folder.",
    )


# In the order they are committed: the ledger last.
INGESTED = (*CoreState.TABLES.values(), QUARANTINE, SOURCE_FILES)

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


@dg.multi_asset(outs=table_outs(*INGESTED), deps=[EXPORT_FILES], partitions_def=projects, check_specs=screening_check_specs())
def core_tables(context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource):
    """Read the project's new export files (by content hash) and fold them into the core tables.

    A file already ingested for this project (same bytes) is skipped, so re-ingesting changes nothing.
    Per task the newest snapshot wins. Unreadable records land in core.quarantine with file, locator and
    reason, and so does an annotation whose rows fail a critical expectation of the core.annotations or
    core.regions suite (validated before use: it never reaches GT or scoring); every record read is
    either accepted or quarantined. Only this project's rows change, and all
    core tables are replaced together or not at all.
    """
    project = context.partition_key
    store = warehouse.store()
    inbox = warehouse.inbox_path()
    try:
        sources = expand_sources(config.sources or ([inbox] if inbox.is_dir() else []))
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from exc

    ingested = store.scan_project(SOURCE_FILES, project).collect()
    seen = set(ingested["content_hash"].to_list())
    staging = store.staging_path(project, context.run_id)
    try:
        exports, skipped = [], 0
        for source in sources:
            path = source.path
            digest = content_hash(path)
            if digest in seen:
                context.log.info(f"{path}: already ingested for project {project} (sha256 {digest[:12]}), skipped")
                skipped += 1
                continue
            seen.add(digest)
            export = read_export(
                source,
                staging / str(len(exports)),
                progress=lambda n, path=path: context.log.info(f"{path}: {n:,} records read so far"),
                digest=digest,
            )
            if export.project_ids and project not in export.project_ids:
                context.log.info(f"{path}: holds projects {export.project_ids}, not {project}; left for their runs")
                continue
            exports.append(export)

        # Validate before use, each new file on its own: an annotation failing a critical expectation is quarantined.
        docs = warehouse.data_docs(project)
        screening = screen([e.frames for e in exports], store.scan_project(LABEL_CONFIG, project), docs, context.run_id)
        exports = [e.without(screening.rejected_from(e.content_hash)) for e in exports]
        for export in exports:
            path = export.source_file
            context.log.info(
                f"{path}: {export.format}, {export.records_read} records read = {export.records_accepted} accepted"
                f" + {export.records_quarantined} quarantined"
            )
            for notice in export.notices:
                context.log.warning(f"{path}: {notice}")
            for row in export.quarantine.head(20).iter_rows(named=True):
                context.log.warning(f"{path} {row['locator']}: {row['reason']}")

        # A file's quarantine and record counts belong to the run of its first project.
        owns = [project == (e.project_ids or [project])[0] for e in exports]
        current = CoreState.of(lambda table: store.scan_project(table, project))
        incoming = [e.frames.for_project(project) for e in exports]
        state = current.merge(incoming)
        other_data = replaced_task_data(current, incoming, state).collect()
        for row in other_data.head(20).iter_rows(named=True):
            context.log.warning(
                f"project {project}, task {row['task_id']}: {row['replaced_by']} replaces its snapshot from {row['source_file']},"
                " whose task data differs. Two exports that reuse project and task ids? Give each its namespace: --source NAME=PATH"
            )
        rows = [_file_row(e, project, context.run_id, owned) for e, owned in zip(exports, owns, strict=True)]
        new_files = pl.DataFrame(rows, schema=SOURCE_FILES.polars_schema)
        # A file's quarantine rows are those of its latest reading: a run killed before its ledger was written
        # reads the file again and quarantines the same records once.
        quarantine = [store.scan_project(QUARANTINE, project).filter(~pl.col("content_hash").is_in(new_files["content_hash"].implode()))]
        quarantine += [
            e.quarantine.lazy().with_columns(project_id=pl.coalesce("project_id", pl.lit(project)), run_id=pl.lit(context.run_id))
            for e, owned in zip(exports, owns, strict=True)
            if owned
        ]
        # The tables are replaced together, as they merge with their own previous rows: every file is written
        # before any commit, so a failure while writing changes nothing, and the ledger is committed last, so it
        # never vouches for a file whose rows are not in the tables. With no new file nothing is rewritten.
        if exports:
            store.write_project(
                project,
                {**state.tables(), QUARANTINE: pl.concat(quarantine), SOURCE_FILES: pl.concat([ingested, new_files])},
                run_id=context.run_id,
                views=False,  # the IO manager's, once the run is done
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    run_totals = {
        "files_ingested": len(exports),
        "files_skipped": skipped,
        "records_read": int(new_files["records_read"].sum()),
        "records_accepted": int(new_files["records_accepted"].sum()),
        "records_quarantined": int(new_files["records_quarantined"].sum()),
        "tasks_replaced_with_other_data": other_data.height,
    }
    context.log_event(
        dg.AssetObservation(
            asset_key=EXPORT_FILES.key,
            partition=project,
            metadata={"files": dg.MetadataValue.md(_files_markdown(new_files)), "files_given": len(sources), **run_totals},
        )
    )
    this_run = {"this_run": dg.MetadataValue.md(_files_markdown(new_files)), **run_totals}
    origins = dict(store.scan_project(ANNOTATIONS, project).group_by("origin").len().collect().iter_rows())
    extra = {SOURCE_FILES: this_run, ANNOTATIONS: origins, QUARANTINE: {"quarantined_this_run": run_totals["records_quarantined"]}}
    for table in INGESTED:  # written above: the IO manager describes them
        yield dg.Output(None, output_name(table), metadata=extra.get(table, {}))
    yield from screening_check_results(screening, project, docs)


def _file_row(export: ParsedExport, project: str, run_id: str, owned: bool) -> dict:
    counts = (export.records_read, export.records_accepted, export.records_quarantined) if owned else (0, 0, 0)
    return {
        "source_file": export.source_file,
        "content_hash": export.content_hash,
        "format": export.format,
        "project_id": project,
        "project_ids": export.project_ids,
        "records_read": counts[0],
        "records_accepted": counts[1],
        "records_quarantined": counts[2],
        "ingested_at": datetime.now(UTC),
        "run_id": run_id,
    }


def _files_markdown(files: pl.DataFrame) -> str:
    if files.is_empty():
        return "_no new file: every source was already ingested_"
    lines = ["| file | format | read | accepted | quarantined | sha256 |", "|---|---|---|---|---|---|"]
    for f in files.iter_rows(named=True):
        lines.append(
            f"| {f['source_file']} | {f['format']} | {f['records_read']} | {f['records_accepted']}"
            f" | {f['records_quarantined']} | {f['content_hash'][:12]} |"
        )
    return "\n".join(lines)
