"""The quality report as a labeling lead opens it: rendered by headless Chromium with the network cut off,
without console errors, every section drawn; and what it shows, by content and order."""

import html
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATIONS,
    ANNOTATOR_PERFORMANCE,
    GROUND_TRUTH_HISTORY,
    MODEL_PERFORMANCE,
    PROJECT_AGREEMENT,
    REVIEW_QUEUE,
    SOURCE_FILES,
    TASK_AGREEMENT,
)
from pipeline.definitions import defs
from pipeline.instance import open_instance
from pipeline.report import REVIEW_ROWS, People, ReportData, render, task_link
from pipeline.sample import write_sample
from pipeline.warehouse import Warehouse
from tests.conftest import copy_of, run_ok

SECTIONS = (
    "figures",
    "annotators",
    "agreement",
    "agreement-trend",
    "task-agreement",
    "label-f1",
    "confusion",
    "models",
    "gt-versions",
    "review-queue",
    "conflicts",
    "trend",
    "glossary",
)
CHARTED = ("agreement", "agreement-trend", "task-agreement", "label-f1", "confusion", "models", "gt-versions", "trend")


def chromium(url: str) -> tuple[str, str]:
    """The DOM after scripts ran, and the browser's log, with every host unresolvable (no network)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.stdout, done.stderr


def sections_of(dom: str) -> dict[str, str]:
    starts = [(m.group(1), m.start()) for m in re.finditer(r'<section id="([\w-]+)"', dom)]
    ends = [start for _, start in starts[1:]] + [len(dom)]
    return {key: dom[start:end] for (key, start), end in zip(starts, ends, strict=True)}


def report_file(result) -> str:
    """The path of the report a run wrote."""
    [report] = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "reports/quality_report"
    ]
    return report.materialization.metadata["path"].value


@pytest.fixture(scope="module")
def sample_dom(sample_run) -> tuple[str, str]:
    """The sample report's DOM as Chromium drew it offline, and the browser's log (one browser run per module)."""
    result, _ = sample_run
    return chromium(f"file://{report_file(result)}")


def table_rows(section: str) -> list[list[str]]:
    """The text of each body row's cells of the tables in a section (links and markup stripped)."""
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", section)]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells] for cells in rows if cells]


def headings(section: str) -> list[str]:
    """The column headings of the tables in a section (a DOM's attributes may hold '<' and '>')."""
    return [html.unescape(h) for h in re.findall(r'<th\b(?:[^>"]|"[^"]*")*>(.*?)</th>', section)]


def points(figure: str) -> int:
    """How many markers a plotly figure's DOM draws."""
    return len(re.findall(r'class="point[ "]', figure))


def figures_of(section: str) -> list[str]:
    """Each plotly figure of a section's DOM, in order."""
    return section.split('class="plot-container plotly"')[1:]


def test_the_sample_report_loads_offline_with_every_section_drawn(sample_run, sample_dom):
    result, store = sample_run
    text = Path(report_file(result)).read_text(encoding="utf-8")
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', text)  # self-contained: nothing fetched

    dom, log = sample_dom
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console
    sections = sections_of(dom)
    assert tuple(sections) == SECTIONS
    for key in CHARTED:
        assert 'class="main-svg"' in sections[key], f"section {key} drew no chart"
    assert "annotator" in sections["annotators"] and sections["annotators"].count("<tr>") >= 6
    assert "<td" in sections["review-queue"] and sections["conflicts"].count("<tr>") > 5


def test_the_review_queue_lists_the_most_urgent_tasks_first(sample_run):
    """The report's review queue starts at priority 1, in the table's order (it once listed the last 25, reversed)."""
    result, store = sample_run
    queue = sections_of(Path(report_file(result)).read_text(encoding="utf-8"))["review-queue"]
    expected = store.read(REVIEW_QUEUE).sort("priority").head(REVIEW_ROWS)
    shown = [(row[0], int(row[1])) for row in table_rows(queue)]
    assert shown == list(zip(expected["task_id"], expected["priority"], strict=True))
    assert shown[0][1] == 1 and len(shown) == REVIEW_ROWS < store.read(REVIEW_QUEUE).height


def test_agreement_shows_intervals_bands_and_kappa_in_every_heatmap_cell(sample_run, sample_dom):
    _, store = sample_run
    agreement = sections_of(sample_dom[0])["agreement"]

    # The project's figures with their 95% bootstrap intervals and interpretation bands.
    project = store.read(PROJECT_AGREEMENT).sort("control")
    rows = {row[0]: row for row in table_rows(agreement)}
    assert sorted(rows) == project["control"].to_list()
    for control in project.iter_rows(named=True):
        row = rows[control["control"]]
        for metric in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
            low, high = control[f"{metric}_ci_low"], control[f"{metric}_ci_high"]
            assert f"{control[metric]:.3f} [{low:.2f}, {high:.2f}]" in row, (metric, row)
        assert control["fleiss_kappa_band"] in row and control["krippendorff_alpha_band"] in row

    # Each heatmap cell prints its pair's kappa (not only on hover) and the number of shared tasks.
    matrix = store.read(AGREEMENT_MATRIX)
    both = pl.concat(
        [matrix, matrix.rename({"annotator_a": "annotator_b", "annotator_b": "annotator_a"})], how="diagonal"
    ).unique(["control", "annotator_a", "annotator_b"])
    expected = Counter(
        f"{'n/a' if kappa is None else f'{kappa:.2f}'}<br>n={n}"
        for kappa, n in both.select("cohen_kappa", "n_tasks").iter_rows()
    )
    cells = Counter(
        html.unescape(t) for t in re.findall(r'class="heatmap-label"><text[^>]*data-unformatted="([^"]*)"', agreement)
    )
    assert cells == expected and len(expected) > 20


