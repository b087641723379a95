"""The warehouse's storage promises, without Dagster: Delta tables partitioned by project, the DuckDB file of views,
paths as data."""

from __future__ import annotations

import random

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from pipeline import warehouse
from pipeline.contract import ANSWERS, REGIONS, TASKS
from pipeline.warehouse import Warehouse, WarehouseError, project_folder


def tasks(project: str, *ids: str) -> pl.DataFrame:
    rows = [{"project_id": project, "task_id": t, "item_key": t, "data_json": "{}"} for t in ids]
    return pl.DataFrame(rows).with_columns(
        *(pl.lit(None).alias(c) for c in ("created_at", "updated_at", "raw_hash", "source_file", "content_hash"))
    )


def test_a_project_write_replaces_only_its_own_partition(tmp_path):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1")})
    files_of_a = store.current_files(TASKS)["a"]
    store.write_project("b", {TASKS: tasks("b", "1", "2")})
    store.write_project("b", {TASKS: tasks("b", "3")})
    assert store.current_files(TASKS)["a"] == files_of_a
    assert store.read(TASKS).select("project_id", "task_id").sort("project_id").rows() == [("a", "1"), ("b", "3")]
    assert store.projects() == ["a", "b"] and len(store.versions(TASKS, "b")) == 2
    # Read back without gtq: a Delta table partitioned by project, with every write a version.
    table = DeltaTable(store.table_path(TASKS))
    assert table.metadata().partition_columns == ["project_id"]
    assert [c["gtq.project_id"] for c in table.history() if c["operation"] == "WRITE"] == ["b", "b", "a"]
    assert pl.scan_delta(store.table_path(TASKS)).filter(pl.col("project_id") == "b").collect()[
        "task_id"
    ].to_list() == ["3"]


def test_a_replacement_that_another_project_commits_under_is_read_again_and_retried(tmp_path, monkeypatch):
    """delta-rs fails a partition replacement when another project replaced its rows after the table was loaded;
    the write re-reads the partition and commits again, and neither project's rows are lost. Here the other
    commit is a real one, made by a second writer at the moment the first is about to commit."""
    store, other = Warehouse(tmp_path / "wh"), Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1")})
    store.write_project("b", {TASKS: tasks("b", "1")})
    commit, attempts = DeltaTable.create_write_transaction, []

    def with_a_commit_in_between(delta, *args, **kwargs):
        attempts.append(delta.version())
        if len(attempts) == 1:
            other.write_project("b", {TASKS: tasks("b", "2")}, views=False)
        return commit(delta, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "create_write_transaction", with_a_commit_in_between)
    store.write_project("a", {TASKS: tasks("a", "2")})
    monkeypatch.undo()
    assert len(attempts) == 3  # a's first try, b's commit, a's retry on the version after b's
    assert attempts[2] > attempts[0]
    assert store.read(TASKS).select("project_id", "task_id").sort("project_id").rows() == [("a", "2"), ("b", "2")]


def test_every_write_stays_readable_as_a_delta_version(tmp_path):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1")}, run_id="first")
    store.write_project("a", {TASKS: tasks("a", "2")}, run_id="second")
    first, second = store.versions(TASKS, "a")
    assert (first["gtq.run_id"], second["gtq.run_id"]) == ("first", "second")
    assert store.scan_project(TASKS, "a", version=first["version"]).collect()["task_id"].to_list() == ["1"]
    assert pl.read_delta(store.table_path(TASKS), version=first["version"])["task_id"].to_list() == ["1"]
    assert store.scan_project(TASKS, "a").collect()["task_id"].to_list() == ["2"]


