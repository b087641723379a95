"""Box IoU and IoU clusters against published pairs and pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from pipeline.metrics.matching import box_iou, closest_to_mean, iou_clusters

CASES = Path(__file__).parent / "reference_cases"


def pair_iou(a, b):
    frame = pl.DataFrame(
        {f"{k}_a": [v] for k, v in zip(("x", "y", "width", "height"), a, strict=True)}
        | {f"{k}_b": [v] for k, v in zip(("x", "y", "width", "height"), b, strict=True)}
    )
    return frame.select(box_iou()).item()


@pytest.mark.parametrize(
    "name",
    [
        "identical",
        "disjoint",
        "touching_edge",
        "contained_quarter",
        "half_shift",
        "faster_coco_eval_pair",
        "zero_area_identical",
        "zero_area_inside_box",
    ],
)
def test_published_iou_pairs(name):
    case = json.loads((CASES / "bbox_iou_pairs_including_degenerate.json").read_text())
    (_, _, a), (_, _, b) = case["inputs"]["subcases"][name]["rows"]
    expected = case["expected"][name]
    got = pair_iou(a["bbox_xywh"], b["bbox_xywh"])
    # two boxes without area have no IoU: gtq says null (pycocotools says 0), so an empty box matches nothing
    assert got is None if expected is None else got == pytest.approx(expected, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.floats(0, 100)] * 2, *[st.floats(0.1, 50)] * 2), min_size=2, max_size=2))
def test_iou_matches_pycocotools(boxes):
    a, b = boxes
    expected = mask_utils.iou(np.array([a], dtype=float), np.array([b], dtype=float), [0])[0][0]
    assert pair_iou(a, b) == pytest.approx(expected, abs=1e-9)


def test_clusters_join_overlapping_boxes_of_different_members():
    boxes = pl.LazyFrame(
        {
            "task": ["t"] * 5,
            "member": ["a", "b", "c", "a", "b"],
            "box": [0, 1, 2, 3, 4],
            "x": [0.0, 1.0, 0.5, 50.0, 80.0],
            "y": [0.0, 1.0, 0.5, 50.0, 80.0],
            "width": [10.0, 10.0, 10.0, 10.0, 10.0],
            "height": [10.0, 10.0, 10.0, 10.0, 10.0],
        }
    )
    clustered = iou_clusters(boxes, ["task"], "member", 0.5).collect().sort("box")
    assert clustered["cluster"].to_list() == [0, 0, 0, 3, 4]
    mean_member = closest_to_mean(clustered.lazy(), ["task", "cluster"]).collect().sort("cluster")
    assert mean_member["box"].to_list() == [2, 3, 4]  # box 2 sits at the cluster's mean


def test_boxes_of_one_member_never_join_directly():
    boxes = pl.LazyFrame(
        {
            "task": ["t", "t"],
            "member": ["a", "a"],
            "box": [0, 1],
            "x": [0.0, 0.0],
            "y": [0.0, 0.0],
            "width": [5.0, 5.0],
            "height": [5.0, 5.0],
        }
    )
    assert iou_clusters(boxes, ["task"], "member", 0.5).collect().sort("box")["cluster"].to_list() == [0, 1]
