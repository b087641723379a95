"""Great Expectations suites from `expectations/`, run against warehouse tables. No Dagster here.

A suite file is GE's own JSON (`ExpectationSuite.to_json_dict()`), named after the table it guards
(`core.ground_truth.json` guards core.ground_truth). Its `meta.blocking` says whether a failure must stop
everything downstream. GE has no Polars backend (and its SQL path fails on DuckDB): `polars_expectations`
measures GE's stock map expectations in Polars for GE's own classes to judge; any other expectation goes
to GE's pandas engine, on a pandas copy of the columns the suite names.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

import polars as pl

from pipeline import settings
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, LABEL_CONFIG, REGIONS, Table
from pipeline.metrics.similarity import POLYGON_MEASURES, polygon_measures
from pipeline.polars_expectations import validate_suite
from pipeline.storage import file_lock, local_folder
from pipeline.vocabulary import ANNOTATION, HUMAN, REGION

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

BUNDLED_EXPECTATIONS = Path(__file__).resolve().parent.parent / "expectations"


def suite_parameters() -> dict:
    """The values a suite may name as `{"$PARAMETER": ...}`: `read_at`, the moment gtq reads the rows (an
    annotation dated later was dated after its export)."""
    return {"read_at": datetime.now(UTC)}


def expectations_dir() -> Path:
    """The suites in use: $GTQ_EXPECTATIONS when set (a team's edited copy), else the repo's `expectations/`."""
    return Path(settings.expectations() or BUNDLED_EXPECTATIONS)


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
def _gx():
    """Great Expectations, imported when first needed (it takes seconds) and tuned once."""
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GE fingerprints every pandas batch below 1 GB (an md5 over all rows) for batch markers gtq never
    # reads: a full pass over the data per suite, 15% of validating 1M regions.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


@cache
def _context():
    """One in-memory GE context per process (each one creates a temporary docs folder)."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = _gx().get_context(mode="ephemeral")
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

    @property
    def site_config(self) -> dict:
        """GE's config of the site: GE's site builder and page views with every script, stylesheet, font and image
        served from the site's own `static/` (`pipeline.data_docs`), so the pages open without a network; no
        how-to buttons (links to GE's online tutorials)."""
        offline = "pipeline.data_docs"
        page = {"view": {"module_name": offline, "class_name": "OfflinePageView"}}
        return {
            "module_name": offline,
            "class_name": "OfflineSiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.site)},
            "show_how_to_buttons": False,
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": {"module_name": offline, "class_name": "OfflineIndexPageView"},
            },
            "site_section_builders": {"expectations": page, "validations": page, "profiling": page},
        }


# The columns that name a row, where a table has them: failing examples are shown with them.
ROW_IDS = ("project_id", "task_id", "annotation_id", "region_id", "annotator", "control")


def validate(
    frame: pl.DataFrame, suite_json: dict, docs: DataDocs | None = None, run_name: str | None = None
) -> SuiteOutcome:
    """Run one suite against a frame; with `docs`, the result is kept there and the Data Docs site rebuilt.
    Each failing expectation comes with up to 5 failing rows, named by their ids (`ROW_IDS`) and values."""
    ids = [c for c in ROW_IDS if c in frame.columns]
    result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ids, "partial_unexpected_count": 5}
    result = _results(frame, suite_json, result_format, docs, run_name)
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
            unexpected_examples=[
                ", ".join(f"{k}={v}" for k, v in row.items()) if isinstance(row, dict) else row
                for row in r.result.get("partial_unexpected_index_list")
                or r.result.get("partial_unexpected_list")
                or []
            ][:5],
        )
        for r in result.results
    ]
    return SuiteOutcome(suite=suite_json["name"], success=all(o.success for o in outcomes), outcomes=outcomes)


def failing_rows(frame: pl.DataFrame, suite_json: dict, ids: list[str]) -> pl.DataFrame:
    """The rows of `frame` that fail the suite's *critical* expectations, as GE itself reports them (its
    COMPLETE result format, rows named by their `ids`): `ids`, expectation, column and value (as text),
    one row per failing row and expectation."""
    found, _ = _failures(frame, suite_json, ids)
    return found.filter("critical").drop("critical")


