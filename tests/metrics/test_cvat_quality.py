"""CVAT's quality report, reproduced: pipeline.metrics.cvat_quality against CVAT's own reports and by hand."""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pycocotools import mask as mask_utils

from pipeline.metrics.cvat_quality import (
    CONFLICT_SCHEMA,
    SHAPES,
    JobReport,
    QualitySettings,
    box_iou,
    compare_job,
    line_similarity,
    match_pairs,
    points_similarity,
    segment_ious,
    skeleton_similarity,
    task_summary,
)

CASE = json.loads((Path(__file__).parent / "reference_cases" / "cvat_quality_tasks_22_23.json").read_text())

SHAPE_SCHEMA = dict(SHAPES)
LABEL_SCHEMA = {
    "label": pl.String,
    "attributes": pl.List(pl.Struct({"name": pl.String, "input_type": pl.String, "default_value": pl.String})),
    "sublabels": pl.List(pl.String),
}
KIND = {"rectangle": "box"}  # CVAT's shape types, as the XML elements name them
COUNTS = ["valid_count", "total_count", "ds_count", "gt_count", "accuracy", "precision", "recall"]
CONFLICT_COUNTS = ["conflict_count", "error_count", "warning_count", "frame_count"]


# ---------------------------------------------------------------------------------------------------------------
# CVAT's test data as an XML export gives it.


def xml_geometry(shape: dict) -> tuple[list[float], list[int] | None]:
    """CVAT's internal points as the XML writes them: ellipse [cx, cy, rx, ry], mask box + rle."""
    points = shape["points"]
    if shape["type"] == "ellipse":
        return [points[0], points[1], points[2] - points[0], points[1] - points[3]], None
    if shape["type"] == "mask":
        left, top, right, bottom = (int(v) for v in points[-4:])
        return [left, top, right - left + 1, bottom - top + 1], [int(v) for v in points[:-4]]
    if shape["type"] == "skeleton":
        return [], None
    return points, None


def shapes_of(job: int) -> pl.DataFrame:
    rows = []
    for shape in (s for s in CASE["shapes"] if s["job"] == job):
        points, rle = xml_geometry(shape)
        rows.append(
            {
                "job": str(job),
                "frame": shape["frame"],
                "shape": shape["xml_position"],
                "kind": KIND.get(shape["type"], shape["type"]),
                "label": shape["label"],
                "points": [float(v) for v in points],
                "rle": rle,
                "rotation": shape["rotation"],
                "occluded": shape["occluded"],
                "outside": shape["outside"],
                "z_order": shape["z_order"],
                "group_id": shape["group"],
                "attributes": [{"name": k, "value": v} for k, v in shape["attributes"].items()],
                "elements": [{**e, "points": [float(v) for v in e["points"]]} for e in shape["elements"]],
            }
        )
    rows.extend(
        {
            "job": str(job),
            "frame": tag["frame"],
            "shape": tag["xml_position"],
            "kind": "tag",
            "label": tag["label"],
            "points": [],
            "group_id": tag["group"],
            "attributes": [{"name": k, "value": v} for k, v in tag["attributes"].items()],
        }
        for tag in CASE["tags"]
        if tag["job"] == job
    )
    return pl.DataFrame(rows, schema=SHAPE_SCHEMA)


def images_of(task: int, job: int) -> pl.DataFrame:
    spec = CASE["tasks"][str(task)]
    frames = next(j for j in spec["jobs"] if j["id"] == job)["frames"]
    return pl.DataFrame(
        [
            {"job": str(job), **{k: i[k] for k in ("frame", "width", "height")}}
            for i in spec["images"]
            if i["frame"] in frames
        ],
        schema={"job": pl.String, "frame": pl.Int64, "width": pl.Int64, "height": pl.Int64},
    )


def labels_of(task: int) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "label": label["name"],
                "attributes": [{k: a[k] for k in ("name", "input_type", "default_value")} for a in label["attributes"]],
                "sublabels": label["sublabels"],
            }
            for label in CASE["tasks"][str(task)]["labels"]
        ],
        schema=LABEL_SCHEMA,
    )


def settings_of(task: int) -> QualitySettings:
    return QualitySettings(**CASE["tasks"][str(task)]["quality_settings"])


def gt_job_of(task: int) -> int:
    return next(j["id"] for j in CASE["tasks"][str(task)]["jobs"] if j["type"] == "ground_truth")