def test_a_write_that_fails_midway_commits_nothing(tmp_path, monkeypatch):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1"), ANSWERS: ANSWERS.empty()})
    versions = {t.key: DeltaTable(store.table_path(t)).version() for t in (TASKS, ANSWERS)}
    real_sink = pl.LazyFrame.sink_parquet

    def failing_sink(frame, target, *args, **kwargs):
        if "quality/answers" in str(target):  # the second table's file: the first is already written
            raise OSError("disk full (simulated)")
        return real_sink(frame, target, *args, **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", failing_sink)
    with pytest.raises(OSError, match="disk full"):
        store.write_project("a", {TASKS: tasks("a", "2"), ANSWERS: ANSWERS.empty()})
    monkeypatch.undo()
    assert {t.key: DeltaTable(store.table_path(t)).version() for t in (TASKS, ANSWERS)} == versions
    assert store.read(TASKS)["task_id"].to_list() == ["1"]
    store.write_project("a", {TASKS: tasks("a", "3")})
    assert store.read(TASKS)["task_id"].to_list() == ["3"]


@pytest.mark.parametrize("project", ["1; DROP TABLE core.tasks", "../x", "project_id=evil", "*", "é/?", "a b", "it's"])
def test_project_ids_are_data_never_paths(tmp_path, project):
    store = Warehouse(tmp_path / "wh")
    store.write_project(project, {TASKS: tasks(project, "1")})
    store.write_project("other", {TASKS: tasks("other", "1")})
    store.write_project(project, {TASKS: tasks(project, "2")})  # its predicate names the project, quotes and all
    assert store.gt_version_path(project, 0).parent.parent.parent == store.root / "projects"
    assert store.projects() == sorted([project, "other"])
    assert DeltaTable(store.table_path(TASKS)).partitions() == [
        {"project_id": p} for p in sorted([project, "other"])
    ] or sorted(p["project_id"] for p in DeltaTable(store.table_path(TASKS)).partitions()) == sorted([project, "other"])
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT project_id, task_id FROM core.tasks ORDER BY ALL").fetchall() == sorted(
            [(project, "2"), ("other", "1")]
        )


def test_project_folder_names_are_plain():
    assert project_folder("7") == "7" and project_folder("a/b") == "a%2Fb" and project_folder("é") == "%C3%A9"
    with pytest.raises(ValueError, match="must not be empty"):
        project_folder("")


def test_a_warehouse_path_that_looks_like_a_partition_is_just_a_path(tmp_path):
    store = Warehouse(tmp_path / "project_id=evil" / "wh")
    store.write_project("7", {TASKS: tasks("7", "1")})
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT DISTINCT project_id FROM core.tasks").fetchall() == [("7",)]
    assert store.read(TASKS)["project_id"].to_list() == ["7"]


def test_readers_never_block_writers_and_see_a_whole_state(tmp_path):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1")})
    reader = duckdb.connect(str(store.duckdb_path))  # read-write, as the duckdb CLI opens it by default
    assert reader.execute("SELECT count(*) FROM core.tasks").fetchone() == (1,)
    store.write_project("a", {TASKS: tasks("a", "1", "2")})  # would raise "Could not set lock" on a shared file
    assert reader.execute("SELECT count(*) FROM core.tasks").fetchone() == (1,)  # its own consistent state
    reader.close()
    with duckdb.connect(str(store.duckdb_path), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM core.tasks").fetchone() == (2,)


def test_empty_tables_have_their_columns_in_duckdb(tmp_path):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1")})
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert [r[0] for r in con.execute("DESCRIBE quality.answers").fetchall()] == list(ANSWERS.columns)
        assert con.execute("SELECT count(*) FROM history.answers").fetchone() == (0,)


def test_a_warehouse_of_an_earlier_layout_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "old" / "parquet" / "core").mkdir(parents=True)
    with pytest.raises(WarehouseError, match="new warehouse folder"):
        Warehouse(tmp_path / "old")
    (tmp_path / "commits" / "projects" / "7" / "commits").mkdir(parents=True)
    (tmp_path / "commits" / "projects" / "7" / "commits" / "0000000000.json").write_text("{}")
    with pytest.raises(WarehouseError, match="gtq migrate --warehouse"):
        Warehouse(tmp_path / "commits")


