"""Read a published GT version without gtq: one line each in Polars, pyarrow and DuckDB.

    python examples/read_ground_truth_versions.py warehouse 7

Version N of project P is the folder `projects/P/ground_truth/N/` (the project id percent-encoded
outside letters, digits and '-'). Its files never change: `regions.parquet` is what the GT says (one
row per GT region, with the task and the decision), `ground_truth.parquet` one row per task,
`version.json` when and by which run it was published.
"""

import json
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

warehouse, project = (sys.argv[1:3] + ["warehouse", "7"][len(sys.argv[1:3]) :])[:2]
versions = Path(warehouse) / "projects" / project / "ground_truth"

for folder in sorted((p for p in versions.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
    info = json.loads((folder / "version.json").read_text())
    print(f"version {info['version']}: published by run {info['run_id']}, {info['changes']} change(s)")

first = pl.read_parquet(f"{versions}/0/regions.parquet")  # Polars
latest = max(int(p.name) for p in versions.iterdir() if p.name.isdigit())
tasks = pq.read_table(f"{versions}/{latest}/ground_truth.parquet")  # pyarrow
print(f"version 0: {first['task_id'].n_unique()} tasks with GT; latest (version {latest}): {tasks.num_rows}")
print(
    duckdb.sql(
        f"SELECT method, count(*) AS tasks FROM '{versions}/{latest}/ground_truth.parquet' GROUP BY method ORDER BY"
        " method"
    ).fetchall()
)  # DuckDB
