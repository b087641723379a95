"""Warehouse maintenance: compaction and vacuum of the Delta tables, as a Dagster job, on many small commits."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from deltalake import DeltaTable

from pipeline.contract import ANSWERS, TASKS
from pipeline.definitions import defs
from pipeline.resources import WarehouseResource
from pipeline.warehouse import Warehouse, history_table
from tests.test_migrate import answers
from tests.test_warehouse import tasks


def many_small_commits(store: Warehouse) -> None:
    for run in range(12):
        store.write_project(
            "7", {TASKS: tasks("7", *map(str, range(run + 1))), ANSWERS: answers("7", f"r{run}", run)}, run_id=f"r{run}"
        )


def test_the_maintenance_job_compacts_and_vacuums_without_losing_history_or_gt_versions(tmp_path):
    store = Warehouse(tmp_path / "wh")
    many_small_commits(store)
    store.storage.publish_folder(
        "projects/7/ground_truth/0",
        lambda at: pl.DataFrame({"x": [1.0]}).write_parquet(at("regions.parquet")),
        "version.json",
        "{}",
    )
    history = history_table(ANSWERS)
    assert len(store.current_files(history)["7"]) == 12  # one appended file per run
    old_version = store.versions(TASKS, "7")[0]["version"]

    result = defs.resolve_job_def("maintenance").execute_in_process(
        run_config={"ops": {"compact_and_vacuum": {"config": {"retention_hours": 0}}}},
        resources={"warehouse": WarehouseResource(root=str(store.root))},
    )
    assert result.success
    assert len(store.current_files(history)["7"]) == 1  # compacted
    assert sorted(pl.read_delta(store.table_path(history))["run_id"].to_list()) == sorted(f"r{n}" for n in range(12))
    assert store.read(TASKS).height == 12 and store.read(ANSWERS)["run_id"].to_list() == ["r11"]
    with pytest.raises(FileNotFoundError, match="No such file or directory"):  # vacuumed: past versions' files are gone
        pl.read_delta(store.table_path(TASKS), version=old_version)
    assert pl.read_parquet(store.gt_version_path("7", 0) / "regions.parquet")["x"].to_list() == [1.0]


def test_a_retention_keeps_time_travel_inside_it(tmp_path):
    store = Warehouse(tmp_path / "wh")
    many_small_commits(store)
    first = store.versions(TASKS, "7")[0]["version"]
    store.maintain(timedelta(days=7))
    assert store.scan_project(TASKS, "7", version=first).collect()["task_id"].to_list() == ["0"]
    assert DeltaTable(store.table_path(TASKS)).version() >= 12