@cache
def job_report(task: int, job: int) -> JobReport:
    gt = gt_job_of(task)
    return compare_job(
        shapes_of(job), shapes_of(gt), images_of(task, job), images_of(task, gt), settings_of(task), labels_of(task)
    )


def cvat_report(report_id: int) -> dict:
    return next(r for r in CASE["reports"] if r["id"] == report_id)


def cvat_conflicts(report_id: int, gt_job: int) -> list[dict]:
    """A report's conflicts, in CVAT's order, with each shape named as the module names it (no similarity: CVAT
    does not store one)."""
    shapes = {(s["job"], s["id"], "shape"): s for s in CASE["shapes"]}
    shapes |= {(t["job"], t["id"], "tag"): {**t, "type": "tag"} for t in CASE["tags"]}
    rows = []
    for conflict in (c for c in CASE["conflicts"] if c["report_id"] == report_id):
        row = dict.fromkeys(c for c in CONFLICT_SCHEMA if c != "similarity")
        row |= {"frame": conflict["frame"], "type": conflict["type"], "severity": conflict["severity"]}
        for ref in conflict["annotation_ids"]:
            shape = shapes[(ref["job_id"], ref["obj_id"], ref["type"])]
            side = "gt_" if ref["job_id"] == gt_job else ""
            assert KIND.get(ref["shape_type"] or "tag", ref["shape_type"] or "tag") == KIND.get(
                shape["type"], shape["type"]
            )
            row |= {
                f"{side}job": str(ref["job_id"]),
                f"{side}shape": shape["xml_position"],
                f"{side}kind": KIND.get(shape["type"], shape["type"]),
                f"{side}label": shape["label"],
            }
        rows.append(row)
    return rows


def without_similarity(conflicts: pl.DataFrame) -> list[dict]:
    return conflicts.drop("similarity").to_dicts()


# ---------------------------------------------------------------------------------------------------------------
# Task 23: jobs 29, 30, 31 against GT job 32 (boxes), reports 7-10.


