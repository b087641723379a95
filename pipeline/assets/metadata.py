"""Materialization metadata shared by every table asset: row count, column schema and a preview."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
import polars as pl

from pipeline import __version__
from pipeline.assets.partitions import projects
from pipeline.columns import describe
from pipeline.contract import Table

PREVIEW_ROWS = 10


def asset_key(table: Table) -> dg.AssetKey:
    return dg.AssetKey([table.schema, table.name])


def table_spec(table: Table, deps: list[Table | dg.AssetSpec] = (), extra_kinds: tuple[str, ...] = ()) -> dg.AssetSpec:
    """The spec of the asset that materializes `table` (for `multi_asset`)."""
    return dg.AssetSpec(**table_asset(table, deps, extra_kinds))


def table_asset(table: Table, deps: list[Table] = (), extra_kinds: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments of `dg.asset` / `dg.AssetSpec` for the asset that materializes `table`."""
    return dict(
        key=asset_key(table),
        description=table.description,
        deps=[d.key if isinstance(d, dg.AssetSpec) else asset_key(d) for d in deps],
        group_name=table.schema,
        kinds={"polars", "duckdb", "parquet", *extra_kinds},
        metadata={"dagster/column_schema": column_schema(table), "dagster/table_name": table.key},
        partitions_def=projects,
        **provenance(table.schema),
    )


def provenance(layer: str) -> dict[str, Any]:
    """Who owns an asset and which code made it: `code_version` is gtq's version (a new release marks every
    table as made by other code in the UI), owners come from $GTQ_OWNERS (comma-separated emails or
    `team:name`), and the tag `gtq/layer` says core, quality or reports."""
    owners = [owner.strip() for owner in os.environ.get("GTQ_OWNERS", "").split(",") if owner.strip()]
    return {"code_version": __version__, "owners": owners, "tags": {"gtq/layer": layer}}


def column_schema(table: Table) -> dg.TableSchema:
    """The table's columns with their types and meanings (`pipeline.columns`), as the Dagster UI lists them."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype), description=describe(table.key, name)) for name, dtype in table.columns.items()]
    )


def table_result(table: Table, frame: pl.LazyFrame, **extra: Any) -> dg.MaterializeResult:
    """MaterializeResult for a table just written (a scan of it), with `extra` metadata of the asset's own."""
    return dg.MaterializeResult(
        asset_key=asset_key(table),
        metadata={
            "dagster/row_count": frame.select(pl.len()).collect().item(),
            "dagster/column_schema": column_schema(table),
            "dagster/table_name": table.key,
            "preview": dg.MetadataValue.md(markdown_preview(frame.head(PREVIEW_ROWS).collect())),
            **extra,
        },
    )


def summary_stats(frame: pl.LazyFrame, column: str) -> dict[str, float | int]:
    """Mean and count of a score column's non-null values (nothing when every value is null)."""
    mean, count = frame.select(pl.col(column).mean().alias("mean"), pl.col(column).count().alias("count")).collect().row(0)
    return {} if count == 0 else {f"{column}_mean": float(mean), f"{column}_count": count}


def markdown_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS, cell_width: int | None = 60) -> str:
    """The first `rows` of `frame` as a Markdown table, each cell cut to `cell_width` characters (None: whole,
    for problems a reader must see in full)."""
    if frame.is_empty():
        return "_(no rows)_"
    head = frame.head(rows)
    cells = [[_cell(v, cell_width) for v in row] for row in head.iter_rows()]
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: Any, width: int | None) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if width is None or len(text) <= width else text[: width - 3] + "..."