def _failures(
    frame: pl.DataFrame, suite_json: dict, ids: list[str], docs: DataDocs | None = None, run_name: str | None = None
) -> tuple[pl.DataFrame, list[ExpectationOutcome]]:
    """Every row failing an expectation of the suite (`ids`, expectation, column, value as text, critical),
    and the suite's outcomes as GE reports them (kept in `docs` when given)."""
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": ids}
    result = _results(frame, suite_json, result_format, docs, run_name)
    found, outcomes = [], []
    for r in result.results:
        config = r.expectation_config
        columns = (
            [config.kwargs["column"]]
            if "column" in config.kwargs
            else config.kwargs.get("column_list") or [config.kwargs.get("column_A"), config.kwargs.get("column_B")]
        )
        column = ", ".join(filter(None, columns))
        outcomes.append(
            ExpectationOutcome(config.type, column or None, bool(r.success), r.result.get("unexpected_count"), [])
        )
        if r.success:
            continue
        critical = str(getattr(config.severity, "value", config.severity)) == "critical"
        for row in r.result.get("unexpected_index_list") or []:
            values = ", ".join(f"{k}={row[k]}" for k in row if k not in ids or k in columns)
            found.append(
                {
                    **{k: row[k] for k in ids},
                    "expectation": config.type,
                    "column": column,
                    "value": values,
                    "critical": critical,
                }
            )
    schema = {
        **frame.select(ids).schema,
        "expectation": pl.String,
        "column": pl.String,
        "value": pl.String,
        "critical": pl.Boolean,
    }
    return (pl.DataFrame(found, schema=schema, orient="row") if found else pl.DataFrame(schema=schema)), outcomes


def _columns_named(
    frame: pl.DataFrame | pl.LazyFrame, suite_json: dict, keep: list[str] = ()
) -> pl.DataFrame | pl.LazyFrame:
    """`frame` with only the columns the suite names (and `keep`): GE's pandas engine pays for every column
    it is handed, lists and JSON texts most, and a lazy frame computes only these. Whole when a table-level
    expectation looks at every column."""
    if any(e["type"].startswith("expect_table_") for e in suite_json["expectations"]):
        return frame
    named = set(re.findall(r"\w+", json.dumps(suite_json)))
    return frame.select(
        c for c, dtype in frame.collect_schema().items() if c in keep or (not dtype.is_nested() and c in named)
    )


def _results(
    frame: pl.DataFrame,
    suite_json: dict,
    result_format: dict,
    docs: DataDocs | None = None,
    run_name: str | None = None,
):
    """GE's validation result of the suite on the frame, measured in Polars where `polars_expectations`
    can and by GE's pandas engine where it cannot; kept in `docs` (and its site updated) when given."""
    parameters = suite_parameters()
    result = validate_suite(
        frame,
        suite_json,
        result_format,
        parameters,
        fallback=lambda rest: _by_ge(frame, rest, result_format, parameters),
    )
    if docs is not None:
        _keep(result, suite_json, docs, run_name)
    return result


def _by_ge(frame: pl.DataFrame, suite_json: dict, result_format: dict, parameters: dict):
    """GE's own validation of the suite on the frame (its pandas engine), on the columns the suite names."""
    gx = _gx()
    frame = _columns_named(frame, suite_json, result_format.get("unexpected_index_column_names") or [])
    source = _context().data_sources.add_or_update_pandas(f"gtq:{suite_json['name']}")
    batch = (
        source.add_dataframe_asset(suite_json["name"])
        .add_batch_definition_whole_dataframe("whole_table")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )
    suite = gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k != "id"})
    try:
        return batch.validate(suite, result_format=result_format, expectation_parameters=parameters)
    finally:
        _release_batches(source)


def _release_batches(source) -> None:
    """Drop the batches a GE data source keeps after a validation: its context outlives the call (GE holds
    the latest one), and with it the last pandas frame validated, a copy of up to 2M rows."""
    batches = source.get_execution_engine().batch_manager
    batches.reset_batch_cache()
    batches.batch_data_cache.clear()


