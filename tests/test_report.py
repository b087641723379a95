"""The quality report as a labeling lead opens it: rendered by headless Chromium with the network cut off,
without console errors, every section drawn."""

import re
import shutil
import subprocess

import dagster as dg
import polars as pl
import pytest

from pipeline.contract import ANNOTATOR_PERFORMANCE, MODEL_PERFORMANCE, PROJECT_AGREEMENT, REVIEW_QUEUE, SOURCE_FILES
from pipeline.definitions import defs
from pipeline.instance import open_instance
from pipeline.report import People, task_link

SECTIONS = (
    "figures", "annotators", "agreement", "task-agreement", "label-f1", "confusion", "models", "gt-versions", "review-queue", "conflicts", "trend",
)  # fmt: skip
CHARTED = ("agreement", "task-agreement", "label-f1", "confusion", "models", "gt-versions", "trend")


def chromium(url: str) -> tuple[str, str]:
    """The DOM after scripts ran, and the browser's log, with every host unresolvable (no network)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return done.stdout, done.stderr


def sections_of(dom: str) -> dict[str, str]:
    starts = [(m.group(1), m.start()) for m in re.finditer(r'<section id="([\w-]+)"', dom)]
    ends = [start for _, start in starts[1:]] + [len(dom)]
    return {key: dom[start:end] for (key, start), end in zip(starts, ends, strict=True)}


def test_the_sample_report_loads_offline_with_every_section_drawn(sample_run, tmp_path):
    result, store = sample_run
    [report] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "reports/quality_report"]
    path = report.materialization.metadata["path"].value
    text = open(path, encoding="utf-8").read()
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', text)  # self-contained: nothing fetched

    dom, log = chromium(f"file://{path}")
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console
    sections = sections_of(dom)
    assert tuple(sections) == SECTIONS
    for key in CHARTED:
        assert 'class="main-svg"' in sections[key], f"section {key} drew no chart"
    assert "annotator" in sections["annotators"] and sections["annotators"].count("<tr>") >= 6
    assert "<td>" in sections["review-queue"] and sections["conflicts"].count("<tr>") > 5


def test_people_and_task_links(tmp_path):
    people_file = tmp_path / "people.csv"
    people_file.write_text("annotator,name,email,team\nann1@wildlife.example,Amara Okafor,amara@wildlife.example,North\n")
    people = People.read(people_file)
    assert people.name("ann1@wildlife.example") == "Amara Okafor (ann1@wildlife.example)" and people.name("308") == "308"
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
    scores = instance.get_latest_materialization_event(dg.AssetKey(["quality", "annotator_performance"])).asset_materialization
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
