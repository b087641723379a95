"""What several `gtq` commands share: the exit-status rule, the common options, the sources a command reads,
the project it is about, how it prints rows, and the people file the reports use."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pipeline import settings

EXIT_CODES = (
    "exit status, the same rule in every command: 0 done; 1 the data fails (a record would be quarantined, a step or"
    " an ERROR check failed, a file is no export, a source folder holds no export); 2 a usage error (a path that does"
    " not exist, an unknown project, split or version, a broken policy, overrides or people file)"
)


def add_command(commands, name: str, text: str, handler=None) -> argparse.ArgumentParser:
    """A subcommand whose one-line text is both its entry in the parent's list and the description atop its
    own --help; `handler(args)` carries it out and gives the exit status (none for a command of subcommands)."""
    command = commands.add_parser(name, help=text, description=text, epilog=EXIT_CODES)
    if handler is not None:
        command.set_defaults(handler=handler)
    return command


def add_warehouse(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--warehouse",
        default=settings.warehouse(),
        metavar="DIR",
        help="the warehouse: a folder or s3://bucket/prefix (default: $GTQ_WAREHOUSE or ./warehouse)",
    )


def add_project(command: argparse.ArgumentParser) -> None:
    command.add_argument("--project", help="the project id (default: the warehouse's only project)")


def add_report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--people",
        default=settings.people(),
        metavar="CSV",
        help="names for annotator ids in the report: a CSV with the header annotator,name,email,team, kept in the"
        " warehouse as people.csv for later runs and reports (default: $GTQ_PEOPLE, else the file kept from an"
        " earlier --people)",
    )
    command.add_argument(
        "--label-studio-url",
        default=settings.label_studio_url(),
        metavar="URL",
        help="Label Studio's base URL, to link the report's tasks to it (default: $GTQ_LABEL_STUDIO_URL)",
    )


class UnusableSources(Exception):
    """Sources a command cannot read, with the exit status `source_files` gives them."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def source_files(sources: list) -> list:
    """The export files of `sources` (`expand_sources`), by the one rule `gtq run` and `gtq validate` share:
    a path that does not exist is a usage error (UnusableSources, exit 2: a mistyped path); sources that exist
    but hold no export (an empty folder) are data that fails (exit 1)."""
    from pipeline.ingest import expand_sources

    try:
        files = expand_sources(sources)
    except FileNotFoundError as exc:
        raise UnusableSources(str(exc), 2) from exc
    if not files:
        raise UnusableSources(f"no export (.json or .csv file) in {', '.join(map(str, sources))}", 1)
    return files


def the_project(store, project: str | None, command: str) -> str | None:
    """The project a command is about: `project` when the warehouse holds it, or, when none is named, the
    warehouse's only project. Otherwise None, after saying why on stderr with the projects it holds."""
    projects = store.projects()
    if project in projects or (project is None and len(projects) == 1):
        return project or projects[0]
    if project:
        problem = f"has no project {project!r}"
    else:
        problem = "holds several projects; name one with --project" if projects else "holds no project"
    print(f"{command}: {store.root} {problem} (projects: {', '.join(projects) or 'none'})", file=sys.stderr)
    return None


def print_rows(rows, form: str) -> None:
    """Rows for people (a table, whole, never cut to the terminal) or for tools (CSV, JSON lines) on stdout."""
    import polars as pl

    if form == "csv":
        rows.write_csv(sys.stdout)
    elif form == "json":
        rows.write_ndjson(sys.stdout)
    else:
        whole = {"tbl_rows": -1, "tbl_cols": -1, "fmt_str_lengths": 1000, "tbl_width_chars": 10_000}
        with pl.Config(**whole, tbl_hide_dataframe_shape=True):
            print(rows)


def people_file(warehouse: Path | str, given: str | None) -> Path | None:
    """The people file that names annotators in the warehouse's reports. A `given` file is checked (ValueError or
    FileNotFoundError naming it) and kept as `people.csv` in the warehouse's local folder, beside `reports/`;
    without one, the file kept by an earlier `--people`, so a later run or report keeps the names."""
    from pipeline.report import People

    kept = settings.people_path(warehouse)
    if not given:
        return kept if kept.is_file() else None
    People.read(Path(given))
    if Path(given).resolve() != kept.resolve():
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(kept.name + ".partial")
        shutil.copyfile(given, partial)
        partial.replace(kept)  # whole: a reader never sees half a file
    return kept
