"""Read any published GT version without gtq: Polars, pyarrow or DuckDB on the Delta table.

    python examples/read_ground_truth_versions.py warehouse
"""

import sys

import duckdb
import polars as pl
from deltalake import DeltaTable

path = f"{sys.argv[1] if len(sys.argv) > 1 else 'warehouse'}/delta/core/ground_truth"

table = DeltaTable(path)
for commit in table.history():  # newest first: version, time, and the gtq run that published it
    print(commit["version"], commit["timestamp"], commit.get("run_id"), commit.get("changes"), "changes")

first = pl.read_delta(path, version=0)  # Polars, any version
latest = pl.read_delta(path)
print(f"version 0: {first.height} tasks with GT; latest (version {table.version()}): {latest.height}")

dataset = DeltaTable(path, version=0).to_pyarrow_dataset()  # pyarrow, for Spark, pandas or DuckDB
print(duckdb.sql("SELECT method, count(*) AS tasks FROM dataset GROUP BY method ORDER BY method").fetchall())
