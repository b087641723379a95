"""The `gtq` command. `gtq run` runs the Dagster job the UI and the schedule run, never the stages directly;
`gtq validate` only reads exports, and writes nothing.

    gtq run [--source PATH ...] [--warehouse DIR]   ingest, resolve GT, validate, score; print a summary
    gtq sample --out PATH                           write the bundled sample export
    gtq gt set|unset|revert --project P --task T ... --reason R
                                                    record a reviewed GT decision in groundtruth/overrides.yaml
    gtq gt versions [--project P]                   the published GT versions, per project
    gtq gt history --task T [--project P]           every GT change of a task
    gtq gt export [--project P] [--version N] --format F --out PATH
                                                    a project's GT version as ls-json, coco, scout-csv or parquet

    gtq ui [--warehouse DIR]                        the Dagster UI on the warehouse's runs (http://127.0.0.1:3000)
    gtq validate --source PATH ...                  hold exports to the suites before sending them; exit 1 on a bad record

Runs are recorded in the warehouse's Dagster instance (`<warehouse>/.dagster`, or $DAGSTER_HOME when it
is set), so they show in the UI; each run carries its sources and warehouse as tags.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import __version__
from pipeline.resources import DEFAULT_WAREHOUSE
from pipeline.storage import local_folder, warehouse_root

EXIT_CODES = (
    "exit status, the same rule in every command: 0 done; 1 the data fails (a record would be quarantined, a step or an"
    " ERROR check failed, a file is no export, a source folder holds no export); 2 a usage error (a path that does not"
    " exist, an unknown project, split or version, a broken policy, overrides or people file)"
)


def _add_warehouse(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--warehouse",
        default=os.environ.get("GTQ_WAREHOUSE", DEFAULT_WAREHOUSE),
        metavar="DIR",
        help="the warehouse: a folder or s3://bucket/prefix (default: $GTQ_WAREHOUSE or ./warehouse)",
    )


def _add_project(command: argparse.ArgumentParser) -> None:
    command.add_argument("--project", help="the project id (default: the warehouse's only project)")


def _add_report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--people",
        default=os.environ.get("GTQ_PEOPLE"),
        metavar="CSV",
        help="names for annotator ids in the report: a CSV with the header annotator,name,email,team, kept in the warehouse as"
        " people.csv for later runs and reports (default: $GTQ_PEOPLE, else the file kept from an earlier --people)",
    )
    command.add_argument(
        "--label-studio-url",
        default=os.environ.get("GTQ_LABEL_STUDIO_URL"),
        metavar="URL",
        help="Label Studio's base URL, to link the report's tasks to it (default: $GTQ_LABEL_STUDIO_URL)",
    )


def _command(commands, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line text is both its entry in the parent's list and the description atop its own --help."""
    return commands.add_parser(name, help=text, description=text, epilog=EXIT_CODES)


