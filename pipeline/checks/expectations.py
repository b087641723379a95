"""One Dagster asset check per Great Expectations suite in `expectations/`, on the table it names; each
validates the rows of the run's project only, so one project's bad rows never fail another's run. On the
tables screened before use (core.annotations, core.regions), a run validates the rows its new files
brought: earlier rows were validated, and kept in the Data Docs, by the run that read them."""

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview
from pipeline.assets.partitions import projects
from pipeline.contract import ALL_TABLES, SOURCE_FILES, Table
from pipeline.resources import WarehouseResource
from pipeline.validation import (
    RELATED_TABLE,
    SCREENING,
    SuiteOutcome,
    expectations_dir,
    load_suite_json,
    suite_files,
    validate,
    validation_view,
)

TABLES = {table.key: table for table in ALL_TABLES}
SCREENED = {table_key for table_key, _ in SCREENING.values()}


def expectation_checks() -> list[dg.AssetChecksDefinition]:
    checks = []
    for path in suite_files():
        suite = load_suite_json(path)
        if suite["name"] not in TABLES:
            raise ValueError(f"{path}: suite '{suite['name']}' does not name a contract table")
        checks.append(_suite_check(TABLES[suite["name"]], suite))
    return checks


def _suite_check(table: Table, suite: dict) -> dg.AssetChecksDefinition:
    meta = suite.get("meta", {})

    @dg.asset_check(
        asset=asset_key(table),
        name=f"expectations_{table.name}",
        additional_deps=[asset_key(t) for t in (RELATED_TABLE.get(table), SOURCE_FILES if table.key in SCREENED else None) if t] or None,
        description=f"Great Expectations suite expectations/{table.key}.json: {meta.get('description', '')}",
        blocking=bool(meta.get("blocking", False)),
        partitions_def=projects,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        current = load_suite_json(expectations_dir() / f"{table.key}.json")  # as the team's file says now
        docs = warehouse.data_docs(context.partition_key)
        store, project = warehouse.store(), context.partition_key
        related = RELATED_TABLE.get(table)
        rows = store.scan_project(table, project)
        if table.key in SCREENED:
            new_files = store.scan_project(SOURCE_FILES, project).filter(pl.col("run_id") == context.run.run_id).select("content_hash")
            rows = rows.join(new_files, on="content_hash", how="semi")
        rows = validation_view(table, rows, related and store.scan_project(related, project)).collect()
        outcome = validate(rows, current, docs=docs, run_name=context.run.run_id)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR if meta.get("blocking") else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_validated": rows.height,
                "expectations": len(outcome.outcomes),
                "failed": len(outcome.failed),
                "failures": dg.MetadataValue.md(_failures_markdown(outcome)),
                "data_docs": dg.MetadataValue.path(str(docs.index)),
            },
        )

    return _check


def _failures_markdown(outcome: SuiteOutcome) -> str:
    if outcome.success:
        return "_all expectations met_"
    rows = pl.DataFrame(
        [
            {
                "expectation": o.expectation,
                "column": o.column,
                "unexpected": o.unexpected_count,
                "examples": "; ".join(map(str, o.unexpected_examples)),
            }
            for o in outcome.failed
        ]
    )
    return markdown_preview(rows, rows=len(rows), cell_width=None)
