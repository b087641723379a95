"""`gtq ui`: the Dagster UI on the warehouse's runs (http://127.0.0.1:3000)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline import settings
from pipeline.cli.common import add_command, add_warehouse
from pipeline.storage import warehouse_root


def add_parser(commands) -> None:
    ui = add_command(
        commands,
        "ui",
        "open the Dagster UI on the warehouse's runs; runs launched there write to the warehouse",
        handle,
    )
    add_warehouse(ui)
    ui.add_argument("--port", default="3000", help="the UI's port on 127.0.0.1 (default: 3000)")


def handle(args) -> int:
    return open_ui(warehouse_root(args.warehouse), args.port)


def open_ui(warehouse: Path | str, port: str) -> int:
    """`dagster dev` on the warehouse's instance, with the code location pointed at the same warehouse."""
    from pipeline.instance import instance_home, open_instance

    open_instance(warehouse).dispose()  # creates it with gtq's settings on first use
    env = {**os.environ, "DAGSTER_HOME": str(instance_home(warehouse)), settings.WAREHOUSE_VARIABLE: str(warehouse)}
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", "pipeline.definitions", "--port", port]
    os.execve(command[0], command, env)
