"""`gtq gt export --format cvat`: a GT version as CVAT for images 1.1 `annotations.xml`, laid out as CVAT 2.32.1's
writer lays out a task export. Versions are built from core.regions-shaped rows as the CVAT and Label Studio
parsers write them; the round trip reads CVAT's own exports (tests/ingest/data/cvat) through gtq and back."""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.cli import main
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, LABEL_CONFIG, REGIONS, TASKS, Table
from pipeline.groundtruth.export import FORMATS, write
from pipeline.groundtruth.export_cvat import to_cvat
from pipeline.groundtruth.versioning import GroundTruthVersion, next_version
from pipeline.warehouse import Warehouse
from tests.conftest import ls_task, write_export
from tests.groundtruth.test_versions import box_annotation
from tests.steps.conftest import Project

CVAT = Path(__file__).parent.parent / "ingest" / "data" / "cvat"
T = datetime(2026, 3, 1, 12, tzinfo=UTC)
PROJECT = "cvat-task-23"


def frame(table: Table, rows: list[dict]) -> pl.DataFrame:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    given = pl.DataFrame([{k: r.get(k) for k in keys} for r in rows], schema={k: table.columns[k] for k in keys})
    return pl.concat([table.empty(), given], how="diagonal")


def value(**extra) -> str:
    """value_json as the CVAT parser writes it."""
    stored = {"source": "manual", "occluded": False, "z_order": 0, "group_id": 0, "attributes": {}} | extra
    return json.dumps(stored, sort_keys=True, separators=(",", ":"))


def image_task(frame_number: int, name: str, width: int = 200, height: int = 100, job: str = "5", **data) -> dict:
    described = {"image": name, "frame": frame_number, "width": width, "height": height, "cvat_task": "23"}
    return {
        "task_id": f"job-{job}/frame-{frame_number}",
        "item_key": name,
        "data_json": json.dumps(described | {"cvat_job": job} | data),
    }


def region(task: dict, region_id: int, control: str, kind: str, label: str | None, **columns) -> dict:
    """A core.regions row of `task`'s annotation (its task id), in pixels."""
    return {
        "task_id": task["task_id"],
        "annotation_id": task["task_id"],
        "region_id": str(region_id),
        "item_index": 0,
        "control": control,
        "to_name": "image",
        "type": kind,
        "labels": None if label is None else [label],
        "original_width": 200,
        "original_height": 100,
        "coordinate_unit": "pixel",
        "scorable": True,
    } | columns


def attribute(task: dict, region_id: int, index: int, control: str, kind: str, answer: str) -> dict:
    """A shape's attribute row: control `<label>.<attribute>`, with the shape's region id."""
    answered = {"labels": [answer]} if kind == "choices" else {"number": float(answer)} if kind == "number" else {}
    return (
        region(task, region_id, control, kind, None, item_index=index, text=answer if kind == "textarea" else None)
        | answered
    )


def version(
    tasks: list[dict], regions: list[dict], label_config: list[dict] = (), source: dict | None = None
) -> GroundTruthVersion:
    """Version 0 of the project: each task's GT is its own annotation (or the one of `source`, task -> task)."""
    source = source or {}
    tasks = [{"project_id": PROJECT, "created_at": T} | t for t in tasks]
    gt = frame(
        GROUND_TRUTH,
        [
            {
                "project_id": PROJECT,
                "task_id": t["task_id"],
                "annotation_id": source.get(t["task_id"], t["task_id"]),
                "source_task_id": source.get(t["task_id"], t["task_id"]),
                "method": "flag",
                "item_key": t["item_key"],
                "decided_at": T,
            }
            for t in tasks
        ],
    )
    annotations = frame(
        ANNOTATIONS,
        [
            {"project_id": PROJECT, "task_id": t["task_id"], "annotation_id": t["task_id"], "origin": "human"}
            for t in tasks
        ],
    ).with_columns(was_cancelled=False, gt_flag=True)
    published = next_version(
        None,
        decided=gt.select(
            "project_id", "task_id", "annotation_id", "method", "decided_by", "reason", "source_file"
        ).with_columns(content_hash=pl.lit("h")),
        ground_truth=gt,
        tasks=frame(TASKS, tasks),
        annotations=annotations,
        regions=frame(REGIONS, [{"project_id": PROJECT} | r for r in regions]).lazy(),
        label_config=frame(LABEL_CONFIG, [{"project_id": PROJECT, "to_name": "image"} | c for c in label_config])
        if label_config
        else LABEL_CONFIG.empty(),
        at=T,
        run_id="run-1",
    )
    assert published is not None
    return published


