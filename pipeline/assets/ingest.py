"""Ingest: export files -> core.tasks, core.annotations, core.regions, core.quarantine, core.source_files."""


from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from pipeline.assets.metadata import table_result, table_spec
from pipeline.contract import ANNOTATIONS, QUARANTINE, REGIONS, SOURCE_FILES, TASKS
from pipeline.ingest import read_export
from pipeline.ingest.merge import CoreState
from pipeline.resources import WarehouseResource
from pipeline.sample import write_sample

SAMPLE_NAME = "label_studio_sample.json"


class IngestConfig(dg.Config):
    sources: list[str] = Field(
        default_factory=list,
        description="Export files or folders of exports, applied in this order. Empty: the bundled sample.",
    )


def resolve_sources(sources: list[str], warehouse_root: Path) -> list[Path]:
    """Expand folders into their JSON files (sorted) and default to the bundled sample.

    Raises FileNotFoundError naming every path that does not exist.
    """
    if not sources:
        sample = warehouse_root / "samples" / SAMPLE_NAME
        return [sample if sample.exists() else write_sample(sample)]
    missing = [s for s in sources if not Path(s).exists()]
    if missing:
        raise FileNotFoundError(f"source not found: {', '.join(missing)}")
    files: list[Path] = []
    for source in map(Path, sources):
        files.extend(sorted(p for p in source.rglob("*.json") if p.is_file()) if source.is_dir() else [source])
    return files


@dg.multi_asset(specs=[table_spec(t) for t in (SOURCE_FILES, TASKS, ANNOTATIONS, REGIONS, QUARANTINE)])
def core_tables(context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource):
    """Read every new export file (by content hash) and fold it into the core tables.

    A file already ingested (same bytes) is skipped, so re-ingesting changes nothing. A later export of a
    project replaces the tasks it contains. Unreadable records land in core.quarantine with file, locator
    and reason; every record read is either accepted or quarantined.
    """
    store = warehouse.store()
    try:
        paths = resolve_sources(config.sources, store.root)
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from exc

    ingested = store.read(SOURCE_FILES)
    seen = set(ingested["content_hash"].to_list())
    state = CoreState(store.read(TASKS), store.read(ANNOTATIONS), store.read(REGIONS))
    quarantine = [store.read(QUARANTINE)]
    files = []
    now = datetime.now(UTC)
    for path in paths:
        export = read_export(path)
        if export.content_hash in seen:
            context.log.info(f"{path}: already ingested (sha256 {export.content_hash[:12]}), skipped")
            continue
        seen.add(export.content_hash)
        state = state.apply(export)
        quarantine.append(export.quarantine.with_columns(pl.lit(context.run_id).alias("run_id")))
        files.append(
            {
                "source_file": export.source_file,
                "content_hash": export.content_hash,
                "format": export.format,
                "project_ids": export.project_ids,
                "records_read": export.records_read,
                "records_accepted": export.records_accepted,
                "records_quarantined": export.records_quarantined,
                "ingested_at": now,
                "run_id": context.run_id,
            }
        )
        context.log.info(
            f"{path}: {export.format}, {export.records_read} records read = {export.records_accepted} accepted"
            f" + {export.records_quarantined} quarantined"
        )
        for row in export.quarantine.head(20).iter_rows(named=True):
            context.log.warning(f"{path} {row['locator']}: {row['reason']}")

    new_files = pl.DataFrame(files, schema=SOURCE_FILES.polars_schema)
    run_totals = {
        "files_ingested": len(files),
        "files_skipped": len(paths) - len(files),
        "records_read": int(new_files["records_read"].sum()),
        "records_accepted": int(new_files["records_accepted"].sum()),
        "records_quarantined": int(new_files["records_quarantined"].sum()),
    }
    yield table_result(
        SOURCE_FILES,
        store.write(SOURCE_FILES, pl.concat([ingested, new_files])),
        this_run=dg.MetadataValue.md(_files_markdown(new_files)),
        **run_totals,
    )
    yield table_result(TASKS, store.write(TASKS, state.tasks), projects=state.tasks["project_id"].n_unique())
    yield table_result(
        ANNOTATIONS,
        store.write(ANNOTATIONS, state.annotations),
        human=int((state.annotations["origin"] == "human").sum()),
        model=int((state.annotations["origin"] == "model").sum()),
        cancelled=int(state.annotations["was_cancelled"].sum()),
    )
    yield table_result(REGIONS, store.write(REGIONS, state.regions))
    yield table_result(
        QUARANTINE,
        store.write(QUARANTINE, pl.concat(quarantine)),
        quarantined_this_run=run_totals["records_quarantined"],
    )


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
