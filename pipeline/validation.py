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

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


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


def suite_files(directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


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


def validate(frame: pl.DataFrame, suite_json: dict) -> SuiteOutcome:
    """Run one suite against a frame."""
    import great_expectations as gx

    batch = (
        _context()
        .data_sources.add_or_update_pandas(f"gtq:{suite_json['name']}")
        .add_dataframe_asset(suite_json["name"])
        .add_batch_definition_whole_dataframe("whole_table")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )
    suite = gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k != "id"})
    result = batch.validate(suite)
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
    return SuiteOutcome(suite=suite_json["name"], success=bool(result.success), outcomes=outcomes)
