"""Per-region classifications (a Choices control with perRegion) scored label by label: each region's value against
the value of the GT region it is matched with, as annotation_scores pairs them, checked against scikit-learn."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from pipeline.contract import (
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANSWERS,
    CONFUSION_MATRIX,
    GROUND_TRUTH,
    LABEL_SCORES,
    REGIONS,
)
from pipeline.groundtruth import ground_truth_regions
from pipeline.metrics import scores
from pipeline.metrics.classification import EMPTY, UNMATCHED, confusion_matrix, label_scores

SAMPLE_PROJECT = "7"


def box(region_id: str, x: float, label: str = "zebra", behaviour: str | None = None) -> list[dict]:
    """A 10 x 10 box and, when given, its per-region behaviour (a choices result sharing the box's id)."""
    geometry = {"x": x, "y": 0.0, "width": 10.0, "height": 10.0}
    rows = [{"region_id": region_id, "control": "animals", "type": "rectanglelabels", "labels": [label], **geometry}]
    if behaviour is not None:
        rows.append({"region_id": region_id, "control": "behaviour", "type": "choices", "labels": [behaviour]})
    return rows


def species(choice: str) -> list[dict]:
    return [{"region_id": f"species-{choice}", "control": "species", "type": "choices", "labels": [choice]}]


# (task, annotation, annotator, origin) -> its results
WORK = {
    ("t1", "gt1", "lead", "human"): [
        *species("zebra"),
        *box("g1", 0, behaviour="grazing"),
        *box("g2", 20, behaviour="standing"),
        *box("g3", 40, behaviour="moving"),
    ],
    ("t1", "a1", "ann", "human"): [
        *species("zebra"),
        *box("r1", 0, behaviour="grazing"),  # matched g1, same
        *box("r2", 21, behaviour="grazing"),  # matched g2 (IoU 90/110), another behaviour
        *box("r3", 60, behaviour="standing"),
    ],  # no GT region near it; g3 is missed
    ("t2", "gt2", "lead", "human"): [
        *species("elephant"),
        *box("g4", 0, "elephant", behaviour="standing"),
        *box("g5", 30, "elephant", behaviour="grazing"),
    ],
    ("t2", "a2", "ann", "human"): [
        *species("giraffe"),
        *box("r4", 0, "elephant"),  # matched g4, no behaviour chosen
        *box("r5", 30, "buffalo", behaviour="grazing"),
    ],  # another label: matched with nothing
    ("t1", "m1", "detector", "model"): [*box("m1", 0)],  # a model that never gives a behaviour is not scored on it
}
# What scoring behaviour pairs, region by region: (GT region's value, the annotation's region's value)
EXPECTED_PAIRS = [
    ("grazing", "grazing"),
    ("standing", "grazing"),
    ("moving", UNMATCHED),
    (UNMATCHED, "standing"),
    ("standing", EMPTY),
    ("grazing", UNMATCHED),
    (UNMATCHED, "grazing"),
]


def frames() -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    annotations = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": [t for t, *_ in WORK],
            "annotation_id": [a for _, a, *_ in WORK],
            "annotator": [who for *_, who, _ in WORK],
            "origin": [o for *_, o in WORK],
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "was_cancelled": False,
        }
    )
    rows = [
        {"project_id": "p", "task_id": t, "annotation_id": a, "item_index": i, "scorable": True, **r}
        for (t, a, *_), results in WORK.items()
        for i, r in enumerate(results)
    ]
    regions = pl.concat([REGIONS.empty(), pl.DataFrame(rows, infer_schema_length=None)], how="diagonal_relaxed").lazy()
    ground_truth = pl.LazyFrame(
        {"project_id": "p", "task_id": ["t1", "t2"], "annotation_id": ["gt1", "gt2"], "source_task_id": ["t1", "t2"]}
    )
    return annotations, regions, ground_truth


