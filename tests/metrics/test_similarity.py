"""Per-control scores of two annotations: every answer and region type, per-region values and weights."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime
from itertools import count, product
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contract import REGIONS
from pipeline.metrics import scores
from pipeline.metrics.similarity import KEYPOINT_SIGMA, SEPARATOR, polygon_iou, taxonomy_similarity

CASES = Path(__file__).parent / "reference_cases"


def region(control: str, type_: str, labels=None, region_id=None, **values) -> dict:
    return {"control": control, "type": type_, "labels": labels, "region_id": region_id, "scorable": True, **values}


def frames(a: list[dict], b: list[dict]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    annotations = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": "t",
            "annotation_id": ["A", "B"],
            "annotator": ["ann", "bob"],
            "origin": "human",
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "was_cancelled": False,
        }
    )
    rows = [
        {"project_id": "p", "task_id": "t", "annotation_id": side, "item_index": i, **r}
        for side, regions in (("A", a), ("B", b))
        for i, r in enumerate(regions)
    ]
    regions = (
        pl.concat([REGIONS.empty(), pl.DataFrame(rows, infer_schema_length=None)], how="diagonal_relaxed")
        if rows
        else REGIONS.empty()
    )
    return annotations, regions.with_columns(
        pl.col("region_id").fill_null(pl.format("{}-{}", "annotation_id", "item_index"))
    ).lazy()


def score_pair(a: list[dict], b: list[dict], label_config: pl.LazyFrame | None = None) -> dict[str, float]:
    """Each control's score of annotation A against annotation B."""
    annotations, regions = frames(a, b)
    answers = scores.answers(annotations, regions, label_config)
    side = scores.Side(answers, regions)
    got = scores.compare(
        pl.LazyFrame({"project_id": ["p"], "task_id": ["t"], "a": ["A"], "b": ["B"]}), side, side
    ).collect()
    return dict(zip(got["control"], got["score"], strict=True))


def choices(labels, control="species"):
    return region(control, "choices", labels)


# --- answers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (["x"], ["x"], 1.0),
        (None, ["x"], 0.0),
        (["x"], None, 0.0),
        (["x"], ["y"], 0.0),
        (["x", "y"], ["y", "z"], 1 / 3),
        (["x", "y"], ["y", "x"], 1.0),
    ],
)
def test_choices_exact_match_and_multi_choice_jaccard(a, b, expected):
    other = [choices(["x"], control="other")]  # so that the control exists even when both leave it blank
    got = score_pair(([choices(a)] if a else []) + other, ([choices(b)] if b else []) + other)
    assert got["species"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (["Animal/Cat"], ["Animal/Cat"], 1.0),
        (["Animal/Cat"], ["Animal/Dog"], 1 / 2),  # common prefix of 1 level over a depth of 2
        (["Animal/Cat/Tabby"], ["Animal/Cat"], 2 / 3),
        (["Plant"], ["Animal/Dog"], 0.0),
        (["Animal/Cat", "Plant/Tree"], ["Animal/Cat"], (1 + 0 + 1) / 3),  # each path's best match, both sides
    ],
)
def test_taxonomy_partial_credit_along_the_path(a, b, expected):
    assert score_pair([region("tax", "taxonomy", a)], [region("tax", "taxonomy", b)])["tax"] == pytest.approx(expected)


def taxonomy_by_hand(a: list[str], b: list[str]) -> float:
    """Label Studio's taxonomy similarity as `similarity.taxonomy_similarity` defines it, path by path."""
    if not a or not b:
        return float(not a and not b)

    def credit(x: str, y: str) -> float:
        x_levels, y_levels = x.split("/"), y.split("/")
        common = 0
        while common < min(len(x_levels), len(y_levels)) and x_levels[common] == y_levels[common]:
            common += 1
        return common / max(len(x_levels), len(y_levels))

    best = [max(credit(x, y) for y in b) for x in a] + [max(credit(y, x) for x in a) for y in b]
    return sum(best) / len(best)


TAXONOMY_ANSWERS = [
    [],
    ["Animal"],
    ["Animal/Cat"],
    ["Animal/Dog"],
    ["Animal/Cat/Tabby"],
    ["Plant/Tree"],
    ["Animal/Cat", "Plant/Tree"],
    ["Animal/Dog", "Plant"],
    ["Animal/Cat", "Animal/Cat/Tabby"],
]


