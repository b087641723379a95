"""The `gtq` command. It runs the Dagster job the UI and the schedule run, never the stages directly.

    gtq run [--source PATH ...] [--warehouse DIR]   ingest, resolve GT, validate, score; print a summary
    gtq sample --out PATH                           write the bundled sample export

Runs are recorded in the Dagster instance at $DAGSTER_HOME when it is set (so they show in the UI),
otherwise in a throw-away instance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipeline.resources import DEFAULT_WAREHOUSE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gtq", description="Ground truth and annotation quality pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialize every table through Dagster and print a summary")
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="export file or folder; repeat for several, applied in order (default: the bundled sample)",
    )
    run.add_argument("--warehouse", default=os.environ.get("GTQ_WAREHOUSE", DEFAULT_WAREHOUSE), metavar="DIR")
    run.add_argument("--verbose", action="store_true", help="show Dagster's step logs")

    sample = commands.add_parser("sample", help="write the bundled Label Studio sample export")
    sample.add_argument("--out", required=True, metavar="PATH")

    args = parser.parse_args(argv)
    if args.command == "sample":
        from pipeline.sample import write_sample

        print(write_sample(args.out))
        return 0
    return run_pipeline(args.source, Path(args.warehouse), verbose=args.verbose)


def execute(
    sources: list[str | Path], warehouse: Path, *, groundtruth: Path | None = None, instance=None, log_level: str = "CRITICAL"
):
    """Run the `gtq_all` job in-process, exactly as the UI and the schedule do; returns Dagster's result.

    `groundtruth` is the folder of the GT policy and overrides (default: ./groundtruth or $GTQ_GROUNDTRUTH).
    """
    import dagster as dg

    from pipeline.definitions import defs, gtq_job

    if instance is None and os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        instance = dg.DagsterInstance.get()
    instance = instance or dg.DagsterInstance.ephemeral()
    run_config = {
        "ops": {"core_tables": {"config": {"sources": [str(s) for s in sources]}}},
        "resources": {
            "warehouse": {"config": {"root": str(warehouse)}},
            **({"groundtruth": {"config": {"directory": str(groundtruth)}}} if groundtruth else {}),
        },
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    return defs.resolve_job_def(gtq_job.name).execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags={"gtq/trigger": "cli"}
    )


def run_pipeline(sources: list[str], warehouse: Path, verbose: bool = False) -> int:
    started = time.monotonic()
    result = execute(sources, warehouse, log_level="INFO" if verbose else "CRITICAL")
    print(_summary(result, warehouse, time.monotonic() - started))

    failures = [
        f"step {event.step_key} failed: {_error_message(event.step_failure_data.error)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    failures += [
        f"check {check.asset_key.to_user_string()}:{check.check_name} failed"
        for check in result.get_asset_check_evaluations()
        if not check.passed and check.severity.value == "ERROR"
    ]
    if failures or not result.success:
        print("\ngtq run FAILED:", file=sys.stderr)
        for failure in failures or ["the run did not succeed (see the Dagster logs with --verbose)"]:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


def _error_message(error) -> str:
    """The innermost error's own message, without Dagster's wrapper class names."""
    while error.cause is not None and error.message.startswith("dagster._core.errors."):
        error = error.cause
    message = error.message.strip()
    return message.split(": ", 1)[1] if ": " in message else message


def _summary(result, warehouse: Path, seconds: float) -> str:
    import polars as pl

    from pipeline.contract import SOURCE_FILES
    from pipeline.warehouse import Warehouse

    metadata = {
        event.materialization.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    lines = [f"gtq run {result.run_id} in {seconds:.1f} s, warehouse {warehouse}/"]

    ingest = metadata.get("core/source_files")
    if ingest:
        files = Warehouse(warehouse).read(SOURCE_FILES).filter(pl.col("run_id") == result.run_id)
        lines.append(
            f"ingest: {ingest['files_ingested']} new file(s), {ingest['files_skipped']} already ingested;"
            f" records read {ingest['records_read']} = accepted {ingest['records_accepted']}"
            f" + quarantined {ingest['records_quarantined']}"
        )
        for f in files.iter_rows(named=True):
            lines.append(
                f"  {f['source_file']} [{f['format']}]: read {f['records_read']} = accepted"
                f" {f['records_accepted']} + quarantined {f['records_quarantined']}"
            )

    gt = metadata.get("core/ground_truth")
    if gt:
        version = "none yet" if gt["gt_version"] < 0 else gt["gt_version"]
        lines.append(
            f"ground truth: {gt['dagster/row_count']} task(s), version {version}; this run {gt['changes']} change(s)"
            f" (set {gt['changes_set']}, replaced {gt['changes_replaced']}, unset {gt['changes_unset']})"
        )

    checks = result.get_asset_check_evaluations()
    failed = [c.check_name for c in checks if not c.passed]
    lines.append(f"checks: {len(checks) - len(failed)} passed, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    written = ", ".join(f"{key.replace('/', '.')} ({m['dagster/row_count']})" for key, m in metadata.items())
    lines.append(f"tables written (rows): {written or 'none'}")
    lines.append(f"query: duckdb {warehouse / 'gtq.duckdb'}  |  Parquet: {warehouse / 'parquet'}/")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
