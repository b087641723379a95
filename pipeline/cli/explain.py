"""`gtq explain`: where a number comes from: the export file and hash, the annotations, the GT decisions and
the score rows."""

from __future__ import annotations

import sys

from pipeline.cli.common import add_command, add_project, add_warehouse, print_rows, the_project
from pipeline.storage import warehouse_root


def add_parser(commands) -> None:
    explain = add_command(
        commands,
        "explain",
        "where a number comes from: the export file and hash, the annotations, the GT decisions and the score rows",
        handle,
    )
    add_project(explain)
    about = explain.add_mutually_exclusive_group(required=True)
    about.add_argument("--annotator", help="explain this annotator's (or model version's) accuracy")
    about.add_argument("--task", help="explain this task's GT and the scores against it")
    explain.add_argument(
        "--format",
        default="table",
        choices=("table", "csv", "json"),
        help="the rows as a table (default), or for tools CSV or JSON lines: then stdout holds only the rows, the chain"
        " above them goes to stderr",
    )
    add_warehouse(explain)


def handle(args) -> int:
    """Print the chain behind an annotator's accuracy or a task's GT; exit 2 when there is no such thing.
    For tools (`--format csv|json`) stdout holds only the rows and the chain goes to stderr."""
    from pipeline.lineage import explain_annotator, explain_task
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse_root(args.warehouse))
    if (project := the_project(store, args.project, "gtq explain")) is None:
        return 2
    try:
        if args.annotator:
            found = explain_annotator(store, project, args.annotator)
        else:
            found = explain_task(store, project, args.task)
    except LookupError as exc:
        print(f"gtq explain: {exc.args[0]}", file=sys.stderr)
        return 2
    print("\n".join(found.lines), file=sys.stdout if args.format == "table" else sys.stderr)
    print_rows(found.rows, args.format)
    return 0