def exported(gt: GroundTruthVersion, tmp_path: Path) -> tuple[ET.Element, str]:
    out = tmp_path / "annotations.xml"
    to_cvat(gt, out)
    text = out.read_text(encoding="utf-8")
    return ET.fromstring(text), text


def children(element: ET.Element) -> list[tuple]:
    """(element, attributes in order, text, children) all the way down: what an element says, order included."""
    return [(child.tag, list(child.attrib.items()), (child.text or "").strip(), children(child)) for child in element]


def rotated_corners(xtl: float, ytl: float, xbr: float, ybr: float, degrees: float) -> list[tuple[float, float]]:
    """A CVAT box's corners (top-left, top-right, bottom-right, bottom-left) once rotated clockwise (y down) about
    its centre."""
    cx, cy, theta = (xtl + xbr) / 2, (ytl + ybr) / 2, math.radians(degrees)
    return [
        (
            cx + (x - cx) * math.cos(theta) - (y - cy) * math.sin(theta),
            cy + (x - cx) * math.sin(theta) + (y - cy) * math.cos(theta),
        )
        for x, y in ((xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr))
    ]


# -- layout and every shape kind


@pytest.fixture
def every_kind() -> GroundTruthVersion:
    """One image with every CVAT shape kind, attributes and a tag, as the CVAT parser writes them."""
    image = image_task(3, "street.jpg")
    elements = [
        {"label": "head", "points": [[20.0, 10.0]], "outside": False, "occluded": True, "source": "manual",
         "attributes": {}},
        {"label": "foot", "points": [[22.0, 40.0]], "outside": True, "occluded": False, "source": "manual",
         "attributes": {"side": "left"}},
    ]  # fmt: skip
    cuboid = dict(
        zip([f"{c}{k}{f}" for f in "12" for k in ("tl", "bl", "tr", "br") for c in "xy"], range(16), strict=True)
    )
    rows = [
        region(image, 0, "box", "rectanglelabels", "car", x=10.0, y=20.0, width=30.0, height=40.5, rotation=0.0,
               value_json=value(z_order=2, attributes={"color": "red", "doors": "4"})),
        attribute(image, 0, 1, "car.color", "choices", "red"),
        attribute(image, 0, 2, "car.doors", "number", "4"),
        region(image, 1, "polygon", "polygonlabels", "car", points=[[1.0, 2.0], [3.5, 4.25], [5.0, 1.0]],
               value_json=value(group_id=3, occluded=True)),
        region(image, 2, "polyline", "polyline", "lane", points=[[0.0, 0.0], [100.0, 50.0]], value_json=value()),
        region(image, 3, "points", "points", "lamp", points=[[7.0, 8.0], [9.0, 10.0]], value_json=value(z_order=-1)),
        region(image, 4, "ellipse", "ellipselabels", "sign", x=50.0, y=60.0, width=5.0, height=4.0, rotation=30.0,
               value_json=value()),
        region(image, 5, "mask", "brushlabels", "road", x=5.0, y=6.0, width=2.0, height=5.0, scorable=False,
               value_json=value(rle="3, 5, 2")),
        region(image, 6, "skeleton", "skeleton", "person", points=[[20.0, 10.0], [22.0, 40.0]],
               value_json=value(elements=elements, z_order=1, group_id=3)),
        region(image, 7, "cuboid", "cuboid", "truck", value_json=value(cuboid=cuboid)),
        region(image, 8, "tag", "choices", "night", value_json=value(source="auto", attributes={"note": "dark"})),
        attribute(image, 8, 1, "night.note", "textarea", "dark"),
    ]  # fmt: skip
    config = [
        {"control": "car.color", "type": "choices", "allowed_labels": ["blue", "red"]},
        {"control": "car.doors", "type": "number", "min_value": 2.0, "max_value": 5.0},
        {"control": "box", "type": "rectanglelabels", "allowed_labels": ["car", "bus"]},
    ]
    return version([image], rows, config)


