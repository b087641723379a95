"""`gtq migrate`: a warehouse of gtq's earlier layout into Delta tables."""

from __future__ import annotations

from pipeline.cli.common import add_command, add_warehouse
from pipeline.storage import warehouse_root


def add_parser(commands) -> None:
    migrate = add_command(
        commands,
        "migrate",
        "convert a warehouse of gtq's earlier layout (per-project commit files) into Delta tables, keeping GT versions"
        " and history",
        handle,
    )
    add_warehouse(migrate)


def handle(args) -> int:
    from pipeline.migrate import migrate

    migrate(warehouse_root(args.warehouse))
    return 0
