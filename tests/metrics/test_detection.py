"""One-to-one box matching and detection scores."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from pipeline.metrics.classification import label_scores
from pipeline.metrics.detection import (
    COCO_SUMMARY,
    MATCHING_RULES,
    WHOLE_IMAGE_CLASSIFIER,
    average_precision,
    box_conflicts,
    coco_summary,
    detection_confusion,
    detection_scores,
    image_detection_scores,
    region_conflicts,
)
from pipeline.metrics.matching import greedy_matches, optimal_matches, score_ordered_matches


def sequential_greedy(pairs: list[tuple[int, int, float]]) -> set[tuple[int, int]]:
    """Scout's rule written the obvious way: repeatedly take the heaviest pair whose two boxes are free."""
    used_a, used_b, matched = set(), set(), set()
    for a, b, _ in sorted(pairs, key=lambda p: (-p[2], p[0], p[1])):
        if a not in used_a and b not in used_b:
            used_a.add(a), used_b.add(b), matched.add((a, b))
    return matched


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])),
        max_size=30,
        unique_by=lambda p: p[:2],
    )
)
def test_greedy_matching_is_the_sequential_greedy(pairs):
    frame = pl.DataFrame(pairs, schema={"a": pl.Int64, "b": pl.Int64, "w": pl.Float64}, orient="row").with_columns(
        g=pl.lit(1)
    )
    got = greedy_matches(frame, ["g"], "a", "b", "w")
    assert set(got.select("a", "b").iter_rows()) == sequential_greedy(pairs)


def frames():
    gt = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": ["t1", "t1", "t2"],
            "control": ["bbox", "bbox", None],
            "label": ["zebra", "zebra", None],
            "box": [1, 2, None],
            "x": [0.0, 50.0, None],
            "y": [0.0, 50.0, None],
            "width": [10.0, 10.0, None],
            "height": [10.0, 10.0, None],
        }
    )
    boxes = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": ["t1", "t1", "t1", "t2", "t1"],
            "annotator": ["a", "a", "a", "a", "m"],
            "origin": ["human"] * 4 + ["model"],
            "control": ["bbox"] * 4 + [None],
            "label": ["zebra", "lion", "zebra", "zebra", None],
            "box": [10, 11, 12, 13, None],
            "x": [1.0, 50.0, 80.0, 5.0, None],
            "y": [0.0, 50.0, 80.0, 5.0, None],
            "width": [10.0, 10.0, 5.0, 5.0, None],
            "height": [10.0, 10.0, 5.0, 5.0, None],
            "score": None,
        }
    )
    return gt, boxes.with_columns(pl.col("score").cast(pl.Float64))


@pytest.mark.parametrize("rule", MATCHING_RULES)
def test_detection_scores_hand_computed(rule):
    got = detection_scores(*frames(), thresholds=[0.5, 0.9], rules=[rule])
    assert got["matching"].unique().to_list() == [rule]
    a = {r["iou_threshold"]: r for r in got.filter(pl.col("annotator") == "a").iter_rows(named=True)}
    # t1: (1, 0) matches GT 1 at IoU 0.818; the lion box sits on GT 2 (a mismatched label); (80, 80) is extra.
    # t2 is a confirmed empty image: its box is a false positive.
    assert (a[0.5]["tp"], a[0.5]["fp"], a[0.5]["fn"], a[0.5]["mismatched_label"]) == (1, 2, 0, 1)
    assert (a[0.5]["precision"], a[0.5]["recall"]) == (0.25, 0.5) and a[0.5]["f1"] == pytest.approx(1 / 3)
    assert (a[0.9]["tp"], a[0.9]["fp"], a[0.9]["fn"], a[0.9]["mismatched_label"]) == (0, 3, 1, 1)
    assert a[0.5]["n_tasks"] == 2
    m = got.filter((pl.col("annotator") == "m") & (pl.col("iou_threshold") == 0.5)).row(0, named=True)
    assert (m["tp"], m["fp"], m["fn"], m["precision"], m["recall"], m["f1"]) == (
        0,
        0,
        2,
        None,
        0.0,
        0.0,
    )  # drew nothing


