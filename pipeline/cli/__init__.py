"""The `gtq` command. `gtq run` runs the Dagster job the UI and the schedule run, never the stages directly;
`gtq validate` only reads exports, and writes nothing.

    gtq run [--source PATH ...] [--warehouse DIR]   ingest, resolve GT, validate, score; print a summary
    gtq sample --out PATH                           write the bundled sample export
    gtq gt set|unset|revert --project P --task T ... --reason R
                                                    record a reviewed GT decision in groundtruth/overrides.yaml
    gtq gt versions [--project P]                   the published GT versions, per project
    gtq gt history --task T [--project P]           every GT change of a task
    gtq gt export [--project P] [--version N] --format F --out PATH
                                                    a project's GT version as ls-json, coco, scout-csv, parquet or cvat

    gtq ui [--warehouse DIR]                        the Dagster UI on the warehouse's runs (http://127.0.0.1:3000)
    gtq validate --source PATH ...                  hold exports to the suites before sending them; exit 1 on a bad
                                                    record

Runs are recorded in the warehouse's Dagster instance (`<warehouse>/.dagster`, or $DAGSTER_HOME when it
is set), so they show in the UI; each run carries its sources and warehouse as tags.

One module per command (`pipeline/cli/<command>.py`), each adding its parser and the handler the parser
dispatches to; `common.py` holds what several share, `summary.py` what a run did (`RunSummary`). Settings
and default places come from `pipeline.settings`.
"""

from __future__ import annotations

import argparse
import warnings

from pipeline import __version__
from pipeline.cli import explain, gt, migrate, report, run, sample, ui, validate
from pipeline.cli.common import EXIT_CODES

COMMANDS = (run, ui, validate, report, explain, migrate, sample, gt)  # in the order `gtq --help` lists them


def build_parser() -> argparse.ArgumentParser:
    """The `gtq` command line: every command and option, each with its help and its handler."""
    parser = argparse.ArgumentParser(
        prog="gtq", description="Ground truth and annotation quality pipeline.", epilog=EXIT_CODES
    )
    parser.add_argument("--version", action="version", version=f"gtq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings(
        "ignore", message=".*is currently in (preview|beta)"
    )  # Dagster's notes on APIs gtq relies on
    args = build_parser().parse_args(argv)
    return args.handler(args)
