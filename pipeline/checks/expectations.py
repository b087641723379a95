"""One Dagster asset check per Great Expectations suite in `expectations/`, on the table it names; each
validates the rows of the run's project only, so one project's bad rows never fail another's run."""

import dagster as dg

from pipeline.assets.metadata import asset_key, markdown_preview
from pipeline.assets.partitions import projects
from pipeline.contract import ALL_TABLES, Table
from pipeline.resources import WarehouseResource
from pipeline.validation import RELATED_TABLE, SuiteOutcome, expectations_dir, load_suite_json, suite_files, validate, validation_view

TABLES = {table.key: table for table in ALL_TABLES}


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
        additional_deps=[asset_key(RELATED_TABLE[table])] if table in RELATED_TABLE else None,
        description=f"Great Expectations suite expectations/{table.key}.json: {meta.get('description', '')}",
        blocking=bool(meta.get("blocking", False)),
        partitions_def=projects,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        current = load_suite_json(expectations_dir() / f"{table.key}.json")  # as the team's file says now
        docs = warehouse.data_docs(context.partition_key)
        store, project = warehouse.store(), context.partition_key
        related = RELATED_TABLE.get(table)
        rows = validation_view(table, store.scan_project(table, project), related and store.scan_project(related, project)).collect()
        outcome = validate(rows, current, docs=docs, run_name=context.run.run_id)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR if meta.get("blocking") else dg.AssetCheckSeverity.WARN,
            metadata={
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
    import polars as pl

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