def brute_force_optimum(pairs: list[tuple[int, int, float]]) -> tuple[int, float]:
    """The best (number of matches, total weight) over every one-to-one subset of the pairs."""
    best = (0, 0.0)

    def extend(index, used_a, used_b, count, total):
        nonlocal best
        best = max(best, (count, round(total, 9)))
        for i in range(index, len(pairs)):
            a, b, w = pairs[i]
            if a not in used_a and b not in used_b:
                extend(i + 1, used_a | {a}, used_b | {b}, count + 1, total + w)

    extend(0, frozenset(), frozenset(), 0, 0.0)
    return best


PAIRS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.floats(0.5, 1.0)), max_size=12, unique_by=lambda p: p[:2]
)


@settings(max_examples=80, deadline=None)
@given(PAIRS)
def test_optimal_matching_maximises_matches_then_iou(pairs):
    frame = pl.DataFrame(pairs, schema={"a": pl.Int64, "b": pl.Int64, "w": pl.Float64}, orient="row").with_columns(
        g=pl.lit(1)
    )
    got = optimal_matches(frame, ["g"], "a", "b", "w")
    assert got["a"].is_unique().all() and got["b"].is_unique().all()
    assert (got.height, round(got["w"].sum(), 9)) == brute_force_optimum(pairs)


def test_optimal_matching_takes_more_matches_over_a_larger_iou():
    # Greedy takes (1, 1) at 0.9 and leaves 2 unmatched; the optimum matches both detections.
    frame = pl.DataFrame({"g": 1, "a": [1, 1, 2], "b": [1, 2, 1], "w": [0.9, 0.6, 0.6]})
    assert sorted(optimal_matches(frame, ["g"], "a", "b", "w").select("a", "b").iter_rows()) == [(1, 2), (2, 1)]
    assert greedy_matches(frame, ["g"], "a", "b", "w").height == 1


def pycocotools_loop(pairs: list[tuple[int, int, float]]) -> set[tuple[int, int]]:
    """COCOeval.evaluateImg's matching: detections by rank each take the free GT with the largest IoU
    (`>=`, so the later GT wins a tie)."""
    iou = {(d, g): w for d, g, w in pairs}
    taken, matched = set(), set()
    for d in sorted({d for d, _, _ in pairs}):
        best, best_iou = None, 0.0
        for g in sorted({g for _, g, _ in pairs}):
            if g in taken or (d, g) not in iou or iou[d, g] < best_iou:
                continue
            best, best_iou = g, iou[d, g]
        if best is not None:
            taken.add(best), matched.add((d, best))
    return matched


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9])),
        max_size=30,
        unique_by=lambda p: p[:2],
    )
)
def test_score_ordered_matching_is_the_pycocotools_loop(pairs):
    frame = pl.DataFrame(pairs, schema={"d": pl.Int64, "g": pl.Int64, "w": pl.Float64}, orient="row").with_columns(
        grp=pl.lit(1), rank=pl.col("d")
    )
    got = score_ordered_matches(frame, ["grp"], "d", "g", "rank", "w")
    assert set(got.select("d", "g").iter_rows()) == pycocotools_loop(pairs)


