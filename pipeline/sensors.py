"""The inbox sensor, the nightly schedule and the warehouse's maintenance: what starts runs besides `gtq run`."""

import json
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline import settings
from pipeline.assets.partitions import projects
from pipeline.ingest import content_hash, expand_sources, projects_of
from pipeline.ingest.records import BadRecord
from pipeline.resources import WarehouseResource
from pipeline.settings import ingest_run_config


def inbox_run_requests(warehouse: WarehouseResource, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    """A run request per project of each export file in the inbox that is new or changed since `cursor`.

    The cursor maps each file to (mtime, size), so unchanged files are not even hashed; the run key is
    the content hash and the project, so the same bytes never trigger twice, whatever their name.
    """
    inbox = warehouse.inbox_path()
    seen = json.loads(cursor) if cursor else {}
    state, requests = {}, []
    for path in (source.path for source in expand_sources([inbox])) if inbox.is_dir() else []:
        stat = path.stat()
        state[str(path)] = [stat.st_mtime_ns, stat.st_size]
        if seen.get(str(path)) == state[str(path)]:
            continue
        digest = content_hash(path, settings.known_files(warehouse.root))
        requests.extend(
            dg.RunRequest(
                run_key=f"{digest}:{project}",
                partition_key=project,
                run_config=ingest_run_config([str(path)]),
                tags={"gtq/trigger": "inbox", "gtq/source": str(path)},
            )
            for project in _projects(path, settings.known_files(warehouse.root))
        )
    return requests, json.dumps(state, sort_keys=True)


def _projects(path: Path, known: Path) -> list[str]:
    """The file's projects; none for a file that is no export (`gtq run` names it; the inbox waits for a new
    version)."""
    try:
        return projects_of(path, known)
    except BadRecord:
        return []


def build_inbox_sensor(job: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts a run for each new or changed export file in the inbox folder.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        requests, cursor = inbox_run_requests(warehouse, context.cursor)
        if not requests:
            return dg.SkipReason(f"no new or changed export in {warehouse.inbox_path()}")
        new = sorted({r.partition_key for r in requests} - set(context.instance.get_dynamic_partitions(projects.name)))
        return dg.SensorResult(
            run_requests=requests, cursor=cursor, dynamic_partitions_requests=[projects.build_add_request(new)]
        )

    return inbox_sensor


def build_nightly_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        cron_schedule="0 2 * * *",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every night, each known project: ingest what is new in the inbox and re-score.",
    )
    def nightly(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for project in context.instance.get_dynamic_partitions(projects.name):
            yield dg.RunRequest(run_key=f"nightly-{day}-{project}", partition_key=project)

    return nightly


class MaintenanceConfig(dg.Config):
    retention_hours: int = Field(
        default=168,
        description="How long a table's earlier versions stay readable by time travel; vacuum removes only files no"
        " version younger than this reads (history.* tables and GT versions are never removed).",
    )


@dg.op
def compact_and_vacuum(context: dg.OpExecutionContext, config: MaintenanceConfig, warehouse: WarehouseResource) -> None:
    """Compact every Delta table's small files and vacuum the files of versions older than the retention."""
    figures = warehouse.store().maintain(timedelta(hours=config.retention_hours))
    for table, counts in figures.items():
        context.log.info(f"{table}: {counts}")
    totals = {
        name: sum(c[name] for c in figures.values()) for name in ("files_added", "files_removed", "files_vacuumed")
    }
    context.log_event(dg.AssetObservation(asset_key=dg.AssetKey(["warehouse", "maintenance"]), metadata=totals))


@dg.job(description="Warehouse maintenance: Delta compaction (optimize.compact) and vacuum of every table.")
def maintenance():
    compact_and_vacuum()


maintenance_schedule = dg.ScheduleDefinition(
    job=maintenance,
    cron_schedule="0 4 * * 0",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every Sunday at 04:00: compact and vacuum the warehouse's Delta tables (retention in the run config).",
)