@pytest.mark.parametrize(("job", "report_id"), [(29, 10), (30, 9), (31, 8)])
def test_task_23_jobs_reproduce_cvat_reports(job, report_id):
    report, cvat = job_report(23, job), cvat_report(report_id)
    assert without_similarity(report.conflicts) == cvat_conflicts(report_id, 32)
    summary = report.summary.row(0, named=True)
    assert {k: summary[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
        {k: cvat["summary"][k] for k in COUNTS + CONFLICT_COUNTS}, rel=1e-12
    )
    assert report.frames["frame"].to_list() == cvat["frames"]
    for frame in report.frames.iter_rows(named=True):
        expected = cvat["frame_results"][str(frame["frame"])]
        assert {k: frame[k] for k in expected["annotations"]} == expected["annotations"]
        assert frame["mean_iou"] == pytest.approx(expected["shape"]["mean_iou"], rel=1e-12)
        assert frame["conflict_count"] == expected["conflict_count"]
    if cvat["mean_iou"] is None:  # job 31 (frame 10) has no GT frame: CVAT's mean IoU is NaN, here null
        assert summary["frame_count"] == 0 and summary["mean_iou"] is None
    else:
        assert summary["mean_iou"] == pytest.approx(cvat["mean_iou"], rel=1e-12)


def test_task_23_low_overlap_carries_the_box_iou():
    conflict = job_report(23, 30).conflicts.row(0, named=True)
    assert (conflict["type"], conflict["kind"], conflict["gt_kind"]) == ("low_overlap", "box", "box")
    # The frame has this one pair, so its mean IoU (report 9, frame 5) is the pair's IoU.
    assert conflict["similarity"] == pytest.approx(0.6077449295377204, rel=1e-12)


def test_task_23_summary_reproduces_report_7():
    summary = task_summary([job_report(23, job) for job in (31, 30, 29)]).row(0, named=True)
    cvat = cvat_report(7)["summary"]
    assert {k: summary[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
        {k: cvat[k] for k in COUNTS + CONFLICT_COUNTS}, rel=1e-12
    )
    assert summary["job_count"] == 3


# ---------------------------------------------------------------------------------------------------------------
# Task 22: job 27 against GT job 28 (every shape family, groups, attributes, tags), reports 11 and 12.


def test_task_22_job_27_reproduces_report_12_figures():
    summary = job_report(22, 27).summary.row(0, named=True)
    assert {k: summary[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
        {
            "valid_count": 22,
            "total_count": 48,
            "ds_count": 36,
            "gt_count": 37,
            "accuracy": 0.4583333333333333,
            "precision": 0.6111111111111112,
            "recall": 0.5945945945945946,
            "conflict_count": 42,
            "error_count": 26,
            "warning_count": 16,
            "frame_count": 3,
        },
        rel=1e-12,
    )
    cvat = cvat_report(12)["summary"]
    assert {k: summary[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
        {k: cvat[k] for k in COUNTS + CONFLICT_COUNTS}, rel=1e-12
    )
    assert summary["mean_iou"] == pytest.approx(cvat_report(12)["mean_iou"], rel=1e-12)


def test_task_22_job_27_conflicts_by_type():
    counts = Counter(job_report(22, 27).conflicts["type"].to_list())
    assert counts == {
        "missing_annotation": 12,
        "extra_annotation": 11,
        "low_overlap": 7,
        "mismatching_groups": 6,
        "mismatching_label": 3,
        "mismatching_attributes": 1,
        "covered_annotation": 1,
        "mismatching_direction": 1,
    }
    assert counts == cvat_report(12)["summary"]["conflicts_by_type"]


def test_task_22_job_27_reproduces_report_12_conflicts_in_order():
    assert without_similarity(job_report(22, 27).conflicts) == cvat_conflicts(12, 28)


def test_task_22_job_27_reproduces_report_12_per_frame():
    cvat = cvat_report(12)
    frames = job_report(22, 27).frames
    assert frames["frame"].to_list() == cvat["frames"] == [0, 1, 2]  # frame 2: no shape in either job, still counted
    for frame in frames.iter_rows(named=True):
        expected = cvat["frame_results"][str(frame["frame"])]
        assert {k: frame[k] for k in expected["annotations"]} == expected["annotations"]
        assert frame["mean_iou"] == pytest.approx(expected["shape"]["mean_iou"], rel=1e-12)
        assert frame["conflict_count"] == expected["conflict_count"]


def test_task_22_summary_reproduces_report_11():
    summary = task_summary([job_report(22, 27)]).row(0, named=True)
    cvat = cvat_report(11)["summary"]
    assert {k: summary[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
        {k: cvat[k] for k in COUNTS + CONFLICT_COUNTS}, rel=1e-12
    )


def test_report_12_is_the_one_for_todays_annotations():
    """Reports 2, 4 and 6 are older runs on task 22: 4 and 6 compared today's shapes before CVAT compared tags,
    report 2 other annotations."""
    mine = job_report(22, 27).summary.row(0, named=True)
    assert mine["valid_count"] != cvat_report(2)["summary"]["valid_count"]
    assert mine["mean_iou"] != pytest.approx(cvat_report(2)["mean_iou"])
    no_tags = pl.col("kind") != "tag"
    before_tags = compare_job(
        shapes_of(27).filter(no_tags),
        shapes_of(28).filter(no_tags),
        images_of(22, 27),
        images_of(22, 28),
        settings_of(22),
        labels_of(22),
    ).summary.row(0, named=True)
    for report_id in (4, 6):
        cvat = cvat_report(report_id)
        assert {k: before_tags[k] for k in COUNTS + CONFLICT_COUNTS} == pytest.approx(
            {k: cvat["summary"][k] for k in COUNTS + CONFLICT_COUNTS}, rel=1e-12
        )
        assert before_tags["mean_iou"] == pytest.approx(cvat["mean_iou"], rel=1e-12)


def test_task_22_similarities_of_the_low_overlaps():
    conflicts = job_report(22, 27).conflicts.filter(pl.col("type") == "low_overlap")
    assert conflicts["kind"].to_list() == ["box", "box", "points", "polygon", "polyline", "skeleton", "points"]
    assert all(0.4 <= s < 0.8 for s in conflicts["similarity"].to_list())
    tags = job_report(22, 27).conflicts.filter(pl.col("gt_kind") == "tag")
    assert tags["type"].to_list() == ["missing_annotation", "missing_annotation"]
    assert tags["similarity"].to_list() == [None, None]


def test_coordinates_rounded_as_the_xml_writes_them_give_the_same_report():
    def as_in_xml(frame: pl.DataFrame) -> pl.DataFrame:
        two = pl.element().round(2)
        return frame.with_columns(
            pl.when(pl.col("kind") == "mask").then(pl.col("points")).otherwise(pl.col("points").list.eval(two)),
            pl.col("rotation").round(2),
            pl.col("elements").list.eval(pl.element().struct.with_fields(pl.field("points").list.eval(two))),
        )

    exact = job_report(22, 27)
    rounded = compare_job(
        as_in_xml(shapes_of(27)),
        as_in_xml(shapes_of(28)),
        images_of(22, 27),
        images_of(22, 28),
        settings_of(22),
        labels_of(22),
    )
    assert rounded.conflicts.equals(exact.conflicts)
    assert rounded.summary.equals(exact.summary)


# ---------------------------------------------------------------------------------------------------------------
# The similarities, by hand.


def test_box_iou_axis_aligned_and_rotated():
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10], height=20, width=20) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [10, 0, 20, 10], height=30, width=30) == -1  # touching: no intersection
    # The same rotation on both: CVAT compares the unrotated boxes.
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10], 30.0, 30.0, height=20, width=20) == pytest.approx(1 / 3)
    # A square turned by 90 degrees covers the same pixels; by 45 degrees much less.
    assert box_iou([2, 2, 12, 12], [2, 2, 12, 12], 0.0, 90.0, height=20, width=20) == 1.0
    turned = box_iou([2, 2, 12, 12], [2, 2, 12, 12], 0.0, 45.0, height=20, width=20)
    assert 0.6 < turned < 0.75  # the octagon's area is 2(sqrt(2) - 1) x 100 = 82.8 of the 100 + 100 - 82.8