def build_parser() -> argparse.ArgumentParser:
    """The `gtq` command line: every command and option, each with its help."""
    parser = argparse.ArgumentParser(prog="gtq", description="Ground truth and annotation quality pipeline.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"gtq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = _command(commands, "run", "materialize every table through Dagster and print a summary")
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="export file or folder; repeat for several, applied in order (default: the bundled sample); NAME=PATH puts its"
        " projects in a namespace (project 1 becomes NAME:1), for exports of different instances that reuse ids",
    )
    _add_warehouse(run)
    run.add_argument("--verbose", action="store_true", help="show Dagster's step logs")

    run.add_argument("--groundtruth", default=None, metavar="DIR", help="GT policy and overrides (default: ./groundtruth)")
    _add_report_options(run)

    ui = _command(commands, "ui", "open the Dagster UI on the warehouse's runs; runs launched there write to the warehouse")
    _add_warehouse(ui)
    ui.add_argument("--port", default="3000", help="the UI's port on 127.0.0.1 (default: 3000)")

    validate = _command(
        commands,
        "validate",
        "read exports and hold them to the suites in expectations/ without a warehouse; exit 1 if a record would be quarantined",
    )
    validate.add_argument("--source", action="append", required=True, metavar="PATH", help="export file or folder; repeat for several")

    report = _command(commands, "report", "write a project's quality report (one HTML file, no network needed) from the warehouse")
    _add_project(report)
    _add_warehouse(report)
    _add_report_options(report)

    explain = _command(
        commands, "explain", "where a number comes from: the export file and hash, the annotations, the GT decisions and the score rows"
    )
    _add_project(explain)
    about = explain.add_mutually_exclusive_group(required=True)
    about.add_argument("--annotator", help="explain this annotator's (or model version's) accuracy")
    about.add_argument("--task", help="explain this task's GT and the scores against it")
    explain.add_argument(
        "--format",
        default="table",
        choices=("table", "csv", "json"),
        help="the rows as a table (default), or for tools CSV or JSON lines: then stdout holds only the rows, the chain above them goes to stderr",
    )
    _add_warehouse(explain)

    migrate = _command(
        commands,
        "migrate",
        "convert a warehouse of gtq's earlier layout (per-project commit files) into Delta tables, keeping GT versions and history",
    )
    _add_warehouse(migrate)

    sample = _command(commands, "sample", "write the bundled Label Studio sample export")
    sample.add_argument("--out", required=True, metavar="PATH", help="the JSON file to write (its labeling config goes beside it)")

    gt = _command(commands, "gt", "ground truth: overrides, versions, history, exports").add_subparsers(dest="gt", required=True)
    for action, text, annotation in (
        (
            "set",
            "make an annotation the task's GT by a reviewed override (applied by the next `gtq run`)",
            "the annotation that becomes GT",
        ),
        (
            "unset",
            "leave the task without GT by a reviewed override (applied by the next `gtq run`)",
            "optional: the GT annotation being set aside, checked against the warehouse and kept in overrides.yaml for the record",
        ),
        (
            "revert",
            "withdraw the task's latest override by a recorded revert, so the GT is again what it was before that override"
            " (applied by the next `gtq run`)",
            None,
        ),
    ):
        command = _command(gt, action, text)
        command.add_argument("--project", required=True, help="the project id (as the export names it)")
        command.add_argument("--task", required=True, help="the task id")
        if annotation:
            command.add_argument("--annotation", required=action == "set", help=annotation)
            _add_warehouse(command)
        command.add_argument("--reason", required=True, help="why, for the GT history and its auditors")
        command.add_argument(
            "--author",
            default=os.environ.get("GIT_AUTHOR_EMAIL") or os.environ.get("USER") or "unknown",
            help="who decided (default: $GIT_AUTHOR_EMAIL or $USER)",
        )
        command.add_argument(
            "--groundtruth",
            default=os.environ.get("GTQ_GROUNDTRUTH", "groundtruth"),
            metavar="DIR",
            help="the folder of overrides.yaml (default: ./groundtruth)",
        )
    for name, text in (
        ("versions", "the published GT versions, per project"),
        ("history", "every GT change of a task: who or what decided it, why, in which version"),
        ("export", "write a project's GT version as Label Studio JSON, COCO, Scout CSV or Parquet"),
    ):
        command = _command(gt, name, text)
        _add_warehouse(command)
    for name in ("versions", "history"):
        gt.choices[name].add_argument("--project", help="the project (default: every project)")
    _add_project(gt.choices["export"])
    gt.choices["history"].add_argument("--task", required=True, help="the task id")
    gt.choices["history"].add_argument(
        "--format", default="table", choices=("table", "csv", "json"), help="a table for people (default), CSV or JSON lines for tools"
    )
    gt.choices["export"].add_argument("--version", type=int, help="the project's GT version (default: the latest)")
    gt.choices["export"].add_argument(
        "--format", required=True, choices=("ls-json", "coco", "scout-csv", "parquet"), help="the export format"
    )
    gt.choices["export"].add_argument(
        "--split",
        help="only the tasks of this split (train, validation, test as the policy names them); exit 2 for a split the version lacks",
    )
    gt.choices["export"].add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the file to write, its folder created if needed (scout-csv: the annotations CSV; the images CSV goes beside it)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=".*is currently in (preview|beta)")  # Dagster's notes on APIs gtq relies on
    args = build_parser().parse_args(argv)
    if args.command == "sample":
        from pipeline.sample import write_sample

        print(write_sample(args.out))
        return 0
    if args.command == "gt":
        return ground_truth_command(args)
    if args.command == "migrate":
        from pipeline.migrate import migrate

        migrate(warehouse_root(args.warehouse))
        return 0
    if args.command == "validate":
        return validate_command(args.source)
    if args.command == "explain":
        return explain_command(args)
    if args.command == "report":
        return report_command(warehouse_root(args.warehouse), args.project, args.people, args.label_studio_url)
    if args.command == "ui":
        return open_ui(warehouse_root(args.warehouse), args.port)
    return run_pipeline(
        args.source,
        warehouse_root(args.warehouse),
        groundtruth=args.groundtruth and Path(args.groundtruth),
        verbose=args.verbose,
        report={"people": args.people or "", "label_studio_url": args.label_studio_url or ""},
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


def validate_command(sources: list[str]) -> int:
    """Read the exports and hold them to the suites, as a run would before using them, without a warehouse
    or Dagster: print what would be quarantined, and exit 1 when a record would be (`source_files` says
    what a missing or empty source gives)."""
    import tempfile

    from pipeline.ingest import read_export
    from pipeline.validation import expectations_dir, screen

    try:
        files = source_files(sources)
    except UnusableSources as exc:
        print(f"gtq validate: {exc}", file=sys.stderr)
        return exc.exit_code
    failed = 0
    with tempfile.TemporaryDirectory(prefix="gtq-validate-") as staging:
        for index, source in enumerate(files):
            export = read_export(source, Path(staging) / str(index))
            export = export.without(screen([export.frames]).rejected_from(export.content_hash))
            print(
                f"{source.path} [{export.format}]: read {export.records_read} = accepted {export.records_accepted}"
                f" + quarantined {export.records_quarantined}"
            )
            for row in export.quarantine.iter_rows(named=True):
                print(f"  {row['locator']}: {row['reason']}")
            failed += export.records_quarantined
    print(f"gtq validate: {len(files)} file(s), {failed} record(s) would be quarantined (suites: {expectations_dir()})")
    return 1 if failed else 0


def explain_command(args) -> int:
    """Print the chain behind an annotator's accuracy or a task's GT; exit 2 when there is no such thing.
    For tools (`--format csv|json`) stdout holds only the rows and the chain goes to stderr."""

    from pipeline.lineage import explain_annotator, explain_task
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse_root(args.warehouse))
    if (project := the_project(store, args.project, "gtq explain")) is None:
        return 2
    try:
        found = explain_annotator(store, project, args.annotator) if args.annotator else explain_task(store, project, args.task)
    except LookupError as exc:
        print(f"gtq explain: {exc.args[0]}", file=sys.stderr)
        return 2
    print("\n".join(found.lines), file=sys.stdout if args.format == "table" else sys.stderr)
    _print_rows(found.rows, args.format)
    return 0


