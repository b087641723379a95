"""Benchmark three IO managers storing a partitioned Polars asset (gtq's core.regions shape) as Delta tables.

  python -m bench.io_managers all [N ...]               every case, one subprocess each, sequentially (the driver)
  python -m bench.io_managers run   CASE N ROOT         one materialization (timed, in a child; RSS read by the driver)
  python -m bench.io_managers check CASE N ROOT         row order of the read-back upstream + bytes on disk (not timed)

CASE: a = dagster-deltalake-polars DeltaLakePolarsIOManager
      b = dagster-polars PolarsDeltaIOManager
      c = gtq WarehouseIOManager inside Dagster (upstream core.regions; downstream on mem_io_manager,
          since gtq's IO manager only stores gtq contract tables)
      d = gtq Warehouse outside Dagster: write_project("7", {REGIONS: frame}) + scan_project aggregated
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

HERE = Path(__file__).resolve().parent
PROJECT = "7"
ROW_KEY = ["project_id", "task_id", "annotation_id", "region_id", "item_index"]
LABELS = ["Car", "Person", "Car,Person", "Truck", "Bicycle"]


# ----------------------------------------------------------------------------------------------- data
def regions_frame(n: int, project: str = PROJECT) -> pl.LazyFrame:
    """n rows shaped like gtq's core.regions: 12 regions per task (2 annotations x 6 regions), ids and
    geometry derived deterministically from the row number, in the contract's columns and types."""
    from pipeline.contract import REGIONS

    i = pl.col("i")
    h = i.hash(seed=1)
    task = i // 12
    num = lambda e: ((e % 10_000).cast(pl.Float64) / 100.0).round(2)  # noqa: E731  0..100, 2 decimals
    frame = (
        pl.LazyFrame()
        .select(pl.int_range(0, n, dtype=pl.Int64).alias("i"))
        .with_columns(
            project_id=pl.lit(project),
            task_id=pl.lit("t") + task.cast(pl.String).str.zfill(8),
            annotation_id=pl.lit("a") + (task * 2 + (i % 12) // 6).cast(pl.String).str.zfill(9),
            region_id=h.cast(pl.String).str.slice(0, 10),  # random-looking 10-char id, like Label Studio's
            item_index=pl.lit(0, pl.Int32),
            control=pl.lit("label"),
            to_name=pl.lit("image"),
            type=pl.lit("rectanglelabels"),
            labels=pl.lit(pl.Series(LABELS)).gather(i % len(LABELS)).str.split(","),
            x=num(h),
            y=num(h // 7),
            width=(num(h // 13) / 4).round(2),
            height=(num(h // 17) / 4).round(2),
            rotation=pl.lit(0.0),
            original_width=pl.lit(1920, pl.Int64),
            original_height=pl.lit(1080, pl.Int64),
            coordinate_unit=pl.lit("percent"),
            scorable=pl.lit(True),
        )
        .with_columns(
            value_json=pl.concat_str(
                pl.lit('{"x":'),
                "x",
                pl.lit(',"y":'),
                "y",
                pl.lit(',"width":'),
                "width",
                pl.lit(',"height":'),
                "height",
                pl.lit(',"rectanglelabels":["'),
                pl.col("labels").list.join('","'),
                pl.lit('"]}'),
            ),
        )
        .with_columns(content_hash=pl.struct("region_id", "value_json").hash(seed=2).cast(pl.String).str.zfill(20))
    )
    for c, t in REGIONS.columns.items():  # the contract's remaining columns, null
        if c not in frame.collect_schema():
            frame = frame.with_columns(pl.lit(None, t).alias(c))
    return REGIONS.conform(frame)


def summarize(regions: pl.LazyFrame) -> pl.LazyFrame:
    """The downstream: filter, per-task count and mean x, then a small histogram of per-task counts."""
    per_task = regions.filter(pl.col("width") > 1.0).group_by("task_id").agg(n=pl.len(), mean_x=pl.col("x").mean())
    return (
        per_task.group_by("n")
        .agg(tasks=pl.len(), mean_x=pl.col("mean_x").mean())
        .sort("n")
        .with_columns(project_id=pl.lit(PROJECT))
        .select("project_id", "n", "tasks", "mean_x")
    )


# ----------------------------------------------------------------------------------------------- assets
def build(case: str, n: int, root: str, check_out: str | None = None):
    """Assets and resources for `case`; with check_out, also an asset that records the read-back order."""

    projects = dg.DynamicPartitionsDefinition(name="projects")
    key_up, key_down = ["core", "regions"], ["core", "regions_summary"]
    down_io = "io_manager"
    if case == "a":
        from dagster_deltalake import LocalConfig
        from dagster_deltalake_polars import DeltaLakePolarsIOManager

        meta = {"partition_expr": "project_id", "schema": "core"}
        resources = {"io_manager": DeltaLakePolarsIOManager(root_uri=root, storage_options=LocalConfig())}
    elif case == "b":
        from dagster_polars import PolarsDeltaIOManager

        meta = {"partition_by": "project_id"}
        resources = {"io_manager": PolarsDeltaIOManager(base_dir=root)}
    elif case == "c":
        from pipeline.resources import WarehouseResource, warehouse_io_manager

        meta = {}
        down_io = "mem"
        resources = {
            "warehouse": WarehouseResource(root=root),
            "io_manager": warehouse_io_manager,
            "mem": dg.mem_io_manager,
        }
    else:
        raise ValueError(case)
    resources.setdefault("mem", dg.mem_io_manager)

    @dg.asset(key=key_up, partitions_def=projects, metadata=meta)
    def regions(context: dg.AssetExecutionContext) -> pl.LazyFrame:
        return regions_frame(n, context.partition_key)

    @dg.asset(
        key=key_down,
        partitions_def=projects,
        metadata=meta,
        ins={"regions": dg.AssetIn(key_up)},
        io_manager_key=down_io,
    )
    def regions_summary(regions: pl.LazyFrame) -> pl.DataFrame:
        return summarize(regions).collect()

    assets = [regions, regions_summary]
    if check_out:

        @dg.asset(
            key=["bench", "order_check"],
            partitions_def=projects,
            ins={"regions": dg.AssetIn(key_up)},
            io_manager_key="mem",
        )
        def order_check(regions: pl.LazyFrame) -> None:
            Path(check_out).write_text(json.dumps(order_report(case, n, regions)))

        assets.append(order_check)
    return assets, resources


def order_report(case: str, n: int, read: pl.LazyFrame) -> dict:
    """Compare the read-back rows' order with the written order: the frame as generated for a and b, the
    frame in gtq's row-key order for c and d (gtq writes every table sorted by its row key, by design)."""
    got = read.select("task_id", "region_id").collect()
    expected = regions_frame(n).select(ROW_KEY)
    if case in ("c", "d"):
        expected = expected.sort(ROW_KEY, maintain_order=True)
    expected = expected.select("task_id", "region_id").collect()
    gen = regions_frame(n).select("task_id", "region_id").collect()
    return {
        "rows_read": got.height,
        "task_id_order_kept": got.height == n and got["task_id"].equals(expected["task_id"]),
        "row_order_kept": got.height == n and got.equals(expected),
        "same_as_generated_order": got.height == n and got.equals(gen),
        "task_id_sorted": bool(got["task_id"].is_sorted()),
    }


def instance_for(root: str):
    from dagster import DagsterInstance

    home = Path(root).parent / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    instance = DagsterInstance.local_temp(tempdir=str(home))
    if PROJECT not in instance.get_dynamic_partitions("projects"):
        instance.add_dynamic_partitions("projects", [PROJECT])
    return instance


# ----------------------------------------------------------------------------------------------- child modes
def run(case: str, n: int, root: str) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    if case == "d":
        from pipeline.contract import REGIONS
        from pipeline.warehouse import Warehouse

        t0 = time.perf_counter()
        Warehouse(root).write_project(PROJECT, {REGIONS: regions_frame(n)})
        t1 = time.perf_counter()
        summary = summarize(Warehouse(root).scan_project(REGIONS, PROJECT)).collect()
        t2 = time.perf_counter()
        return {
            "seconds": t2 - t0,
            "write_s": t1 - t0,
            "read_s": t2 - t1,
            "summary_rows": summary.height,
            "tasks": int(summary["tasks"].sum()),
        }

    assets, resources = build(case, n, root)
    instance = instance_for(root)
    t0 = time.perf_counter()
    result = dg.materialize(assets, partition_key=PROJECT, instance=instance, resources=resources, raise_on_error=True)
    seconds = time.perf_counter() - t0
    steps = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 2)
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS"
    }
    return {"seconds": seconds, "steps_s": steps, "success": result.success}


def check(case: str, n: int, root: str) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    if case == "d":
        from pipeline.contract import REGIONS
        from pipeline.warehouse import Warehouse

        report = order_report(case, n, Warehouse(root).scan_project(REGIONS, PROJECT))
    else:
        import dagster as dg

        out = str(Path(root).parent / "order.json")
        assets, resources = build(case, n, root, check_out=out)
        dg.materialize(
            assets,
            selection=[assets[-1].key],
            partition_key=PROJECT,
            instance=instance_for(root),
            resources=resources,
            raise_on_error=True,
        )
        report = json.loads(Path(out).read_text())
    table_dir = {
        "a": "core/regions",
        "b": "core/regions.delta",
        "c": "tables/core/regions",
        "d": "tables/core/regions",
    }[case]
    files = list((Path(root) / table_dir).rglob("*.parquet"))
    report["parquet_files"] = len(files)
    report["parquet_bytes"] = sum(p.stat().st_size for p in files)
    report["all_bytes_under_root"] = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    return report


# ----------------------------------------------------------------------------------------------- driver
def child_wait4(mode: str, case: str, n: int, root: str, log: Path) -> dict:
    t0 = time.perf_counter()
    with open(log, "wb") as errf:
        proc = subprocess.Popen(
            [sys.executable, __file__, mode, case, str(n), root], stdout=subprocess.PIPE, stderr=errf
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result = {
        "rc": proc.returncode,
        "process_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }
    lines = out.decode().strip().splitlines()
    if proc.returncode == 0 and lines:
        result.update(json.loads(lines[-1]))
    else:
        result["error_tail"] = log.read_text()[-1500:]
    return result


def main(sizes: list[int], cases: list[str]) -> None:
    results = HERE / "results" / "io_managers.jsonl"
    for n in sizes:
        for case in cases:
            work = Path(tempfile.gettempdir()) / "gtq-io-managers" / f"{case}-{n}"
            shutil.rmtree(work, ignore_errors=True)
            (work / "root").mkdir(parents=True)
            root = str(work / "root")
            load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            print(f"== case {case} N={n:,} | {load}", flush=True)
            measured = child_wait4("run", case, n, root, work / "run.stderr")
            print("   run:", json.dumps(measured), flush=True)
            checked = child_wait4("check", case, n, root, work / "check.stderr") if measured["rc"] == 0 else {}
            print("   check:", json.dumps(checked), flush=True)
            with open(results, "a") as f:
                f.write(
                    json.dumps({"case": case, "n": n, "uptime_before": load, "run": measured, "check": checked}) + "\n"
                )
            # keep the disk tidy: the data are measured, the folder is not needed
            shutil.rmtree(work / "root", ignore_errors=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "all":
        args = sys.argv[2:]
        sizes = [int(a) for a in args if a.isdigit()] or [1_000_000, 12_000_000]
        cases = [a for a in args if not a.isdigit()] or ["a", "b", "c", "d"]
        main(sizes, cases)
    else:
        case, n, root = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        print(json.dumps(run(case, n, root) if mode == "run" else check(case, n, root)), flush=True)