def test_the_glossary_explains_every_column_the_tables_show(sample_run, sample_dom):
    sections = sections_of(sample_dom[0])
    glossary = sections.pop("glossary")
    terms = {html.unescape(t) for t in re.findall(r"<dt>(.*?)</dt>", glossary)}
    meanings = re.findall(r"<dd>(.*?)</dd>", glossary)
    shown = {heading for section in sections.values() for heading in headings(section)}
    assert {"accuracy against GT", "Fleiss' κ [95% CI]", "κ band", "mAP@[.5:.95]", "priority", "conflicts"} <= shown
    assert shown <= terms, shown - terms
    assert all(len(m) > 20 for m in meanings)
    # Columns have human names, their meaning on hover too.
    assert not any(re.fullmatch(r"n_\w+|\w+_\w+", h) for h in shown), shown
    assert 'title="Mean over scored annotations' in sections["annotators"]


def test_the_gt_version_bars_carry_their_counts(sample_run, sample_dom):
    _, store = sample_run
    versions = sections_of(sample_dom[0])["gt-versions"]
    changes = store.read(GROUND_TRUTH_HISTORY).group_by("version", "change").len()
    assert changes.height == 1  # the sample publishes one version: 175 tasks set
    [(_, change, n)] = changes.rows()
    assert re.findall(r'class="bartext[^"]*"[^>]*data-unformatted="([^"]*)"', versions) == [str(n)]
    assert f'data-unformatted="{n} {change}"' in versions


def test_the_report_says_when_annotators_have_no_names_and_how_to_add_them(sample_run, sample_dom, tmp_path):
    _, store = sample_run
    header = sample_dom[0][: sample_dom[0].index("<section")]
    [note] = re.findall(r'<p class="notice" id="people-note">(.*?)</p>', header)
    assert "without names" in note and "gtq report --project 7 --people FILE" in html.unescape(
        re.sub(r"<[^>]+>", "", note)
    )

    humans = store.read(ANNOTATOR_PERFORMANCE).filter(pl.col("origin") == "human")["annotator"].sort().to_list()
    people = tmp_path / "people.csv"
    people.write_text(
        "annotator,name,email,team\n" + "".join(f"{a},Person {i},{a},North\n" for i, a in enumerate(humans))
    )
    data = ReportData.read(store, "7")
    named = render(data, "7", People.read(people), None)
    assert 'id="people-note"' not in named and f"Person 0 ({humans[0]})" in named

    people.write_text(
        "annotator,name,email,team\n" + "".join(f"{a},Person {i},{a},North\n" for i, a in enumerate(humans[1:]))
    )
    [partly] = re.findall(r'<p class="notice" id="people-note">(.*?)</p>', render(data, "7", People.read(people), None))
    assert f"No name in the people file for 1 of {len(humans)} annotators: {humans[0]}." in partly