def the_project(store, project: str | None, command: str) -> str | None:
    """The project a command is about: `project` when the warehouse holds it, or, when none is named, the
    warehouse's only project. Otherwise None, after saying why on stderr with the projects it holds."""
    projects = store.projects()
    if project in projects or (project is None and len(projects) == 1):
        return project or projects[0]
    problem = (
        f"has no project {project!r}" if project else "holds several projects; name one with --project" if projects else "holds no project"
    )
    print(f"{command}: {store.root} {problem} (projects: {', '.join(projects) or 'none'})", file=sys.stderr)
    return None


def _print_rows(rows, form: str) -> None:
    """Rows for people (a table, whole, never cut to the terminal) or for tools (CSV, JSON lines) on stdout."""
    import polars as pl

    if form == "csv":
        rows.write_csv(sys.stdout)
    elif form == "json":
        rows.write_ndjson(sys.stdout)
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=1000, tbl_width_chars=10_000, tbl_hide_dataframe_shape=True):
            print(rows)


def report_command(warehouse: Path | str, project: str | None, people: str | None, label_studio_url: str | None) -> int:
    """Write the project's report (default: the warehouse's only one) from the warehouse's current tables (as
    a run does) and print its path; exit 2 when the warehouse has no such project or the people file is unusable."""
    from pipeline.report import People, write_report
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse)
    if (project := the_project(store, project, "gtq report")) is None:
        return 2
    try:
        path, _ = write_report(store, project, People.read(people_file(warehouse, people)), label_studio_url)
    except (ValueError, FileNotFoundError) as exc:
        print(f"gtq report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


PEOPLE_FILE = "people.csv"


def people_file(warehouse: Path | str, given: str | None) -> Path | None:
    """The people file that names annotators in the warehouse's reports. A `given` file is checked (ValueError or
    FileNotFoundError naming it) and kept as `people.csv` in the warehouse's local folder, beside `reports/`;
    without one, the file kept by an earlier `--people`, so a later run or report keeps the names."""
    from pipeline.report import People

    kept = local_folder(warehouse) / PEOPLE_FILE
    if not given:
        return kept if kept.is_file() else None
    People.read(Path(given))
    if Path(given).resolve() != kept.resolve():
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(kept.name + ".partial")
        shutil.copyfile(given, partial)
        partial.replace(kept)  # whole: a reader never sees half a file
    return kept


def ground_truth_command(args) -> int:
    import polars as pl

    from pipeline.contract import ANNOTATIONS, GROUND_TRUTH_HISTORY, TASKS
    from pipeline.groundtruth.policy import (
        PolicyError,
        append_override,
        load_overrides,
        new_override,
        override_target_problem,
        revert_override,
    )
    from pipeline.warehouse import Warehouse, WarehouseError

    if args.gt == "revert":
        path = Path(args.groundtruth) / "overrides.yaml"
        try:
            withdrawn = revert_override(path, project=args.project, task=args.task, author=args.author, reason=args.reason)
        except PolicyError as exc:
            print(f"gtq gt revert: {exc}", file=sys.stderr)
            return 2
        print(f"{path}: revert of the {withdrawn['action']} of task {args.task} of project {args.project} by {withdrawn['author']}"
              f" ({withdrawn['reason']}) recorded; the next `gtq run` gives the task the GT it had before that override")  # fmt: skip
        return 0
    if args.gt in ("set", "unset"):
        path = Path(args.groundtruth) / "overrides.yaml"
        fields = {"project": args.project, "task": args.task, "action": args.gt, "annotation": args.annotation,
                  "author": args.author, "reason": args.reason}  # fmt: skip
        try:
            load_overrides(path)  # a broken file is named first, then an incomplete entry, then what the warehouse lacks
            new_override(**fields)
            store = Warehouse(args.warehouse)
        except (PolicyError, WarehouseError) as exc:
            print(f"gtq gt {args.gt}: {exc}", file=sys.stderr)
            return 2
        if the_project(store, args.project, f"gtq gt {args.gt}") is None:
            return 2
        tasks, annotations = (store.scan_project(t, args.project).collect() for t in (TASKS, ANNOTATIONS))
        if problem := override_target_problem(tasks, annotations, task=args.task, annotation=args.annotation):
            print(f"gtq gt {args.gt}: project {args.project}: {problem}", file=sys.stderr)
            return 2
        try:
            entry = append_override(path, **fields)
        except PolicyError as exc:
            print(f"gtq gt {args.gt}: {exc}", file=sys.stderr)
            return 2
        print(f"{path}: {entry['action']} task {entry['task']} of project {entry['project']}; the next `gtq run` applies it")
        return 0

    try:
        store = Warehouse(args.warehouse)
    except WarehouseError as exc:
        print(f"gtq gt {args.gt}: {exc}", file=sys.stderr)
        return 2
    if args.gt == "export":
        return _export_gt(store, args)
    projects = [args.project] if args.project else store.projects()
    if not any(store.gt_versions(p) for p in projects):
        print(
            f"no ground truth published yet in {args.warehouse}" + (f" for project {args.project}" if args.project else ""), file=sys.stderr
        )
        return 1
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True, fmt_str_lengths=60):
        if args.gt == "versions":
            for info in (store.gt_version_info(p, v) for p in projects for v in store.gt_versions(p)):
                print(f"project {info['project_id']} version {info['version']}: published {info['committed_at']} by run {info['run_id']},"
                      f" {info['changes']} change(s) from {', '.join(info['sources']) or 'overrides'}"
                      + "".join(f"; schema: {note}" for note in info.get("schema_changes", [])))  # fmt: skip
        elif args.gt == "history":
            history = pl.concat([store.scan_project(GROUND_TRUTH_HISTORY, p) for p in projects])
            rows = history.filter(pl.col("task_id") == args.task).sort("valid_from").collect()
            _print_rows(rows, args.format)
    return 0