def random_detection_data(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """GT boxes on a few images and a model's scored boxes: jittered copies of GT boxes, some under the wrong
    label, and stray boxes; every image has the model's annotation (a row without a box)."""
    rng = np.random.default_rng(seed)
    gt_rows, det_rows = [], []
    for image in range(int(rng.integers(1, 7))):
        task = f"t{image}"
        for _ in range(int(rng.integers(0, 5))):
            x, y, w, h = rng.uniform(0, 80), rng.uniform(0, 80), rng.uniform(2, 30), rng.uniform(2, 30)
            label = f"c{rng.integers(0, 3)}"
            gt_rows.append((task, label, x, y, w, h))
            for _ in range(int(rng.integers(0, 3))):
                jitter = rng.normal(0, 3, 4)
                other = label if rng.random() < 0.8 else f"c{rng.integers(0, 3)}"
                det_rows.append(
                    (task, other, x + jitter[0], y + jitter[1], max(w + jitter[2], 0.5), max(h + jitter[3], 0.5))
                )
        det_rows.extend(
            (task, f"c{rng.integers(0, 3)}", *rng.uniform(0, 80, 2), *rng.uniform(2, 30, 2))
            for _ in range(int(rng.integers(0, 3)))
        )
        gt_rows.append((task, None, None, None, None, None))
        det_rows.append((task, None, None, None, None, None))
    columns = {"task_id": pl.String, "label": pl.String, **dict.fromkeys(["x", "y", "width", "height"], pl.Float64)}
    gt = pl.DataFrame(gt_rows, schema=columns, orient="row").with_columns(
        project_id=pl.lit("p"), control=pl.lit("bbox")
    )
    gt = gt.with_row_index("box").with_columns(
        box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64))
    )
    dets = pl.DataFrame(det_rows, schema=columns, orient="row").with_columns(
        project_id=pl.lit("p"), control=pl.lit("bbox"), annotator=pl.lit("model-v1"), origin=pl.lit("model")
    )
    dets = dets.with_row_index("box").with_columns(
        box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)),
        score=pl.when(pl.col("x").is_not_null()).then(pl.Series(rng.permutation(len(dets)) / len(dets) + 0.001)),
    )
    return gt, dets