def _keep(result, suite_json: dict, docs: DataDocs, run_name: str | None) -> None:
    """Keep a validation result the way a GE checkpoint's `UpdateDataDocsAction` does: the suite and the
    result in the project's GE stores, then the Data Docs pages of both and the site's index rebuilt; every page
    when the site was configured otherwise before (an older gtq's pages loaded their scripts from CDNs).
    One writer at a time per project folder."""
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    result.meta.update(run_id=run_id, validation_time=run_id.run_time)
    suite_key = ExpectationSuiteIdentifier(name=suite_json["name"])
    key = ValidationResultIdentifier(
        expectation_suite_identifier=suite_key, run_id=run_id, batch_identifier=suite_json["name"]
    )
    docs.project_root.mkdir(parents=True, exist_ok=True)
    with file_lock(docs.project_root / ".gtq.lock"):
        context = _project_context(docs.project_root)
        pages = [key, suite_key]
        if (configured := context.list_data_docs_sites().get("gtq")) != docs.site_config:
            (context.add_data_docs_site if configured is None else context.update_data_docs_site)(
                "gtq", docs.site_config
            )
            pages = None
        context.suites.add_or_update(gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k != "id"}))
        context.validation_results_store.set(key, result)
        context.build_data_docs(site_names=["gtq"], resource_identifiers=pages)


def _project_context(project_root: Path):
    """The GE context of a project folder, reused in this process while the folder's `great_expectations.yml` reads
    the same: making one reads its config and builds its stores, near half of what keeping a result costs. Whoever
    changes the config (this process, another one, an older gtq) gets a new context at the next validation."""
    config = project_root / "gx" / "great_expectations.yml"
    if not config.exists():  # a new folder: GE writes its config
        return _gx().get_context(mode="file", project_root_dir=str(project_root))
    return _file_context(str(project_root), config.read_text(encoding="utf-8"))


@lru_cache(maxsize=16)
def _file_context(project_root: str, config: str):
    """GE's context of the folder; `config`, the text of its great_expectations.yml, is the key."""
    return _gx().get_context(mode="file", project_root_dir=project_root)


# The suites that screen an export's rows before they are used (by the frame of `CoreState` they read), and
# the ids that name a row: the file's content hash first, as two files may hold the same annotation.
SCREENING = {
    "annotations": (ANNOTATIONS, ["content_hash", *ANNOTATION]),
    "regions": (REGIONS, ["content_hash", *ANNOTATION, "item_index"]),
}
_ANNOTATION = SCREENING["annotations"][1]
SCREEN_ROWS = 2_000_000  # rows of one file validated at once (with their derived columns), so memory stays bounded
SCREEN_SEED = 17


