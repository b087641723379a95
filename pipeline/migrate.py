"""Convert a warehouse of gtq's earlier layout (per-project commit files over Parquet files) into Delta
tables, keeping every GT version and the quality history. No Dagster here.

The earlier layout, under the root:

    projects/<project>/commits/<n>.json            commit n: for every table, the commit whose file holds its rows
    projects/<project>/tables/<schema>.<table>/<n>.parquet
    projects/<project>/ground_truth/<v>/           GT version v (kept where it is: the same folder in both layouts)

Each project's commits are replayed in order: every table file a commit wrote becomes one Delta version of
that table's partition, with the commit's run, so a quality table's earlier states land in `history.*` as
they would have. Then the commit files and Parquet files are removed and `gtq.duckdb` is rebuilt.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import polars as pl

from pipeline.contract import ALL_TABLES
from pipeline.storage import open_storage
from pipeline.warehouse import Warehouse


def migrate(root: str | Path, log=print) -> dict[str, int]:
    """Convert the warehouse at `root` in place; returns the number of table versions written per project.

    Safe to run again after an interruption: a project is removed from the earlier layout only after all of
    its commits were written, and its partitions are overwritten from the start when it is replayed again."""
    storage = open_storage(root)
    tables = {table.key: table for table in ALL_TABLES}
    written = {}
    for folder in storage.names("projects"):
        commits = sorted(
            n for n in storage.names(f"projects/{folder}/commits") if n.endswith(".json") and n[0].isdigit()
        )
        if not commits:
            continue
        project, count = unquote(folder), 0
        store = Warehouse(root, migrating=True)
        for name in commits:
            commit = json.loads(storage.read_text(f"projects/{folder}/commits/{name}"))
            frames = {
                tables[key]: pl.read_parquet(storage.location(f"projects/{folder}/tables/{key}/{number:010d}.parquet"))
                for key, number in commit["tables"].items()
                if number == commit["number"] and key in tables
            }
            store.write_project(project, frames, run_id=commit.get("run_id"))
            count += len(frames)
        for leftover in ("commits", "tables", "staging"):
            storage.delete_tree(f"projects/{folder}/{leftover}")
        written[project] = count
        log(f"project {project}: {len(commits)} commit(s) replayed as {count} Delta table version(s); GT versions kept")
    return written