def pycocotools_ap(gt: pl.DataFrame, dets: pl.DataFrame) -> dict[tuple[str, float], float]:
    """Per (label, IoU threshold) AP from COCOeval's precision array (area all, 100 detections)."""
    images = sorted(gt["task_id"].unique())
    labels = sorted(gt["label"].drop_nulls().unique().to_list() + dets["label"].drop_nulls().unique().to_list())
    labels = sorted(set(labels))
    category = {label: i + 1 for i, label in enumerate(labels)}
    coco_gt = COCO()
    coco_gt.dataset = {
        "images": [{"id": i + 1, "width": 100, "height": 100} for i in range(len(images))],
        "categories": [{"id": i, "name": label} for label, i in category.items()],
        "annotations": [
            {
                "id": n + 1,
                "image_id": images.index(r["task_id"]) + 1,
                "category_id": category[r["label"]],
                "iscrowd": 0,
                "bbox": [r["x"], r["y"], r["width"], r["height"]],
                "area": r["width"] * r["height"],
            }
            for n, r in enumerate(gt.drop_nulls("box").sort("box").iter_rows(named=True))
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        results = [
            {
                "image_id": images.index(r["task_id"]) + 1,
                "category_id": category[r["label"]],
                "bbox": [r["x"], r["y"], r["width"], r["height"]],
                "score": r["score"],
            }
            for r in dets.drop_nulls("box").iter_rows(named=True)
        ]
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(results) if results else COCO(), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, :, 0, 2]  # T x R x K at area "all", 100 detections
    return {
        (label, float(t)): float(precision[ti, :, k].mean())
        for ti, t in enumerate(evaluation.params.iouThrs)
        for label, k in ((label, evaluation.params.catIds.index(i)) for label, i in category.items())
        if (precision[ti, :, k] > -1).all()
    }


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_average_precision_agrees_with_pycocotools(seed):
    gt, dets = random_detection_data(seed)
    assume(dets["box"].drop_nulls().len() > 0)
    ap, curves = average_precision(gt, dets)
    mine = {
        (r["label"], r["iou_threshold"]): r["ap"]
        for r in ap.filter(pl.col("area_range") == "all").iter_rows(named=True)
        if r["ap"] is not None
    }
    theirs = pycocotools_ap(gt, dets)
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert mine[key] == pytest.approx(value, abs=1e-6), key
    points = curves.group_by("label", "iou_threshold").len()
    assert points.height == len(mine) and (points["len"] == 101).all()


def test_average_precision_of_a_label_without_detections_is_zero_and_without_gt_is_null():
    gt, dets = random_detection_data(3)
    gt = gt.with_columns(
        label=pl.when(pl.col("box") == pl.col("box").min()).then(pl.lit("only-in-gt")).otherwise("label")
    )
    dets = dets.with_columns(
        label=pl.when(pl.col("box") == pl.col("box").min()).then(pl.lit("only-in-model")).otherwise("label")
    )
    ap, _ = average_precision(gt, dets)
    by_label = {
        r["label"]: r["ap"]
        for r in ap.filter((pl.col("iou_threshold") == 0.5) & (pl.col("area_range") == "all")).iter_rows(named=True)
    }
    assert by_label["only-in-gt"] == 0.0 and by_label["only-in-model"] is None


def test_image_level_scores_agree_with_scikit_learn():
    rng = np.random.default_rng(7)
    gt_rows, det_rows = [], []
    for image in range(60):
        task = f"t{image}"
        if rng.random() < 0.5:
            gt_rows.append((task, 0.0, 0.0, 10.0, 10.0))
        gt_rows.append((task, None, None, None, None))
        det_rows.extend((task, 0.0, 0.0, 10.0, 10.0) for _ in range(int(rng.integers(0, 3))))
        det_rows.append((task, None, None, None, None))
    columns = ["task_id", "x", "y", "width", "height"]
    gt = (
        pl.DataFrame(gt_rows, schema=columns, orient="row")
        .with_row_index("box")
        .with_columns(
            project_id=pl.lit("p"),
            control=pl.lit("bbox"),
            label=pl.lit("zebra"),
            box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)),
        )
    )
    dets = (
        pl.DataFrame(det_rows, schema=columns, orient="row")
        .with_row_index("box")
        .with_columns(
            project_id=pl.lit("p"),
            control=pl.lit("bbox"),
            label=pl.lit("zebra"),
            annotator=pl.lit("m"),
            origin=pl.lit("model"),
            box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)),
            score=pl.when(pl.col("x").is_not_null()).then(pl.Series(np.round(rng.uniform(0, 1, len(det_rows)), 1))),
        )
    )
    got = image_detection_scores(gt, dets).row(0, named=True)
    truth = gt.group_by("task_id").agg(pl.col("box").is_not_null().any().alias("positive"))
    score = dets.group_by("task_id").agg(pl.col("score").max().fill_null(0.0))
    joined = truth.join(score, on="task_id").sort("task_id")
    y, s = joined["positive"].to_numpy(), joined["score"].to_numpy()
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got["precision"] == pytest.approx(precision_score(y, s >= 0.5)) and got["recall"] == pytest.approx(
        recall_score(y, s >= 0.5)
    )
    assert (got["n_images"], got["n_positive"]) == (60, int(y.sum()))
    wic = pl.DataFrame(
        {"project_id": "p", "task_id": [f"t{i}" for i in range(60)], "confidence": np.round(rng.uniform(0, 1, 60), 2)}
    )
    with_wic = (
        image_detection_scores(gt, dets, wic).filter(pl.col("annotator") == WHOLE_IMAGE_CLASSIFIER).row(0, named=True)
    )
    confidence = truth.join(wic, on="task_id").sort("task_id")["confidence"].to_numpy()
    assert (
        with_wic["roc_auc"] == pytest.approx(roc_auc_score(y, confidence), abs=1e-12) and with_wic["origin"] == "model"
    )
    assert with_wic["recall"] == pytest.approx(recall_score(y, confidence >= 0.5)) and with_wic["n_images"] == 60


def test_box_conflicts_name_every_box_and_what_became_of_it():
    """CVAT's conflict list on the hand-made frames: the same pairs, extras and misses the confusion matrix counts."""
    gt, boxes = frames()
    ids = {"annotation_id": pl.lit("gt"), "item_index": pl.int_range(pl.len()).cast(pl.Int32)}
    got = box_conflicts(
        gt.with_columns(**ids),
        boxes.with_columns(annotation_id=pl.col("annotator"), item_index=pl.col("box").cast(pl.Int32)),
    )
    rows = {(r["annotator"], r["kind"], r["item_index"], r["gt_item_index"]) for r in got.iter_rows(named=True)}
    assert rows == {
        ("a", "matched", 10, 0),  # (1, 0) on GT box 0
        ("a", "wrong_label", 11, 1),  # the lion box on the zebra GT box 1
        ("a", "extra", 12, None),  # the box at (80, 80)
        ("a", "extra", 13, None),  # the box on the confirmed-empty image t2
        ("m", "missing", None, 0),  # the model drew nothing: both GT boxes are missing
        ("m", "missing", None, 1),
    }
    assert got.filter(pl.col("kind") == "matched")["iou"].item() == pytest.approx(90 / 110)
    assert got.filter(pl.col("kind") == "missing")["annotation_id"].to_list() == ["m", "m"]


