"""A project's quality report: one self-contained HTML file (plotly.js inline, no network needed) for the
labeling lead, built from the warehouse's quality tables. No Dagster here.

Sections: key figures, annotators (the members-dashboard columns), agreement between annotators (the
project's figures with their 95% intervals and bands, a kappa heatmap with kappa and n in each cell),
agreement over time (per run from the project's history, per day of the annotations), task agreement,
per-label F1 per annotator, confusion matrices, models against GT (figures, precision-recall curves,
calibration), GT versions over time, the top of the review queue and each annotator's worst tasks by
region conflicts (linked to the task in Label Studio when its URL is known), each annotator's accuracy
over time, and a glossary of every column the tables show (their meanings are `pipeline.columns`').
Annotators are shown by name when a people file names them; the report says so when it names none.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.columns import describe
from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATIONS,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    CALIBRATION_CURVE,
    CONFUSION_MATRIX,
    GROUND_TRUTH_HISTORY,
    JOB_QUALITY,
    LABEL_SCORES,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    PROJECT_AGREEMENT,
    REGION_CONFLICTS,
    REVIEW_QUEUE,
    TASK_AGREEMENT,
    Table,
)
from pipeline.metrics import detection
from pipeline.metrics.agreement import krippendorff_band, landis_koch
from pipeline.vocabulary import HUMAN, MODEL, submitted_human

REVIEW_ROWS = 25
PEOPLE_COLUMNS = ("annotator", "name", "email", "team")


@dataclass(frozen=True)
class People:
    """Who the annotator ids are: from a CSV with the header annotator,name,email,team (`annotator` is the id
    or email the exports carry). Unknown annotators keep their id."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path | None) -> People:
        if path is None:
            return cls()
        if not Path(path).is_file():
            raise FileNotFoundError(f"the people file {path} does not exist")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("annotator", "name") if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path}: the people file lacks the column(s) {missing} (header: {','.join(PEOPLE_COLUMNS)})"
                )
            return cls(
                {row["annotator"].strip(): {k: (row.get(k) or "").strip() for k in PEOPLE_COLUMNS} for row in reader}
            )

    def name(self, annotator: str) -> str:
        person = self.rows.get(annotator)
        return f"{person['name']} ({annotator})" if person and person["name"] else annotator

    def team(self, annotator: str) -> str:
        return (self.rows.get(annotator) or {}).get("team", "")

    def teams(self, column: str = "annotator") -> pl.Expr:
        """An expression giving each annotator's team ('' when the file names none)."""
        return pl.col(column).replace_strict({a: self.team(a) for a in self.rows}, default="", return_dtype=pl.String)

    def names(self, column: str = "annotator") -> pl.Expr:
        """An expression replacing annotator ids in `column` by 'Name (id)' where the file names them."""
        return pl.col(column).replace({a: self.name(a) for a in self.rows})


def task_link(base_url: str | None, project_id: str, task_id: str) -> str:
    """The task's page in Label Studio (`<base>/projects/<id>/data?task=<task>`), or '' without a base URL.
    A namespaced project (`lab-a:7`) is project 7 of that instance."""
    if not base_url:
        return ""
    return f"{base_url.rstrip('/')}/projects/{project_id.rsplit(':', 1)[-1]}/data?task={task_id}"


def report_tables() -> tuple[Table, ...]:
    """Every table the report reads: the tables `ReportData.tables` holds whole, and core.annotations for
    the day of each task (`task_days`)."""
    return (*WHOLE_TABLES, ANNOTATIONS)


WHOLE_TABLES = (
    AGREEMENT_MATRIX,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    JOB_QUALITY,
    REGION_CONFLICTS,
    CALIBRATION_CURVE,
    CONFUSION_MATRIX,
    GROUND_TRUTH_HISTORY,
    LABEL_SCORES,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    PROJECT_AGREEMENT,
    REVIEW_QUEUE,
    TASK_AGREEMENT,
)


@dataclass(frozen=True)
class ReportData:
    """What a report is drawn from: the project's current rows of `WHOLE_TABLES`, its quality.project_agreement
    rows of every run (`agreement_runs`, from `history`), the day of each task (`task_days`) and the project's
    latest GT version."""

    tables: dict[Table, pl.DataFrame]
    agreement_runs: pl.DataFrame
    task_days: pl.DataFrame
    gt_version: int | None

    @classmethod
    def read(cls, store, project_id: str) -> ReportData:
        """The project's data from `store` (a Warehouse)."""
        versions = store.gt_versions(project_id)
        return cls(
            tables={table: store.scan_project(table, project_id).collect() for table in WHOLE_TABLES},
            agreement_runs=store.history(PROJECT_AGREEMENT, project_id),
            task_days=task_days(store.scan_project(ANNOTATIONS, project_id)).collect(),
            gt_version=versions[-1] if versions else None,
        )


def task_days(annotations: pl.LazyFrame) -> pl.LazyFrame:
    """Each task's day: the UTC day its last submitted human annotation was updated (else created), the day
    rule of quality.annotator_daily; tasks the export dates not at all are left out. Columns task_id, day."""
    return (
        annotations.filter(submitted_human())
        .group_by("task_id")
        .agg(pl.coalesce("updated_at", "created_at").max().dt.date().alias("day"))
        .drop_nulls("day")
    )


