"""`gtq validate`: hold exports to the suites before sending them, without a warehouse or Dagster; it writes
nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.common import UnusableSources, add_command, source_files


def add_parser(commands) -> None:
    validate = add_command(
        commands,
        "validate",
        "read exports and hold them to the suites in expectations/ without a warehouse; exit 1 if a record would be"
        " quarantined",
        handle,
    )
    validate.add_argument(
        "--source", action="append", required=True, metavar="PATH", help="export file or folder; repeat for several"
    )


def handle(args) -> int:
    return validate_command(args.source)


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
