"""Runs at once, as users start them: `gtq run` processes side by side, readers holding gtq.duckdb open."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipeline.cli.run import execute
from pipeline.contract import ALL_TABLES, ANNOTATIONS, SOURCE_FILES, TASKS
from pipeline.warehouse import Warehouse
from tests.conftest import in_memory, ls_annotation, ls_task, run_ok, write_export

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = {"run_id", "ingested_at", "valid_from", "valid_to"}  # when and by which run: differ between any two runs


# `gtq run` processes are forked from a server that has imported gtq, Dagster and GE once (per test worker): a
# fresh interpreter would spend about 8 s of CPU importing them before the run's first write, which is not what
# these tests are about. `tests/test_cli.py` starts the command itself as a user does.
PRELOADED = multiprocessing.get_context("forkserver")
PRELOADED.set_forkserver_preload(["pipeline.cli", "pipeline.definitions", "great_expectations"])
_runs = itertools.count()  # names each run's output files


class GtqRun:
    """A `gtq run` in a process of its own and in a session of its own: a kill can take the run's whole process
    group (Dagster's log tailers too), as a killed container or node does."""

    def __init__(self, argv: list[str], env: dict[str, str], logs: Path):
        self.out, self.err = logs.with_suffix(".out"), logs.with_suffix(".err")
        self.process = PRELOADED.Process(target=_gtq, args=(argv, env, self.out, self.err))
        self.process.start()
        self.pid = self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Waits for the process to end; its output and error output."""
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise TimeoutError(f"gtq run (pid {self.pid}) still running after {timeout} s")
        return self.out.read_text(), self.err.read_text()


def _gtq(argv: list[str], env: dict[str, str], out: Path, err: Path) -> None:
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ROOT)
    for stream, path in ((sys.stdout, out), (sys.stderr, err)):
        stream.flush()
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), stream.fileno())
    from pipeline.cli import main

    sys.exit(main(argv))


def start(*sources: Path, warehouse: Path) -> GtqRun:
    args = [a for s in sources for a in ("--source", str(s))]
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    (warehouse.parent / "gt").mkdir(parents=True, exist_ok=True)  # empty: the default policy
    argv = ["run", *args, "--warehouse", str(warehouse), "--groundtruth", str(warehouse.parent / "gt")]
    logs = warehouse.parent / f"gtq-run-{next(_runs)}"
    return GtqRun(argv, env, logs)


def finish(*runs: GtqRun) -> None:
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err


def contents(store: Warehouse, ignore: set[str] = frozenset()) -> dict[str, pl.DataFrame]:
    """Every table's rows without what differs between two runs of the same input, in a fixed order."""
    tables = {}
    for table in ALL_TABLES:
        frame = store.read(table).drop([c for c in table.columns if c in VOLATILE | ignore])
        tables[table.key] = frame.sort(frame.columns, nulls_last=True) if frame.columns else frame
    return tables


def assert_same(left: dict[str, pl.DataFrame], right: dict[str, pl.DataFrame]) -> None:
    for key, frame in left.items():
        assert frame.equals(right[key]), key


def exports(tmp_path: Path) -> tuple[Path, Path]:
    a = write_export(
        tmp_path / "a.json",
        [
            ls_task(i, [ls_annotation(10 * i, ground_truth=True), ls_annotation(10 * i + 1, choice="dog")], project=10)
            for i in range(1, 4)
        ],
    )
    b = write_export(
        tmp_path / "b.json",
        [
            ls_task(i, [ls_annotation(20 * i, choice="dog", ground_truth=True), ls_annotation(20 * i + 1)], project=20)
            for i in range(1, 3)
        ],
    )
    return a, b


def test_two_projects_at_once_give_the_tables_of_one_after_the_other(tmp_path):
    a, b = exports(tmp_path)
    sequential = tmp_path / "one-by-one" / "wh"
    run_ok([a], sequential)  # the reference: one after the other, in this process
    run_ok([b], sequential)
    parallel = tmp_path / "at-once" / "wh"
    finish(
        start(a, warehouse=parallel), start(b, warehouse=parallel)
    )  # both also set up the new Dagster instance at once

    assert_same(contents(Warehouse(parallel)), contents(Warehouse(sequential)))
    with dg.DagsterInstance.from_config(
        str(parallel / ".dagster")
    ) as instance:  # the instance still works, and has both runs
        assert sorted(r.tags["dagster/partition"] for r in instance.get_runs()) == ["10", "20"]
    finish(start(a, warehouse=parallel))  # and a run on the instance they set up at once works


def test_runs_of_one_project_at_once_take_turns_and_lose_or_duplicate_nothing(tmp_path):
    a, _ = exports(tmp_path)
    later = write_export(
        tmp_path / "a2.json",
        [
            ls_task(i, [ls_annotation(10 * i, ground_truth=True), ls_annotation(10 * i + 1)], project=10)
            for i in range(4, 6)
        ],
    )
    reference = tmp_path / "ref" / "wh"
    run_ok([a, later], reference)  # the reference, in this process
    warehouse = tmp_path / "wh" / "wh"
    finish(*(start(*sources, warehouse=warehouse) for sources in ((a,), (a, later), (later,), (a,))))

    store = Warehouse(warehouse)
    assert store.read(TASKS).height == 5 and store.read(ANNOTATIONS).height == 10  # no duplicate rows
    assert sorted(store.read(SOURCE_FILES)["source_file"]) == sorted(
        [str(a), str(later)]
    )  # each file once in the ledger
    assert_same(
        contents(store, ignore={"version", "gt_version"}),
        contents(Warehouse(reference), ignore={"version", "gt_version"}),
    )


def test_a_reader_holding_the_duckdb_file_open_through_a_run(tmp_path):
    a, b = exports(tmp_path)
    store = Warehouse(tmp_path / "wh")
    (tmp_path / "gt").mkdir()
    assert execute([a], store.root, groundtruth=tmp_path / "gt", instance=in_memory()).success
    reader = duckdb.connect(str(store.duckdb_path))  # read-write, as `duckdb warehouse/gtq.duckdb` opens it
    assert reader.execute("SELECT count(*) FROM core.tasks").fetchone() == (3,)
    result = execute([b], store.root, groundtruth=tmp_path / "gt", instance=in_memory())
    assert result.success
    assert reader.execute("SELECT count(*) FROM core.tasks").fetchone() == (3,)  # the state it opened, whole
    reader.close()
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        for table in ALL_TABLES:  # Parquet and DuckDB agree afterwards
            assert con.execute(f"SELECT count(*) FROM {table.key}").fetchone()[0] == store.read(table).height, table.key


def test_runs_are_recorded_with_the_warehouse_and_their_sources(tmp_path):
    a, _ = exports(tmp_path)
    store = Warehouse(tmp_path / "wh")
    (tmp_path / "gt").mkdir()
    result = execute([a], store.root, groundtruth=tmp_path / "gt")
    with dg.DagsterInstance.from_config(str(store.root / ".dagster")) as instance:
        run = instance.get_run_by_id(result.runs["10"].run_id)
        assert run.tags["gtq/sources"] == f'["{a}"]' and run.tags["gtq/warehouse"] == str(store.root)
        assert instance.get_dynamic_partitions("projects") == ["10"]


def multiprocess_job():
    """The `gtq_all` job with Dagster's multiprocess executor: each step in its own process."""
    from pipeline.definitions import all_assets, all_checks, defs, projects

    job = dg.define_asset_job(
        "gtq_multiprocess",
        selection=dg.AssetSelection.all(),
        partitions_def=projects,
        executor_def=dg.multiprocess_executor,
    )
    return dg.Definitions(
        assets=all_assets, asset_checks=all_checks, jobs=[job], resources=defs.resources
    ).resolve_job_def(job.name)


def test_the_job_runs_with_the_multiprocess_executor(tmp_path):
    from pipeline.instance import open_instance

    a, _ = exports(tmp_path)
    in_process = tmp_path / "in-process" / "wh"
    run_ok([a], in_process)
    warehouse = tmp_path / "multiprocess" / "wh"
    (warehouse.parent / "gt").mkdir(parents=True)
    with open_instance(warehouse) as instance:
        instance.add_dynamic_partitions("projects", ["10"])
        run_config = {
            "ops": {"core_tables": {"config": {"sources": [str(a)]}}},
            "resources": {
                "warehouse": {"config": {"root": str(warehouse)}},
                "groundtruth": {"config": {"directory": str(warehouse.parent / "gt")}},
            },
            # Each step is forked from a server that has imported gtq once, as a deployment would configure it: a
            # spawned step would import Dagster, gtq and GE afresh (about 8 s of CPU each).
            "execution": {
                "config": {
                    "max_concurrent": 2,
                    "start_method": {"forkserver": {"preload_modules": [__name__, "great_expectations"]}},
                }
            },
        }
        result = dg.execute_job(
            dg.reconstructable(multiprocess_job),
            instance=instance,
            run_config=run_config,
            tags={"dagster/partition": "10"},
        )
        assert result.success
    assert_same(contents(Warehouse(warehouse)), contents(Warehouse(in_process)))
