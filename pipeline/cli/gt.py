"""`gtq gt`: ground truth from the command line, one function per subcommand.

gtq gt set|unset --project P --task T [--annotation A] --reason R     a reviewed override in overrides.yaml
gtq gt revert --project P --task T --reason R                         withdraw the task's latest override
gtq gt versions [--project P]                                         the published GT versions, per project
gtq gt history --task T [--project P]                                 every GT change of a task
gtq gt export [--project P] [--version N] --format F --out PATH       a GT version as a file
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline import settings
from pipeline.cli.common import add_command, add_project, add_warehouse, print_rows, the_project


def add_parser(commands) -> None:
    gt = add_command(commands, "gt", "ground truth: overrides, versions, history, exports").add_subparsers(
        dest="gt", required=True
    )
    _add_override_parsers(gt)
    _add_version_parsers(gt)


def _add_override_parsers(gt) -> None:
    for action, text, annotation, handler in (
        (
            "set",
            "make an annotation the task's GT by a reviewed override (applied by the next `gtq run`)",
            "the annotation that becomes GT",
            record_override,
        ),
        (
            "unset",
            "leave the task without GT by a reviewed override (applied by the next `gtq run`)",
            (
                "optional: the GT annotation being set aside, checked against the warehouse and kept in overrides.yaml"
                " for the record"
            ),
            record_override,
        ),
        (
            "revert",
            (
                "withdraw the task's latest override by a recorded revert, so the GT is again what it was before that"
                " override (applied by the next `gtq run`)"
            ),
            None,
            revert,
        ),
    ):
        command = add_command(gt, action, text, handler)
        command.add_argument("--project", required=True, help="the project id (as the export names it)")
        command.add_argument("--task", required=True, help="the task id")
        if annotation:
            command.add_argument("--annotation", required=action == "set", help=annotation)
            add_warehouse(command)
        command.add_argument("--reason", required=True, help="why, for the GT history and its auditors")
        command.add_argument(
            "--author", default=settings.author(), help="who decided (default: $GIT_AUTHOR_EMAIL or $USER)"
        )
        command.add_argument(
            "--groundtruth",
            default=settings.groundtruth(default=settings.DEFAULT_GROUNDTRUTH),
            metavar="DIR",
            help="the folder of overrides.yaml (default: ./groundtruth)",
        )


def _add_version_parsers(gt) -> None:
    versions = add_command(gt, "versions", "the published GT versions, per project", show_versions)
    add_warehouse(versions)
    versions.add_argument("--project", help="the project (default: every project)")

    history = add_command(
        gt, "history", "every GT change of a task: who or what decided it, why, in which version", show_history
    )
    add_warehouse(history)
    history.add_argument("--project", help="the project (default: every project)")
    history.add_argument("--task", required=True, help="the task id")
    history.add_argument(
        "--format",
        default="table",
        choices=("table", "csv", "json"),
        help="a table for people (default), CSV or JSON lines for tools",
    )

    export = add_command(
        gt,
        "export",
        "write a project's GT version as Label Studio JSON, COCO, Scout CSV, Parquet or CVAT XML",
        export_gt,
    )
    add_warehouse(export)
    add_project(export)
    export.add_argument("--version", type=int, help="the project's GT version (default: the latest)")
    export.add_argument(
        "--format",
        required=True,
        choices=("ls-json", "coco", "scout-csv", "parquet", "cvat"),
        help="the export format (cvat: CVAT for images 1.1 annotations.xml)",
    )
    export.add_argument(
        "--split",
        help="only the tasks of this split (train, validation, test as the policy names them); exit 2 for a split the"
        " version lacks",
    )
    export.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the file to write, its folder created if needed (scout-csv: the annotations CSV; the images CSV goes"
        " beside it)",
    )


def record_override(args) -> int:
    """`gtq gt set|unset`: append a reviewed override to overrides.yaml; exit 2, writing nothing, for a broken
    file, an incomplete entry, or a project, task or annotation the warehouse lacks."""
    from pipeline.contract import ANNOTATIONS, TASKS
    from pipeline.groundtruth.policy import (
        PolicyError,
        append_override,
        load_overrides,
        new_override,
        override_target_problem,
    )
    from pipeline.warehouse import Warehouse, WarehouseError

    path = settings.overrides_path(args.groundtruth)
    fields = {
        "project": args.project,
        "task": args.task,
        "action": args.gt,
        "annotation": args.annotation,
        "author": args.author,
        "reason": args.reason,
    }
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
    print(
        f"{path}: {entry['action']} task {entry['task']} of project {entry['project']}; the next `gtq run` applies it"
    )
    return 0


def revert(args) -> int:
    """`gtq gt revert`: record the withdrawal of the task's latest override; exit 2 when there is none."""
    from pipeline.groundtruth.policy import PolicyError, revert_override

    path = settings.overrides_path(args.groundtruth)
    try:
        withdrawn = revert_override(path, project=args.project, task=args.task, author=args.author, reason=args.reason)
    except PolicyError as exc:
        print(f"gtq gt revert: {exc}", file=sys.stderr)
        return 2
    print(
        f"{path}: revert of the {withdrawn['action']} of task {args.task} of project {args.project} by"
        f" {withdrawn['author']} ({withdrawn['reason']}) recorded; the next `gtq run` gives the task the GT it had"
        " before that override"
    )
    return 0