def test_taxonomy_scores_do_not_depend_on_the_order_rows_arrive_in():
    # A lazy input (a join, say) may give its rows in another order each time it is evaluated: a pair's
    # score must come from its own two answers whatever the order.
    pairs = pl.DataFrame(
        [
            (i, SEPARATOR.join(x) or None, SEPARATOR.join(y) or None)
            for i, (x, y) in enumerate(product(TAXONOMY_ANSWERS, repeat=2))
        ],
        schema=["pair", "a", "b"],
        orient="row",
    )
    evaluations = count()
    reordered = pairs.lazy().map_batches(
        lambda frame: frame.sample(fraction=1.0, shuffle=True, seed=next(evaluations)), schema=pairs.schema
    )
    got = taxonomy_similarity(reordered, "a", "b").collect().sort("pair")["score"].to_list()
    expected = [taxonomy_by_hand(x, y) for x, y in product(TAXONOMY_ANSWERS, repeat=2)]
    assert got == pytest.approx(expected)
    assert next(evaluations) > 1  # the input was indeed evaluated more than once


def test_task_agreement_on_taxonomy_is_the_mean_of_the_hand_computed_pair_scores():
    # Many tasks, so that the joins feeding the scores run in parallel and give their rows in varying order.
    rng = random.Random(7)
    given = {(task, x): rng.choice(TAXONOMY_ANSWERS) for task in range(300) for x in "ABC"}
    annotations = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": [str(task) for task, _ in given],
            "annotation_id": [f"{task}{x}" for task, x in given],
            "annotator": [x for _, x in given],
            "origin": "human",
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "was_cancelled": False,
        }
    )
    rows = [
        {
            "project_id": "p",
            "task_id": str(task),
            "annotation_id": f"{task}{x}",
            "item_index": 0,
            "region_id": f"{task}{x}",
            **region("tax", "taxonomy", paths),
        }
        for (task, x), paths in given.items()
        if paths
    ]
    regions = pl.concat([REGIONS.empty(), pl.DataFrame(rows)], how="diagonal_relaxed").lazy()
    answers = scores.answers(annotations, regions)
    expected = {
        str(task): sum(taxonomy_by_hand(given[task, x], given[task, y]) for x, y in ("AB", "AC", "BC")) / 3
        for task in range(300)
    }
    for _ in range(3):
        got = scores.pairwise_task_agreement(answers, annotations, regions).collect()
        assert dict(got.select("task_id", "agreement").iter_rows()) == pytest.approx(expected)


def test_rating_is_scaled_to_the_declared_scale_and_number_to_the_observed_range():
    config = pl.LazyFrame({"project_id": ["p"], "control": ["quality"], "min_value": [1.0], "max_value": [10.0]})
    a = [region("quality", "rating", number=4.0), region("count", "number", number=10.0)]
    b = [region("quality", "rating", number=7.0), region("count", "number", number=14.0)]
    got = score_pair(a, b, config)
    assert got["quality"] == pytest.approx(1 - 3 / 9)
    assert got["count"] == 0.0  # the observed range is 4: the two values are as far apart as can be
    assert score_pair(a, b)["quality"] == pytest.approx(1 - 3 / 4)  # no config: Label Studio's 1..5


def test_datetime_is_exact():
    a, b = [region("when", "datetime", text="2026-01-01")], [region("when", "datetime", text="2026-01-02")]
    assert score_pair(a, b)["when"] == 0.0 and score_pair(a, a)["when"] == 1.0