def test_agreement_over_time_has_a_point_per_run_and_per_day(sample_run, tmp_path):
    """Two runs, the second on an export where some annotators changed their answers and a GT flag moved: the
    report plots Fleiss' kappa and Krippendorff's alpha per run with their intervals, task agreement per day,
    and the second GT version's bar carries its counts."""
    warehouse, groundtruth = tmp_path / "warehouse", tmp_path / "gt"
    groundtruth.mkdir()
    copy_of(sample_run[1], warehouse)  # the first run: the bundled sample's
    edited = write_sample(tmp_path / "edited.json")
    tasks = json.loads(edited.read_text())
    for task in tasks[::3]:  # a later answer agrees with the first annotator's species
        first, *others = task["annotations"]
        species = [r for r in first["result"] if r["from_name"] == "species"]
        for annotation in others:
            annotation["result"] = [r for r in annotation["result"] if r["from_name"] != "species"] + species
            annotation["updated_at"] = "2026-10-20T09:00:00Z"
    moved = next(t for t in tasks if len(t["annotations"]) > 1 and t["annotations"][0].get("ground_truth"))
    moved["annotations"][0]["ground_truth"], moved["annotations"][1]["ground_truth"] = False, True
    edited.write_text(json.dumps(tasks))
    result = run_ok([edited], warehouse, groundtruth)

    store = Warehouse(warehouse)
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        runs = con.execute("SELECT count(DISTINCT run_id) FROM history.project_agreement").fetchone()[0]
        moved_kappa = (
            "SELECT control FROM history.project_agreement GROUP BY control HAVING count(DISTINCT fleiss_kappa) = 2"
        )
        assert runs == 2 and con.execute(moved_kappa).fetchall()  # the edits moved a control's kappa

    dom, _ = chromium(f"file://{report_file(result)}")
    sections = sections_of(dom)
    kappa, alpha, daily = figures_of(sections["agreement-trend"])
    controls = store.read(PROJECT_AGREEMENT)["control"].to_list()
    for figure in (kappa, alpha):
        traces = figure.split('class="trace scatter')[1:]
        assert len(traces) == len(controls)
        assert all(points(t) == runs and t.count('class="errorbar"') == runs for t in traces)
        assert re.findall(r'data-unformatted="(#\d+) · [^"]*"', figure) == ["#1", "#2"]
    assert "Almost Perfect" in kappa and "reliable" in alpha

    humans = store.read(ANNOTATIONS).filter((pl.col("origin") == "human") & ~pl.col("was_cancelled"))
    last = humans.group_by("task_id").agg(pl.coalesce("updated_at", "created_at").max().dt.date().alias("day"))
    days = store.read(TASK_AGREEMENT).drop_nulls("agreement").join(last, on="task_id")["day"].n_unique()
    assert points(daily) == days >= 3

    changes = (
        store.read(GROUND_TRUTH_HISTORY)
        .filter(pl.col("version") == 1)
        .group_by("change")
        .len()
        .sort("len", "change", descending=[True, False])
    )
    assert changes.height >= 1
    counts = ", ".join(f"{n} {change}" for change, n in changes.rows())
    label = f"{changes['len'].sum()} in all: {counts}" if changes.height > 1 else counts
    assert f'data-unformatted="{label}"' in sections["gt-versions"]


def test_people_and_task_links(tmp_path):
    people_file = tmp_path / "people.csv"
    people_file.write_text(
        "annotator,name,email,team\nann1@wildlife.example,Amara Okafor,amara@wildlife.example,North\n"
    )
    people = People.read(people_file)
    assert (
        people.name("ann1@wildlife.example") == "Amara Okafor (ann1@wildlife.example)" and people.name("308") == "308"
    )
    assert people.team("ann1@wildlife.example") == "North"
    assert task_link("https://ls.example/", "lab-a:7", "42") == "https://ls.example/projects/7/data?task=42"
    assert task_link(None, "7", "42") == ""
    (tmp_path / "bad.csv").write_text("id,full_name\n1,A\n")
    with pytest.raises(ValueError, match="bad.csv: the people file lacks the column"):
        People.read(tmp_path / "bad.csv")


def test_the_ui_shows_column_meanings_and_plots_the_key_figures(sample_run):
    """What the Dagster UI reads from the instance: column descriptions on every table and numeric figures on
    the report's asset, which the UI plots run after run."""
    result, store = sample_run
    instance = open_instance(store.root)
    scores = instance.get_latest_materialization_event(
        dg.AssetKey(["quality", "annotator_performance"])
    ).asset_materialization
    columns = {c.name: c.description for c in scores.metadata["dagster/column_schema"].schema.columns}
    assert columns["accuracy"].startswith("Mean over scored annotations") and all(columns.values())
    report = instance.get_latest_materialization_event(dg.AssetKey(["reports", "quality_report"])).asset_materialization
    figures = {k: v.value for k, v in report.metadata.items()}
    performance = store.read(ANNOTATOR_PERFORMANCE).filter(pl.col("origin") == "human")
    assert figures["mean_accuracy"] == pytest.approx(performance["accuracy"].mean())
    assert figures["review_queue_tasks"] == store.read(REVIEW_QUEUE).height > 0
    assert 0 < figures["fleiss_kappa"] < 1 and 0 < figures["krippendorff_alpha"] < 1 and 0 < figures["map_50_95"] < 1

    # Each quality asset carries its own figures too, e.g. the agreement's and the models'.
    for key, column, table in (
        ("project_agreement", "fleiss_kappa", PROJECT_AGREEMENT),
        ("model_performance", "map_50_95", MODEL_PERFORMANCE),
    ):
        event = instance.get_latest_materialization_event(dg.AssetKey(["quality", key])).asset_materialization
        assert event.metadata[f"{column}_mean"].value == pytest.approx(store.read(table)[column].mean())

    # Lineage starts at the export files: an upstream asset each run observes, with the files' hashes.
    exports = dg.AssetKey(["exports", "export_files"])
    assert exports in defs.resolve_asset_graph().get(dg.AssetKey(["core", "annotations"])).parent_keys
    [observed] = instance.fetch_observations(exports, limit=1).records
    content_hash = store.read(SOURCE_FILES)["content_hash"].item()
    assert content_hash[:12] in observed.asset_observation.metadata["files"].value