def test_the_file_is_laid_out_as_cvat_writes_a_task_export(every_kind, tmp_path):
    _, text = exported(every_kind, tmp_path)
    assert text.startswith(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n'
        "      <id>23</id>\n"
    )
    assert "\n      <bugtracker></bugtracker>\n" in text and "\n      <assignee></assignee>\n" in text
    assert '\n  <image id="3" name="street.jpg" width="200" height="100">\n    <points label="lamp"' in text
    assert (
        '\n    <tag label="night" source="auto">\n      <attribute name="note">dark</attribute>\n    </tag>\n' in text
    )
    assert text.endswith("    </tag>\n  </image>\n</annotations>\n")
    assert (tmp_path / "annotations.xml").read_bytes() == (exported(every_kind, tmp_path)[1]).encode()  # same bytes


def test_every_shape_kind_in_cvat_order_with_its_attributes(every_kind, tmp_path):
    root, _ = exported(every_kind, tmp_path)
    (image,) = root.findall("image")
    common = [("source", "manual"), ("occluded", "0")]
    assert [(s.tag, s.get("label")) for s in image] == [  # by z_order (stable), then the tags
        ("points", "lamp"),
        ("polygon", "car"),
        ("polyline", "lane"),
        ("ellipse", "sign"),
        ("mask", "road"),
        ("cuboid", "truck"),
        ("skeleton", "person"),
        ("box", "car"),
        ("tag", "night"),
    ]
    shapes = {s.get("label") + s.tag: s for s in image}
    assert list(shapes["carbox"].attrib.items()) == [
        ("label", "car"),
        *common,
        *[("xtl", "10.00"), ("ytl", "20.00"), ("xbr", "40.00"), ("ybr", "60.50"), ("z_order", "2")],
    ]
    assert [(a.get("name"), a.text) for a in shapes["carbox"]] == [("color", "red"), ("doors", "4")]
    assert list(shapes["carpolygon"].attrib.items()) == [
        *[("label", "car"), ("source", "manual"), ("occluded", "1")],
        *[("points", "1.00,2.00;3.50,4.25;5.00,1.00"), ("z_order", "0"), ("group_id", "3")],
    ]
    assert shapes["lanepolyline"].get("points") == "0.00,0.00;100.00,50.00"
    assert (shapes["lamppoints"].get("points"), shapes["lamppoints"].get("z_order")) == ("7.00,8.00;9.00,10.00", "-1")
    assert list(shapes["signellipse"].attrib.items())[3:] == [
        *[("cx", "50.00"), ("cy", "60.00"), ("rx", "5.00"), ("ry", "4.00"), ("rotation", "30.00"), ("z_order", "0")]
    ]
    cuboid = list(shapes["truckcuboid"].attrib.items())
    assert cuboid[3:5] == [("xtl1", "0.00"), ("ytl1", "1.00")] and cuboid[-2:] == [("ybr2", "15.00"), ("z_order", "0")]
    assert [c for c, _ in cuboid[3:-1]] == [f"{c}{k}{f}" for f in "12" for k in ("tl", "bl", "tr", "br") for c in "xy"]