def levenshtein(s: str, t: str) -> int:
    """The textbook dynamic programme."""
    previous = list(range(len(t) + 1))
    for i, x in enumerate(s, 1):
        current = [i]
        for j, y in enumerate(t, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@settings(max_examples=40, deadline=None)
@given(st.text("abc d", min_size=1, max_size=12), st.text("abc d", min_size=1, max_size=12))
def test_textarea_is_normalised_edit_similarity(a, b):
    norm_a, norm_b = " ".join(a.split()), " ".join(b.split())
    got = score_pair([region("notes", "textarea", text=a)], [region("notes", "textarea", text=b)])["notes"]
    if not norm_a or not norm_b:  # white space only is an empty answer
        assert got == (1.0 if norm_a == norm_b else 0.0)
    else:
        assert got == pytest.approx(1 - levenshtein(norm_a, norm_b) / max(len(norm_a), len(norm_b)))


# --- regions --------------------------------------------------------------------------------------------


def span(start, end, label, control="ner"):
    return region(control, "labels", [label], start=start, end=end)


@pytest.mark.parametrize(
    "subcase", ["exact", "half_overlap", "touching", "nested", "different_label_same_span", "disjoint"]
)
def test_span_iou_evalme_cases(subcase):
    c = json.loads((CASES / "text_span_iou_evalme.json").read_text())
    (_, _, gt), (_, _, pred) = c["inputs"]["subcases"][subcase]["rows"]
    got = score_pair([span(pred["start"], pred["end"], pred["label"])], [span(gt["start"], gt["end"], gt["label"])])[
        "ner"
    ]
    assert got == pytest.approx(c["expected"][subcase], abs=1e-9)


def test_span_multi_item_matches_one_to_one():
    c = json.loads((CASES / "text_span_iou_evalme.json").read_text())
    item = c["inputs"]["multi_span_item"]
    got = score_pair([span(*s) for s in item["pred"]], [span(*s) for s in item["gt"]])["ner"]
    # evalme: mean over predicted spans of the best same-label IoU = 0.6; gtq: matched IoUs / max(3, 2) = 0.6 too
    assert got == pytest.approx(c["expected"]["multi_span_item_evalme_score"])


def box(x, label="zebra", width=10.0, region_id=None):
    return region("bbox", "rectanglelabels", [label], region_id=region_id, x=x, y=0.0, width=width, height=10.0)


def test_boxes_match_one_to_one():
    assert score_pair([box(0.0)], [box(5.0)])["bbox"] == pytest.approx(50 / 150)
    # two boxes on one: only one can match, the duplicate counts as a miss
    assert score_pair([box(0.0), box(0.0)], [box(0.0)])["bbox"] == pytest.approx(1 / 2)
    assert score_pair([box(0.0, "lion")], [box(0.0)])["bbox"] == 0.0  # another label
    assert score_pair([box(0.0)], [choices(["x"])])["bbox"] == 0.0  # one side drew nothing


def test_the_matching_maximises_the_total_overlap():
    # Greedy would pair (0, 2) at IoU 0.82 and leave 9 alone; the optimum pairs (0, 0) and (9, 2).
    a, b = [box(0.0), box(9.0)], [box(0.0, width=9.0), box(2.0)]
    got = score_pair(a, b)["bbox"]
    best = max(
        shapely.box(0, 0, 10, 10).intersection(shapely.box(0, 0, 9, 10)).area
        / shapely.box(0, 0, 10, 10).union(shapely.box(0, 0, 9, 10)).area
        + shapely.box(9, 0, 19, 10).intersection(shapely.box(2, 0, 12, 10)).area
        / shapely.box(9, 0, 19, 10).union(shapely.box(2, 0, 12, 10)).area,
        shapely.box(0, 0, 10, 10).intersection(shapely.box(2, 0, 12, 10)).area
        / shapely.box(0, 0, 10, 10).union(shapely.box(2, 0, 12, 10)).area
        + shapely.box(9, 0, 19, 10).intersection(shapely.box(0, 0, 9, 10)).area
        / shapely.box(9, 0, 19, 10).union(shapely.box(0, 0, 9, 10)).area,
    )
    assert got == pytest.approx(best / 2)


def polygon(points, label="field"):
    return region("area", "polygonlabels", [label], points=[list(map(float, p)) for p in points])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=3, max_size=6),
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=3, max_size=6),
)
def test_polygon_iou_agrees_with_shapely_and_repairs_invalid_polygons(a, b):
    shape_a, shape_b = (shapely.make_valid(shapely.Polygon(p)) for p in (a, b))
    union = shapely.union(shape_a, shape_b).area
    expected = shapely.intersection(shape_a, shape_b).area / union if union > 0 else 0.0
    annotations, regions = frames([polygon(a)], [polygon(b)])
    side = scores.Side(scores.answers(annotations, regions), regions)
    comparison = pl.LazyFrame({"project_id": ["p"], "task_id": ["t"], "a": ["A"], "b": ["B"]})
    got = scores.compare(comparison, side, side).collect().row(0, named=True)
    assert got["score"] == pytest.approx(expected, abs=1e-9)
    invalid = not shapely.Polygon(a).is_valid or not shapely.Polygon(b).is_valid
    assert got["repaired"] == (1 if invalid and expected > 0 else 0)