def report_path(warehouse_root: str | Path, project_id: str) -> Path:
    """Where a project's report is written: `reports/<project>.html`, on this machine with the warehouse."""
    from pipeline.storage import local_folder
    from pipeline.warehouse import project_folder

    return local_folder(warehouse_root) / "reports" / f"{project_folder(project_id)}.html"


def write_report(
    store, project_id: str, people: People, label_studio_url: str | None = None, computed_from: str | None = None
) -> tuple[Path, dict, bool]:
    """Render the project's report from its data in `store` (a Warehouse) and write it whole (a reader never
    sees half a file), unless the report there was rendered from the same inputs: `computed_from`, the digest
    of everything it reads (`Warehouse.inputs_digest`), is kept in the page. Returns its path, its
    `key_figures`, and whether it was rendered now."""
    path = report_path(store.root, project_id)
    if computed_from is not None and rendered_from(path) == computed_from:  # only the figures are read
        return path, key_figures({t: store.scan_project(t, project_id).collect() for t in KEY_FIGURE_TABLES}), False
    data = ReportData.read(store, project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(render(data, project_id, people, label_studio_url, computed_from), encoding="utf-8")
    partial.replace(path)
    return path, key_figures(data.tables), True


_RENDERED_FROM = re.compile(r'<meta name="gtq-computed-from" content="([0-9a-f]*)">')


def rendered_from(path: Path) -> str | None:
    """The digest of the inputs the report at `path` was rendered from (its page's `gtq-computed-from`)."""
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as page:
        found = _RENDERED_FROM.search(page.read(1024))  # in the head's first lines
    return found and found.group(1)


def render(
    data: ReportData, project_id: str, people: People, label_studio_url: str | None, computed_from: str | None = None
) -> str:
    """The report's HTML for one project (`computed_from`: the digest of its inputs, kept in the page's head)."""
    from plotly.offline import get_plotlyjs

    tables = data.tables
    sections = [
        _key_figures(tables, data.gt_version),
        _annotators(tables[ANNOTATOR_PERFORMANCE], people),
        _agreement(tables[AGREEMENT_MATRIX], tables[PROJECT_AGREEMENT], people),
        _agreement_trend(data.agreement_runs, tables[TASK_AGREEMENT], data.task_days),
        _task_agreement(tables[TASK_AGREEMENT]),
        _label_f1(tables[LABEL_SCORES], people),
        _confusion(tables[CONFUSION_MATRIX], people),
        _models(tables[MODEL_PERFORMANCE], tables[PRECISION_RECALL_CURVE], tables[CALIBRATION_CURVE]),
        _gt_versions(tables[GROUND_TRUTH_HISTORY]),
        _review_queue(tables[REVIEW_QUEUE], project_id, label_studio_url),
        *_cvat_jobs(tables[JOB_QUALITY], people),
        _worst_tasks(tables[REGION_CONFLICTS], people, project_id, label_studio_url),
        _trend(tables[ANNOTATOR_DAILY], people),
        _glossary(),
    ]
    title = f"gtq quality report: project {html.escape(project_id)}"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f'<section id="{key}"><h2>{heading}</h2>{content}</section>' for key, heading, content in sections)
    version = data.gt_version if data.gt_version is not None else "none yet"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="gtq-computed-from" content="{computed_from or ""}">
<title>{title}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script></head>
<body><header><h1>{title}</h1><p>GT version {version} · written {created}</p>
{_people_note(tables[ANNOTATOR_PERFORMANCE], people, project_id)}
<nav>{" · ".join(f'<a href="#{key}">{heading}</a>' for key, heading, _ in sections)}</nav></header>
{body}
</body></html>
"""


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #1f2933; }
header { border-bottom: 1px solid #d9e2ec; margin-bottom: 1rem; }
nav a { margin-right: .3rem; }
section { margin: 1.5rem 0; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border-bottom: 1px solid #e4e7eb; padding: .25rem .45rem; text-align: right; }
th { vertical-align: bottom; max-width: 6.5rem; font-weight: 600; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
th.text, td.text { text-align: left; }
td.text { white-space: normal; max-width: 16rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figure { border: 1px solid #d9e2ec; border-radius: 6px; padding: .5rem 1rem; min-width: 9rem; }
.figure b { display: block; font-size: 1.4rem; }
.empty { color: #7b8794; font-style: italic; }
.notice { background: #fff8e1; border: 1px solid #f0b429; border-radius: 6px; padding: .5rem 1rem; }
.wide { overflow-x: auto; max-width: 100%; }
dl.glossary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: .85rem; }
dl.glossary dt { font-weight: 600; }
dl.glossary dd { margin: 0; }
dl.glossary code { color: #52606d; }
"""