def _export_gt(store, args) -> int:
    """`gtq gt export`: a GT version of the project (default: the only one) as a file; exit 2 for a project,
    version or split the warehouse lacks, 1 when the project has no GT published yet."""
    from pipeline.groundtruth import export

    if (project := the_project(store, args.project, "gtq gt export")) is None:
        return 2
    if not (versions := store.gt_versions(project)):
        print(f"gtq gt export: no ground truth published yet in {store.root} for project {project}", file=sys.stderr)
        return 1
    version = versions[-1] if args.version is None else args.version
    if version not in versions:
        print(f"gtq gt export: project {project} has no GT version {version} (versions {versions[0]}..{versions[-1]})", file=sys.stderr)
        return 2
    try:
        written = export.write(store.read_gt_version(project, version), args.format, Path(args.out), split=args.split)
    except LookupError as exc:  # a split the version lacks: nothing is written
        print(f"gtq gt export: project {project}: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"ground truth of project {project}, version {version}, written to {args.out} as {args.format}: {written}")
    return 0


def open_ui(warehouse: Path | str, port: str) -> int:
    """`dagster dev` on the warehouse's instance, with the code location pointed at the same warehouse."""
    from pipeline.instance import instance_home, open_instance

    open_instance(warehouse).dispose()  # creates it with gtq's settings on first use
    env = {**os.environ, "DAGSTER_HOME": str(instance_home(warehouse)), "GTQ_WAREHOUSE": str(warehouse)}
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", "pipeline.definitions", "--port", port]
    os.execve(command[0], command, env)


@dataclass
class RunResults:
    """The Dagster results of one `gtq run`: one run per project (partition) of the sources."""

    runs: dict[str, object] = field(default_factory=dict)  # project -> ExecuteInProcessResult
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
) -> RunResults:
    """Run the `gtq_all` job in-process, exactly as the UI, the schedule and the sensor do: one run per
    project the sources hold (each project is a partition), in project order.

    Without sources, the bundled sample. `groundtruth` is the folder of the GT policy and overrides
    (default: ./groundtruth or $GTQ_GROUNDTRUTH); `report` configures the quality report (`ReportResource`:
    people, label_studio_url). UnusableSources names a source that does not exist or holds no export.
    """

    from pipeline.assets.partitions import projects
    from pipeline.definitions import defs, gtq_job
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
            for project in projects_of(source):
                by_project.setdefault(project, []).append(str(source))
        except BadRecord as exc:
            results.unreadable.append(f"{source.path}: not an export gtq can read: {exc.reason}")
    instance = instance or open_instance(warehouse)
    instance.add_dynamic_partitions(projects.name, [p for p in by_project if not instance.has_dynamic_partition(projects.name, p)])
    resources = {"warehouse": {"config": {"root": str(warehouse)}}}
    if groundtruth:
        resources["groundtruth"] = {"config": {"directory": str(groundtruth)}}
    if report:
        resources["report"] = {"config": report}
    job = defs.resolve_job_def(gtq_job.name)
    show_progress = watching() and log_level == "CRITICAL"  # --verbose prints Dagster's own log instead
    for project in sorted(by_project):
        run_config = {
            "ops": {"core_tables": {"config": {"sources": by_project[project]}}},
            "resources": resources,
            "loggers": {"console": {"config": {"log_level": log_level}}, **({"progress": {}} if show_progress else {})},
        }
        results.runs[project] = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=project,
            raise_on_error=False,
            tags={"gtq/trigger": "cli", "gtq/warehouse": str(warehouse_root(warehouse)), "gtq/sources": json.dumps(by_project[project])},
        )
    return results