def test_a_mask_keeps_its_rle_and_a_skeleton_its_points(every_kind, tmp_path):
    image = exported(every_kind, tmp_path)[0].find("image")
    assert list(image.find("mask").attrib.items()) == [
        ("label", "road"),
        ("source", "manual"),
        ("occluded", "0"),
        *[("rle", "3, 5, 2"), ("left", "5"), ("top", "6"), ("width", "2"), ("height", "5"), ("z_order", "0")],
    ]
    skeleton = image.find("skeleton")
    assert list(skeleton.attrib.items()) == [  # no occluded on a skeleton
        ("label", "person"),
        ("source", "manual"),
        ("z_order", "1"),
        ("group_id", "3"),
    ]
    assert children(skeleton) == [  # outside on its points, no z_order
        ("points", [("label", "head"), ("source", "manual"), ("outside", "0"), ("occluded", "1"),
                    ("points", "20.00,10.00")], "", []),
        ("points", [("label", "foot"), ("source", "manual"), ("outside", "1"), ("occluded", "0"),
                    ("points", "22.00,40.00")], "", [("attribute", [("name", "side")], "left", [])]),
    ]  # fmt: skip


def test_the_meta_labels_say_their_types_and_attributes(every_kind, tmp_path):
    root, _ = exported(every_kind, tmp_path)
    labels = {
        label.findtext("name"): (
            label.findtext("type"),
            label.findtext("parent"),
            [(a.findtext("name"), a.findtext("input_type"), a.findtext("values")) for a in label.iter("attribute")],
        )
        for label in root.iter("label")
    }
    assert labels == {
        "car": ("any", None, [("color", "select", "blue\nred"), ("doors", "number", "2\n5\n1")]),  # box and polygon
        "bus": ("rectangle", None, []),  # declared by the labeling config only
        "lamp": ("points", None, []),
        "lane": ("polyline", None, []),
        "sign": ("ellipse", None, []),
        "road": ("mask", None, []),
        "truck": ("cuboid", None, []),
        "person": ("skeleton", None, []),
        "head": ("points", "person", []),
        "foot": ("points", "person", [("side", "select", "left")]),
        "night": ("tag", None, [("note", "text", "dark")]),
    }
    person = next(label for label in root.iter("label") if label.findtext("name") == "person")
    assert 'data-label-name="head"' in person.findtext("svg") and 'data-label-name="foot"' in person.findtext("svg")
    names = [label.findtext("name") for label in root.iter("label")]
    assert names.index("head") == names.index("person") + 1  # a skeleton's points right after it
    task = root.find("meta/task")
    assert [
        (s.findtext("id"), s.findtext("start"), s.findtext("stop"), s.findtext("url")) for s in task.iter("segment")
    ] == [("5", "3", "3", "/api/jobs/5")]
    assert (task.findtext("created"), root.findtext("meta/dumped")) == ("2026-03-01 12:00:00+00:00",) * 2


# -- geometry


def test_a_rotated_box_turns_about_its_centre_both_ways(tmp_path):
    """gtq's (x, y) of a rotated box is its top-left corner once rotated about the centre (Label Studio's and the
    parser's); CVAT's xtl..ybr are the unrotated box about the same centre."""
    xtl, ytl, xbr, ybr, degrees = 80.0, 40.0, 120.0, 60.0, 30.0
    corner = rotated_corners(xtl, ytl, xbr, ybr, degrees)[0]  # CVAT -> gtq
    quarter = rotated_corners(xtl, ytl, xbr, ybr, 90.0)[0]
    assert quarter == pytest.approx((110.0, 30.0))  # a quarter turn clockwise: the top-left goes top-right
    image = image_task(0, "a.jpg")
    rows = [
        region(image, 0, "box", "rectanglelabels", "car", x=corner[0], y=corner[1], width=40.0, height=20.0,
               rotation=degrees, value_json=value()),
        region(image, 1, "box", "rectanglelabels", "car", x=quarter[0], y=quarter[1], width=40.0, height=20.0,
               rotation=90.0, value_json=value()),
        region(image, 2, "box", "rectanglelabels", "car", x=80.0, y=40.0, width=40.0, height=20.0, rotation=360.0,
               value_json=value()),
    ]  # fmt: skip
    boxes = exported(version([image], rows), tmp_path)[0].findall("image/box")
    expected = {"xtl": "80.00", "ytl": "40.00", "xbr": "120.00", "ybr": "60.00"}
    assert [{k: b.get(k) for k in (*expected, "rotation")} for b in boxes] == [  # gtq -> CVAT
        expected | {"rotation": "30.00"},
        expected | {"rotation": "90.00"},
        expected | {"rotation": None},  # a whole turn is none: written only when not 0
    ]
    back = rotated_corners(*(float(boxes[0].get(k)) for k in expected), float(boxes[0].get("rotation")))[0]
    assert back == pytest.approx(corner)


