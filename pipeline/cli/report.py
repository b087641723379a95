"""`gtq report`: a project's quality report from the warehouse's current tables."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.common import add_command, add_project, add_report_options, add_warehouse, people_file, the_project
from pipeline.storage import warehouse_root


def add_parser(commands) -> None:
    report = add_command(
        commands,
        "report",
        "write a project's quality report (one HTML file, no network needed) from the warehouse",
        handle,
    )
    add_project(report)
    add_warehouse(report)
    add_report_options(report)


def handle(args) -> int:
    return report_command(warehouse_root(args.warehouse), args.project, args.people, args.label_studio_url)


def report_command(warehouse: Path | str, project: str | None, people: str | None, label_studio_url: str | None) -> int:
    """Write the project's report (default: the warehouse's only one) from the warehouse's current tables (as
    a run does) and print its path; exit 2 when the warehouse has no such project or the people file is unusable."""
    from pipeline.report import People, write_report
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse)
    if (project := the_project(store, project, "gtq report")) is None:
        return 2
    try:
        path, _, _ = write_report(store, project, People.read(people_file(warehouse, people)), label_studio_url)
    except (ValueError, FileNotFoundError) as exc:
        print(f"gtq report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
