"""One Dagster asset check per Great Expectations suite in `expectations/`, on the table it names; each
judges the rows of the run's project only, so one project's bad rows never fail another's run.

The suites of the tables screened before use (core.annotations, core.regions) run once, in the ingest
step, on the rows the run's new files brought (earlier rows were judged by the run that read them): their
checks are declared on that step (`screening_check_specs`) and report what the screening found. The other
suites run as checks of their own after their table is written."""

import dagster as dg
import polars as pl

from pipeline.assets.metadata import asset_key, markdown_preview
from pipeline.assets.partitions import projects
from pipeline.contract import ALL_TABLES, Table
from pipeline.resources import WarehouseResource
from pipeline.validation import (
    RELATED_TABLE,
    SCREENING,
    DataDocs,
    Screening,
    SuiteOutcome,
    expectations_dir,
    load_suite_json,
    suite_files,
    validate,
    validation_view,
)
from pipeline.warehouse import settings_digest

TABLES = {table.key: table for table in ALL_TABLES}
JUDGED = "gtq/judged"  # a check result's metadata: the digest of what it judged (`Warehouse.inputs_digest`)
EARLIER_RESULTS = 100  # a check's latest results (of every project) searched for the project's latest

SCREENED = [table for table, _ in SCREENING.values()]


def _suites() -> list[tuple[Table, dict]]:
    found = []
    for path in suite_files():
        suite = load_suite_json(path)
        if suite["name"] not in TABLES:
            raise ValueError(f"{path}: suite '{suite['name']}' does not name a contract table")
        found.append((TABLES[suite["name"]], suite))
    return found


def expectation_checks() -> list[dg.AssetChecksDefinition]:
    """The checks of the suites not screened before use, one per suite."""
    return [_suite_check(table, suite) for table, suite in _suites() if table not in SCREENED]


def screening_check_specs() -> list[dg.AssetCheckSpec]:
    """The checks of the screening suites, declared on the ingest step that runs them."""
    return [
        dg.AssetCheckSpec(
            name=f"expectations_{table.name}",
            asset=asset_key(table),
            description=_description(table, suite)
            + " Run before use on the rows of the run's new files: a row failing a critical expectation is quarantined"
            " with its annotation, so the check fails on what was kept (warnings, table-level rules).",
            blocking=bool(suite.get("meta", {}).get("blocking", False)),
        )
        for table, suite in _suites()
        if table in SCREENED
    ]


def screening_check_results(screening: Screening, project: str, docs: DataDocs) -> list[dg.AssetCheckResult]:
    """The results of `screening_check_specs` for one project's run."""
    results = []
    for spec in screening_check_specs():
        suite = ".".join(spec.asset_key.path)
        outcome, rows = screening.outcome(suite, project), screening.rows_validated(suite, project)
        quarantined = screening.quarantined(suite, project)
        results.append(
            _result(spec.asset_key, spec.name, outcome, rows, docs, spec.blocking, annotations_quarantined=quarantined)
        )
    return results


def _suite_check(table: Table, suite: dict) -> dg.AssetChecksDefinition:
    meta = suite.get("meta", {})

    @dg.asset_check(
        asset=asset_key(table),
        name=f"expectations_{table.name}",
        additional_deps=[asset_key(RELATED_TABLE[table])] if table in RELATED_TABLE else None,
        description=_description(table, suite),
        blocking=bool(meta.get("blocking", False)),
        partitions_def=projects,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        suite_file = expectations_dir() / f"{table.key}.json"
        current = load_suite_json(suite_file)  # as the team's file says now
        docs = warehouse.data_docs(context.partition_key)
        store, project = warehouse.store(), context.partition_key
        related = RELATED_TABLE.get(table)
        read = [table, related] if related else [table]
        judged = store.inputs_digest(project, read, [settings_digest([suite_file])])
        key = dg.AssetCheckKey(asset_key(table), f"expectations_{table.name}")
        if (earlier := _judged_before(context, key, judged)) is not None:
            return earlier
        rows = validation_view(
            table, store.scan_project(table, project), related and store.scan_project(related, project)
        ).collect()
        outcome = validate(rows, current, docs=docs, run_name=context.run.run_id)
        blocking = bool(meta.get("blocking"))
        return _result(key.asset_key, key.name, outcome, rows.height, docs, blocking, **{JUDGED: judged})

    return _check


def _judged_before(
    context: dg.AssetCheckExecutionContext, key: dg.AssetCheckKey, judged: str
) -> dg.AssetCheckResult | None:
    """The check's latest result on the project, when it judged what `judged` digests (`Warehouse.inputs_digest`:
    the same files of the same tables, by the same suite and code), as the run's Dagster instance recorded it:
    the same rows and suite give the same result, so it is not computed again (nor GE loaded)."""
    history = context.instance.event_log_storage.get_asset_check_execution_history(key, limit=EARLIER_RESULTS)
    evaluated = (r for r in history if r.partition == context.partition_key and r.event)  # not merely planned
    latest = next(
        (r for r in evaluated if r.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION), None
    )
    evaluation = latest and latest.event.dagster_event.asset_check_evaluation_data
    if not evaluation or JUDGED not in evaluation.metadata or evaluation.metadata[JUDGED].value != judged:
        return None
    return dg.AssetCheckResult(
        asset_key=evaluation.asset_key,
        check_name=evaluation.check_name,
        passed=evaluation.passed,
        severity=evaluation.severity,
        metadata={**evaluation.metadata, "judged_in_run": latest.run_id},
    )


def _description(table: Table, suite: dict) -> str:
    return f"Great Expectations suite expectations/{table.key}.json: {suite.get('meta', {}).get('description', '')}"


def _result(
    key: dg.AssetKey, name: str, outcome: SuiteOutcome, rows: int, docs: DataDocs, blocking: bool, **more
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": rows,
            "expectations": len(outcome.outcomes),
            "failed": len(outcome.failed),
            **more,
            "failures": dg.MetadataValue.md(_failures_markdown(outcome)),
            "data_docs": dg.MetadataValue.path(str(docs.index)),
        },
    )


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