@pytest.mark.parametrize("folder", ["w?", "w*"])
def test_glob_characters_in_the_warehouse_path_never_pull_in_a_sibling(tmp_path, folder):
    store, sibling = Warehouse(tmp_path / folder / "wh"), Warehouse(tmp_path / "wX" / "wh")
    sibling.write_project("7", {TASKS: tasks("7", "1", "2", "3")})
    store.write_project("7", {TASKS: tasks("7", "1")})
    assert store.read(TASKS).height == 1
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.tasks").fetchone() == (1,)


def test_a_warehouse_path_delta_cannot_open_is_refused_by_name(tmp_path):
    with pytest.raises(WarehouseError, match=r"w\[X\].*cannot open"):
        Warehouse(tmp_path / "w[X]" / "wh")


def test_the_duckdb_file_catches_up_whatever_state_it_was_left_in(tmp_path):
    store = Warehouse(tmp_path / "wh")
    store.write_project("a", {TASKS: tasks("a", "1"), ANSWERS: ANSWERS.empty()})
    store.write_project("b", {TASKS: tasks("b", "1")})
    stale = store.duckdb_path.read_bytes()
    store.write_project("a", {TASKS: tasks("a", "1", "2")})
    store.duckdb_path.write_bytes(stale)  # as if killed between the commit and the views' update
    store.write_project("a", {ANSWERS: ANSWERS.empty()})  # the next write brings every view up to date
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT project_id, count(*) FROM core.tasks GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("a", 2),
            ("b", 1),
        ]
    store.duckdb_path.write_bytes(b"not a database")
    store.write_project("b", {TASKS: tasks("b", "1", "2", "3")})  # unreadable: rebuilt from the Delta tables
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT project_id, count(*) FROM core.tasks GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("a", 2),
            ("b", 3),
        ]


def test_a_table_sorted_range_by_range_is_the_file_a_whole_sort_makes(tmp_path, monkeypatch):
    """Large tables are sorted a range of tasks at a time to bound memory: the bytes must not tell."""
    rng = random.Random(7)
    rows = [
        {
            "project_id": "a",
            "task_id": rng.choice([None, *map(str, range(40))]),
            "annotation_id": str(rng.randrange(3)),
            "region_id": str(rng.randrange(2)),
            "item_index": 0,
            "value_json": f'{{"v": {rng.randrange(4)}}}',
        }
        for _ in range(500)
    ]
    regions = REGIONS.conform(pl.concat([REGIONS.empty(), pl.DataFrame(rows)], how="diagonal_relaxed"))
    whole = Warehouse(tmp_path / "whole")
    whole.write_project("a", {REGIONS: regions})
    monkeypatch.setattr(warehouse, "ROWS_PER_SORT", 60)
    by_range = Warehouse(tmp_path / "ranges")
    by_range.write_project("a", {REGIONS: regions.sample(fraction=1.0, shuffle=True, seed=1)})

    assert len(warehouse._task_ranges(regions.lazy(), "task_id")) >= 8
    assert by_range.scan_project(REGIONS, "a").collect().equals(whole.scan_project(REGIONS, "a").collect())
    assert by_range.scan_project(REGIONS, "a").collect()["task_id"].null_count() == regions["task_id"].null_count() > 0


def test_a_column_the_contract_gained_is_added_to_the_delta_schema_for_every_reader(tmp_path):
    """A table written before its contract had `raw_hash`: the next write adds the column to the Delta schema,
    so a reader of the table (deltalake, Polars) sees it, null in the rows written before."""
    store = Warehouse(tmp_path / "wh")
    earlier = TASKS.conform(tasks("a", "1").lazy()).collect().drop("raw_hash")
    write_deltalake(store.table_path(TASKS), earlier.to_arrow(), partition_by=["project_id"])
    store.write_project("b", {TASKS: tasks("b", "2").with_columns(raw_hash=pl.lit("ab12"))})
    assert "raw_hash" in [field.name for field in DeltaTable(store.table_path(TASKS)).schema().fields]
    read = pl.read_delta(store.table_path(TASKS)).sort("project_id").select("project_id", "raw_hash").rows()
    assert read == [("a", None), ("b", "ab12")]