def _figure_html(figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


# What people read as a column's heading; columns not named here show as they are called.
HEADINGS = {
    "annotator": "annotator",
    "n_annotations": "annotations",
    "n_submitted": "submitted",
    "n_skipped": "skipped",
    "n_accepted": "accepted",
    "n_rejected": "rejected",
    "acceptance_score": "acceptance rate",
    "n_scored": "scored against GT",
    "accuracy": "accuracy against GT",
    "cohen_kappa": "Cohen's κ against GT",
    "macro_f1": "macro F1",
    "annotator_agreement": "agreement with peers",
    "prediction_agreement": "agreement with the model",
    "lead_time_median_s": "median lead time (s)",
    "n_tasks": "tasks",
    "n_raters": "annotators",
    "percent_agreement": "observed agreement",
    "fleiss_kappa": "Fleiss' κ [95% CI]",
    "fleiss_kappa_band": "κ band",
    "krippendorff_level": "α level",
    "krippendorff_alpha": "Krippendorff's α [95% CI]",
    "krippendorff_alpha_band": "α band",
    "gwet_ac1": "Gwet's AC1 [95% CI]",
    "model_version": "model version",
    "n_predictions": "predictions with a confidence",
    "box_f1_iou_50": "box F1 at IoU 0.5",
    "map_50_95": "mAP@[.5:.95]",
    "map_50": "AP at IoU 0.5",
    "mar_100": "mean recall (100 boxes)",
    "calibration_error": "calibration error (ECE)",
    "task_id": "task",
    "agreement": "task agreement",
    "model_disagreement": "model disagreement",
    "wrong_label": "wrong label",
    "job_id": "CVAT job",
    "frame_count": "frames with GT",
    "valid_count": "valid",
    "total_count": "total",
    "error_count": "errors",
    "warning_count": "warnings",
}
# Columns the report computes itself, and what they mean.
REPORT_TERMS = {
    "team": "The annotator's team, from the people file.",
    "conflicts": "The task's regions that differ from the GT's at IoU 0.5: wrong label + extra + missing.",
    "wrong_label": "Regions whose geometry matches a GT region's under another label.",
    "extra": "Regions that match no GT region.",
    "missing": "GT regions that no region of the annotator matches.",
    "matched": "Regions that match a GT region with the same label.",
}
# Columns shown with their 95% interval: the value, then [<column>_ci_low, <column>_ci_high].
INTERVALS = ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1")


def _with_intervals(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each column of INTERVALS it has made a struct of the value and its interval (shown as
    `value [low, high]`)."""
    return frame.with_columns(
        pl.struct(value=pl.col(c), low=pl.col(f"{c}_ci_low"), high=pl.col(f"{c}_ci_high")).alias(c)
        for c in INTERVALS
        if c in frame.columns
    )


def meaning(table: Table, column: str) -> str:
    """What a column the report shows means: its contract meaning (`pipeline.columns`) or the report's own."""
    if column in REPORT_TERMS:
        return REPORT_TERMS[column]
    text = describe(table.key, column)
    return (
        f"{text} In brackets: its 95% interval ({column}_ci_low to {column}_ci_high)." if column in INTERVALS else text
    )


def _table_html(frame: pl.DataFrame, table: Table, links: dict[int, str] | None = None) -> str:
    """`frame` (columns of `table`, or the report's own) as an HTML table: human headings whose tooltip is the
    column's meaning, numbers right-aligned, text left-aligned, the first column linked where `links` says."""
    if frame.is_empty():
        return '<p class="empty">no rows</p>'

    def cell(value) -> str:
        if isinstance(value, dict):  # a value with its interval (`_with_intervals`)
            if value["value"] is None:
                return ""
            interval = "" if value["low"] is None else f" [{value['low']:.2f}, {value['high']:.2f}]"
            return f"{value['value']:.3f}{interval}"
        if isinstance(value, float):
            return f"{value:.3f}"
        return html.escape("" if value is None else str(value))

    kinds = ["text" if dtype == pl.String else "number" for dtype in frame.dtypes]
    head = "".join(
        f'<th class="{kind}" title="{html.escape(meaning(table, c))}">{html.escape(HEADINGS.get(c, c))}</th>'
        for c, kind in zip(frame.columns, kinds, strict=True)
    )
    rows = []
    for index, row in enumerate(frame.iter_rows()):
        cells = [cell(v) for v in row]
        if links and links.get(index):
            cells[0] = f'<a href="{html.escape(links[index])}">{cells[0]}</a>'
        rows.append(
            "<tr>" + "".join(f'<td class="{kind}">{c}</td>' for c, kind in zip(cells, kinds, strict=True)) + "</tr>"
        )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _empty(what: str) -> str:
    return f'<p class="empty">{html.escape(what)}</p>'


KEY_FIGURE_TABLES = (ANNOTATOR_PERFORMANCE, PROJECT_AGREEMENT, MODEL_PERFORMANCE, REVIEW_QUEUE)  # `key_figures` reads


def key_figures(tables: dict[Table, pl.DataFrame]) -> dict[str, float | int | None]:
    """The project's headline numbers (None when undefined): mean accuracy of human annotators against GT,
    Fleiss' kappa and Krippendorff's alpha (mean over controls), the best model's mAP@[.5:.95], and the
    number of tasks in the review queue."""
    humans = tables[ANNOTATOR_PERFORMANCE].filter(pl.col("origin") == HUMAN)
    return {
        "mean_accuracy": humans["accuracy"].mean(),
        "fleiss_kappa": tables[PROJECT_AGREEMENT]["fleiss_kappa"].mean(),
        "krippendorff_alpha": tables[PROJECT_AGREEMENT]["krippendorff_alpha"].mean(),
        "map_50_95": tables[MODEL_PERFORMANCE]["map_50_95"].max(),
        "review_queue_tasks": tables[REVIEW_QUEUE].height,
    }


FIGURE_NAMES = {
    "mean_accuracy": "mean accuracy against GT",
    "fleiss_kappa": "Fleiss' kappa (mean over controls)",
    "krippendorff_alpha": "Krippendorff's alpha (mean over controls)",
    "map_50_95": "best model mAP@[.5:.95]",
    "review_queue_tasks": "tasks in the review queue",
}


def _key_figures(tables: dict[Table, pl.DataFrame], gt_version: int | None) -> tuple[str, str, str]:
    humans = tables[ANNOTATOR_PERFORMANCE].filter(pl.col("origin") == HUMAN).height
    figures = {"GT version": gt_version, "annotators": humans} | {
        FIGURE_NAMES[k]: v for k, v in key_figures(tables).items()
    }
    shown = "".join(
        (
            f'<div class="figure">{html.escape(k)}<b>'
            f"{'n/a' if v is None else f'{v:.3f}' if isinstance(v, float) else v}</b></div>"
        )
        for k, v in figures.items()
    )
    return "figures", "Key figures", f'<div class="figures">{shown}</div>'


# The members dashboard as two tables that each fit a laptop's width: the work and its reviews, then the scores.
WORK_COLUMNS = (
    "annotator",
    "team",
    "origin",
    "n_annotations",
    "n_submitted",
    "n_skipped",
    "lead_time_median_s",
    "n_accepted",
    "n_rejected",
    "acceptance_score",
)
SCORE_COLUMNS = (
    "annotator",
    "team",
    "origin",
    "n_scored",
    "accuracy",
    "cohen_kappa",
    "macro_f1",
    "annotator_agreement",
    "prediction_agreement",
)


def _annotators(performance: pl.DataFrame, people: People) -> tuple[str, str, str]:
    """Each annotator and model: its work and reviews, then its scores; the best accuracy first."""
    rows = performance.sort("origin", pl.col("accuracy"), descending=[False, True], nulls_last=True).with_columns(
        people.teams().alias("team"), people.names("annotator")
    )
    tables = (
        f"<h3>{title}</h3>"
        + _table_html(rows.select(c for c in columns if people.rows or c != "team"), ANNOTATOR_PERFORMANCE)
        for title, columns in (
            ("Work and reviews", WORK_COLUMNS),
            ("Scores against GT, the model and peers", SCORE_COLUMNS),
        )
    )
    return "annotators", "Annotators", "".join(tables)


def _people_note(performance: pl.DataFrame, people: People, project_id: str) -> str:
    """A visible notice when the report names none or only some of the human annotators, saying how to name them."""
    humans = performance.filter(pl.col("origin") == HUMAN)["annotator"]
    named = [a for a, person in people.rows.items() if person["name"]]
    unnamed = humans.filter(~humans.is_in(named)).sort().to_list()
    if not unnamed:
        return ""
    how = (
        f"To name them, run <code>gtq report --project {html.escape(project_id)} --people FILE</code>, FILE a CSV with"
        f" the header <code>{','.join(PEOPLE_COLUMNS)}</code> and one row per annotator id."
    )
    if len(unnamed) == humans.len():
        return (
            '<p class="notice" id="people-note">Annotators are shown by their ids: this report was written without'
            f" names. {how}</p>"
        )
    missing = ", ".join(html.escape(a) for a in unnamed)
    return (
        f'<p class="notice" id="people-note">No name in the people file for {len(unnamed)} of {humans.len()}'
        f" annotators: {missing}. {how}</p>"
    )


AGREEMENT_COLUMNS = (
    "control",
    "n_tasks",
    "n_raters",
    "percent_agreement",
    "fleiss_kappa",
    "fleiss_kappa_band",
    "krippendorff_level",
    "krippendorff_alpha",
    "krippendorff_alpha_band",
    "gwet_ac1",
)


def _agreement(matrix: pl.DataFrame, project: pl.DataFrame, people: People) -> tuple[str, str, str]:
    """The project's agreement per control with 95% intervals and bands, then per control a heatmap of
    Cohen's kappa between every pair of participants, kappa and the number of shared tasks in each cell."""
    import plotly.graph_objects as go

    parts = [_table_html(_with_intervals(project).select(AGREEMENT_COLUMNS), PROJECT_AGREEMENT)]
    for control in sorted(matrix["control"].unique().to_list()):
        pairs = matrix.filter(pl.col("control") == control).with_columns(
            people.names("annotator_a"), people.names("annotator_b")
        )
        both = pl.concat(
            [pairs, pairs.rename({"annotator_a": "annotator_b", "annotator_b": "annotator_a"})], how="diagonal"
        )
        names = sorted(set(both["annotator_a"].to_list()))
        grid = {(r["annotator_a"], r["annotator_b"]): r for r in both.iter_rows(named=True)}
        z = [[(grid.get((a, b)) or {}).get("cohen_kappa") for b in names] for a in names]
        text = [[_kappa_cell(grid[(a, b)]) if (a, b) in grid else "" for b in names] for a in names]
        figure = go.Figure(
            go.Heatmap(
                z=z,
                x=names,
                y=names,
                text=text,
                texttemplate="%{text}",
                zmin=-1,
                zmax=1,
                colorscale="RdBu",
                colorbar={"title": "kappa"},
                hovertemplate="%{y} and %{x}<br>kappa %{z:.3f}<extra></extra>",
            )
        )
        figure.update_layout(
            title=f"Cohen's kappa between annotators: {control} (κ, and n = shared tasks)", height=420 + 18 * len(names)
        )
        parts.append(_figure_html(figure))
    return (
        "agreement",
        "Agreement between annotators",
        "".join(parts) if not matrix.is_empty() else parts[0] + _empty("no pair of annotators shares a task"),
    )


def _kappa_cell(pair: dict) -> str:
    """A heatmap cell's text: the pair's kappa (n/a when undefined) over its number of shared tasks."""
    kappa = "n/a" if pair["cohen_kappa"] is None else f"{pair['cohen_kappa']:.2f}"
    return f"{kappa}<br>n={pair['n_tasks']}"


def _bands(band: Callable[[pl.Expr], pl.Expr]) -> pl.DataFrame:
    """The bands an interpretation (`landis_koch`, `krippendorff_band`) divides [-1, 1] into: band, low, high,
    read off a grid of step 0.001 so that the thresholds are those the quality tables' band columns use."""
    grid = pl.DataFrame({"value": pl.int_range(-1000, 1001, eager=True) / 1000})
    return (
        grid.with_columns(band(pl.col("value")).alias("band"))
        .group_by(pl.col("band").rle_id().alias("run"), "band", maintain_order=True)
        .agg(pl.col("value").min().alias("low"), pl.col("value").max().alias("high"))
        .with_columns(pl.col("low").shift(-1).fill_null(pl.col("high")).alias("high"))
        .drop("run")
    )


TRENDED = (
    ("fleiss_kappa", "Fleiss' kappa", landis_koch),
    ("krippendorff_alpha", "Krippendorff's alpha", krippendorff_band),
)


def _agreement_trend(runs: pl.DataFrame, tasks: pl.DataFrame, days: pl.DataFrame) -> tuple[str, str, str]:
    """Per run in the project's history, Fleiss' kappa and Krippendorff's alpha per control with their 95%
    intervals over their interpretation bands; per day, the mean task agreement of the tasks whose last
    annotation is from that day."""
    import plotly.colors
    import plotly.graph_objects as go

    heading = "Agreement over time"
    parts = []
    committed = pl.col("committed_at").dt.strftime("%Y-%m-%d %H:%M").fill_null("")
    numbered = runs.with_columns(pl.format("#{} · {}", pl.col("run_id").rle_id() + 1, committed).alias("run"))
    n_runs = numbered["run"].n_unique()
    for column, name, band in TRENDED:
        rows = numbered.drop_nulls(column)
        if rows.is_empty():
            continue
        figure = go.Figure()
        bands = _bands(band)
        colors = plotly.colors.sample_colorscale("RdYlGn", [i / max(bands.height - 1, 1) for i in range(bands.height)])
        for (label, low, high), color in zip(bands.iter_rows(), colors, strict=True):
            figure.add_hrect(
                y0=low,
                y1=high,
                fillcolor=color,
                opacity=0.18,
                line_width=0,
                layer="below",
                annotation_text=label,
                annotation_position="top right",
                annotation_font_color="#52606d",
            )
        for (control,), series in rows.group_by("control", maintain_order=True):
            value, low, high = pl.col(column), pl.col(f"{column}_ci_low"), pl.col(f"{column}_ci_high")
            errors = series.select((high - value).alias("plus"), (value - low).alias("minus"))
            figure.add_trace(
                go.Scatter(
                    x=series["run"].to_list(),
                    y=series[column].to_list(),
                    mode="lines+markers",
                    name=control,
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": errors["plus"].to_list(),
                        "arrayminus": errors["minus"].to_list(),
                    },
                    customdata=series.select("run_id", f"{column}_ci_low", f"{column}_ci_high", band(value)).rows(),
                    hovertemplate=f"{control}: {name} %{{y:.3f}} [%{{customdata[1]:.2f}}, %{{customdata[2]:.2f}}],"
                    " %{customdata[3]}<br>run %{customdata[0]}<extra></extra>",
                )
            )
        lowest = min(0.0, rows[f"{column}_ci_low"].min() or 0.0, rows[column].min())
        figure.update_layout(
            title=f"{name} per run, with its 95% interval, over its bands ({n_runs} run(s) in the project's history)",
            xaxis={"title": "run (oldest first)", "type": "category"},
            yaxis={"title": name, "range": [lowest - 0.05, 1.0]},
            template="plotly_white",
            height=400,
        )
        parts.append(_figure_html(figure))
    if not parts:
        parts.append(_empty("no run has computed Fleiss' kappa or Krippendorff's alpha yet"))
    elif n_runs == 1:
        parts.append(_empty("one run in the project's history so far: each run adds a point"))
    daily = (
        tasks.drop_nulls("agreement")
        .join(days, on="task_id")
        .group_by("day")
        .agg(pl.col("agreement").mean().alias("agreement"), pl.len().alias("n_tasks"))
        .sort("day")
    )
    if daily.is_empty():
        parts.append(_empty("no dated task with two annotations"))
    else:
        figure = go.Figure(
            go.Scatter(
                x=daily["day"].to_list(),
                y=daily["agreement"].to_list(),
                mode="lines+markers",
                name="mean task agreement",
                customdata=daily["n_tasks"].to_list(),
                hovertemplate="%{x}: %{y:.3f} over %{customdata} task(s)<extra></extra>",
            )
        )
        figure.update_layout(
            title="Mean task agreement per day of the tasks' last annotation",
            xaxis=_day_axis(daily["day"]),
            yaxis={"title": "mean task agreement", "range": [0, 1.02]},
            height=380,
        )
        parts.append(_figure_html(figure))
    return "agreement-trend", heading, "".join(parts)


def _task_agreement(tasks: pl.DataFrame) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if tasks.is_empty():
        return "task-agreement", "Task agreement", _empty("no task has two annotations")
    figure = go.Figure(go.Histogram(x=tasks["agreement"].to_list(), xbins={"start": 0, "end": 1.0001, "size": 0.05}))
    figure.update_layout(
        title="Agreement per task (share of annotation pairs that agree)",
        xaxis_title="agreement",
        yaxis_title="tasks",
        height=360,
    )
    return "task-agreement", "Task agreement", _figure_html(figure)


def _label_f1(labels: pl.DataFrame, people: People) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if labels.is_empty():
        return "label-f1", "F1 per label and annotator", _empty("no scored labels")
    parts = []
    for control in sorted(labels["control"].unique().to_list()):
        rows = labels.filter(pl.col("control") == control).with_columns(people.names("annotator"))
        annotators, names = sorted(set(rows["annotator"])), sorted(set(rows["label"].drop_nulls()))
        f1 = {(r["annotator"], r["label"]): r["f1"] for r in rows.iter_rows(named=True)}
        z = [[f1.get((a, label)) for label in names] for a in annotators]
        figure = go.Figure(
            go.Heatmap(z=z, x=names, y=annotators, zmin=0, zmax=1, colorscale="Viridis", texttemplate="%{z:.2f}")
        )
        figure.update_layout(title=f"F1 per label: {control}", height=300 + 22 * len(annotators))
        parts.append(_figure_html(figure))
    return "label-f1", "F1 per label and annotator", "".join(parts)


def _confusion(confusion: pl.DataFrame, people: People) -> tuple[str, str, str]:
    """One heatmap per control, a menu to pick the annotator or model; all of them summed first."""
    import plotly.graph_objects as go

    if confusion.is_empty():
        return "confusion", "Confusion matrices", _empty("no answers scored against GT")
    parts = []
    for control in sorted(confusion["control"].unique().to_list()):
        rows = confusion.filter(pl.col("control") == control).with_columns(people.names("annotator"))
        labels = sorted(set(rows["gt_label"].drop_nulls()) | set(rows["label"].drop_nulls()))
        humans = rows.filter(pl.col("origin") == HUMAN).group_by("gt_label", "label").agg(pl.col("count").sum())
        choices = [("all annotators", humans)] + [
            (a, rows.filter(pl.col("annotator") == a)) for a in sorted(set(rows["annotator"]))
        ]
        figure = go.Figure()
        for index, (who, frame) in enumerate(choices):
            counts = {(r["gt_label"], r["label"]): r["count"] for r in frame.iter_rows(named=True)}
            z = [[counts.get((truth, given), 0) for given in labels] for truth in labels]
            figure.add_trace(
                go.Heatmap(
                    z=z, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}", visible=index == 0, name=who
                )
            )
        buttons = [
            {
                "label": who,
                "method": "update",
                "args": [{"visible": [i == j for j in range(len(choices))]}, {"title": f"{control}: {who}"}],
            }
            for i, (who, _) in enumerate(choices)
        ]
        figure.update_layout(
            title=f"{control}: all annotators",
            xaxis_title="answer given",
            yaxis_title="GT answer",
            yaxis_autorange="reversed",
            updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.15, "xanchor": "right"}],
            height=360 + 24 * len(labels),
        )
        parts.append(_figure_html(figure))
    return "confusion", "Confusion matrices", "".join(parts)