def test_region_conflicts_for_polygons_spans_and_keypoints():
    """The conflict list beyond boxes, on hand-made regions whose IoU is known: polygons by area (a 10x9 square
    on a 10x10 one: 90/100), spans by characters ([0, 8) on [0, 10): 8/10), keypoints by COCO's OKS."""

    def region(annotation, item, control, kind, label, **shape):
        return {
            "project_id": "p",
            "task_id": "t1",
            "annotation_id": annotation,
            "item_index": item,
            "control": control,
            "type": kind,
            "labels": [label],
            "scorable": True,
            "coordinate_unit": "percent",
            "original_width": 200,
            "original_height": 100,
            **shape,
        }

    def square(x0, y0, x1, y1):
        return {"points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}

    gt = [
        region("g", 0, "outline", "polygonlabels", "zebra", **square(0, 0, 10, 10)),
        region("g", 1, "outline", "polygonlabels", "zebra", **square(20, 20, 30, 30)),
        region("g", 2, "entities", "labels", "PER", start=0, end=10),
        region("g", 3, "entities", "labels", "ORG", start=20, end=30),
        region("g", 4, "joints", "keypointlabels", "nose", x=50.0, y=50.0),
    ]
    mine = [
        region("a1", 0, "outline", "polygonlabels", "zebra", **square(0, 0, 10, 9)),
        region("a1", 1, "outline", "polygonlabels", "lion", **square(20, 20, 30, 30)),
        region("a1", 2, "outline", "polygonlabels", "zebra", **square(50, 50, 60, 60)),
        region("a1", 3, "entities", "labels", "PER", start=0, end=8),
        region("a1", 4, "joints", "keypointlabels", "nose", x=51.0, y=50.0),
    ]
    regions = pl.DataFrame(gt + mine, infer_schema_length=None).with_columns(
        pl.col("item_index").cast(pl.Int32), pl.col("x", "y").cast(pl.Float64), pl.col("start", "end").cast(pl.Int64)
    )
    annotations = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": "t1",
            "annotation_id": ["g", "a1"],
            "annotator": ["lead", "a"],
            "origin": "human",
            "was_cancelled": False,
            "updated_at": [1, 2],
        }
    )
    ground_truth = pl.DataFrame(
        {"project_id": ["p"], "task_id": ["t1"], "annotation_id": ["g"], "source_task_id": ["t1"]}
    )
    gt_regions = ground_truth.lazy().join(regions.lazy(), on=["project_id", "task_id", "annotation_id"])
    got = region_conflicts(annotations.lazy(), regions.lazy(), gt_regions, ground_truth.lazy())

    rows = {(r["control"], r["kind"], r["item_index"], r["gt_item_index"]): r["iou"] for r in got.iter_rows(named=True)}
    oks = np.exp(-(0.01**2) / (2 * 0.09**2))  # one percent of the image width apart, COCO σ 0.09
    assert rows.keys() == {
        ("outline", "matched", 0, 0),
        ("outline", "wrong_label", 1, 1),  # the lion on the zebra
        ("outline", "extra", 2, None),
        ("entities", "matched", 3, 2),
        ("entities", "missing", None, 3),  # the ORG span nobody marked
        ("joints", "matched", 4, 4),
    }
    assert rows[("outline", "matched", 0, 0)] == pytest.approx(0.9) and rows[
        ("outline", "wrong_label", 1, 1)
    ] == pytest.approx(1.0)
    assert rows[("entities", "matched", 3, 2)] == pytest.approx(0.8) and rows[
        ("joints", "matched", 4, 4)
    ] == pytest.approx(oks)
    assert set(got["annotator"]) == {"a"} and got.filter(pl.col("kind") == "missing")["annotation_id"].to_list() == [
        "a1"
    ]