@dataclass(frozen=True)
class Screening:
    """What the screening suites found in the rows of a run's new exports (each file, or part of a large
    one, validated once per suite).

    `rejected`: the annotations to quarantine (content_hash, project_id, task_id, annotation_id,
    gt_candidate, locator, reason). Per suite (by table key): `failures`, every failing row as GE reported
    it (see `_failures`); `outcomes`, GE's verdict per expectation; `rows`, the rows validated per project."""

    rejected: pl.DataFrame
    failures: dict[str, pl.DataFrame]
    outcomes: dict[str, list[ExpectationOutcome]]
    rows: dict[str, pl.DataFrame]

    def rejected_from(self, content_hash: str) -> pl.DataFrame:
        """The rejected annotations of one file."""
        return self.rejected.filter(pl.col("content_hash") == content_hash).drop("content_hash")

    def quarantined(self, suite: str, project: str) -> int:
        """The annotations of `project` that the suite's critical expectations sent to quarantine."""
        failing = self.failures.get(suite)
        return (
            0
            if failing is None
            else failing.filter("critical", pl.col("project_id") == project).select(_ANNOTATION).n_unique()
        )

    def rows_validated(self, suite: str, project: str) -> int:
        counts = self.rows.get(suite)
        return 0 if counts is None else int(counts.filter(pl.col("project_id") == project)["len"].sum())

    def outcome(self, suite: str, project: str) -> SuiteOutcome:
        """The suite's outcome on the rows of `project` that were accepted: a failing row whose annotation
        was quarantined no longer counts, so a critical expectation fails only where GE names no row (a
        table-level rule), and a warning fails where its rows were kept. Examples name the row by its ids."""
        outcomes = self.outcomes.get(suite, [])
        if not outcomes:
            return SuiteOutcome(suite, True, [])
        ids = next(ids for table, ids in SCREENING.values() if table.key == suite)[1:]  # without the content hash
        failing = self.failures[suite]
        kept = (
            failing.filter(pl.col("project_id") == project)
            .join(self.rejected, on=_ANNOTATION, how="anti")
            .group_by("expectation", "column")
            .agg(
                pl.len(),
                pl.concat_str("value", *(pl.format(f"{c}={{}}", c) for c in ids), separator=", ")
                .head(5)
                .alias("examples"),
            )
        )
        named = {(row["expectation"], row["column"]): row for row in kept.iter_rows(named=True)}
        with_rows = set(failing.select("expectation", "column").unique().iter_rows())
        judged = []
        for o in outcomes:
            found = named.get((o.expectation, o.column))
            success = o.success or (found is None and (o.expectation, o.column) in with_rows)
            judged.append(
                ExpectationOutcome(
                    o.expectation,
                    o.column,
                    success,
                    found["len"] if found else o.unexpected_count,
                    found["examples"] if found else [],
                )
            )
        return SuiteOutcome(suite, all(o.success for o in judged), judged)