MODEL_COLUMNS = (
    "model_version",
    "n_predictions",
    "accuracy",
    "macro_f1",
    "box_f1_iou_50",
    "map_50_95",
    "map_50",
    "mar_100",
    "calibration_error",
)


def _models(models: pl.DataFrame, curves: pl.DataFrame, calibration: pl.DataFrame) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if models.is_empty():
        return "models", "Models against GT", _empty("no model predictions in this project")
    parts = [_table_html(models.select(MODEL_COLUMNS), MODEL_PERFORMANCE)]
    model_curves = curves.filter((pl.col("origin") == MODEL) & (pl.col("iou_threshold") == 0.5))
    if not model_curves.is_empty():
        figure = go.Figure()
        for (model, control, label), curve in model_curves.group_by(
            "annotator", "control", "label", maintain_order=True
        ):
            curve = curve.sort("recall")
            figure.add_trace(
                go.Scatter(
                    x=curve["recall"].to_list(),
                    y=curve["precision"].to_list(),
                    mode="lines",
                    name=f"{model} · {control} · {label}",
                )
            )
        figure.update_layout(
            title="Precision-recall at IoU 0.5 (COCO's interpolation)",
            xaxis_title="recall",
            yaxis_title="precision",
            height=420,
        )
        parts.append(_figure_html(figure))
    if not calibration.is_empty():
        figure = go.Figure(
            go.Scatter(
                x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect calibration"
            )
        )
        for (model,), bins in calibration.group_by("model_version", maintain_order=True):
            bins = bins.sort("mean_confidence")
            figure.add_trace(
                go.Scatter(
                    x=bins["mean_confidence"].to_list(),
                    y=bins["accuracy"].to_list(),
                    mode="lines+markers",
                    name=model,
                    text=[f"n={n}" for n in bins["n_predictions"]],
                )
            )
        figure.update_layout(
            title="Calibration: accuracy per confidence bin",
            xaxis_title="mean confidence",
            yaxis_title="accuracy",
            height=420,
        )
        parts.append(_figure_html(figure))
    return "models", "Models against GT", "".join(parts)


