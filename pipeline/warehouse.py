"""The warehouse on disk: Parquet files (what the pipeline reads), a DuckDB copy (what people query)
and Delta Lake tables for the versioned ground truth. No Dagster here.

Layout under the root:
    gtq.duckdb                              every contract table, as `<schema>.<table>`
    parquet/<schema>/<table>.parquet        the same tables as Parquet
    delta/<schema>/<table>/                 versioned tables (the GT dataset), readable without gtq

Writes are atomic per file: Parquet goes to a temporary name and is renamed; DuckDB replaces the
table inside one transaction; Delta commits are atomic by design.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
from deltalake import CommitProperties, DeltaTable

from pipeline.contract import Table


class Warehouse:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def duckdb_path(self) -> Path:
        return self.root / "gtq.duckdb"

    def parquet_path(self, table: Table) -> Path:
        return self.root / "parquet" / table.schema / f"{table.name}.parquet"

    def delta_path(self, table: Table) -> Path:
        return self.root / "delta" / table.schema / table.name

    def read(self, table: Table) -> pl.DataFrame:
        """The table's current rows; an empty frame with the contract's schema if never written."""
        return self.scan(table).collect()

    def scan(self, table: Table) -> pl.LazyFrame:
        """The table's rows in the contract's schema. Columns the contract gained after the file was written
        read as null, so a warehouse written by an earlier gtq keeps working."""
        path = self.parquet_path(table)
        if not path.exists():
            return table.empty().lazy()
        stored = pl.scan_parquet(path)
        added = [c for c in table.columns if c not in stored.collect_schema().names()]
        return table.conform(stored.with_columns(pl.lit(None, table.columns[c]).alias(c) for c in added))

    def scan_project(self, table: Table, project_id: str) -> pl.LazyFrame:
        return self.scan(table).filter(pl.col("project_id") == project_id)

    def with_project(self, table: Table, project_id: str, rows: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        """The whole table with `project_id`'s rows replaced by `rows` (the other projects' untouched)."""
        return pl.concat([self.scan(table).filter(pl.col("project_id") != project_id), table.conform(rows.lazy())])

    def write(self, table: Table, frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        """Replace one table; returns a scan of what was written."""
        return self.write_many({table: frame})[table]

    def write_many(self, frames: dict[Table, pl.DataFrame | pl.LazyFrame]) -> dict[Table, pl.LazyFrame]:
        """Replace several tables together: all of them or, if anything fails, none.

        Every table is first written in full to a temporary file (lazy frames stream, in bounded
        memory); only when all are written are they renamed into place, then loaded into DuckDB in one
        transaction. Parquet is the source of truth: DuckDB is reloaded from it on every write.
        """
        staged: dict[Table, Path] = {}
        try:
            for table, frame in frames.items():
                path = self.parquet_path(table)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".partial")
                staged[table] = partial
                table.conform(frame.lazy()).sink_parquet(partial)
            for table, partial in staged.items():
                os.replace(partial, self.parquet_path(table))
        finally:
            for partial in staged.values():
                partial.unlink(missing_ok=True)
        self._load_duckdb(list(frames))
        return {table: pl.scan_parquet(self.parquet_path(table)) for table in frames}

    def _load_duckdb(self, tables: list[Table]) -> None:
        with duckdb.connect(str(self.duckdb_path)) as con:
            con.execute("BEGIN TRANSACTION")
            for table in tables:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
                con.execute(f"CREATE OR REPLACE TABLE {table.key} AS SELECT * FROM read_parquet(?)", [str(self.parquet_path(table))])
                description = table.description.replace("'", "''")
                con.execute(f"COMMENT ON TABLE {table.key} IS '{description}'")
            con.execute("COMMIT")

    def delta_version(self, table: Table) -> int | None:
        """The latest committed version of a versioned table, None before its first commit."""
        path = self.delta_path(table)
        return DeltaTable(str(path)).version() if DeltaTable.is_deltatable(str(path)) else None

    def read_version(self, table: Table, version: int | None = None) -> pl.DataFrame:
        """A versioned table as of `version` (latest when None); empty before the first commit."""
        if self.delta_version(table) is None:
            return table.empty()
        return table.conform(pl.read_delta(str(self.delta_path(table)), version=version))

    def version_log(self, table: Table) -> pl.DataFrame:
        """version, timestamp, operation, run_id and changes of every committed version, newest first."""
        history = DeltaTable(str(self.delta_path(table))).history()
        return pl.DataFrame(
            [
                {
                    "version": h["version"],
                    "committed_at": datetime.fromtimestamp(h["timestamp"] / 1000, UTC),
                    "operation": h.get("operation"),
                    "run_id": h.get("run_id"),
                    "changes": int(h["changes"]) if h.get("changes") else None,
                }
                for h in history
            ]
        )

    def commit_version(self, table: Table, frame: pl.DataFrame, metadata: dict[str, str]) -> int:
        """Commit `frame` as the table's next version (a full snapshot); returns the new version."""
        frame = table.conform(frame)
        frame.write_delta(
            str(self.delta_path(table)),
            mode="overwrite",
            delta_write_options={"commit_properties": CommitProperties(custom_metadata=metadata)},
        )
        return self.delta_version(table)