def test_segment_ious():
    a = np.zeros((10, 10), dtype=np.uint8, order="F")
    a[0:4, 0:5] = 1
    b = np.zeros((10, 10), dtype=np.uint8, order="F")
    b[2:6, 0:5] = 1
    empty = np.zeros((10, 10), dtype=np.uint8, order="F")
    ious = segment_ious([mask_utils.encode(a)], [mask_utils.encode(b), mask_utils.encode(empty)])
    assert ious.tolist() == [[10 / 30, 0.0]]
    assert segment_ious([], [mask_utils.encode(a)]).shape == (0, 1)


def test_points_similarity_single_points_at_image_scale():
    area, sigma = 100 * 50, 0.09
    similarity = points_similarity([10, 10], [13, 14], [10, 10, 0, 0], [13, 14, 0, 0], image_area=area)
    assert similarity == pytest.approx(math.exp(-25 / (2 * area * (2 * sigma) ** 2)))
    # Different point counts without a box: no similarity.
    assert points_similarity([1, 1], [1, 1, 2, 2], [1, 1, 0, 0], [1, 1, 0, 0], image_area=area) == 0


def test_points_similarity_in_group_boxes():
    box = [0, 0, 20, 20]
    same = points_similarity([0, 0, 20, 20], [20, 20, 0, 0], box, box, image_area=10_000)
    assert same == pytest.approx(1.0)  # the points are paired first, whatever their order
    # One point of three unpaired: the two pairs' OKS over three.
    extra = points_similarity([0, 0, 20, 20], [0, 0, 20, 20, 10, 10], box, box, image_area=10_000)
    assert extra == pytest.approx(2 / 3)
    # Group boxes that do not intersect: 0.
    assert points_similarity([0, 0, 20, 20], [50, 50, 70, 70], box, [50, 50, 20, 20], image_area=10_000) == 0
    # image_size: the scale is the image area, not the boxes'.
    near = points_similarity([0, 0, 20, 20], [1, 0, 20, 20], box, box, image_area=10_000, point_size_base="image_size")
    assert near == pytest.approx((math.exp(-1 / (2 * 10_000 * 0.18**2)) + 1) / 2)