def _gt_versions(history: pl.DataFrame) -> tuple[str, str, str]:
    """Per GT version, its changes stacked by kind, each segment with its count where it fits and each stack
    labelled with its total and counts per kind (`14 in all: 11 edited, 3 replaced`)."""
    import plotly.graph_objects as go

    if history.is_empty():
        return "gt-versions", "Ground-truth versions", _empty("no GT version published yet")
    per_version = (
        history.group_by("version", "change")
        .agg(pl.len().alias("changes"), pl.col("valid_from").min().alias("published"))
        .with_columns(
            pl.format(
                "v{} · {}", "version", pl.col("published").min().over("version").dt.strftime("%Y-%m-%d %H:%M")
            ).alias("label")
        )
        .sort("version", "changes", "change", descending=[False, True, False])
    )
    figure = go.Figure()
    for (change,), rows in per_version.group_by("change", maintain_order=True):
        figure.add_trace(
            go.Bar(
                x=rows["label"].to_list(),
                y=rows["changes"].to_list(),
                name=change,
                text=rows["changes"].to_list(),
                textposition="inside",
                insidetextanchor="middle",
            )
        )
    totals = per_version.group_by("label", maintain_order=True).agg(
        pl.col("changes").sum().alias("total"),
        pl.format("{} {}", "changes", "change").str.join(", ").alias("counts"),
        pl.len().alias("kinds"),
    )
    figure.add_trace(
        go.Scatter(
            x=totals["label"].to_list(),
            y=totals["total"].to_list(),
            text=totals.select(
                pl.when(pl.col("kinds") > 1).then(pl.format("{} in all: {}", "total", "counts")).otherwise("counts")
            )
            .to_series()
            .to_list(),
            mode="text",
            textposition="top center",
            showlegend=False,
        )
    )
    figure.update_layout(
        barmode="stack",
        title="Changes per GT version (set, replaced, unset, edited), with their counts",
        yaxis={"title": "tasks", "range": [0, totals["total"].max() * 1.15]},
        uniformtext={"minsize": 10, "mode": "hide"},  # a segment too small for its count leaves it to the stack's label
        height=380,
    )
    return "gt-versions", "Ground-truth versions", _figure_html(figure)