def test_detection_confusion_has_unmatched_rows_and_columns():
    got = detection_confusion(*frames(), threshold=0.5)
    cells = {(r["annotator"], r["gt_label"], r["label"]): r["count"] for r in got.iter_rows(named=True)}
    assert cells == {
        ("a", "zebra", "zebra"): 1,  # (1, 0) on GT 1
        ("a", "zebra", "lion"): 1,  # the lion box on GT 2: CVAT's mismatched label
        ("a", "(unmatched)", "zebra"): 2,  # the extra box at (80, 80) and the box on the confirmed-empty image
        ("m", "zebra", "(unmatched)"): 2,  # the model drew nothing
    }
    scores = (
        detection_scores(*frames(), thresholds=[0.5], rules=["hungarian"])
        .filter(pl.col("annotator") == "a")
        .row(0, named=True)
    )
    assert (
        scores["fp"] == cells[("a", "(unmatched)", "zebra")]
        and scores["mismatched_label"] == cells[("a", "zebra", "lion")]
    )
    per_label = {(r["annotator"], r["label"]): r for r in label_scores(got.lazy()).collect().iter_rows(named=True)}
    zebra = per_label[("a", "zebra")]
    assert (zebra["tp"], zebra["predicted"], zebra["support"]) == (1, 3, 2)  # 3 zebra boxes drawn, 2 zebras in the GT
    assert zebra["precision"] == pytest.approx(1 / 3) and zebra["recall"] == 0.5
    assert ("a", "(unmatched)") not in per_label and per_label[("m", "zebra")]["recall"] == 0.0