def test_label_studio_regions_become_pixels_and_choices_tags(tmp_path):
    """Label Studio's rows (percent of original_width/height, its own value_json): every kind CVAT has, per-region
    answers as attributes; what CVAT cannot hold (its brush RLE, a text of its own) is left out and counted."""
    task = {"task_id": "41", "item_key": "s3://bucket/b.jpg", "data_json": json.dumps({"image": "s3://bucket/b.jpg"})}

    def ls(region_id: str, index: int, control: str, kind: str, label: str | None, **columns) -> dict:
        row = region(task, 0, control, kind, label, item_index=index, original_width=1000, original_height=500)
        return row | {"region_id": region_id, "coordinate_unit": "percent", "value_json": "{}"} | columns

    # 200 x 100 px turned a quarter clockwise about its top-left corner (100, 100): its centre is (50, 200)
    rows = [
        ls("bx", 0, "label", "rectanglelabels", "zebra", x=10.0, y=20.0, width=20.0, height=20.0, rotation=90.0),
        ls("bx", 1, "quality", "choices", None, labels=["sharp"]),
        ls("pg", 2, "outline", "polygonlabels", "zebra", points=[[10.0, 10.0], [20.0, 10.0], [20.0, 30.0]]),
        ls("kp", 3, "eye", "keypointlabels", "zebra", x=50.0, y=50.0, width=0.5),
        ls("el", 4, "blob", "ellipselabels", "zebra", x=50.0, y=40.0, width=10.0, height=10.0, rotation=0.0),
        ls("br", 5, "paint", "brushlabels", "zebra", scorable=False, value_json='{"format":"rle","rle":[1,2,3]}'),
        ls("cl", 6, "scene", "choices", None, labels=["savanna", "day"]),
        ls("tx", 7, "notes", "textarea", None, text="windy"),
    ]
    root, _ = exported(version([task], rows), tmp_path)
    image = root.find("image")
    assert (image.get("id"), image.get("name"), image.get("width"), image.get("height")) == (
        "0",  # no frame: its position
        "s3://bucket/b.jpg",
        "1000",  # no size in data_json: the regions'
        "500",
    )
    assert children(image) == [
        ("box", [("label", "zebra"), ("source", "manual"), ("occluded", "0"), ("xtl", "-50.00"), ("ytl", "150.00"),
                 ("xbr", "150.00"), ("ybr", "250.00"), ("rotation", "90.00"), ("z_order", "0")], "",
         [("attribute", [("name", "quality")], "sharp", [])]),
        ("polygon", [("label", "zebra"), ("source", "manual"), ("occluded", "0"),
                     ("points", "100.00,50.00;200.00,50.00;200.00,150.00"), ("z_order", "0")], "", []),
        ("points", [("label", "zebra"), ("source", "manual"), ("occluded", "0"), ("points", "500.00,250.00"),
                    ("z_order", "0")], "", []),
        ("ellipse", [("label", "zebra"), ("source", "manual"), ("occluded", "0"), ("cx", "500.00"), ("cy", "200.00"),
                     ("rx", "100.00"), ("ry", "50.00"), ("z_order", "0")], "", []),
        ("tag", [("label", "savanna"), ("source", "manual")], "", []),
        ("tag", [("label", "day"), ("source", "manual")], "", []),
    ]  # fmt: skip
    corners = rotated_corners(-50.0, 150.0, 150.0, 250.0, 90.0)
    assert corners[0] == pytest.approx((100.0, 100.0))  # Label Studio's (x, y) in pixels: the same box
    assert str(write(version([task], rows), "cvat", tmp_path / "w.xml")) == (
        "1 image(s), 4 shape(s), 2 tag(s); 2 GT row(s) CVAT cannot hold left out"
    )


