"""How often do the two write paths keep row order? Repeat the managers' delta-rs calls on the same frame.
(a) write_deltalake(reader of df.to_arrow(), partition_by) as dagster-deltalake does (first write: no predicate;
    later: predicate); (b) DataFrame.write_delta(..., delta_write_options={partition_by, predicate}) as
    dagster-polars."""

import json
import shutil
import sys

sys.path.insert(0, "/tmp/iobench")
import polars as pl
from deltalake import DeltaTable, write_deltalake

import bench

n, tries = int(sys.argv[1]), int(sys.argv[2])
df = bench.regions_frame(n).collect()
gen = df.select("task_id", "region_id")
P = "/tmp/iobench/dbg/probe"


def read_back():
    return pl.read_delta(P).filter(pl.col("project_id") == "7").select("task_id", "region_id")


def files():
    return len(DeltaTable(P).file_uris())


out = {"n": n, "df_chunks": df.n_chunks(), "arrow_batches": len(df.to_arrow().to_batches())}
for name in ("a_first_write", "a_predicate_overwrite", "a_rechunked_first_write", "b_write_delta_predicate"):
    kept = 0
    for _ in range(tries):
        if name != "a_predicate_overwrite" or _ == 0:
            shutil.rmtree(P, ignore_errors=True)
        if name.startswith("a_first") or (name == "a_predicate_overwrite" and _ == 0):
            write_deltalake(P, df.to_arrow().to_reader(), mode="overwrite", partition_by=["project_id"])
            if name == "a_predicate_overwrite":
                write_deltalake(
                    P,
                    df.to_arrow().to_reader(),
                    mode="overwrite",
                    partition_by=["project_id"],
                    predicate="project_id = '7'",
                )
        elif name == "a_predicate_overwrite":
            write_deltalake(
                P,
                df.to_arrow().to_reader(),
                mode="overwrite",
                partition_by=["project_id"],
                predicate="project_id = '7'",
            )
        elif name == "a_rechunked_first_write":
            write_deltalake(P, df.rechunk().to_arrow().to_reader(), mode="overwrite", partition_by=["project_id"])
        else:
            df.write_delta(
                P, mode="overwrite", delta_write_options={"partition_by": "project_id", "predicate": "project_id = '7'"}
            )
        kept += read_back().equals(gen)
    out[name] = f"{kept}/{tries} kept ({files()} file(s))"
print(json.dumps(out))