def test_equal_scores_rank_by_numeric_image_id_as_pycocotools():
    """pycocotools sorts detections of equal score by image id (numbers: 2 before 10), via a stable sort over
    the images in `sorted(imgIds)` order. Here image 2's detection is right and image 10's wrong, so the order
    of the tie decides the AP (0.505 with image 2 first, 0.2525 the other way)."""
    columns = {"task_id": pl.String, "label": pl.String, **dict.fromkeys(["x", "y", "width", "height"], pl.Float64)}
    common = {"project_id": pl.lit("p"), "control": pl.lit("bbox")}
    gt = pl.DataFrame(
        [("2", "c", 10.0, 10.0, 20.0, 20.0), ("10", "c", 10.0, 10.0, 20.0, 20.0)], schema=columns, orient="row"
    )
    gt = gt.with_columns(**common, box=pl.Series([0, 1], dtype=pl.Int64))
    dets = pl.DataFrame(
        [("10", "c", 60.0, 60.0, 10.0, 10.0), ("2", "c", 10.0, 10.0, 20.0, 20.0)], schema=columns, orient="row"
    )
    dets = dets.with_columns(
        **common,
        annotator=pl.lit("m"),
        origin=pl.lit("model"),
        box=pl.Series([0, 1], dtype=pl.Int64),
        score=pl.lit(0.5),
    )

    coco_gt = COCO()
    coco_gt.dataset = {
        "images": [{"id": 2, "width": 100, "height": 100}, {"id": 10, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "c"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": int(r["task_id"]),
                "category_id": 1,
                "iscrowd": 0,
                "area": 400.0,
                "bbox": [r["x"], r["y"], r["width"], r["height"]],
            }
            for i, r in enumerate(gt.iter_rows(named=True))
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        results = [
            {
                "image_id": int(r["task_id"]),
                "category_id": 1,
                "bbox": [r["x"], r["y"], r["width"], r["height"]],
                "score": 0.5,
            }
            for r in dets.iter_rows(named=True)
        ]
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    theirs = float(evaluation.eval["precision"][0, :, 0, 0, 2].mean())
    ap, _ = average_precision(gt, dets)
    mine = ap.filter((pl.col("iou_threshold") == 0.5) & (pl.col("area_range") == "all"))["ap"].item()
    assert theirs == pytest.approx(0.50495, abs=1e-4) and mine == pytest.approx(theirs, abs=1e-9)


def coco_world(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """GT boxes of every COCO size (the annotation's `area` is its mask's, 80% of the box), crowd regions,
    and a model's scored boxes, up to 14 on one image and label (so 1, 10 and 100 detections differ)."""
    rng = np.random.default_rng(seed)
    gt_rows, crowd_rows, det_rows = [], [], []
    for image in range(1, int(rng.integers(2, 6))):
        task = str(image)
        for _ in range(int(rng.integers(0, 7))):
            w, h = rng.choice([8.0, 24.0, 40.0, 70.0, 120.0, 200.0]) * rng.uniform(0.8, 1.2, 2)
            x, y, label = rng.uniform(0, 400), rng.uniform(0, 400), f"c{rng.integers(0, 2)}"
            gt_rows.append((task, label, x, y, w, h, 0.8 * w * h))
            for _ in range(int(rng.integers(0, 4))):
                jitter = rng.normal(0, 0.08 * min(w, h), 4)
                det_rows.append(
                    (task, label, x + jitter[0], y + jitter[1], max(w + jitter[2], 1.0), max(h + jitter[3], 1.0))
                )
        if rng.random() < 0.5:  # a crowd region, and boxes inside it
            x, y, label = rng.uniform(0, 300), rng.uniform(0, 300), f"c{rng.integers(0, 2)}"
            crowd_rows.append((task, label, x, y, 150.0, 150.0, 15000.0))
            det_rows.extend(
                (task, label, x + rng.uniform(0, 100), y + rng.uniform(0, 100), 40.0, 40.0)
                for _ in range(int(rng.integers(1, 5)))
            )
        det_rows.extend(
            (task, f"c{rng.integers(0, 2)}", *rng.uniform(0, 400, 2), *rng.uniform(5, 150, 2))
            for _ in range(int(rng.integers(0, 12)))
        )
        gt_rows.append((task, None, None, None, None, None, None))
        det_rows.append((task, None, None, None, None, None))
    geometry = {"task_id": pl.String, "label": pl.String, **dict.fromkeys(["x", "y", "width", "height"], pl.Float64)}
    common = {"project_id": pl.lit("p"), "control": pl.lit("bbox")}
    gt = (
        pl.DataFrame(gt_rows, schema={**geometry, "area": pl.Float64}, orient="row")
        .with_columns(**common)
        .with_row_index("box")
    )
    gt = gt.with_columns(box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)))
    crowd = pl.DataFrame(crowd_rows, schema={**geometry, "area": pl.Float64}, orient="row").with_columns(**common)
    dets = pl.DataFrame(det_rows, schema=geometry, orient="row").with_columns(
        **common, annotator=pl.lit("m"), origin=pl.lit("model")
    )
    dets = dets.with_row_index("box").with_columns(
        box=pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)),
        score=pl.when(pl.col("x").is_not_null()).then(pl.Series(rng.permutation(len(dets)) / len(dets) + 0.001)),
    )
    return gt, crowd, dets