QUEUE_COLUMNS = ("task_id", "priority", "reason", "n_annotations", "agreement", "model_disagreement")


def _review_queue(queue: pl.DataFrame, project_id: str, label_studio_url: str | None) -> tuple[str, str, str]:
    """The first REVIEW_ROWS tasks of the queue, most urgent (priority 1) first, linked to Label Studio."""
    top = queue.sort("priority").head(REVIEW_ROWS).select(QUEUE_COLUMNS)
    links = {i: task_link(label_studio_url, project_id, task) for i, task in enumerate(top["task_id"])}
    note = (
        ""
        if label_studio_url
        else (
            '<p class="empty">set the Label Studio URL (--label-studio-url or GTQ_LABEL_STUDIO_URL) to link each'
            " task</p>"
        )
    )
    heading = f"Review queue (the {min(REVIEW_ROWS, queue.height)} most urgent of {queue.height})"
    return "review-queue", heading, _table_html(top, REVIEW_QUEUE, links) + note


WORST_TASKS = 3
CONFLICT_COLUMNS = ("task_id", "annotator", "origin", "conflicts", "wrong_label", "extra", "missing", "matched")


def _worst_tasks(
    conflicts: pl.DataFrame, people: People, project_id: str, label_studio_url: str | None
) -> tuple[str, str, str]:
    """Per annotator and model, the tasks where its regions differ most from the GT's (wrong labels, extra and
    missing regions at IoU 0.5), linked to Label Studio."""
    heading = "Region conflicts: the worst tasks of each annotator"
    if conflicts.is_empty():
        return "conflicts", heading, _empty("no regions scored against GT regions")
    kinds = [pl.col("kind").eq(kind).sum().alias(kind) for kind in detection.CONFLICT_KINDS]
    per_task = (
        conflicts.group_by("annotator", "origin", "task_id")
        .agg(*kinds)
        .with_columns(conflicts=pl.col("wrong_label") + pl.col("extra") + pl.col("missing"))
        .filter(pl.col("conflicts") > 0)
        .sort("annotator", "conflicts", "task_id", descending=[False, True, False])
        .group_by("annotator", maintain_order=True)
        .head(WORST_TASKS)
    )
    shown = per_task.with_columns(people.names("annotator")).select(CONFLICT_COLUMNS)
    links = {i: task_link(label_studio_url, project_id, task) for i, task in enumerate(shown["task_id"])}
    return "conflicts", heading, _table_html(shown, REGION_CONFLICTS, links)


