"""Materialization metadata shared by every table asset: row count, column schema and a preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pipeline import __version__, settings
from pipeline.assets.partitions import projects
from pipeline.columns import describe
from pipeline.contract import Table

PREVIEW_ROWS = 10
ROW_COUNT = "dagster/row_count"  # Dagster's metadata entry of a table's rows, in every table asset's metadata


def asset_key(table: Table) -> dg.AssetKey:
    return dg.AssetKey([table.schema, table.name])


def output_name(table: Table) -> str:
    """The name of the output that carries `table` in a `multi_asset`."""
    return asset_key(table).to_python_identifier()


def table_outs(
    *tables: Table, summary: dict[Table, tuple[str, ...]] | None = None, optional: tuple[Table, ...] = ()
) -> dict[str, dg.AssetOut]:
    """`outs` of a `multi_asset` that materializes `tables` (`optional` ones may be skipped); pass
    `partitions_def=projects` and the `ins` beside them."""
    summary = summary or {}
    return {
        output_name(table): dg.AssetOut(
            key=asset_key(table), is_required=table not in optional, **_described(table, summary.get(table, ()))
        )
        for table in tables
    }


def table_asset(table: Table, ins: tuple[Table, ...] = (), summary: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments of `dg.asset` for the asset that materializes `table` from the tables `ins`, each
    given to the asset as the parameter named like the table (a lazy scan of the project's rows).
    `summary` names the columns whose mean and count every materialization records."""
    return dict(key=asset_key(table), ins=table_ins(*ins), partitions_def=projects, **_described(table, summary))


def table_ins(*tables: Table) -> dict[str, dg.AssetIn]:
    """`ins` of an asset that reads `tables`: each the parameter named like the table."""
    return {table.name: dg.AssetIn(asset_key(table)) for table in tables}


def _described(table: Table, summary: tuple[str, ...]) -> dict[str, Any]:
    """What the UI shows of the asset of `table`: description, group, kinds, columns, summary columns, owners."""
    return dict(
        description=table.description,
        group_name=table.schema,
        kinds={"polars", "delta", "duckdb"},
        metadata={
            "dagster/column_schema": column_schema(table),
            "dagster/table_name": table.key,
            "gtq/summary": list(summary),
        },
        **provenance(table.schema),
    )


def provenance(layer: str) -> dict[str, Any]:
    """Who owns an asset and which code made it: `code_version` is gtq's version (a new release marks every
    table as made by other code in the UI), owners come from $GTQ_OWNERS (comma-separated emails or
    `team:name`, `settings.owners`), and the tag `gtq/layer` says core, quality or reports."""
    return {"code_version": __version__, "owners": settings.owners(), "tags": {"gtq/layer": layer}}


def column_schema(table: Table) -> dg.TableSchema:
    """The table's columns with their types and meanings (`pipeline.columns`), as the Dagster UI lists them."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=describe(table.key, name))
            for name, dtype in table.columns.items()
        ]
    )


def table_metadata(table: Table, written: pl.LazyFrame, summary: list[str] = ()) -> dict[str, Any]:
    """Metadata of a table just written (a scan of it): row count, columns, a preview, and the mean and count
    of each `summary` column."""
    return {
        ROW_COUNT: written.select(pl.len()).collect().item(),
        "dagster/column_schema": column_schema(table),
        "dagster/table_name": table.key,
        "preview": dg.MetadataValue.md(markdown_preview(written.head(PREVIEW_ROWS).collect())),
        **{name: value for column in summary for name, value in summary_stats(written, column).items()},
    }


def summary_stats(frame: pl.LazyFrame, column: str) -> dict[str, float | int]:
    """Mean and count of a score column's non-null values (nothing when every value is null)."""
    mean, count = (
        frame.select(pl.col(column).mean().alias("mean"), pl.col(column).count().alias("count")).collect().row(0)
    )
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
