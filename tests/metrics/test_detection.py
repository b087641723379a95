"""One-to-one box matching and detection scores."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.metrics.detection import detection_scores
from pipeline.metrics.matching import greedy_matches


def sequential_greedy(pairs: list[tuple[int, int, float]]) -> set[tuple[int, int]]:
    """Scout's rule written the obvious way: repeatedly take the heaviest pair whose two boxes are free."""
    used_a, used_b, matched = set(), set(), set()
    for a, b, _ in sorted(pairs, key=lambda p: (-p[2], p[0], p[1])):
        if a not in used_a and b not in used_b:
            used_a.add(a), used_b.add(b), matched.add((a, b))
    return matched


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])), max_size=30, unique_by=lambda p: p[:2]))
def test_greedy_matching_is_the_sequential_greedy(pairs):
    frame = pl.DataFrame(pairs, schema={"a": pl.Int64, "b": pl.Int64, "w": pl.Float64}, orient="row").with_columns(g=pl.lit(1))
    got = greedy_matches(frame, ["g"], "a", "b", "w")
    assert set(got.select("a", "b").iter_rows()) == sequential_greedy(pairs)


def frames():
    gt = pl.DataFrame(
        {"project_id": "p", "task_id": ["t1", "t1", "t2"], "control": ["bbox", "bbox", None], "label": ["zebra", "zebra", None],
         "box": [1, 2, None], "x": [0.0, 50.0, None], "y": [0.0, 50.0, None], "width": [10.0, 10.0, None], "height": [10.0, 10.0, None]}
    )  # fmt: skip
    boxes = pl.DataFrame(
        {"project_id": "p", "task_id": ["t1", "t1", "t1", "t2", "t1"], "annotator": ["a", "a", "a", "a", "m"],
         "origin": ["human"] * 4 + ["model"], "control": ["bbox"] * 4 + [None], "label": ["zebra", "lion", "zebra", "zebra", None],
         "box": [10, 11, 12, 13, None], "x": [1.0, 50.0, 80.0, 5.0, None], "y": [0.0, 50.0, 80.0, 5.0, None],
         "width": [10.0, 10.0, 5.0, 5.0, None], "height": [10.0, 10.0, 5.0, 5.0, None]}
    )  # fmt: skip
    return gt, boxes


def test_detection_scores_hand_computed():
    got = detection_scores(*frames(), thresholds=[0.5, 0.9])
    a = {r["iou_threshold"]: r for r in got.filter(pl.col("annotator") == "a").iter_rows(named=True)}
    # t1: (1, 0) matches GT 1 at IoU 0.818; the lion box sits on GT 2 (a mismatched label); (80, 80) is extra.
    # t2 is a confirmed empty image: its box is a false positive.
    assert (a[0.5]["tp"], a[0.5]["fp"], a[0.5]["fn"], a[0.5]["mismatched_label"]) == (1, 2, 0, 1)
    assert (a[0.5]["precision"], a[0.5]["recall"]) == (0.25, 0.5) and a[0.5]["f1"] == pytest.approx(1 / 3)
    assert (a[0.9]["tp"], a[0.9]["fp"], a[0.9]["fn"], a[0.9]["mismatched_label"]) == (0, 3, 1, 1)
    assert a[0.5]["n_tasks"] == 2
    m = got.filter((pl.col("annotator") == "m") & (pl.col("iou_threshold") == 0.5)).row(0, named=True)
    assert (m["tp"], m["fp"], m["fn"], m["precision"], m["recall"], m["f1"]) == (0, 0, 2, None, 0.0, 0.0)  # drew nothing