JOB_COLUMNS = (
    "job_id",
    "annotator",
    "frame_count",
    "valid_count",
    "total_count",
    "accuracy",
    "precision",
    "recall",
    "error_count",
    "warning_count",
)


def _cvat_jobs(jobs: pl.DataFrame, people: People) -> list[tuple[str, str, str]]:
    """CVAT's quality report, for a project with CVAT jobs: each job's accuracy, precision and recall against
    the GT, the least accurate first, under the project's (none for a project without CVAT jobs)."""
    if jobs.is_empty():
        return []
    project = jobs.filter(pl.col("scope") == "project").row(0, named=True)
    heading = "CVAT jobs: CVAT's quality report"
    summary = (
        f"<p>All jobs: accuracy {project['accuracy']:.3f}, precision {project['precision']:.3f}, recall"
        f" {project['recall']:.3f} over {project['frame_count']} frame(s) with GT; {project['error_count']}"
        f" error(s) and {project['warning_count']} warning(s) in the conflict list.</p>"
    )
    shown = (
        jobs.filter(pl.col("scope") == "job")
        .sort("accuracy", "job_id")
        .with_columns(people.names("annotator"))
        .select(JOB_COLUMNS)
    )
    return [("cvat", heading, summary + _table_html(shown, JOB_QUALITY))]