def test_skeleton_similarity_visibility():
    box = [0, 0, 10, 10]
    a, b = [0, 0, 10, 10, 5, 5], [0, 0, 10, 10, 5, 6]
    scale = 100
    third = math.exp(-1 / (2 * scale * 0.18**2))
    assert skeleton_similarity(a, b, [2, 2, 2], [2, 2, 2], box, box) == pytest.approx((2 + third) / 3)
    # An absent point counts on neither side; an occluded one is unmatched but counts.
    assert skeleton_similarity(a, b, [2, 2, 0], [2, 2, 0], box, box) == pytest.approx(1.0)
    assert skeleton_similarity(a, b, [2, 2, 1], [2, 2, 2], box, box) == pytest.approx(2 / 3)
    assert math.isnan(skeleton_similarity(a, b, [1, 1, 0], [1, 0, 0], box, box))  # nothing visible: 0 / 0
    assert skeleton_similarity(a, b, [2, 2, 2], [2, 2, 2], box, [20, 20, 5, 5]) == 0


def test_line_similarity():
    line = [0, 0, 50, 0, 100, 0]
    assert line_similarity(line, line, scale=100 * 100) == pytest.approx(1.0)
    reverse = [100, 0, 50, 0, 0, 0]
    assert line_similarity(line, reverse, scale=100 * 100) == pytest.approx(1.0)
    # Oriented, the reversed line's ends are far apart; its middle point coincides (and CVAT drops the last
    # point pair of the resampled lines): (exp(-100^2 / (2 s (2 t)^2)) + 1) / 2.
    assert line_similarity(line, reverse, scale=100 * 100, oriented=True) == pytest.approx(0.5)
    assert line_similarity([0, 0, 100, 0], [100, 0, 0, 0], scale=100 * 100, oriented=True) < 1e-6
    # Far apart (beyond the bounding circles and 6 tolerances): 0 without resampling.
    assert line_similarity([0, 0, 1, 0], [90, 90, 91, 90], scale=100 * 100) == 0
    # A parallel line 1 px away, tolerance t = 0.01 of sqrt(10000): exp(-1 / (2 s (2 t)^2)) at every point.
    shifted = line_similarity(line, [0, 1, 100, 1], scale=100 * 100)
    assert shifted == pytest.approx(math.exp(-1 / (2 * 10_000 * 0.02**2)))


def test_match_pairs_threshold_mismatch_and_padding():
    similarity = np.array([[0.9, 0.2], [0.1, 0.39]])
    assert match_pairs(similarity, np.ones((2, 2), dtype=bool), 0.4) == ([(0, 0)], [], [1], [1])
    assert match_pairs(similarity, np.array([[False, True], [True, True]]), 0.4) == ([], [(0, 0)], [1], [1])
    assert match_pairs(np.zeros((0, 2)), np.zeros((0, 2), dtype=bool), 0.4) == ([], [], [], [0, 1])
    nan = np.array([[np.nan]])
    assert match_pairs(nan, np.ones((1, 1), dtype=bool), 0.4) == ([], [], [0], [0])


# ---------------------------------------------------------------------------------------------------------------
# compare_job on small frames.


def frame(job: str, *shapes: dict) -> pl.DataFrame:
    rows = [{"job": job, "frame": 0, "shape": i, "kind": "box", "points": [], **s} for i, s in enumerate(shapes)]
    return pl.DataFrame(rows, schema={k: v for k, v in SHAPE_SCHEMA.items() if any(k in r for r in rows)})


def images(job: str, frames=(0,), width: int = 100, height: int = 100) -> pl.DataFrame:
    return pl.DataFrame({"job": job, "frame": list(frames), "width": width, "height": height})


def compare(
    ds: pl.DataFrame,
    gt: pl.DataFrame,
    settings: QualitySettings | None = None,
    labels=None,
    frames=(0,),
    gt_frames=(0,),
) -> JobReport:
    return compare_job(ds, gt, images("1", frames), images("2", gt_frames), settings, labels)


def types(report: JobReport) -> list[str]:
    return report.conflicts["type"].to_list()


def test_only_frames_of_both_jobs_are_compared():
    gt = pl.concat(
        [
            frame("2", {"label": "cat", "points": [0, 0, 10, 10]}),
            frame("2", {"label": "cat", "points": [0, 0, 10, 10]}).with_columns(frame=pl.lit(5, dtype=pl.Int64)),
        ]
    )
    ds = frame("1", {"label": "cat", "points": [0, 0, 10, 10]}).with_columns(frame=pl.lit(7, dtype=pl.Int64))
    report = compare(ds, gt, frames=(0, 7), gt_frames=(0, 5))
    assert report.frames["frame"].to_list() == [0]
    assert types(report) == ["missing_annotation"]
    summary = report.summary.row(0, named=True)
    assert (summary["frame_count"], summary["gt_count"], summary["ds_count"], summary["accuracy"]) == (1, 1, 0, 0.0)


