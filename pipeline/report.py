"""A project's quality report: one self-contained HTML file (plotly.js inline, no network needed) for the
labeling lead, built from the warehouse's quality tables. No Dagster here.

Sections: key figures, annotators (the members-dashboard columns), agreement between annotators (a kappa
heatmap with n per cell), task agreement, per-label F1 per annotator, confusion matrices, models against
GT (figures, precision-recall curves, calibration), GT versions over time, the top of the review queue and
each annotator's worst tasks by region conflicts (linked to the task in Label Studio when its URL is known),
and each annotator's accuracy over time.
Annotators are shown by name when a people file names them.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    CALIBRATION_CURVE,
    CONFUSION_MATRIX,
    GROUND_TRUTH_HISTORY,
    LABEL_SCORES,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    PROJECT_AGREEMENT,
    REGION_CONFLICTS,
    REVIEW_QUEUE,
    TASK_AGREEMENT,
    Table,
)

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
                raise ValueError(f"{path}: the people file lacks the column(s) {missing} (header: {','.join(PEOPLE_COLUMNS)})")
            return cls({row["annotator"].strip(): {k: (row.get(k) or "").strip() for k in PEOPLE_COLUMNS} for row in reader})

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
    """Every table the report reads: the tables `render` takes."""
    return (AGREEMENT_MATRIX, ANNOTATOR_DAILY, ANNOTATOR_PERFORMANCE, REGION_CONFLICTS, CALIBRATION_CURVE, CONFUSION_MATRIX,
            GROUND_TRUTH_HISTORY, LABEL_SCORES, MODEL_PERFORMANCE, PRECISION_RECALL_CURVE, PROJECT_AGREEMENT, REVIEW_QUEUE, TASK_AGREEMENT)  # fmt: skip


def report_path(warehouse_root: str | Path, project_id: str) -> Path:
    """Where a project's report is written: `reports/<project>.html`, on this machine with the warehouse."""
    from pipeline.storage import local_folder
    from pipeline.warehouse import project_folder

    return local_folder(warehouse_root) / "reports" / f"{project_folder(project_id)}.html"


