"""Rows to Parquet in bounded memory: a parser appends rows, the sink writes them in Arrow batches.

A row is whatever the parser finds cheapest to keep (a tuple in schema order by default, or the decoded
structs themselves with a `columns_of` function that lays a whole batch out column by column). Building
each column with one comprehension over the batch and one `pyarrow.array` call is far faster than
constructing frames row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 100_000


def _regular(kind: pa.DataType) -> pa.DataType:
    """Arrow's 32-bit-offset twin of a large type: converting Python strings to it is several times
    faster, and Parquet stores both the same way."""
    if pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_large_list(kind):
        return pa.list_(_regular(kind.value_type))
    return kind


def _array(values: list, kind: pa.DataType) -> pa.Array:
    """A column of Python objects as an Arrow array of `kind`. Datetimes go to UTC timestamps by way of
    zone-less ones (pyarrow converts an aware datetime to UTC either way, and a naive one is taken as UTC
    either way), then a cast that only labels the zone: 25 times faster than converting to the zoned type."""
    if pa.types.is_timestamp(kind) and kind.tz == "UTC":
        return pa.array(values, type=pa.timestamp(kind.unit)).cast(kind)
    return pa.array(values, type=kind)


def tuple_columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


class TableSink:
    """One table's rows, written to one Parquet file batch by batch."""

    def __init__(
        self,
        path: Path,
        schema: pl.Schema,
        columns_of: Callable[[list[Any]], list[list]] = tuple_columns,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.path = path
        self.arrow_schema = pa.schema(
            [pa.field(f.name, _regular(f.type)) for f in pl.DataFrame(schema=schema).to_arrow().schema]
        )
        self.columns_of = columns_of
        self.batch_rows = batch_rows
        self.rows: list[Any] = []
        self.written = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, row: Any) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def extend(self, rows: list[Any]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.arrow_schema)
        if self.rows:
            columns = self.columns_of(self.rows)
            arrays = [_array(values, field.type) for values, field in zip(columns, self.arrow_schema, strict=True)]
            self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.arrow_schema))
            self.written += len(self.rows)
            self.rows = []

    def write_frame(self, frame: pl.DataFrame) -> None:
        """Write a whole frame at once (parsers that work column-wise, such as CSV ones)."""
        self.flush()
        self._writer.write_table(frame.select(self.arrow_schema.names).to_arrow().cast(self.arrow_schema))
        self.written += frame.height

    def close(self) -> pl.LazyFrame:
        """Finish the file (an empty one when no row came) and return a scan of it."""
        self.flush()
        self._writer.close()
        return pl.scan_parquet(self.path)