def scikit_learn(pairs: list[tuple[str, str]]) -> tuple[list[str], dict[str, dict], dict[tuple[str, str], int]]:
    """scikit-learn's per-label figures and confusion matrix of (gt, predicted) pairs: every label but "(unmatched)"
    is a label (an unmatched region is a false positive or negative of its value), and "(unmatched)" a row and
    column."""
    gt, predicted = map(list, zip(*pairs, strict=True))
    everything = sorted(set(gt) | set(predicted))
    labels = [label for label in everything if label != UNMATCHED]
    p, r, f, support = precision_recall_fscore_support(gt, predicted, labels=labels, zero_division=np.nan)
    nan_none = lambda v: None if np.isnan(v) else float(v)  # noqa: E731
    per_label = {
        label: {
            "precision": nan_none(p[i]),
            "recall": nan_none(r[i]),
            "f1": 0.0 if np.isnan(f[i]) else float(f[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    matrix = sk_confusion(gt, predicted, labels=everything)
    cells = {
        (g, p): int(matrix[i, j]) for i, g in enumerate(everything) for j, p in enumerate(everything) if matrix[i, j]
    }
    return labels, per_label, cells


def assert_as_scikit_learn(label_rows: pl.DataFrame, matrix_rows: pl.DataFrame, pairs: list[tuple[str, str]]) -> None:
    labels, expected, cells = scikit_learn(pairs)
    got = {r["label"]: r for r in label_rows.iter_rows(named=True)}
    assert sorted(got) == labels
    for label, figures in expected.items():
        for name, value in figures.items():
            assert got[label][name] == (None if value is None else pytest.approx(value)), (label, name)
    assert {(r["gt_label"], r["label"]): r["count"] for r in matrix_rows.iter_rows(named=True)} == cells


def test_per_region_choices_are_scored_region_by_region_against_the_matched_gt_region():
    annotations, regions, ground_truth = frames()
    answers = scores.answers(annotations, regions)
    gt_regions = ground_truth.join(regions.drop("task_id"), on=["project_id", "annotation_id"])  # its own regions
    scored = scores.scores_against_ground_truth(annotations, answers, regions, ground_truth, gt_regions)
    pairs = scores.region_value_pairs(annotations, answers, regions, ground_truth, gt_regions)
    matrix = confusion_matrix(scored, pairs).collect()
    per_label = label_scores(matrix.lazy()).collect()

    behaviour = pl.col("control") == "behaviour"
    assert set(matrix.filter(behaviour)["annotator"]) == {"ann"}  # not the model, which never gives one
    assert_as_scikit_learn(per_label.filter(behaviour), matrix.filter(behaviour), EXPECTED_PAIRS)
    # the task-level answers are still counted once per annotation
    assert_as_scikit_learn(
        per_label.filter(pl.col("control") == "species"),
        matrix.filter(pl.col("control") == "species"),
        [("zebra", "zebra"), ("elephant", "giraffe")],
    )

    # The pairs are annotation_scores' own: its behaviour score is sum(weight x same value) / max(n_a, n_b).
    got = pairs.collect()
    assert got.filter(pl.col("region_id") == "r2")["weight"].item() == pytest.approx(90 / 110)
    assert_pairs_make_the_scores(got, scored.filter(behaviour).collect())


def assert_pairs_make_the_scores(pairs: pl.DataFrame, scored: pl.DataFrame) -> None:
    """Each annotation's per-region score is the sum over its matched pairs of weight x [same value], over the
    larger number of regions carrying the control on either side."""
    keys = ["task_id", "annotation_id", "control"]
    same = (pl.col("answer_key") == pl.col("gt_answer_key")).fill_null(False).cast(pl.Float64)
    rebuilt = (
        pairs.group_by(keys)
        .agg(
            (pl.col("weight").fill_null(0.0) * same).sum().alias("total"),
            pl.max_horizontal(
                pl.col("region_id").drop_nulls().n_unique(), pl.col("gt_region_id").drop_nulls().n_unique()
            ).alias("n"),
            (pl.col("region_id").is_not_null() & pl.col("gt_region_id").is_not_null()).any().alias("any_matched"),
        )
        .filter("any_matched")  # annotation_scores has a row where some pair is matched
        .select(*keys, (pl.col("total") / pl.col("n")).alias("expected"))
    )
    joined = rebuilt.join(scored.select(*keys, "score"), on=keys, how="full", coalesce=True)
    assert joined.height == rebuilt.height > 0 and joined["score"].null_count() == 0
    assert joined["score"].to_list() == pytest.approx(joined["expected"].to_list())


def test_the_sample_behaviour_control_is_scored_on_its_real_labels(sample_run):
    _, store = sample_run
    read = lambda table: store.scan_project(table, SAMPLE_PROJECT)  # noqa: E731
    behaviour = pl.col("control") == "behaviour"
    per_label = read(LABEL_SCORES).filter(behaviour).collect()
    matrix = read(CONFUSION_MATRIX).filter(behaviour).collect()
    assert set(per_label["label"]) == {
        "standing",
        "grazing",
        "moving",
    }  # no "(empty)": every region carries a behaviour
    assert EMPTY not in set(matrix["gt_label"]) | set(matrix["label"])
    assert per_label["f1"].min() < 1.0 and per_label["annotator"].n_unique() == 5

    ground_truth, regions = read(GROUND_TRUTH), read(REGIONS)
    pairs = scores.region_value_pairs(
        read(ANNOTATIONS), read(ANSWERS), regions, ground_truth, ground_truth_regions(ground_truth, regions)
    )
    pairs = pairs.collect()
    assert set(pairs["origin"]) == {"human"}  # the detector gives no behaviour
    for annotator, own in pairs.group_by("annotator"):
        labelled = own.with_columns(
            gt=pl.when(pl.col("gt_region_id").is_null())
            .then(pl.lit(UNMATCHED))
            .otherwise(pl.col("gt_answer_key").fill_null(EMPTY)),
            label=pl.when(pl.col("region_id").is_null())
            .then(pl.lit(UNMATCHED))
            .otherwise(pl.col("answer_key").fill_null(EMPTY)),
        )
        mine = pl.col("annotator") == annotator[0]
        assert_as_scikit_learn(
            per_label.filter(mine), matrix.filter(mine), list(zip(labelled["gt"], labelled["label"], strict=True))
        )
    assert_pairs_make_the_scores(pairs, read(ANNOTATION_SCORES).filter(behaviour).collect())
