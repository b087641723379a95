"""`gtq run`: the Dagster job the UI and the schedule run, never the stages directly; one run per project of
the sources, recorded in the warehouse's Dagster instance, then a summary of what the runs did."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import settings
from pipeline.cli.common import (
    UnusableSources,
    add_command,
    add_report_options,
    add_warehouse,
    people_file,
    source_files,
)
from pipeline.storage import warehouse_root


def add_parser(commands) -> None:
    run = add_command(commands, "run", "materialize every table through Dagster and print a summary", handle)
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="export file or folder; repeat for several, applied in order (default: the bundled sample); NAME=PATH"
        " puts its projects in a namespace (project 1 becomes NAME:1), for exports of different instances that"
        " reuse ids",
    )
    add_warehouse(run)
    run.add_argument("--verbose", action="store_true", help="show Dagster's step logs")
    run.add_argument(
        "--recompute",
        action="store_true",
        help="compute every table again, also those whose inputs (tables, GT policy and overrides, gtq's code) did"
        " not change since an earlier run computed them",
    )

    run.add_argument(
        "--groundtruth", default=None, metavar="DIR", help="GT policy and overrides (default: ./groundtruth)"
    )
    add_report_options(run)


def handle(args) -> int:
    return run_pipeline(
        args.source,
        warehouse_root(args.warehouse),
        groundtruth=args.groundtruth and Path(args.groundtruth),
        verbose=args.verbose,
        recompute=args.recompute,
        report={"people": args.people or "", "label_studio_url": args.label_studio_url or ""},
    )


@dataclass
class RunResults:
    """The Dagster results of one `gtq run`: one run per project (partition) of the sources."""

    runs: dict[str, object] = field(default_factory=dict)  # project -> dg.execute_job's result
    unreadable: list[str] = field(default_factory=list)  # sources that are no export, each with why

    @property
    def success(self) -> bool:
        return all(run.success for run in self.runs.values())

    def get_asset_materialization_events(self) -> list:
        return [event for run in self.runs.values() for event in run.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [check for run in self.runs.values() for check in run.get_asset_check_evaluations()]

    @property
    def all_events(self) -> list:
        return [event for run in self.runs.values() for event in run.all_events]


def execute(
    sources: list[str | Path],
    warehouse: Path | str,
    *,
    groundtruth: Path | None = None,
    report: dict | None = None,
    instance=None,
    log_level: str = "CRITICAL",
    recompute: bool = False,
) -> RunResults:
    """Run the `gtq_all` job in this process (`dg.execute_job`), exactly as the UI, the schedule and the sensor
    do: one run per project the sources hold (each project is a partition), in project order.

    Without sources, the bundled sample. `groundtruth` is the folder of the GT policy and overrides
    (default: ./groundtruth or $GTQ_GROUNDTRUTH); `report` configures the quality report (`ReportResource`:
    people, label_studio_url). `recompute` computes every table again, unchanged inputs or not (the run's
    tag RECOMPUTE_TAG). UnusableSources names a source that does not exist or holds no export.
    """

    import dagster as dg

    from pipeline.assets.incremental import RECOMPUTE_TAG
    from pipeline.assets.partitions import projects
    from pipeline.definitions import define_gtq_job
    from pipeline.ingest import projects_of
    from pipeline.ingest.records import BadRecord
    from pipeline.instance import open_instance
    from pipeline.progress import watching
    from pipeline.sample import bundled_sample

    files = source_files(sources or [bundled_sample(warehouse)])
    by_project: dict[str, list[str]] = {}
    results = RunResults()
    for source in files:
        try:
            for project in projects_of(source, known=settings.known_files(warehouse)):
                by_project.setdefault(project, []).append(str(source))
        except BadRecord as exc:
            results.unreadable.append(f"{source.path}: not an export gtq can read: {exc.reason}")
    instance = instance or open_instance(warehouse)
    new = [p for p in by_project if not instance.has_dynamic_partition(projects.name, p)]
    instance.add_dynamic_partitions(projects.name, new)
    resources = {"warehouse": {"config": {"root": str(warehouse)}}}
    if groundtruth:
        resources["groundtruth"] = {"config": {"directory": str(groundtruth)}}
    if report:
        resources["report"] = {"config": report}
    job = dg.reconstructable(define_gtq_job)
    show_progress = watching() and log_level == "CRITICAL"  # --verbose prints Dagster's own log instead
    loggers = {"console": {"config": {"log_level": log_level}}, **({"progress": {}} if show_progress else {})}
    for project in sorted(by_project):
        # Not entered as a context: that would set up the resources again, to load outputs no one reads.
        results.runs[project] = dg.execute_job(
            job,
            instance,
            run_config={**settings.ingest_run_config(by_project[project]), "resources": resources, "loggers": loggers},
            raise_on_error=False,
            tags={
                "dagster/partition": project,
                "gtq/trigger": "cli",
                "gtq/warehouse": str(warehouse_root(warehouse)),
                "gtq/sources": json.dumps(by_project[project]),
                **({RECOMPUTE_TAG: "true"} if recompute else {}),
            },
        )
    return results


def run_pipeline(
    sources: list[str],
    warehouse: Path | str,
    groundtruth: Path | None = None,
    verbose: bool = False,
    report: dict | None = None,
    recompute: bool = False,
) -> int:
    """`gtq run`: check the GT files and the people file, run the job, print the summary; the exit status
    is the summary's (`RunSummary`), or 2 for files that are unusable before anything is read."""
    from pipeline.cli.summary import RunSummary
    from pipeline.groundtruth.policy import PolicyError, groundtruth_folder, load_overrides, load_policy
    from pipeline.progress import clear_line, watching

    started = time.monotonic()
    report = report or {}
    try:  # before anything is read: a broken policy or people file would only fail the run after ingest
        folder = groundtruth_folder(groundtruth)
        load_policy(settings.policy_path(folder))
        load_overrides(settings.overrides_path(folder))
        report = {**report, "people": str(people_file(warehouse, report.get("people")) or "")}
    except (PolicyError, ValueError, FileNotFoundError) as exc:
        print(f"gtq run FAILED before ingest: {exc}", file=sys.stderr)
        return 2
    try:
        result = execute(
            sources,
            warehouse,
            groundtruth=groundtruth,
            report=report,
            log_level="INFO" if verbose else "CRITICAL",
            recompute=recompute,
        )
    except UnusableSources as exc:
        print(f"gtq run FAILED: {exc}", file=sys.stderr)
        return exc.exit_code
    summary = RunSummary.of(result, warehouse, seconds=time.monotonic() - started)
    if watching():
        clear_line()
    print(summary.text())
    if failures := summary.failures():
        print("\ngtq run FAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
    return summary.exit_code
