"""A warehouse of gtq's earlier layout (per-project commit files over Parquet files) converted by `gtq migrate`."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.contract import ANSWERS, TASKS
from pipeline.warehouse import Warehouse, WarehouseError, history_table
from tests.test_warehouse import tasks


def answers(project: str, run_id: str, gt_version: int) -> pl.DataFrame:
    rows = pl.DataFrame({"project_id": [project], "task_id": ["1"], "annotation_id": ["1"], "control": ["label"]})
    return ANSWERS.conform(pl.concat([ANSWERS.empty(), rows], how="diagonal_relaxed")).with_columns(
        run_id=pl.lit(run_id), gt_version=pl.lit(gt_version, pl.Int64)
    )


def earlier_layout(root) -> None:
    """Project 'a/b': commit 0 wrote core.tasks and quality.answers (run r0), commit 1 quality.answers again (run r1),
    and GT version 0 lies in its folder."""
    project = root / "projects" / "a%2Fb"
    files = {
        (0, TASKS): tasks("a/b", "1", "2"),
        (0, ANSWERS): answers("a/b", "r0", 0),
        (1, ANSWERS): answers("a/b", "r1", 1),
    }
    for (number, table), frame in files.items():
        (project / "tables" / table.key).mkdir(parents=True, exist_ok=True)
        frame.write_parquet(project / "tables" / table.key / f"{number:010d}.parquet")
    (project / "commits").mkdir()
    for number, written in ((0, {TASKS.key: 0, ANSWERS.key: 0}), (1, {TASKS.key: 0, ANSWERS.key: 1})):
        commit = {
            "number": number,
            "tables": written,
            "run_id": f"r{number}",
            "gt_version": number,
            "committed_at": None,
        }
        (project / "commits" / f"{number:010d}.json").write_text(json.dumps(commit))
    (project / "commits" / "HEAD").write_text("1")
    (project / "ground_truth" / "0").mkdir(parents=True)
    pl.DataFrame({"x": [1.0]}).write_parquet(project / "ground_truth" / "0" / "regions.parquet")


def test_a_warehouse_of_the_earlier_layout_is_converted_with_its_history_and_gt_versions(tmp_path):
    root = tmp_path / "wh"
    earlier_layout(root)
    gt_bytes = (root / "projects" / "a%2Fb" / "ground_truth" / "0" / "regions.parquet").read_bytes()
    with pytest.raises(WarehouseError, match="gtq migrate"):
        Warehouse(root)

    assert main(["migrate", "--warehouse", str(root)]) == 0
    store = Warehouse(root)
    assert store.read(TASKS).select("project_id", "task_id").rows() == [("a/b", "1"), ("a/b", "2")]
    assert store.read(ANSWERS).select("run_id", "gt_version").rows() == [("r1", 1)]
    history = pl.read_delta(store.table_path(history_table(ANSWERS)))  # every earlier run's rows, readable without gtq
    assert sorted(history.select("run_id", "gt_version").rows()) == [("r0", 0), ("r1", 1)]
    assert [v["gtq.run_id"] for v in store.versions(ANSWERS, "a/b")] == ["r0", "r1"]
    assert (root / "projects" / "a%2Fb" / "ground_truth" / "0" / "regions.parquet").read_bytes() == gt_bytes
    assert (
        not (root / "projects" / "a%2Fb" / "commits").exists() and not (root / "projects" / "a%2Fb" / "tables").exists()
    )
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT run_id FROM history.answers ORDER BY run_id").fetchall() == [("r0",), ("r1",)]