def test_images_are_in_frame_order_and_an_image_spread_to_several_tasks_is_written_once(tmp_path):
    """Item-scoped GT: the GT job's annotation of an image is the GT of every job's task holding it; the image
    is written once, as the annotation job's frame (the task export's segments are annotation jobs)."""
    tasks = [image_task(10, "10.png", job="31"), image_task(2, "2.png", job="29"), image_task(7, "7.png", job="30")]
    gt_job = [image_task(7, "7.png", job="32"), image_task(2, "2.png", job="32")]
    rows = [region(t, 0, "box", "rectanglelabels", "cat", x=1.0, y=2.0, width=3.0, height=4.0, value_json=value())
            for t in [tasks[0], *gt_job]]  # fmt: skip
    spread = {"job-29/frame-2": "job-32/frame-2", "job-30/frame-7": "job-32/frame-7"}
    root, _ = exported(version([*tasks, *gt_job], rows, source=spread), tmp_path)
    images = root.findall("image")
    assert [(i.get("id"), i.get("name"), len(i)) for i in images] == [
        ("2", "2.png", 1),
        ("7", "7.png", 1),
        ("10", "10.png", 1),
    ]
    assert [(s.findtext("id"), s.findtext("start"), s.findtext("stop")) for s in root.iter("segment")] == [
        ("29", "2", "2"),
        ("30", "7", "7"),
        ("31", "10", "10"),
    ]
    assert root.findtext("meta/task/size") == "3"


def test_gt_export_offers_cvat(tmp_path, capsys):
    """`gtq gt export --format cvat` on a warehouse: a Label Studio box (percent) in pixels."""
    assert "cvat" in FORMATS
    store = Warehouse(tmp_path / "wh")
    project = Project(tmp_path, project="7", store=store)
    box = ls_task(1, [box_annotation(1, x=10.0)], project=7)  # 1000 x 500 px: x 10 %, y 10 %, 20 % x 30 %
    project.ingest(write_export(tmp_path / "p7.json", [box]))
    project.resolve()
    out = tmp_path / "gt" / "annotations.xml"
    assert main(["gt", "export", "--format", "cvat", "--out", str(out), "--warehouse", str(store.root)]) == 0
    assert "1 image(s), 1 shape(s), 0 tag(s)" in capsys.readouterr().out
    box = ET.parse(out).getroot().find("image/box")
    assert [box.get(k) for k in ("label", "xtl", "ytl", "xbr", "ybr")] == [
        "zebra",
        "100.00",
        "50.00",
        "300.00",
        "200.00",
    ]


# -- round trip: CVAT's own exports through gtq and back


def through_gtq(tmp_path: Path, exports: list[str], jobs: dict[str, dict]) -> GroundTruthVersion:
    """`exports` (with a cvat.yaml saying `jobs`) ingested and resolved as a run would: the published GT version."""
    folder = tmp_path / "in"
    folder.mkdir()
    for export in exports:
        shutil.copy(CVAT / export, folder / export)
    companion = "jobs:\n" + "".join(f'  "{job}": {json.dumps(entry)}\n' for job, entry in jobs.items())
    (folder / "cvat.yaml").write_text(companion)
    project = Project(tmp_path, project=f"cvat-task-{next(iter(jobs.values()))['task']}")
    project.ingest(*(folder / export for export in exports))
    project.resolve()
    (published,) = project.versions
    return published


