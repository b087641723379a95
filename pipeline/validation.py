"""Great Expectations suites from `expectations/`, run against warehouse tables. No Dagster here.

A suite file is GE's own JSON (`ExpectationSuite.to_json_dict()`), named after the table it guards
(`core.ground_truth.json` guards core.ground_truth). Its `meta.blocking` says whether a failure must stop
everything downstream. Frames go Polars -> Arrow -> pandas, GE's cheapest path (GE has no Polars backend;
its SQL path fails on DuckDB).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from pipeline.storage import file_lock, local_folder

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

BUNDLED_EXPECTATIONS = Path(__file__).resolve().parent.parent / "expectations"


def expectations_dir() -> Path:
    """The suites in use: $GTQ_EXPECTATIONS when set (a team's edited copy), else the repo's `expectations/`."""
    return Path(os.environ.get("GTQ_EXPECTATIONS") or BUNDLED_EXPECTATIONS)


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_examples: list


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def suite_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or expectations_dir()).glob("*.json"))


def load_suite_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _context():
    """One in-memory GE context per process (each one creates a temporary docs folder)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


@dataclass(frozen=True)
class DataDocs:
    """Where a project's validation results are kept and its Data Docs site is built: a GE project folder
    (its stores) and the site's folder, whose `index.html` lists every validation of every run."""

    project_root: Path
    site: Path

    @classmethod
    def of(cls, warehouse_root: str | Path, project: str) -> DataDocs:
        """A project's, kept on this machine with the warehouse: `reports/data_docs/<project>/index.html`."""
        from pipeline.warehouse import project_folder

        folder, reports = project_folder(project), local_folder(warehouse_root) / "reports"
        return cls(project_root=reports / "gx" / folder, site=reports / "data_docs" / folder)

    @property
    def index(self) -> Path:
        return self.site / "index.html"


def validate(
    frame: pl.DataFrame, suite_json: dict, result_format: str | dict = "SUMMARY", docs: DataDocs | None = None, run_name: str | None = None
) -> SuiteOutcome:
    """Run one suite against a frame; with `docs`, the result is kept there and the Data Docs site rebuilt."""
    result = _results(frame, suite_json, result_format) if docs is None else _results_with_docs(frame, suite_json, docs, run_name)
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
            unexpected_examples=list(r.result.get("partial_unexpected_list") or [])[:5],
        )
        for r in result.results
    ]
    return SuiteOutcome(suite=suite_json["name"], success=all(o.success for o in outcomes), outcomes=outcomes)


def failing_rows(frame: pl.DataFrame, suite_json: dict, ids: list[str]) -> pl.DataFrame:
    """The rows of `frame` that fail the suite's *critical* expectations, as GE itself reports them (its
    COMPLETE result format, rows named by their `ids`): `ids`, expectation, column and value (as text),
    one row per failing row and expectation."""
    referenced = json.dumps(suite_json)
    needed = [c for c, dtype in frame.schema.items() if c in ids or (not dtype.is_nested() and f'"{c}' in referenced)]
    result = _results(frame.select(needed), suite_json, {"result_format": "COMPLETE", "unexpected_index_column_names": ids})
    found = []
    for r in result.results:
        config = r.expectation_config
        if r.success or str(getattr(config.severity, "value", config.severity)) != "critical":
            continue
        column = config.kwargs.get("column") or ", ".join(
            config.kwargs.get("column_list") or filter(None, (config.kwargs.get("column_A"), config.kwargs.get("column_B")))
        )
        for row in r.result.get("unexpected_index_list") or []:
            values = ", ".join(f"{k}={row[k]}" for k in row if k not in ids)
            found.append({**{k: row[k] for k in ids}, "expectation": config.type, "column": column, "value": values})
    schema = {**frame.select(ids).schema, "expectation": pl.String, "column": pl.String, "value": pl.String}
    return pl.DataFrame(found, schema=schema, orient="row") if found else pl.DataFrame(schema=schema)


def _results(frame: pl.DataFrame, suite_json: dict, result_format: str | dict):
    import great_expectations as gx

    batch = (
        _context()
        .data_sources.add_or_update_pandas(f"gtq:{suite_json['name']}")
        .add_dataframe_asset(suite_json["name"])
        .add_batch_definition_whole_dataframe("whole_table")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )
    suite = gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k != "id"})
    return batch.validate(suite, result_format=result_format)


def _results_with_docs(frame: pl.DataFrame, suite_json: dict, docs: DataDocs, run_name: str | None):
    """GE's own way to keep results: a file context with the suite, a validation definition and a
    checkpoint whose action rebuilds the Data Docs site. One writer at a time per project folder."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    name = suite_json["name"]
    docs.project_root.mkdir(parents=True, exist_ok=True)
    with file_lock(docs.project_root / ".gtq.lock"):
        context = gx.get_context(mode="file", project_root_dir=str(docs.project_root))
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        if "gtq" not in {site["site_name"] for site in context.get_docs_sites_urls()}:
            context.add_data_docs_site(
                site_name="gtq",
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs.site)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        source = context.data_sources.add_or_update_pandas("gtq")
        asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(name)
        batches = next((b for b in asset.batch_definitions if b.name == "whole_table"), None) or asset.add_batch_definition_whole_dataframe(
            "whole_table"
        )
        suite = context.suites.add_or_update(gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k != "id"}))
        definition = context.validation_definitions.add_or_update(gx.ValidationDefinition(data=batches, suite=suite, name=name))
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name, validation_definitions=[definition], actions=[UpdateDataDocsAction(name="data_docs", site_names=["gtq"])]
            )
        )
        run = checkpoint.run(
            batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)}, run_id=RunIdentifier(run_name=run_name)
        )
    return next(iter(run.run_results.values()))


# The suites that screen an export's rows before they are used, and the ids that name a row.
SCREENING = {"annotations": ("core.annotations", ["project_id", "task_id", "annotation_id"]),
             "regions": ("core.regions", ["project_id", "task_id", "annotation_id", "item_index"])}  # fmt: skip


def rejected_annotations(frames, directory: Path | None = None) -> pl.DataFrame:
    """The annotations of an export (`CoreState` frames) whose rows fail a critical expectation of the
    suites of core.annotations or core.regions: project_id, task_id, annotation_id, locator and reason
    (the suite file, the expectation, the column and the value). A bad region rejects its whole
    annotation, never half of it."""
    found = []
    for name, (table, ids) in SCREENING.items():
        path = (directory or expectations_dir()) / f"{table}.json"
        if not path.exists():
            continue
        failing = failing_rows(getattr(frames, name).collect(), load_suite_json(path), ids)
        region = pl.format(", region {}", pl.col("item_index")) if "item_index" in ids else pl.lit("")
        found.append(
            failing.select(
                "project_id",
                "task_id",
                "annotation_id",
                pl.format("task {}, annotation {}{}", "task_id", "annotation_id", region).alias("locator"),
                pl.format("expectations/{}.json: {} on {} ({})", pl.lit(table), "expectation", "column", "value").alias("reason"),
            )
        )
    schema = {"project_id": pl.String, "task_id": pl.String, "annotation_id": pl.String, "locator": pl.String, "reason": pl.String}
    if not found:
        return pl.DataFrame(schema=schema)
    rows = pl.concat(found)
    # One quarantine record per annotation, its reasons together.
    return rows.group_by("project_id", "task_id", "annotation_id", maintain_order=True).agg(
        pl.col("locator").first(), pl.col("reason").unique(maintain_order=True).str.join("; ")
    )
