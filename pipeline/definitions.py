"""The one place where gtq's assets, checks, resources, jobs and schedules meet.

Flow (one way): ingest -> ground truth -> validate (checks) -> score -> publish (Delta tables partitioned by project,
GT versions, DuckDB views).
"""

from __future__ import annotations

import gc

import dagster as dg

from pipeline.assets import groundtruth, ingest, quality, report
from pipeline.assets.partitions import projects
from pipeline.checks import expectations
from pipeline.progress import progress_logger
from pipeline.resources import GroundTruthPolicyResource, ReportResource, WarehouseResource, warehouse_io_manager
from pipeline.sensors import build_inbox_sensor, build_nightly_schedule, maintenance, maintenance_schedule

all_assets = dg.load_assets_from_modules([ingest, groundtruth, quality, report])
all_checks = expectations.expectation_checks()


def _collect_garbage(_context: dg.HookContext) -> None:
    gc.collect()


# After each step, a full garbage collection. A step's frames outlive it when a library leaves a reference cycle
# through one of them (GE parsing a suite keeps pydantic errors whose tracebacks hold their frames, and a frame
# holds its caller's), and with them every table those frames held: 3-4 GB after a 1M-task ingest, held until
# Python's own full collection, which a step in Polars, making few Python objects, seldom sets off.
after_each_step = {
    dg.success_hook(name="collect_garbage_after_step")(_collect_garbage),
    dg.failure_hook(name="collect_garbage_after_failed_step")(_collect_garbage),
}

# Every table of one project (partition) per run. Runs of different projects go side by side; a run holds
# its project's write lock (WarehouseResource). Steps run in process: the multiprocess executor also works
# (tests/test_concurrency.py); configure its `start_method` as `forkserver` with `preload_modules:
# [pipeline.definitions, great_expectations]`, or each step pays a fresh interpreter's imports (about 8 s of CPU).
gtq_job = dg.define_asset_job(
    "gtq_all", selection=dg.AssetSelection.all(), partitions_def=projects, hooks=after_each_step
)

nightly = build_nightly_schedule(gtq_job)
inbox_sensor = build_inbox_sensor(gtq_job)

defs = dg.Definitions(
    assets=[ingest.EXPORT_FILES, *all_assets],
    asset_checks=all_checks,
    jobs=[gtq_job, maintenance],
    schedules=[nightly, maintenance_schedule],
    sensors=[inbox_sensor],
    resources={
        "warehouse": WarehouseResource(),
        "io_manager": warehouse_io_manager,
        "groundtruth": GroundTruthPolicyResource(),
        "report": ReportResource(),
    },
    executor=dg.in_process_executor,
    loggers={"console": dg.colored_console_logger, "progress": progress_logger},
)

# What is imported to define gtq lives as long as the process: frozen, it is left out of every collection, and
# the one after each step costs what the run has made since (about 50 ms, against 0.3 s for everything).
gc.freeze()


def define_gtq_job() -> dg.JobDefinition:
    """The `gtq_all` job, resolved with the definitions' resources, for `dg.reconstructable`: `gtq run` executes
    it with `dg.execute_job` as a launched run does, which keeps no step's output in memory after its IO manager
    has written it (`execute_in_process` keeps every output until the run ends)."""
    return defs.resolve_job_def(gtq_job.name)