def run_pipeline(
    sources: list[str], warehouse: Path | str, groundtruth: Path | None = None, verbose: bool = False, report: dict | None = None
) -> int:
    from pipeline.groundtruth.policy import PolicyError, groundtruth_folder, load_overrides, load_policy
    from pipeline.progress import clear_line, watching

    started = time.monotonic()
    report = report or {}
    try:  # before anything is read: a broken policy or people file would only fail the run after ingest
        folder = groundtruth_folder(groundtruth)
        load_policy(folder / "policy.yaml")
        load_overrides(folder / "overrides.yaml")
        report = {**report, "people": str(people_file(warehouse, report.get("people")) or "")}
    except (PolicyError, ValueError, FileNotFoundError) as exc:
        print(f"gtq run FAILED before ingest: {exc}", file=sys.stderr)
        return 2
    try:
        result = execute(sources, warehouse, groundtruth=groundtruth, report=report, log_level="INFO" if verbose else "CRITICAL")
    except UnusableSources as exc:
        print(f"gtq run FAILED: {exc}", file=sys.stderr)
        return exc.exit_code
    if watching():
        clear_line()
    print(_summary(result, warehouse, time.monotonic() - started))

    failures = [*result.unreadable, *_unreadable_files(result, warehouse)]
    failures += [
        f"step {event.step_key} failed: {_error_message(event.step_failure_data.error)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    failures += [
        f"check {check.asset_key.to_user_string()}:{check.check_name} failed"
        + (f"\n{check.metadata['examples'].value}" if "examples" in check.metadata else "")
        for check in result.get_asset_check_evaluations()
        if not check.passed and check.severity.value == "ERROR"
    ]
    if failures or not result.success:
        print("\ngtq run FAILED:", file=sys.stderr)
        for failure in failures or ["the run did not succeed (see the Dagster logs with --verbose)"]:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


