"""GT versions through Dagster and the CLI: versions, history, exports, round trips, time travel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from pycocotools.coco import COCO

from pipeline.cli import main
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH
from pipeline.ingest.scout import project_id_for
from pipeline.warehouse import Warehouse
from tests.conftest import copy_of, run_ok
from tests.steps.conftest import Project

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def published(sample_run, tmp_path_factory):
    """The bundled sample (the session's run, copied), then an override: two published GT versions."""
    root = tmp_path_factory.mktemp("published")
    warehouse, groundtruth = root / "wh", root / "gt"
    groundtruth.mkdir()
    store = copy_of(sample_run[1], warehouse)
    task = store.read(GROUND_TRUTH).row(0, named=True)
    other = (  # a task with GT and another submitted annotation the override will make GT
        store.scan(GROUND_TRUTH)
        .join(store.scan(ANNOTATIONS), on=["project_id", "task_id"])
        .filter(
            (pl.col("annotation_id_right") != pl.col("annotation_id"))
            & (pl.col("origin") == "human")
            & ~pl.col("was_cancelled")
        )
        .select("task_id", pl.col("annotation_id_right").alias("other"))
        .collect()
        .row(0, named=True)
    )
    assert (
        main(
            [
                "gt",
                "set",
                "--project",
                "7",
                "--task",
                other["task_id"],
                "--annotation",
                other["other"],
                "--reason",
                "tighter",
                "--author",
                "qa@example.org",
                "--groundtruth",
                str(groundtruth),
                "--warehouse",
                str(warehouse),
            ]
        )
        == 0
    )
    run_ok([], warehouse, groundtruth)
    return store, groundtruth, task, other


def test_unchanged_input_commits_nothing_and_a_change_commits_one_version(published):
    store, groundtruth, _, other = published
    assert store.gt_versions("7") == [0, 1]
    run_ok([], store.root, groundtruth)
    assert store.gt_versions("7") == [0, 1]
    changed = store.read(GROUND_TRUTH).filter(pl.col("version") == 1)
    assert changed.select("task_id", "annotation_id", "method", "decided_by").rows() == [
        (other["task_id"], other["other"], "override", "qa@example.org")
    ]


def test_reading_version_n_back_gives_the_gt_as_it_was(published):
    store, _, _, other = published
    v0, v1 = store.read_gt_version("7", 0).ground_truth, store.read_gt_version("7", 1).ground_truth
    before, now = (v.filter(pl.col("task_id") == other["task_id"]) for v in (v0, v1))
    assert before["annotation_id"].to_list() != now["annotation_id"].to_list() == [other["other"]]
    assert v0.height == v1.height


def test_the_documented_example_reads_versions_without_gtq(published):
    store = published[0]
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "read_ground_truth_versions.py"), str(store.root), "7"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "version 0:" in done.stdout and "latest (version 1)" in done.stdout and "('flag', " in done.stdout


def test_versions_and_history_commands(published, capsys):
    store, _, _, other = published
    assert main(["gt", "versions", "--warehouse", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == ["project 7 version 0", "project 7 version 1"]
    assert main(["gt", "history", "--task", other["task_id"], "--warehouse", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "replaced" in out and "override" in out and "qa@example.org" in out


def test_label_studio_export_round_trips(published, tmp_path):
    """The exported file through the ingest and GT steps (what a run on it does) gives the version's GT."""
    store, _, _, _ = published
    out = tmp_path / "gt.json"
    assert (
        main(
            ["gt", "export", "--version", "1", "--format", "ls-json", "--out", str(out), "--warehouse", str(store.root)]
        )
        == 0
    )
    exported = json.loads(out.read_text())
    assert all(sum(a["ground_truth"] for a in t["annotations"]) == 1 for t in exported)  # flags as Label Studio expects
    again = Project(tmp_path / "again", project="7")
    again.ingest(out)
    key = ["project_id", "task_id", "annotation_id"]
    assert (
        again.resolve()
        .ground_truth.select(key)
        .sort(key)
        .equals(store.read_gt_version("7", 1).ground_truth.select(key).sort(key))
    )


def test_coco_export_is_a_valid_coco_ground_truth(published, tmp_path):
    store = published[0]
    out = tmp_path / "gt.coco.json"
    assert main(["gt", "export", "--format", "coco", "--out", str(out), "--warehouse", str(store.root)]) == 0
    coco = COCO(str(out))
    gt = store.read(GROUND_TRUTH)
    assert len(coco.getImgIds()) == gt.height
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} <= {"elephant", "giraffe", "zebra", "buffalo"}
    with_boxes = {a["image_id"] for a in coco.loadAnns(coco.getAnnIds())}
    assert all(isinstance(img["width"], int) for img in coco.loadImgs(list(with_boxes)))  # sizes come from the regions
    box = coco.loadAnns(coco.getAnnIds())[0]
    assert box["bbox"][2] > 1 and box["area"] == pytest.approx(box["bbox"][2] * box["bbox"][3])  # pixels, not percent


def test_scout_export_round_trips_through_the_scout_reader(tmp_path):
    """The Scout survey's GT written into a warehouse by the ingest and GT steps (as its run would), exported by
    `gtq gt export`, and the export through the steps again: the same GT tasks."""
    data = Path(__file__).parent.parent / "ingest" / "data"
    for name in ("survey-annotations.csv", "survey-images.csv"):
        (tmp_path / name).write_bytes((data / name).read_bytes())
    store = Warehouse(tmp_path / "wh")
    survey = Project(tmp_path / "survey", project="survey", store=store)
    survey.ingest(tmp_path / "survey-annotations.csv")
    survey.resolve()
    out = tmp_path / "export" / "gt-annotations.csv"
    assert main(["gt", "export", "--format", "scout-csv", "--out", str(out), "--warehouse", str(store.root)]) == 0
    rows = pl.read_csv(out)
    assert rows.select("Task ID", "Image Filename", "Box X", "Is Ground Truth").rows() == [
        ("t1", "IMG_001.JPG", 101.0, True),
        ("t2", "IMG_001.JPG", 101.0, True),
    ]
    again = Project(tmp_path / "again", project=project_id_for(out))  # Scout's project: the file's name
    again.ingest(out)
    assert set(again.resolve().ground_truth["task_id"]) == set(store.read(GROUND_TRUTH)["task_id"])


def test_parquet_export_and_bad_versions(published, tmp_path):
    store = published[0]
    out = tmp_path / "gt.parquet"
    assert (
        main(
            ["gt", "export", "--version", "0", "--format", "parquet", "--out", str(out), "--warehouse", str(store.root)]
        )
        == 0
    )
    assert set(pl.read_parquet(out)["version"]) == {0}
    assert (
        main(
            ["gt", "export", "--version", "9", "--format", "parquet", "--out", str(out), "--warehouse", str(store.root)]
        )
        == 2
    )


def test_gt_set_validates_before_writing(tmp_path, capsys):
    assert (
        main(
            [
                "gt",
                "set",
                "--project",
                "p",
                "--task",
                "t",
                "--annotation",
                "a",
                "--reason",
                "",
                "--groundtruth",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "missing ['reason']" in capsys.readouterr().err
    assert not (tmp_path / "overrides.yaml").exists()