def _day_axis(days: pl.Series) -> dict:
    """A date axis whose ticks fall on whole days (about 12 ticks at most), labelled by date without hours."""
    span = (days.max() - days.min()).days if days.len() else 0
    return {"type": "date", "tickformat": "%Y-%m-%d", "dtick": 86_400_000 * max(1, -(-span // 12))}


def _trend(daily: pl.DataFrame, people: People) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    rows = daily.filter((pl.col("origin") == HUMAN) & pl.col("day").is_not_null() & pl.col("accuracy").is_not_null())
    if rows.is_empty():
        return "trend", "Accuracy over time", _empty("no dated, scored annotations")
    figure = go.Figure()
    for (annotator,), series in (
        rows.with_columns(people.names("annotator")).sort("day").group_by("annotator", maintain_order=True)
    ):
        figure.add_trace(
            go.Scatter(
                x=series["day"].to_list(),
                y=series["accuracy"].to_list(),
                mode="lines+markers",
                name=annotator,
                text=[f"n={n}" for n in series["n_scored"]],
            )
        )
    figure.update_layout(
        title="Accuracy against GT per day",
        xaxis=_day_axis(rows["day"]),
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        height=420,
    )
    return "trend", "Accuracy over time", _figure_html(figure)


# The glossary: every table's columns under the section that shows them, then what the charts plot.
GLOSSARY = (
    ("Annotators", ANNOTATOR_PERFORMANCE, tuple(dict.fromkeys(WORK_COLUMNS + SCORE_COLUMNS))),
    ("Agreement between annotators", PROJECT_AGREEMENT, AGREEMENT_COLUMNS),
    ("Models against GT", MODEL_PERFORMANCE, MODEL_COLUMNS),
    ("Review queue", REVIEW_QUEUE, QUEUE_COLUMNS),
    ("CVAT jobs", JOB_QUALITY, JOB_COLUMNS),
    ("Region conflicts", REGION_CONFLICTS, CONFLICT_COLUMNS),
)
CHART_TERMS = (
    ("Cohen's κ in the heatmaps", AGREEMENT_MATRIX, "cohen_kappa"),
    ("n in the heatmaps", AGREEMENT_MATRIX, "n_tasks"),
    ("task agreement (histogram, mean per day)", TASK_AGREEMENT, "agreement"),
    ("F1 per label", LABEL_SCORES, "f1"),
    ("accuracy per day", ANNOTATOR_DAILY, "accuracy"),
)

CODE = re.compile(r"`([^`]+)`")  # `code` in a column's meaning


def _glossary() -> tuple[str, str, str]:
    """What each column of the report's tables, and each figure its charts plot, means (`meaning`)."""

    def term(heading: str, table: Table, column: str) -> str:
        text = CODE.sub(r"<code>\1</code>", html.escape(meaning(table, column)))
        where = "" if column in REPORT_TERMS else f" <code>{table.key}.{column}</code>"
        return f"<dt>{html.escape(heading)}</dt><dd>{text}{where}</dd>"

    def terms(entries) -> str:
        return "".join(term(*entry) for entry in entries)

    groups = [(title, [(HEADINGS.get(c, c), table, c) for c in columns]) for title, table, columns in GLOSSARY]
    groups.append(("Charts", list(CHART_TERMS)))
    return (
        "glossary",
        "Glossary",
        "".join(f'<h3>{title}</h3><dl class="glossary">{terms(entries)}</dl>' for title, entries in groups),
    )