def show_versions(args) -> int:
    """`gtq gt versions`: one line per published GT version; exit 1 when none is published yet."""
    if isinstance(found := _published(args), int):
        return found
    store, projects = found
    for info in (store.gt_version_info(p, v) for p in projects for v in store.gt_versions(p)):
        schema = "".join(f"; schema: {note}" for note in info.get("schema_changes", []))
        print(
            f"project {info['project_id']} version {info['version']}: published {info['committed_at']} by run"
            f" {info['run_id']}, {info['changes']} change(s) from {', '.join(info['sources']) or 'overrides'}{schema}"
        )
    return 0


def show_history(args) -> int:
    """`gtq gt history`: every GT change of the task, oldest first; exit 1 when no GT is published yet."""
    import polars as pl

    from pipeline.contract import GROUND_TRUTH_HISTORY

    if isinstance(found := _published(args), int):
        return found
    store, projects = found
    history = pl.concat([store.scan_project(GROUND_TRUTH_HISTORY, p) for p in projects])
    print_rows(history.filter(pl.col("task_id") == args.task).sort("valid_from").collect(), args.format)
    return 0


def _published(args) -> tuple | int:
    """The warehouse and the projects `versions` and `history` are about (the named one, else every one); or,
    after saying why on stderr, the exit status: 2 for a warehouse that cannot be opened, 1 when none of the
    projects has GT published yet."""
    from pipeline.warehouse import Warehouse, WarehouseError

    try:
        store = Warehouse(args.warehouse)
    except WarehouseError as exc:
        print(f"gtq gt {args.gt}: {exc}", file=sys.stderr)
        return 2
    projects = [args.project] if args.project else store.projects()
    if not any(store.gt_versions(p) for p in projects):
        where = f" for project {args.project}" if args.project else ""
        print(f"no ground truth published yet in {args.warehouse}{where}", file=sys.stderr)
        return 1
    return store, projects


def export_gt(args) -> int:
    """`gtq gt export`: a GT version of the project (default: the only one) as a file; exit 2 for a project,
    version or split the warehouse lacks, 1 when the project has no GT published yet."""
    from pipeline.groundtruth import export
    from pipeline.warehouse import Warehouse, WarehouseError

    try:
        store = Warehouse(args.warehouse)
    except WarehouseError as exc:
        print(f"gtq gt {args.gt}: {exc}", file=sys.stderr)
        return 2
    if (project := the_project(store, args.project, "gtq gt export")) is None:
        return 2
    if not (versions := store.gt_versions(project)):
        print(f"gtq gt export: no ground truth published yet in {store.root} for project {project}", file=sys.stderr)
        return 1
    version = versions[-1] if args.version is None else args.version
    if version not in versions:
        print(
            f"gtq gt export: project {project} has no GT version {version} (versions {versions[0]}..{versions[-1]})",
            file=sys.stderr,
        )
        return 2
    try:
        written = export.write(store.read_gt_version(project, version), args.format, Path(args.out), split=args.split)
    except LookupError as exc:  # a split the version lacks: nothing is written
        print(f"gtq gt export: project {project}: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"ground truth of project {project}, version {version}, written to {args.out} as {args.format}: {written}")
    return 0
