"""Rows to Parquet in bounded memory: a parser appends row tuples, the sink flushes them in batches."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 100_000


class TableSink:
    """Accumulates rows (tuples in `schema` order) and writes them to one Parquet file, batch by batch."""

    def __init__(self, path: Path, schema: pl.Schema, batch_rows: int = BATCH_ROWS) -> None:
        self.path = path
        self.schema = schema
        self.arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        self.batch_rows = batch_rows
        self.rows: list[tuple] = []
        self.written = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def extend(self, rows: list[tuple]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.arrow_schema)
        if self.rows:
            frame = pl.DataFrame(self.rows, schema=self.schema, orient="row")
            self._writer.write_table(pa.Table.from_batches(frame.to_arrow().to_batches(), self.arrow_schema))
            self.written += len(self.rows)
            self.rows = []

    def close(self) -> pl.LazyFrame:
        """Finish the file (an empty one when no row came) and return a scan of it."""
        self.flush()
        self._writer.close()
        return pl.scan_parquet(self.path)