def write_report(store, project_id: str, people: People, label_studio_url: str | None = None) -> tuple[Path, dict]:
    """Render the project's report from its current tables in `store` (a Warehouse) and write it whole
    (a reader never sees half a file). Returns its path and its `key_figures`."""
    tables = {table: store.scan_project(table, project_id).collect() for table in report_tables()}
    versions = store.gt_versions(project_id)
    path = report_path(store.root, project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(render(tables, project_id, versions[-1] if versions else None, people, label_studio_url), encoding="utf-8")
    partial.replace(path)
    return path, key_figures(tables)


def render(tables: dict[Table, pl.DataFrame], project_id: str, gt_version: int | None, people: People, label_studio_url: str | None) -> str:
    """The report's HTML for one project from its quality tables (`tables`: every table `render` reads)."""
    from plotly.offline import get_plotlyjs

    sections = [
        _key_figures(tables, gt_version),
        _annotators(tables[ANNOTATOR_PERFORMANCE], people),
        _agreement(tables[AGREEMENT_MATRIX], tables[PROJECT_AGREEMENT], people),
        _task_agreement(tables[TASK_AGREEMENT]),
        _label_f1(tables[LABEL_SCORES], people),
        _confusion(tables[CONFUSION_MATRIX], people),
        _models(tables[MODEL_PERFORMANCE], tables[PRECISION_RECALL_CURVE], tables[CALIBRATION_CURVE]),
        _gt_versions(tables[GROUND_TRUTH_HISTORY]),
        _review_queue(tables[REVIEW_QUEUE], project_id, label_studio_url),
        _worst_tasks(tables[REGION_CONFLICTS], people, project_id, label_studio_url),
        _trend(tables[ANNOTATOR_DAILY], people),
    ]
    title = f"gtq quality report: project {html.escape(project_id)}"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f'<section id="{key}"><h2>{heading}</h2>{content}</section>' for key, heading, content in sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script></head>
<body><header><h1>{title}</h1><p>GT version {gt_version if gt_version is not None else "none yet"} · written {created}</p>
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
th, td { border-bottom: 1px solid #e4e7eb; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figure { border: 1px solid #d9e2ec; border-radius: 6px; padding: .5rem 1rem; min-width: 9rem; }
.figure b { display: block; font-size: 1.4rem; }
.empty { color: #7b8794; font-style: italic; }
.wide { overflow-x: auto; max-width: 100%; }
"""


def _figure_html(figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _table_html(frame: pl.DataFrame, links: dict[int, str] | None = None) -> str:
    if frame.is_empty():
        return '<p class="empty">no rows</p>'

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return html.escape("" if value is None else str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for index, row in enumerate(frame.iter_rows()):
        cells = [cell(v) for v in row]
        if links and links.get(index):
            cells[0] = f'<a href="{html.escape(links[index])}">{cells[0]}</a>'
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _empty(what: str) -> str:
    return f'<p class="empty">{html.escape(what)}</p>'


def key_figures(tables: dict[Table, pl.DataFrame]) -> dict[str, float | int | None]:
    """The project's headline numbers (None when undefined): mean accuracy of human annotators against GT,
    Fleiss' kappa and Krippendorff's alpha (mean over controls), the best model's mAP@[.5:.95], and the
    number of tasks in the review queue."""
    humans = tables[ANNOTATOR_PERFORMANCE].filter(pl.col("origin") == "human")
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
    humans = tables[ANNOTATOR_PERFORMANCE].filter(pl.col("origin") == "human").height
    figures = {"GT version": gt_version, "annotators": humans} | {FIGURE_NAMES[k]: v for k, v in key_figures(tables).items()}
    shown = "".join(
        f'<div class="figure">{html.escape(k)}<b>{"n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else v}</b></div>'
        for k, v in figures.items()
    )
    return "figures", "Key figures", f'<div class="figures">{shown}</div>'


def _annotators(performance: pl.DataFrame, people: People) -> tuple[str, str, str]:
    columns = [
        "annotator", "origin", "n_annotations", "n_submitted", "n_skipped", "n_accepted", "n_rejected", "acceptance_score",
        "n_scored", "accuracy", "cohen_kappa", "macro_f1", "annotator_agreement", "prediction_agreement", "lead_time_median_s",
    ]  # fmt: skip
    shown = performance.sort("origin", pl.col("accuracy"), descending=[False, True], nulls_last=True).select(
        people.names("annotator"), people.teams().alias("team"), *columns[1:]
    )
    if not people.rows:
        shown = shown.drop("team")
    return "annotators", "Annotators", _table_html(shown)


def _agreement(matrix: pl.DataFrame, project: pl.DataFrame, people: People) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    parts = [
        _table_html(project.select("control", "n_tasks", "n_raters", "percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"))
    ]
    for control in sorted(matrix["control"].unique().to_list()):
        pairs = matrix.filter(pl.col("control") == control).with_columns(people.names("annotator_a"), people.names("annotator_b"))
        both = pl.concat([pairs, pairs.rename({"annotator_a": "annotator_b", "annotator_b": "annotator_a"})], how="diagonal")
        names = sorted(set(both["annotator_a"].to_list()))
        grid = {(r["annotator_a"], r["annotator_b"]): r for r in both.iter_rows(named=True)}
        z = [[(grid.get((a, b)) or {}).get("cohen_kappa") for b in names] for a in names]
        text = [[f"n={grid[(a, b)]['n_tasks']}" if (a, b) in grid else "" for b in names] for a in names]
        figure = go.Figure(
            go.Heatmap(
                z=z, x=names, y=names, text=text, texttemplate="%{text}", zmin=-1, zmax=1, colorscale="RdBu", colorbar={"title": "kappa"}
            )
        )
        figure.update_layout(title=f"Cohen's kappa between annotators: {control} (n = shared tasks)", height=420 + 18 * len(names))
        parts.append(_figure_html(figure))
    return (
        "agreement",
        "Agreement between annotators",
        "".join(parts) if not matrix.is_empty() else parts[0] + _empty("no pair of annotators shares a task"),
    )


def _task_agreement(tasks: pl.DataFrame) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if tasks.is_empty():
        return "task-agreement", "Task agreement", _empty("no task has two annotations")
    figure = go.Figure(go.Histogram(x=tasks["agreement"].to_list(), xbins={"start": 0, "end": 1.0001, "size": 0.05}))
    figure.update_layout(
        title="Agreement per task (share of annotation pairs that agree)", xaxis_title="agreement", yaxis_title="tasks", height=360
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
        figure = go.Figure(go.Heatmap(z=z, x=names, y=annotators, zmin=0, zmax=1, colorscale="Viridis", texttemplate="%{z:.2f}"))
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
        humans = rows.filter(pl.col("origin") == "human").group_by("gt_label", "label").agg(pl.col("count").sum())
        choices = [("all annotators", humans)] + [(a, rows.filter(pl.col("annotator") == a)) for a in sorted(set(rows["annotator"]))]
        figure = go.Figure()
        for index, (who, frame) in enumerate(choices):
            counts = {(r["gt_label"], r["label"]): r["count"] for r in frame.iter_rows(named=True)}
            z = [[counts.get((truth, given), 0) for given in labels] for truth in labels]
            figure.add_trace(go.Heatmap(z=z, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}", visible=index == 0, name=who))
        buttons = [
            {"label": who, "method": "update", "args": [{"visible": [i == j for j in range(len(choices))]}, {"title": f"{control}: {who}"}]}
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


def _models(models: pl.DataFrame, curves: pl.DataFrame, calibration: pl.DataFrame) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if models.is_empty():
        return "models", "Models against GT", _empty("no model predictions in this project")
    figures = [
        "model_version",
        "n_predictions",
        "accuracy",
        "macro_f1",
        "box_f1_iou_50",
        "map_50_95",
        "map_50",
        "mar_100",
        "calibration_error",
    ]
    parts = [_table_html(models.select(figures))]
    model_curves = curves.filter((pl.col("origin") == "model") & (pl.col("iou_threshold") == 0.5))
    if not model_curves.is_empty():
        figure = go.Figure()
        for (model, control, label), curve in model_curves.group_by("annotator", "control", "label", maintain_order=True):
            curve = curve.sort("recall")
            figure.add_trace(
                go.Scatter(x=curve["recall"].to_list(), y=curve["precision"].to_list(), mode="lines", name=f"{model} · {control} · {label}")
            )
        figure.update_layout(
            title="Precision-recall at IoU 0.5 (COCO's interpolation)", xaxis_title="recall", yaxis_title="precision", height=420
        )
        parts.append(_figure_html(figure))
    if not calibration.is_empty():
        figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect calibration"))
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
            title="Calibration: accuracy per confidence bin", xaxis_title="mean confidence", yaxis_title="accuracy", height=420
        )
        parts.append(_figure_html(figure))
    return "models", "Models against GT", "".join(parts)


def _gt_versions(history: pl.DataFrame) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    if history.is_empty():
        return "gt-versions", "Ground-truth versions", _empty("no GT version published yet")
    per_version = (
        history.group_by("version", "change")
        .agg(pl.len().alias("changes"), pl.col("valid_from").min().alias("published"))
        .with_columns(pl.col("published").min().over("version"))
        .sort("version")
    )
    figure = go.Figure()
    for (change,), rows in per_version.group_by("change", maintain_order=True):
        figure.add_trace(
            go.Bar(
                x=[f"v{v} · {p:%Y-%m-%d %H:%M}" for v, p in zip(rows["version"], rows["published"], strict=True)],
                y=rows["changes"].to_list(),
                name=change,
            )
        )
    figure.update_layout(barmode="stack", title="Changes per GT version (set, replaced, unset, edited)", yaxis_title="tasks", height=380)
    return "gt-versions", "Ground-truth versions", _figure_html(figure)


def _review_queue(queue: pl.DataFrame, project_id: str, label_studio_url: str | None) -> tuple[str, str, str]:
    top = (
        queue.sort("priority", descending=True)
        .head(REVIEW_ROWS)
        .select("task_id", "priority", "reason", "n_annotations", "agreement", "model_disagreement")
    )
    links = {i: task_link(label_studio_url, project_id, task) for i, task in enumerate(top["task_id"])}
    note = (
        ""
        if label_studio_url
        else '<p class="empty">set the Label Studio URL (--label-studio-url or GTQ_LABEL_STUDIO_URL) to link each task</p>'
    )
    return "review-queue", f"Review queue (top {REVIEW_ROWS} of {queue.height})", _table_html(top, links) + note


WORST_TASKS = 3


def _worst_tasks(conflicts: pl.DataFrame, people: People, project_id: str, label_studio_url: str | None) -> tuple[str, str, str]:
    """Per annotator and model, the tasks where its regions differ most from the GT's (wrong labels, extra and
    missing regions at IoU 0.5), linked to Label Studio."""
    heading = "Region conflicts: the worst tasks of each annotator"
    if conflicts.is_empty():
        return "conflicts", heading, _empty("no regions scored against GT regions")
    kinds = [pl.col("kind").eq(kind).sum().alias(kind) for kind in ("matched", "wrong_label", "extra", "missing")]
    per_task = (
        conflicts.group_by("annotator", "origin", "task_id")
        .agg(*kinds)
        .with_columns(conflicts=pl.col("wrong_label") + pl.col("extra") + pl.col("missing"))
        .filter(pl.col("conflicts") > 0)
        .sort("annotator", "conflicts", "task_id", descending=[False, True, False])
        .group_by("annotator", maintain_order=True)
        .head(WORST_TASKS)
    )
    shown = per_task.select("task_id", people.names("annotator"), "origin", "conflicts", "wrong_label", "extra", "missing", "matched")
    links = {i: task_link(label_studio_url, project_id, task) for i, task in enumerate(shown["task_id"])}
    return "conflicts", heading, _table_html(shown, links)


def _trend(daily: pl.DataFrame, people: People) -> tuple[str, str, str]:
    import plotly.graph_objects as go

    rows = daily.filter((pl.col("origin") == "human") & pl.col("day").is_not_null() & pl.col("accuracy").is_not_null())
    if rows.is_empty():
        return "trend", "Accuracy over time", _empty("no dated, scored annotations")
    figure = go.Figure()
    for (annotator,), series in rows.with_columns(people.names("annotator")).sort("day").group_by("annotator", maintain_order=True):
        figure.add_trace(
            go.Scatter(
                x=series["day"].to_list(),
                y=series["accuracy"].to_list(),
                mode="lines+markers",
                name=annotator,
                text=[f"n={n}" for n in series["n_scored"]],
            )
        )
    figure.update_layout(title="Accuracy against GT per day", yaxis_title="accuracy", yaxis_range=[0, 1.02], height=420)
    return "trend", "Accuracy over time", _figure_html(figure)
