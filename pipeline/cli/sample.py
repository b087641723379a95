"""`gtq sample`: write the bundled Label Studio sample export."""

from __future__ import annotations

from pipeline.cli.common import add_command


def add_parser(commands) -> None:
    sample = add_command(commands, "sample", "write the bundled Label Studio sample export", handle)
    sample.add_argument(
        "--out", required=True, metavar="PATH", help="the JSON file to write (its labeling config goes beside it)"
    )


def handle(args) -> int:
    from pipeline.sample import write_sample

    print(write_sample(args.out))
    return 0