def screen(
    exports: list, known_config: pl.LazyFrame | None = None, docs: DataDocs | None = None, run_name: str | None = None
) -> Screening:
    """Hold the rows of `exports` (`CoreState` frames of a run's new files) to the suites of core.annotations
    and core.regions, each file on its own (a file is what a suite judges: its ids must be unique in it),
    each validation kept in `docs` when given. A file with more than `SCREEN_ROWS` rows is validated in
    parts by annotation, so that memory stays bounded: a part holds every row of its annotations, so rules
    on a row, on ids within an annotation and on an annotation's uniqueness hold as on the whole file (a
    table-level rule, such as a row count, would see one part).

    An annotation with a row failing a critical expectation is rejected: a bad region rejects its whole
    annotation, never half of it; its reason names the suite file, the expectation, the column and the
    value. Labels are judged by the file's labeling config, else by `known_config` (the warehouse's)."""
    schema = {
        **dict.fromkeys(_ANNOTATION, pl.String),
        "gt_candidate": pl.Boolean,
        "locator": pl.String,
        "reason": pl.String,
    }
    failures, outcomes, rows, found = {}, {}, {}, []
    for name, (table, ids) in SCREENING.items():
        path = expectations_dir() / f"{table.key}.json"
        if not path.exists() or not exports:
            continue
        suite = load_suite_json(path)
        per_file = []
        for export in exports:
            config = export.label_config if known_config is None else pl.concat([known_config, export.label_config])
            rows_of_file = getattr(export, name)
            parts = max(1, -(-rows_of_file.select(pl.len()).collect().item() // SCREEN_ROWS))
            for part in range(parts):
                in_part = (
                    rows_of_file.filter(pl.col("annotation_id").hash(SCREEN_SEED) % parts == part)
                    if parts > 1
                    else rows_of_file
                )
                view = validation_view(table, in_part, related=config)  # of the part's rows alone, every branch of it
                frame = _columns_named(view, suite, ids).collect()  # only the columns the suite reads
                per_file.append((frame.group_by("project_id").len(), *_failures(frame, suite, ids, docs, run_name)))
        rows[table.key] = pl.concat([counts for counts, _, _ in per_file]).group_by("project_id").agg(pl.sum("len"))
        failures[table.key] = pl.concat([failing for _, failing, _ in per_file])
        outcomes[table.key] = [_together(same) for same in zip(*(found for _, _, found in per_file), strict=True)]
        region = pl.format(", region {}", pl.col("item_index")) if "item_index" in ids else pl.lit("")
        found.append(
            failures[table.key]
            .filter("critical")
            .select(
                *_ANNOTATION,
                pl.format("task {}, annotation {}{}", "task_id", "annotation_id", region).alias("locator"),
                pl.format(
                    "expectations/{}.json: {} on {} ({})", pl.lit(table.key), "expectation", "column", "value"
                ).alias("reason"),
            )
        )
    critical = pl.concat(found) if found else pl.DataFrame()
    if critical.is_empty():  # the usual case: nothing more to read
        return Screening(pl.DataFrame(schema=schema), failures, outcomes, rows)
    flags = pl.concat([e.annotations for e in exports]).select(
        *_ANNOTATION, gt_candidate=pl.col("gt_flag").fill_null(False)
    )
    # One quarantine record per annotation, its reasons together.
    rejected = (
        critical.group_by(_ANNOTATION, maintain_order=True)
        .agg(pl.col("locator").first(), pl.col("reason").unique(maintain_order=True).str.join("; "))
        .join(flags.unique(_ANNOTATION).collect(), on=_ANNOTATION, how="left")
        .select(list(schema))
    )
    return Screening(rejected, failures, outcomes, rows)


def _together(outcomes: tuple[ExpectationOutcome, ...]) -> ExpectationOutcome:
    """One expectation's outcome over several files."""
    counts = [o.unexpected_count for o in outcomes if o.unexpected_count is not None]
    first = outcomes[0]
    return ExpectationOutcome(
        first.expectation, first.column, all(o.success for o in outcomes), sum(counts) if counts else None, []
    )


# -- the rows a suite sees ---------------------------------------------------------------------------------
# Some rules span columns or tables (a box ends inside its image, a label is one its control allows, the GT
# annotation exists). Rather than custom expectations, the frame a suite validates carries derived columns
# that state them, so each rule stays one of GE's stock expectations on a named column.
DERIVED_COLUMNS = {
    "core.regions": {
        "right": "x + width: where a box ends (percent for Label Studio, pixels for Scout and COCO)",
        "bottom": "y + height",
        "point_count": "the number of a polygon's points",
        "points_min": "the smallest coordinate of a polygon's points",
        "points_max": "the largest coordinate of a polygon's points",
        "points_right": "the largest x of a shape's points (pixels: where a CVAT polygon, polyline or skeleton ends)",
        "points_bottom": "the largest y of a shape's points",
        "polygon_area": "the area a polygon encloses, a self-intersecting one's once repaired as scoring repairs it"
        " (`similarity.polygon_measures`: a bow-tie has the area of its two triangles); 0 when its points are collinear"
        " or repeat",
        "polygon_repaired": "whether a polygon's ring crosses itself, so that it is scored as shapely's make_valid"
        " repairs it",
        "label_outside_config": "the first label or choice the control's labeling config does not allow (taxonomy: a"
        " path not in its tree); null when all are allowed or the control has no config",
        "scale_min": "the lowest value the control's config allows (Rating: 1, Number: min)",
        "scale_max": "the highest value the control's config allows (Rating: maxRating, Number: max)",
        "condition_unmet": "for a conditional control (visibleWhen), how its condition failed: the label of the region"
        " it is attached to, or the choice of the control it depends on; null when met or unconditional",
    },
    "core.ground_truth": {
        "annotation_state": "what the GT annotation is among its source task's annotations: submitted, cancelled,"
        " prediction, or missing",
    },
}


# The table each view reads beside its own rows.
RELATED_TABLE = {REGIONS: LABEL_CONFIG, GROUND_TRUTH: ANNOTATIONS}


def validation_view(table: Table, rows: pl.LazyFrame, related: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """`rows` of `table` with the derived columns its suite is written on (`DERIVED_COLUMNS`); `related` is
    the same project's rows of `RELATED_TABLE[table]` (the export's, or the warehouse's)."""
    if table is REGIONS:
        return _regions_view(rows, related)
    if table is GROUND_TRUTH:
        return _ground_truth_view(rows, related)
    return rows


def _regions_view(regions: pl.LazyFrame, label_config: pl.LazyFrame) -> pl.LazyFrame:
    config = label_config.select(
        "project_id",
        "control",
        "allowed_labels",
        "visible_when",
        "when_control",
        "when_values",
        scale_min="min_value",
        scale_max="max_value",
    )
    coordinates = pl.col("points").list.eval(pl.element().explode())
    judged = pl.col("allowed_labels").list.len() > 0  # a config that lists no labels (dynamic labels) judges none
    # A per-region result shares its region's id; the region's own labels are on its *labels-type row.
    # Only the rows a condition looks at are grouped: most projects have no conditional control.
    on_region = regions.join(
        config.filter(pl.col("visible_when") == "region-selected"), on=["project_id", "control"], how="semi"
    )
    region_labels = (
        regions.filter(pl.col("type").str.ends_with("labels"))
        .join(on_region.select(REGION), on=REGION, how="semi")
        .group_by(REGION)
        .agg(pl.col("labels").list.explode(keep_nulls=False, empty_as_null=False).alias("_region_labels"))
    )
    depended_on = config.filter(pl.col("visible_when") == "choice-selected").select(
        "project_id", control="when_control"
    )
    chosen = (
        regions.join(depended_on, on=["project_id", "control"], how="semi")
        .group_by(*ANNOTATION, when_control="control")
        .agg(pl.col("labels").list.explode(keep_nulls=False, empty_as_null=False).alias("_chosen"))
    )
    allowed = pl.col("when_values").list.join(", ")

    def unmet(found: pl.Expr) -> pl.Expr:
        return (pl.col("when_values").list.len() > 0) & (
            found.list.set_intersection("when_values").list.len().fill_null(0) == 0
        )

    def named(found: pl.Expr) -> pl.Expr:
        return pl.when(found.list.len() > 0).then(found.list.join(", ")).otherwise(pl.lit("nothing"))

    return (
        regions.join(config.unique(["project_id", "control"], keep="last"), on=["project_id", "control"], how="left")
        .join(region_labels, on=REGION, how="left")
        .join(chosen, on=[*ANNOTATION, "when_control"], how="left")
        .with_columns(
            condition_unmet=pl.when((pl.col("visible_when") == "region-selected") & unmet(pl.col("_region_labels")))
            .then(pl.format("on a region labelled {}, allowed on {}", named(pl.col("_region_labels")), allowed))
            .when((pl.col("visible_when") == "choice-selected") & unmet(pl.col("_chosen")))
            .then(pl.format("{} is {}, allowed when {}", "when_control", named(pl.col("_chosen")), allowed)),
            right=pl.col("x") + pl.col("width"),
            bottom=pl.col("y") + pl.col("height"),
            point_count=pl.col("points").list.len().cast(pl.Int64),
            points_min=coordinates.list.min(),
            points_max=coordinates.list.max(),
            points_right=pl.col("points").list.eval(pl.element().list.first()).list.max(),
            points_bottom=pl.col("points").list.eval(pl.element().list.last()).list.max(),
            label_outside_config=pl.when(judged).then(
                pl.col("labels").list.set_difference("allowed_labels").list.first()
            ),
        )
        .with_columns(
            _polygon=pl.col("points").map_batches(polygon_measures, return_dtype=POLYGON_MEASURES, is_elementwise=True)
        )
        .unnest("_polygon")
        .drop("allowed_labels", "visible_when", "when_control", "when_values", "_region_labels", "_chosen")
    )


def _ground_truth_view(ground_truth: pl.LazyFrame, annotations: pl.LazyFrame) -> pl.LazyFrame:
    states = annotations.select(
        "project_id",
        pl.col("task_id").alias("source_task_id"),
        "annotation_id",
        annotation_state=pl.when(pl.col("origin") != HUMAN)
        .then(pl.lit("prediction"))
        .when("was_cancelled")
        .then(pl.lit("cancelled"))
        .otherwise(pl.lit("submitted")),
    )
    keys = ["project_id", "source_task_id", "annotation_id"]
    return ground_truth.join(states.unique(keys), on=keys, how="left").with_columns(
        pl.when(pl.col("annotation_id").is_not_null()).then(pl.col("annotation_state").fill_null("missing"))
    )