def test_empty_frames_and_empty_is_annotated():
    empty = frame("1", {"label": "cat", "points": [0, 0, 1, 1]}).clear()
    plain = compare(empty, empty.with_columns(job=pl.lit("2")))
    assert plain.summary.select("valid_count", "total_count", "accuracy", "mean_iou").row(0) == (0, 0, 0.0, 0.0)
    virtual = compare(empty, empty.with_columns(job=pl.lit("2")), QualitySettings(empty_is_annotated=True))
    assert virtual.summary.select("valid_count", "total_count", "ds_count", "gt_count", "accuracy").row(0) == (
        1,
        1,
        1,
        1,
        1.0,
    )
    # A frame with a GT box only: the job side is empty, so it gets one virtual annotation.
    gt = frame("2", {"label": "cat", "points": [0, 0, 10, 10]})
    one_sided = compare(empty, gt, QualitySettings(empty_is_annotated=True))
    assert one_sided.summary.select("valid_count", "total_count", "ds_count", "gt_count").row(0) == (0, 2, 1, 1)


def test_no_frame_in_common():
    box = {"label": "cat", "points": [0, 0, 10, 10]}
    report = compare(frame("1", box), frame("2", box), frames=(3,), gt_frames=(0,))
    assert report.conflicts.is_empty() and report.frames.is_empty()
    assert report.summary.select("frame_count", "total_count", "mean_iou").row(0) == (0, 0, None)
    assert report.conflicts.schema == pl.Schema(CONFLICT_SCHEMA)


def test_labels_tags_and_low_overlap():
    gt = frame(
        "2",
        {"label": "cat", "points": [0, 0, 10, 10]},
        {"label": "dog", "points": [50, 50, 60, 60]},
        {"kind": "tag", "label": "day"},
    )
    ds = frame(
        "1",
        {"label": "dog", "points": [0, 0, 10, 10]},
        {"label": "dog", "points": [52, 50, 62, 60]},
        {"kind": "tag", "label": "night"},
    )
    report = compare(ds, gt)
    assert types(report) == ["low_overlap", "mismatching_label", "mismatching_label"]
    rows = report.conflicts.to_dicts()
    assert (rows[0]["shape"], rows[0]["gt_shape"], rows[0]["similarity"]) == (1, 1, pytest.approx(80 / 120))
    assert (rows[2]["kind"], rows[2]["gt_kind"], rows[2]["similarity"]) == ("tag", "tag", None)
    assert [r["severity"] for r in rows] == ["warning", "error", "error"]
    summary = report.summary.row(0, named=True)
    assert (summary["valid_count"], summary["total_count"], summary["error_count"], summary["warning_count"]) == (
        1,
        3,
        2,
        1,
    )


def test_attributes_typed_by_their_specs():
    cat = pl.DataFrame(
        [
            {
                "label": "cat",
                "attributes": [
                    {"name": "n", "input_type": "number", "default_value": "0"},
                    {"name": "c", "input_type": "checkbox", "default_value": "false"},
                ],
                "sublabels": [],
            }
        ],
        schema=LABEL_SCHEMA,
    )
    gt = frame("2", {"label": "cat", "points": [0, 0, 10, 10], "attributes": [{"name": "n", "value": "1"}]})
    ds = frame(
        "1",
        {
            "label": "cat",
            "points": [0, 0, 10, 10],
            "attributes": [{"name": "n", "value": "1.0"}, {"name": "c", "value": "False"}],
        },
    )
    assert types(compare(ds, gt, labels=cat)) == []  # 1 == 1.0, and c defaults to false
    assert types(compare(ds, gt)) == ["mismatching_attributes"]  # without specs: strings, and c only in one
    occluded = ds.with_columns(occluded=pl.lit(True))
    assert types(compare(occluded, gt, labels=cat)) == ["mismatching_attributes"]  # occluded is compared
    assert types(compare(occluded, gt, QualitySettings(compare_attributes=False), cat)) == []


