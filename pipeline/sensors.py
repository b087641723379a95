"""The inbox sensor: drop an export into the inbox folder and gtq ingests and re-scores it."""

import json
import re

import dagster as dg

from pipeline.ingest import content_hash, expand_sources
from pipeline.resources import WarehouseResource

_PROJECT_FIELD = re.compile(rb'"project"\s*:\s*"?([\w.-]+)')


def project_hint(path) -> str:
    """The project a file most likely belongs to, from its first bytes (Label Studio's `project` field),
    else its name. Only a run tag: the ingest itself reads the project of every record."""
    with open(path, "rb") as f:
        match = _PROJECT_FIELD.search(f.read(65536))
    return match.group(1).decode() if match else path.name.split(".")[0]


def inbox_run_requests(warehouse: WarehouseResource, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    """A run request per export file in the inbox that is new or changed since `cursor`.

    The cursor maps each file to (mtime, size), so unchanged files are not even hashed; the run key is
    the content hash, so the same bytes never trigger twice, whatever their name.
    """
    inbox = warehouse.inbox_path()
    seen = json.loads(cursor) if cursor else {}
    state, requests = {}, []
    for path in expand_sources([inbox]) if inbox.is_dir() else []:
        stat = path.stat()
        state[str(path)] = [stat.st_mtime_ns, stat.st_size]
        if seen.get(str(path)) == state[str(path)]:
            continue
        requests.append(
            dg.RunRequest(
                run_key=content_hash(path),
                run_config={"ops": {"core_tables": {"config": {"sources": [str(path)]}}}},
                tags={"gtq/trigger": "inbox", "gtq/source": str(path), "gtq/project": project_hint(path)},
            )
        )
    return requests, json.dumps(state, sort_keys=True)


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
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return inbox_sensor