def body(text: str) -> str:
    """The file after <meta>: the images."""
    return text[text.index("</meta>") :]


@pytest.mark.skipif(not (CVAT / "task22_job28_gt.xml").is_file(), reason="the CVAT fixtures are not there")
@pytest.mark.parametrize(
    ("exports", "jobs"),
    [
        (["task22_job28_gt.xml"], {"28": {"task": 22, "type": "ground_truth"}}),  # every kind but the rotated box
        (["task22_job27.xml"], {"27": {"task": 22, "type": "ground_truth"}}),  # the rotated box, z_order 0-4
        (  # item-scoped GT: the GT job's boxes are the GT of the annotation jobs' frames 4, 5, 7 too
            ["task23_task.xml", "task23_job32_gt.xml"],
            {"29": {"task": 23}, "30": {"task": 23}, "31": {"task": 23}, "32": {"task": 23, "type": "ground_truth"}},
        ),
    ],
)
def test_a_cvat_export_read_by_gtq_and_exported_again_says_the_same(tmp_path, exports, jobs):
    """Images (id, name, size) and, in each, every shape, point, attribute and tag with every attribute of theirs,
    in the same order: the very same text as the GT's export. Only <meta> differs (what it keeps:
    `test_what_the_meta_keeps_of_a_round_trip`)."""
    published = through_gtq(tmp_path, exports, jobs)
    again, text = exported(published, tmp_path)
    assert body(text) == body((CVAT / exports[-1]).read_text(encoding="utf-8"))
    segments = [(s.findtext("id"), s.findtext("start"), s.findtext("stop")) for s in again.iter("segment")]
    if len(exports) > 1:  # each image once, as the annotation job's frame it also is
        assert segments == [("29", "4", "4"), ("30", "5", "7")]


@pytest.mark.skipif(not (CVAT / "task22_job28_gt.xml").is_file(), reason="the CVAT fixtures are not there")
def test_what_the_meta_keeps_of_a_round_trip(tmp_path):
    """<meta> keeps the CVAT task id, the job (its segment), every label with its type, parent and attributes (name,
    input type, default, values) but a radio's, which is a select (gtq's labeling config knows choices only). It
    is a task's meta, even when a job's export came in, and loses what gtq does not keep: the task's name, owner,
    assignee and dates, the frames without GT, the segment's host, the labels' order and colors, the skeleton's
    edges and node positions, the attributes' order and mutability."""
    published = through_gtq(tmp_path, ["task22_job28_gt.xml"], {"28": {"task": 22, "type": "ground_truth"}})
    again, _ = exported(published, tmp_path)
    original = ET.parse(CVAT / "task22_job28_gt.xml").getroot()

    def labels(root: ET.Element) -> dict:
        def described(attribute: ET.Element) -> tuple:
            input_type = attribute.findtext("input_type")
            said = [attribute.findtext(k) for k in ("name", "default_value", "values")]
            return said[0], "select" if input_type == "radio" else input_type, *said[1:]

        return {
            (label.findtext("parent"), label.findtext("name")): (
                label.findtext("type"),
                sorted(described(a) for a in label.iter("attribute")),
            )
            for label in root.iter("label")
        }

    assert labels(again) == labels(original)
    assert again.findtext("meta/task/id") == "22" and original.find("meta/job") is not None
    segment = [again.findtext(f"meta/task/segments/segment/{k}") for k in ("id", "start", "stop", "url")]
    assert segment == ["28", "0", "2", "/api/jobs/28"]
    assert (again.findtext("meta/task/owner"), original.findtext("meta/job/owner/username")) == ("", "user2")
