"""Scout CSV pairs and COCO files map onto the same core tables; bad rows are quarantined by line."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline.ingest import content_hash, detect_format, export_files
from tests.conftest import parse

DATA = Path(__file__).parent / "data"


@pytest.fixture
def scout(tmp_path) -> Path:
    for name in ("survey-annotations.csv", "survey-images.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path / "survey-annotations.csv"


def test_formats_are_detected_from_content_not_names(tmp_path):
    for source, fmt in [
        ("survey-annotations.csv", "scout-annotations-csv"),
        ("survey-images.csv", "scout-images-csv"),
        ("coco/val2026.json", "coco-ground-truth"),
        ("coco/yolo-v9.json", "coco-results"),
    ]:
        renamed = tmp_path / "export.dat"
        shutil.copy(DATA / source, renamed)
        assert detect_format(renamed.read_bytes()[:65536]) == fmt


def test_scout_pair_maps_images_in_tasks(scout, tmp_path):
    export = parse(scout, tmp_path)
    assert export.format == "scout-annotations-csv" and export.project_ids == ["survey"]
    # 7 annotation rows (1 bad) + 4 image rows
    assert (export.records_read, export.records_accepted, export.records_quarantined) == (11, 10, 1)
    assert export.quarantine.row(0, named=True)["locator"] == "line 7 (task t2, image IMG_002.JPG)"
    assert "Box X is not a number" in export.quarantine.row(0, named=True)["reason"]

    tasks = export.tasks.sort("task_id")
    assert tasks["task_id"].to_list() == ["t1/IMG_001.JPG", "t1/IMG_003.JPG", "t2/IMG_001.JPG", "t2/IMG_002.JPG"]
    assert tasks.filter(pl.col("item_key") == "IMG_001.JPG").height == 2  # one image, two tasks

    annotations = {r["annotation_id"]: r for r in export.annotations.iter_rows(named=True)}
    assert annotations["t1/IMG_001.JPG/ml-detector-v3"]["origin"] == "model"
    assert annotations["t1/IMG_001.JPG/alice"]["origin"] == "human"
    gt = annotations["t1/IMG_001.JPG/gt"]
    assert gt["gt_flag"] and gt["annotator"] == "lead"
    empty = annotations["t1/IMG_003.JPG/gt"]  # done in GT review, no box: a confirmed empty image
    assert empty["gt_flag"] and export.regions.filter(pl.col("annotation_id") == "t1/IMG_003.JPG/gt").is_empty()
    assert "t2/IMG_001.JPG/gt" not in annotations  # not done in task t2

    regions = export.regions
    assert set(regions["coordinate_unit"]) == {"pixel"}
    assert regions.filter(pl.col("annotation_id") == "t1/IMG_001.JPG/alice").select(
        "x", "y", "width", "height"
    ).rows() == [
        (100.0, 200.0, 50.0, 40.0),
        (400.0, 220.0, 60.0, 45.0),
    ]
    excluded = regions.filter(pl.col("annotation_id") == "t2/IMG_002.JPG/bob")
    assert excluded["scorable"].to_list() == [False]


def test_scout_images_csv_is_part_of_the_export(scout):
    assert export_files(scout) == [scout, scout.with_name("survey-images.csv")]
    before = content_hash(scout)
    scout.with_name("survey-images.csv").write_text(
        scout.with_name("survey-images.csv").read_text().replace("in progress", "done")
    )
    assert content_hash(scout) != before  # a GT status change is a new export


def test_scout_missing_columns_fail_the_file_alone(tmp_path):
    bad = tmp_path / "annotations.csv"
    bad.write_text("Task ID,Image Filename,Box X,Assignee\nt1,a.jpg,1,bob\n")
    export = parse(bad, tmp_path)
    assert export.format == "unreadable"
    assert "lacks the columns" in export.quarantine["reason"].item() and export.quarantine["locator"].item() == "line 1"


def test_coco_ground_truth_and_results(tmp_path):
    shutil.copytree(DATA / "coco", tmp_path / "coco")
    gt = parse(tmp_path / "coco" / "val2026.json", tmp_path)
    assert gt.format == "coco-ground-truth" and gt.project_ids == ["val2026"]
    assert gt.annotations.filter(pl.col("gt_flag")).height == gt.tasks.height == 3  # image 2 is a confirmed empty
    assert gt.regions.select("annotation_id", "labels", "x", "y", "width", "height").rows() == [
        ("coco-gt:1", ["zebra"], 10.0, 20.0, 100.0, 50.0)
    ]
    assert "category_id 9" in gt.quarantine["reason"].item()
    assert gt.records_read == gt.records_accepted + gt.records_quarantined

    results = parse(tmp_path / "coco" / "yolo-v9.json", tmp_path)
    assert results.format == "coco-results" and results.project_ids == ["val2026"]
    assert results.tasks.is_empty()  # the images belong to the ground-truth file
    assert results.annotations.select("annotation_id", "annotator", "origin", "model_version").rows()[0] == (
        "prediction:yolo-v9:1",
        "yolo-v9",
        "model",
        "yolo-v9",
    )
    assert results.regions["score"].to_list() == [0.93, 0.2]
    assert "image_id 7 is not in val2026.json" in results.quarantine["reason"].item()


def test_coco_results_without_their_ground_truth_fail_clearly(tmp_path):
    shutil.copy(DATA / "coco" / "yolo-v9.json", tmp_path / "yolo-v9.json")
    export = parse(tmp_path / "yolo-v9.json", tmp_path)
    assert export.format == "unreadable" and "ground-truth file" in export.quarantine["reason"].item()


def test_scout_images_csv_alone_gives_the_done_images(tmp_path):
    images = tmp_path / "flight-images.csv"
    shutil.copy(DATA / "survey-images.csv", images)
    export = parse(images, tmp_path)
    assert export.format == "scout-images-csv" and export.records_read == 4
    assert sorted(export.annotations.filter(pl.col("gt_flag"))["task_id"]) == ["t1/IMG_001.JPG", "t1/IMG_003.JPG"]
    assert export.regions.is_empty() and export.tasks.height == 4