def _unreadable_files(result: RunResults, warehouse: Path | str) -> list[str]:
    """The files a run found unreadable as a whole (its other files were still ingested), with the reason."""
    import polars as pl

    from pipeline.contract import QUARANTINE, SOURCE_FILES
    from pipeline.warehouse import Warehouse

    store, found = Warehouse(warehouse), []
    for project, run in result.runs.items():
        files = store.scan_project(SOURCE_FILES, project).filter((pl.col("run_id") == run.run_id) & (pl.col("format") == "unreadable"))
        reasons = store.scan_project(QUARANTINE, project).filter(pl.col("run_id") == run.run_id).select("content_hash", "reason")
        for row in files.join(reasons, on="content_hash", how="left").collect().iter_rows(named=True):
            found.append(f"{row['source_file']}: unreadable, nothing in it was ingested: {row['reason']}")
    return found


def _error_message(error) -> str:
    """The innermost error's own message, without Dagster's wrapper class names."""
    while error.cause is not None and error.message.startswith("dagster._core.errors."):
        error = error.cause
    message = error.message.strip()
    return message.split(": ", 1)[1] if ": " in message else message


def _summary(results: RunResults, warehouse: Path | str, seconds: float) -> str:
    import polars as pl

    from pipeline.contract import SOURCE_FILES
    from pipeline.validation import DataDocs
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse)
    lines = [f"gtq run: {len(results.runs)} project(s) in {seconds:.1f} s, warehouse {warehouse}/"]
    for project, run in results.runs.items():
        metadata = {
            e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in run.get_asset_materialization_events()
        }
        lines.append(f"project {project} (Dagster run {run.run_id}):")
        if ingest := metadata.get("core/source_files"):
            lines.append(
                f"  ingest: {ingest['files_ingested']} new file(s), {ingest['files_skipped']} already ingested;"
                f" records read {ingest['records_read']} = accepted {ingest['records_accepted']}"
                f" + quarantined {ingest['records_quarantined']}"
            )
            if replaced := ingest.get("tasks_replaced_with_other_data"):
                lines.append(
                    f"  WARNING: {replaced} task(s) replaced by a snapshot whose task data differs (two exports reusing"
                    " project and task ids? namespace them: --source NAME=PATH); --verbose lists them"
                )
            for f in store.scan_project(SOURCE_FILES, project).filter(pl.col("run_id") == run.run_id).collect().iter_rows(named=True):
                lines.append(
                    f"    {f['source_file']} [{f['format']}]: read {f['records_read']} = accepted"
                    f" {f['records_accepted']} + quarantined {f['records_quarantined']}"
                )
        if gt := metadata.get("core/ground_truth"):
            version = "none yet" if gt["gt_version"] < 0 else gt["gt_version"]
            lines.append(
                f"  ground truth: {gt['dagster/row_count']} task(s), project version {version}; this run {gt['changes']} change(s)"
                f" (set {gt['changes_set']}, replaced {gt['changes_replaced']}, unset {gt['changes_unset']}, edited {gt['changes_edited']})"
            )
        checks = run.get_asset_check_evaluations()
        failed = [c.check_name for c in checks if not c.passed]
        lines.append(f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
        if (docs := DataDocs.of(warehouse, project).index).exists():
            lines.append(f"  data docs: {docs}")
        if report := metadata.get("reports/quality_report"):
            lines.append(f"  quality report: {report['path']}")
        written = ", ".join(
            f"{key.replace('/', '.')} ({m['dagster/row_count']})" for key, m in metadata.items() if "dagster/row_count" in m
        )
        lines.append(f"  tables written (the project's rows): {written or 'none'}")
    query = f"query: duckdb -readonly {store.duckdb_path}  |  " if store.storage.is_local() else ""
    lines.append(f"{query}tables: {store.root}/tables/<schema>/<table>/ (Delta)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
