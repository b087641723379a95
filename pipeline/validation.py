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


def validate(frame: pl.DataFrame, suite_json: dict, result_format: str | dict = "SUMMARY") -> SuiteOutcome:
    """Run one suite against a frame."""
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
            unexpected_examples=list(r.result.get("partial_unexpected_list") or [])[:5],
        )
        for r in _results(frame, suite_json, result_format).results
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