def test_a_self_intersecting_polygon_is_repaired_and_counted():
    bowtie = [(0, 0), (10, 10), (10, 0), (0, 10)]  # two triangles touching at (5, 5)
    annotations, regions = frames([polygon(bowtie)], [polygon([(0, 0), (10, 0), (10, 10), (0, 10)])])
    side = scores.Side(scores.answers(annotations, regions), regions)
    comparison = pl.LazyFrame({"project_id": ["p"], "task_id": ["t"], "a": ["A"], "b": ["B"]})
    got = scores.compare(comparison, side, side).collect().row(0, named=True)
    assert got["score"] == pytest.approx(0.5) and got["repaired"] == 1  # the triangles cover half the square


def test_keypoints_score_the_object_keypoint_similarity():
    a = [region("eye", "keypointlabels", ["left"], x=10.0, y=10.0)]
    b = [region("eye", "keypointlabels", ["left"], x=13.0, y=14.0)]  # 5 % of the image side away
    assert score_pair(a, b)["eye"] == pytest.approx(math.exp(-(0.05**2) / (2 * KEYPOINT_SIGMA**2)))


def test_per_region_choices_score_with_their_region():
    a = [box(0.0, region_id="r1"), region("pose", "choices", ["standing"], region_id="r1")]
    same = [box(0.0, region_id="q1"), region("pose", "choices", ["standing"], region_id="q1")]
    other = [box(0.0, region_id="q1"), region("pose", "choices", ["lying"], region_id="q1")]
    shifted = [box(5.0, region_id="q1"), region("pose", "choices", ["standing"], region_id="q1")]
    assert score_pair(a, same) == {"bbox": 1.0, "pose": 1.0}
    assert score_pair(a, other)["pose"] == 0.0
    assert score_pair(a, shifted)["pose"] == pytest.approx(50 / 150)  # region IoU x the choice's score
    assert "pose" not in scores.answers(*frames(a, same)).collect()["control"].to_list()  # not a task-level answer


# --- overall and task agreement ----------------------------------------------------------------------


def test_overall_score_is_the_weighted_mean_and_weight_zero_ignores_a_control():
    control_scores = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": "t",
            "a": "A",
            "b": "B",
            "control": ["species", "bbox", "notes"],
            "score": [1.0, 0.5, 0.0],
        }
    )
    weights = pl.LazyFrame({"project_id": "p", "control": ["bbox", "notes"], "weight": [3.0, 0.0]})
    got = (
        scores.overall(scores.with_control_weights(control_scores, weights), scores.COMPARISON)
        .collect()
        .row(0, named=True)
    )
    assert got["score"] == pytest.approx((1.0 + 3 * 0.5) / 4) and got["n_controls"] == 2
    unweighted = scores.overall(scores.with_control_weights(control_scores, None), scores.COMPARISON)
    assert unweighted.collect()["score"].item() == pytest.approx(0.5)


def test_task_agreement_pairwise_mean_and_consensus_share():
    annotations = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": "t",
            "annotation_id": ["A", "B", "C"],
            "annotator": ["a", "b", "c"],
            "origin": "human",
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "was_cancelled": False,
        }
    )
    rows = [
        {"project_id": "p", "task_id": "t", "annotation_id": x, "item_index": 0, "region_id": x, **box(s)}
        for x, s in (("A", 0.0), ("B", 0.0), ("C", 5.0))
    ]
    regions = pl.concat([REGIONS.empty(), pl.DataFrame(rows)], how="diagonal_relaxed").lazy()
    got = (
        scores.pairwise_task_agreement(scores.answers(annotations, regions), annotations, regions)
        .collect()
        .row(0, named=True)
    )
    # pairs: AB = 1, AC = BC = 1/3
    assert got["agreement"] == pytest.approx((1 + 2 / 3) / 3) and got["consensus_agreement"] == pytest.approx(1 / 3)


def test_a_repaired_polygon_against_itself_has_an_iou_of_one_never_more():
    """A self-intersecting polygon, repaired into several parts, compared with itself: its intersection's area is
    summed in another order than its own, and the ratio must still not pass 1 (the suites bound scores by 1)."""
    rnd = random.Random(7)
    shapes = [[[rnd.uniform(0, 1900), rnd.uniform(0, 1060)] for _ in range(6)] for _ in range(2000)]
    series = pl.Series(shapes, dtype=pl.List(pl.List(pl.Float64)))
    iou, repaired = polygon_iou(series, series)
    assert repaired.sum() > 1000 and np.nanmax(iou) == 1.0 and np.nanmin(iou) > 1 - 1e-12