def test_cuboids_and_outside_shapes_are_left_out():
    gt = frame(
        "2",
        {"kind": "cuboid", "label": "cat", "points": [0.0] * 16},
        {"label": "cat", "points": [0, 0, 10, 10], "outside": True},
    )
    report = compare(gt.with_columns(job=pl.lit("1")).clear(), gt)
    assert report.conflicts.is_empty()
    assert report.summary["total_count"].item() == 0


def test_covered_annotation():
    ds = frame(
        "1",
        {"label": "cat", "points": [10, 10, 20, 20], "z_order": 0},
        {"label": "dog", "points": [5, 5, 30, 30], "z_order": 1},
    )
    gt = ds.with_columns(job=pl.lit("2"))
    assert types(compare(ds, gt)) == ["covered_annotation"]
    assert compare(ds, gt).conflicts["shape"].to_list() == [0]
    assert types(compare(ds, gt, QualitySettings(check_covered_annotations=False))) == []
    # Below the other one instead: not covered.
    assert types(compare(ds.with_columns(z_order=pl.Series([2, 1])), gt.with_columns(z_order=pl.Series([2, 1])))) == []


def test_mismatching_direction():
    gt = frame("2", {"kind": "polyline", "label": "cat", "points": [10, 10, 50, 10, 90, 12]})
    ds = frame("1", {"kind": "polyline", "label": "cat", "points": [90, 12, 50, 10, 10, 10]})
    report = compare(ds, gt)
    assert types(report) == ["mismatching_direction"]
    assert report.conflicts["similarity"].item() == pytest.approx(1.0)
    assert types(compare(ds, gt, QualitySettings(compare_line_orientation=False))) == []


def test_mismatching_groups():
    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    gt = frame("2", {"label": "cat", "points": a, "group_id": 1}, {"label": "cat", "points": b, "group_id": 1})
    ungrouped = frame("1", {"label": "cat", "points": a}, {"label": "cat", "points": b})
    # The GT group pairs with the job's first box (group IoU 1/2, at the threshold); the second box, in a group
    # of its own that pairs with nothing, is the one reported (as CVAT 2.32.1 does).
    report = compare(ungrouped, gt)
    assert types(report) == ["mismatching_groups"]
    assert report.conflicts.select("shape", "gt_shape").row(0) == (1, 1)
    assert types(compare(ungrouped, gt, QualitySettings(compare_groups=False))) == []
    regrouped = ungrouped.with_columns(group_id=pl.lit(7))
    assert types(compare(regrouped, gt)) == []  # group ids differ between jobs; the members match


def test_panoptic_comparison_uses_visible_pixels():
    square = [10, 10, 50, 10, 50, 50, 10, 50]
    top = [30, 10, 50, 10, 50, 50, 30, 50]
    gt = frame(
        "2",
        {"kind": "polygon", "label": "cat", "points": square, "z_order": 0},
        {"kind": "polygon", "label": "dog", "points": top, "z_order": 1},
    )
    ds = frame("1", {"kind": "polygon", "label": "cat", "points": square, "z_order": 0})
    # GT's cat is half hidden by the dog above it: visible IoU 1/2 with the job's whole square.
    panoptic = compare(ds, gt)
    assert types(panoptic) == ["low_overlap", "missing_annotation"]
    assert panoptic.conflicts["similarity"][0] == pytest.approx(0.5)
    whole = compare(ds, gt, QualitySettings(panoptic_comparison=False))
    assert types(whole) == ["missing_annotation"]


def test_masks_and_polygons_are_one_family():
    rle = [0] + [20] * 20  # 20 x 20 box, rows alternately full and empty
    ds = frame("1", {"kind": "mask", "label": "cat", "points": [10, 10, 20, 20], "rle": rle})
    gt = frame("2", {"kind": "polygon", "label": "cat", "points": [10, 10, 30, 10, 30, 30, 10, 30]})
    report = compare(ds, gt)  # the mask covers every other row of the polygon: matched, with a low overlap
    assert types(report) == ["low_overlap"]
    assert report.conflicts["similarity"].item() == pytest.approx(0.5)
    assert report.frames["mean_iou"].item() == pytest.approx(0.5)


def test_ellipse_against_its_polygon():
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    outline = np.column_stack([50 + 30 * np.cos(angles), 40 + 15 * np.sin(angles)]).ravel().tolist()
    gt = frame("2", {"kind": "polygon", "label": "cat", "points": outline})
    ds = frame("1", {"kind": "ellipse", "label": "cat", "points": [50, 40, 30, 15]})
    report = compare(ds, gt)
    assert types(report) == []
    assert report.frames["mean_iou"].item() > 0.9


