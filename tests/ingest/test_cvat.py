"""CVAT for images 1.1 exports, as CVAT 2.32.1 writes them (tests/ingest/data/cvat, from CVAT's own test database:
see its SOURCE.md), map onto the core tables: one task per job and frame, every shape kind, attributes, labels."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipeline.ingest import detect_format, expand_sources, export_files, projects_of
from pipeline.ingest.cvat import box_corner
from tests.conftest import parse

CVAT = Path(__file__).parent / "data" / "cvat"


@pytest.fixture
def exports(tmp_path) -> Path:
    folder = tmp_path / "cvat"
    shutil.copytree(CVAT, folder, ignore=shutil.ignore_patterns("*.json", "*.md"))
    return folder


def xml_shapes(path: Path) -> list[tuple[int, int, str, str]]:
    """(frame, position, kind, label) of every shape and tag, as the XML has them."""
    return [
        (int(image.get("id")), position, shape.tag, shape.get("label"))
        for image in ET.parse(path).getroot().iter("image")
        for position, shape in enumerate(image)
    ]


def test_a_cvat_export_is_detected_by_content_and_in_cvat_zip(exports, tmp_path):
    job = exports / "task23_job32_gt.xml"
    assert detect_format(job.read_bytes()[:65536]) == "cvat-for-images"
    archive = exports / "job_32_annotations.zip"  # as CVAT's "Export annotations" downloads it
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(job, "annotations.xml")
    zipped_rows = parse(archive, tmp_path).regions.drop("content_hash")
    assert zipped_rows.equals(parse(job, tmp_path).regions.drop("content_hash"))
    assert projects_of(archive) == projects_of(job) == ["cvat-task-23"]
    # cvat.yaml is part of each export (its hash, and never a source of its own)
    assert export_files(job) == [job, exports / "cvat.yaml"]
    assert exports / "cvat.yaml" not in {s.path for s in expand_sources([exports])}


def test_a_job_export_is_one_task_and_annotation_per_frame(exports, tmp_path):
    export = parse(exports / "task23_job32_gt.xml", tmp_path)
    assert export.project_ids == ["cvat-task-23"] and export.format == "cvat-for-images"
    assert (export.records_read, export.records_quarantined) == (6, 0)  # 3 images + 3 boxes
    assert export.tasks.sort("task_id").select("task_id", "item_key").rows() == [
        ("job-32/frame-4", "3.png"),
        ("job-32/frame-5", "4.png"),
        ("job-32/frame-7", "6.png"),
    ]
    annotations = export.annotations
    assert annotations["annotation_id"].to_list() == annotations["task_id"].to_list()
    assert annotations["gt_flag"].all() and set(annotations["annotator"]) == {"cvat-job-32"}  # no assignee
    box = export.regions.filter(pl.col("task_id") == "job-32/frame-4").row(0, named=True)
    assert (box["control"], box["type"], box["labels"]) == ("box", "rectanglelabels", ["cat"])
    assert (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]) == pytest.approx(
        (24.72, 37.79, 270.79, 610.58)
    )
    assert (box["original_width"], box["original_height"], box["coordinate_unit"]) == (318, 729, "pixel")
    assert json.loads(box["value_json"]) == {
        "attributes": {},
        "group_id": 0,
        "occluded": False,
        "source": "Ground truth",
        "z_order": 0,
    }


def test_every_shape_kind_attribute_and_label_of_a_job(exports, tmp_path):
    path = exports / "task22_job27.xml"
    export = parse(path, tmp_path)
    assert export.records_quarantined == 0
    shapes = export.regions.filter(~pl.col("control").str.contains(".", literal=True))
    expected = xml_shapes(path)
    assert export.records_read == 11 + len(expected)
    got = shapes.select(
        pl.col("task_id").str.extract(r"frame-(\d+)").cast(pl.Int64),
        pl.col("region_id").cast(pl.Int64),
        "control",
        pl.col("labels").list.first(),
    ).sort("task_id", "region_id")
    assert got.rows() == sorted(expected)
    kinds = dict(shapes.group_by("control").len().rows())
    assert kinds == {"box": 15, "polygon": 6, "polyline": 5, "points": 5, "skeleton": 2, "mask": 1, "ellipse": 1}

    root = ET.parse(path).getroot()
    skeleton = root.find(".//skeleton")
    row = shapes.filter(pl.col("control") == "skeleton").row(0, named=True)
    elements = json.loads(row["value_json"])["elements"]
    assert [e["label"] for e in elements] == [p.get("label") for p in skeleton.findall("points")]
    assert len(row["points"]) == len(elements)
    mask = root.find(".//mask")
    row = shapes.filter(pl.col("control") == "mask").row(0, named=True)
    runs = [int(v) for v in json.loads(row["value_json"])["rle"].split(",")]
    assert sum(runs) == int(mask.get("width")) * int(mask.get("height")) == row["width"] * row["height"]
    assert row["type"] == "brushlabels"

    # every <attribute> of a shape is a per-region value of control <label>.<attribute>, typed by the label
    attributes = export.regions.filter(pl.col("control").str.contains(".", literal=True))
    in_xml = sum(len(shape.findall("attribute")) for image in root.iter("image") for shape in image)
    assert attributes.height == in_xml > 0
    config = {r["control"]: r for r in export.label_config.iter_rows(named=True)}
    for row in attributes.iter_rows(named=True):
        assert row["control"] in config and row["type"] == config[row["control"]]["type"]
    for label in root.iter("label"):
        if label.findtext("parent"):
            continue
        kind = label.findtext("type")
        controls = [
            c for c, r in config.items() if r["type"] != "textarea" and label.findtext("name") in r["allowed_labels"]
        ]
        assert controls, f"label {label.findtext('name')} ({kind}) allowed by no control"


def test_a_task_export_gives_each_segment_its_job(exports, tmp_path):
    task = parse(exports / "task23_task.xml", tmp_path)
    assert task.project_ids == ["cvat-task-23"]
    jobs = task.tasks.select(pl.col("task_id").str.extract(r"job-(\d+)/").alias("job")).to_series().value_counts()
    assert dict(jobs.rows()) == {"29": 5, "30": 5, "31": 1}
    # the same job's frames read from its own export give the same rows
    for job in ("29", "30", "31"):
        alone = parse(exports / f"task23_job{job}.xml", tmp_path)
        mine = task.regions.filter(pl.col("task_id").str.starts_with(f"job-{job}/"))
        assert (
            mine.drop("content_hash")
            .sort("task_id", "region_id")
            .equals(alone.regions.drop("content_hash").sort("task_id", "region_id"))
        )


def test_what_cvat_does_not_say_is_asked_for_not_guessed(exports, tmp_path):
    (exports / "cvat.yaml").unlink()
    export = parse(exports / "task23_job32_gt.xml", tmp_path)
    assert export.records_accepted == 0
    (reason,) = export.quarantine["reason"]
    assert "does not name its task" in reason and 'jobs: {"32": {task: <CVAT task id>' in reason
    (exports / "cvat.yaml").write_text('jobs:\n  "32": {task: 23, type: gt}\n')
    (reason,) = parse(exports / "task23_job32_gt.xml", tmp_path).quarantine["reason"]
    assert "jobs.32.type must be one of ['annotation', 'ground_truth', 'consensus_replica'], not 'gt'" in reason


def test_the_companion_names_annotators_replicas_and_the_project(exports, tmp_path):
    (exports / "cvat.yaml").write_text(
        'tasks:\n  "23": {project: wildlife}\n'
        'jobs:\n  "30": {task: 23, type: consensus_replica, annotator: bob}\n  "29": {annotator: alice}\n'
    )
    task = parse(exports / "task23_task.xml", tmp_path)
    assert task.project_ids == ["wildlife"]
    by_job = dict(task.annotations.select(pl.col("task_id").str.extract(r"job-(\d+)/"), "annotator").unique().rows())
    assert by_job == {"29": "alice", "30": "bob", "31": "cvat-job-31"}
    assert not task.annotations["gt_flag"].any()


def test_bad_shapes_and_images_are_quarantined_by_position(exports, tmp_path):
    path = exports / "task23_job29.xml"
    text = path.read_text()
    text = text.replace('xtl="', 'xtl="x', 1).replace('<image id="1"', '<image id="one"', 1)
    path.write_text(text)
    export = parse(path, tmp_path)
    assert export.records_read == export.records_accepted + export.records_quarantined == 10
    assert export.quarantine.select("locator", "reason").sort("locator").rows() == [
        ("image id='0' name='0.png' <box> 0", "not a CVAT box (could not convert string to float: 'x44.90')"),
        ("image id='one' name='1.png'", "not a CVAT image element (invalid literal for int() with base 10: 'one')"),
        ("image id='one' name='1.png' <box> 0", "its image element cannot be read"),
    ]
    assert export.tasks.height == 4


def test_a_rotated_box_keeps_its_place():
    """CVAT rotates a box about its centre; Label Studio's (x, y) is the rotated top-left corner. A quarter
    turn of a 100 x 50 box centred on (60, 45) puts that corner at (85, -5)."""
    assert box_corner(10, 20, 110, 70, 90) == pytest.approx((85, -5))
    assert box_corner(10, 20, 110, 70, 0) == (10, 20)
    assert box_corner(10, 20, 110, 70, 180) == pytest.approx((110, 70))
