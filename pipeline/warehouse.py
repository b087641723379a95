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
        path = self.parquet_path(table)
        return table.conform(pl.read_parquet(path)) if path.exists() else table.empty()

    def scan(self, table: Table) -> pl.LazyFrame:
        return self.read(table).lazy()

    def write(self, table: Table, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace the table in Parquet and in DuckDB; returns the frame as written (contract order)."""
        frame = table.conform(frame)
        path = self.parquet_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        frame.write_parquet(partial)
        os.replace(partial, path)
        self._load_duckdb(table, frame)
        return frame

    def _load_duckdb(self, table: Table, frame: pl.DataFrame) -> None:
        incoming = frame.to_arrow()  # noqa: F841 - DuckDB reads the local variable by name
        with duckdb.connect(str(self.duckdb_path)) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
            con.execute(f"CREATE OR REPLACE TABLE {table.key} AS SELECT * FROM incoming")
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

    def commit_version(self, table: Table, frame: pl.DataFrame, metadata: dict[str, str]) -> int:
        """Commit `frame` as the table's next version (a full snapshot); returns the new version."""
        frame = table.conform(frame)
        frame.write_delta(
            str(self.delta_path(table)),
            mode="overwrite",
            delta_write_options={"commit_properties": CommitProperties(custom_metadata=metadata)},
        )
        return self.delta_version(table)