def pycocotools_evaluation(gt: pl.DataFrame, crowd: pl.DataFrame, dets: pl.DataFrame) -> COCOeval:
    labels = {"c0": 1, "c1": 2}
    regions = [*gt.drop_nulls("box").sort("box").iter_rows(named=True)] + [*crowd.iter_rows(named=True)]
    coco_gt = COCO()
    coco_gt.dataset = {
        "images": [{"id": int(t), "width": 640, "height": 640} for t in sorted(set(gt["task_id"]), key=int)],
        "categories": [{"id": i, "name": label} for label, i in labels.items()],
        "annotations": [
            {
                "id": n + 1,
                "image_id": int(r["task_id"]),
                "category_id": labels[r["label"]],
                "iscrowd": int(n >= gt["box"].count()),
                "bbox": [r["x"], r["y"], r["width"], r["height"]],
                "area": r["area"],
            }
            for n, r in enumerate(regions)
        ],
    }
    results = [
        {
            "image_id": int(r["task_id"]),
            "category_id": labels[r["label"]],
            "bbox": [r["x"], r["y"], r["width"], r["height"]],
            "score": r["score"],
        }
        for r in dets.drop_nulls("box").iter_rows(named=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        evaluation = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_coco_ap_and_recall_per_area_and_max_detections_equal_pycocotools(seed):
    """Every AP and recall of COCOeval's arrays (IoU 0.5:0.95 x labels x area all/small/medium/large x 1, 10,
    100 detections), crowd regions included, and its twelve summary figures."""
    gt, crowd, dets = coco_world(seed)
    assume(dets["box"].drop_nulls().len() > 0 and gt["box"].drop_nulls().len() > 0)
    theirs = pycocotools_evaluation(gt, crowd, dets)
    ap, _ = average_precision(gt, dets, crowd)
    params = theirs.params
    areas = ["all", "small", "medium", "large"]
    for r in ap.iter_rows(named=True):
        t = int(np.argmin(np.abs(params.iouThrs - r["iou_threshold"])))
        k, a = params.catIds.index(int(r["label"][1]) + 1), areas.index(r["area_range"])
        precision = theirs.eval["precision"][t, :, k, a, 2]
        if (precision == -1).all():
            assert r["ap"] is None and r["recall_max_100"] is None, r
            continue
        assert r["ap"] == pytest.approx(precision.mean(), abs=1e-9), r
        for m, max_dets in enumerate(params.maxDets):
            assert r[f"recall_max_{max_dets}"] == pytest.approx(theirs.eval["recall"][t, k, a, m], abs=1e-12), (
                r,
                max_dets,
            )
    summary = coco_summary(ap.lazy(), ["annotator"]).collect().row(0, named=True)
    for name, stat in zip(COCO_SUMMARY, theirs.stats, strict=True):
        assert (summary[name] is None) if stat == -1 else summary[name] == pytest.approx(stat, abs=1e-9), name


def test_a_detection_on_a_crowd_region_is_not_a_false_positive():
    """The issue's two-box case: one GT box and one crowd region, a detection on each. pycocotools ignores
    the one on the crowd region (AP@.5 = 1); counting it as a false positive gave 0.5."""
    geometry = {"task_id": pl.String, "label": pl.String, **dict.fromkeys(["x", "y", "width", "height"], pl.Float64)}
    common = {"project_id": pl.lit("p"), "control": pl.lit("bbox")}
    gt = pl.DataFrame([("1", "c0", 10.0, 10.0, 50.0, 50.0)], schema=geometry, orient="row").with_columns(
        **common, box=pl.lit(0, pl.Int64)
    )
    crowd = pl.DataFrame([("1", "c0", 200.0, 200.0, 100.0, 100.0)], schema=geometry, orient="row").with_columns(
        **common
    )
    dets = pl.DataFrame(
        [("1", "c0", 210.0, 210.0, 30.0, 30.0), ("1", "c0", 10.0, 10.0, 50.0, 50.0)], schema=geometry, orient="row"
    )
    dets = dets.with_columns(
        **common, annotator=pl.lit("m"), origin=pl.lit("model"), box=pl.Series([0, 1]), score=pl.Series([0.9, 0.8])
    )
    ap, _ = average_precision(gt.with_columns(area=pl.lit(2500.0)), dets, crowd.with_columns(area=pl.lit(10000.0)))
    at_50 = ap.filter((pl.col("iou_threshold") == 0.5) & (pl.col("area_range") == "all")).row(0, named=True)
    theirs = pycocotools_evaluation(
        gt.with_columns(area=pl.lit(2500.0)), crowd.with_columns(area=pl.lit(10000.0)), dets
    )
    assert at_50["ap"] == pytest.approx(1.0) == pytest.approx(theirs.eval["precision"][0, :, 0, 0, 2].mean())
    assert at_50["n_detections"] == 1  # the box on the crowd region is ignored
    assert (
        average_precision(gt, dets)[0]
        .filter((pl.col("iou_threshold") == 0.5) & (pl.col("area_range") == "all"))["ap"]
        .item()
        < 0.6
    )