def test_skeletons_and_points():
    elements = [
        {"label": n, "points": [10.0 * i, 10.0 * i], "outside": False, "occluded": False}
        for i, n in enumerate(["a", "b", "c"], start=1)
    ]
    gt = frame(
        "2",
        {"kind": "skeleton", "label": "body", "elements": elements},
        {"kind": "points", "label": "cat", "points": [70, 70, 80, 80]},
    )
    ds = frame(
        "1",
        {"kind": "skeleton", "label": "body", "elements": list(reversed(elements))},
        {"kind": "points", "label": "cat", "points": [80, 80, 70, 70]},
    )
    report = compare(ds, gt)
    assert types(report) == []
    assert report.frames["mean_iou"].item() == pytest.approx(1.0)
    outside = [{**e, "outside": True} for e in elements]
    hidden = compare(frame("1", {"kind": "skeleton", "label": "body", "elements": outside}), gt)
    assert types(hidden) == ["missing_annotation", "missing_annotation"]  # an all-outside skeleton is not compared


def test_input_errors():
    box = frame("1", {"label": "cat", "points": [0, 0, 10, 10]})
    with pytest.raises(ValueError, match="lack the columns"):
        compare(box.drop("points"), box)
    with pytest.raises(ValueError, match="unknown kind"):
        compare(box.with_columns(kind=pl.lit("circle")), box)
    with pytest.raises(ValueError, match="polygon needs"):
        compare(box.with_columns(kind=pl.lit("polygon")), box)
    with pytest.raises(ValueError, match="one job"):
        compare_job(box, box, pl.concat([images("1"), images("3")]), images("2"))
    with pytest.raises(ValueError, match="point_size_base"):
        QualitySettings(point_size_base="huge")


def test_only_overlapping_segments_are_painted_and_the_masks_stay_cvats():
    """`_segment_masks` paints in z-order only the objects whose boxes meet another's; the masks must equal
    painting every object, as CVAT does, on frames of scattered, touching and stacked polygons and masks."""
    from pipeline.metrics.cvat_quality import _Ann, _mask_rle, _polygon_rle, _segment_masks

    def painted_all(anns, objects, height, width):
        painted = np.zeros((height, width), dtype=np.uint16)
        rles = {
            i: a.rle if a.rle is not None else _polygon_rle(a.points.tolist(), height, width)
            for i, a in enumerate(anns)
        }
        for i, n in sorted(((i, n) for n, obj in enumerate(objects) for i in obj), key=lambda p: anns[p[0]].z_order):
            painted[mask_utils.decode(rles[i]).astype(bool)] = n + 1
        return [mask_utils.encode(np.asfortranarray((painted == n + 1).astype(np.uint8))) for n in range(len(objects))]

    rnd = np.random.default_rng(7)
    height, width = 120, 160
    for _ in range(60):
        anns = []
        for shape in range(int(rnd.integers(1, 7))):
            x, y = rnd.uniform(0, width - 30), rnd.uniform(0, height - 30)
            size = rnd.uniform(3, 40)
            group, z_order = int(rnd.integers(0, 3)), int(rnd.integers(0, 3))
            if rnd.random() < 0.3:
                left, top, w, h = int(x), int(y), int(rnd.integers(2, 20)), int(rnd.integers(2, 20))
                runs = [0, w * h]
                rle = _mask_rle(runs, [left, top, w, h], height, width)
                anns.append(_Ann(shape, "mask", "cat", "segment", group, z_order, {}, rle=rle))
            else:
                points = np.array([x, y, x + size, y, x + size * 0.7, y + size, x, y + size * 0.5])
                anns.append(_Ann(shape, "polygon", rnd.choice(["cat", "dog"]), "segment", group, z_order, {}, points))
        objects, masks = _segment_masks(anns, height, width, panoptic=True)
        expected = painted_all(anns, objects, height, width)
        assert [mask_utils.area(m) for m in masks] == [mask_utils.area(m) for m in expected]
        for got, want in zip(masks, expected, strict=True):
            assert mask_utils.iou([got], [want], [0])[0][0] == 1.0 or mask_utils.area(want) == 0
