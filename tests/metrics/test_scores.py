"""Answers, exact-match scores, task agreement and the quality tables built from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score

from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATOR_PERFORMANCE,
    PROJECT_AGREEMENT,
    REGIONS,
    REVIEWS,
    RUN_COLUMNS,
    TASK_AGREEMENT,
)
from pipeline.metrics import quality, scores
from pipeline.metrics.classification import confusion_matrix, label_scores

CASES = Path(__file__).parent / "reference_cases"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def conform(table, frame):
    """A metric's frame in its quality table's schema (the run stamps are the asset's to add)."""
    return table.conform(frame.with_columns(pl.lit(None).alias(c) for c in RUN_COLUMNS))


NO_REVIEWS = REVIEWS.empty().lazy()


def annotations_and_regions(rows, origin="human", cancelled=()):
    """Core frames from (task, annotator, labels) rows; labels None = the annotation chose nothing."""
    annotations = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": [t for t, _, _ in rows],
            "annotation_id": [f"{t}:{a}" for t, a, _ in rows],
            "annotator": [a for _, a, _ in rows],
            "origin": origin,
            "updated_at": T0,
            "was_cancelled": [(t, a) in cancelled for t, a, _ in rows],
            "gt_flag": False,
            "lead_time_s": 10.0,
            "last_action": None,
        },
        schema_overrides={"last_action": pl.String},
    )
    regions = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": [t for t, _, labels in rows if labels is not None],
            "annotation_id": [f"{t}:{a}" for t, a, labels in rows if labels is not None],
            "region_id": [f"{t}:{a}" for t, a, labels in rows if labels is not None],
            "control": "label",
            "type": "choices",
            "labels": [labels for _, _, labels in rows if labels is not None],
            "scorable": True,
            **dict.fromkeys(("x", "y", "width", "height")),
        },
        schema_overrides={"labels": pl.List(pl.String), **dict.fromkeys(("x", "y", "width", "height"), pl.Float64)},
    )
    return annotations.lazy(), pl.concat([REGIONS.empty(), regions], how="diagonal_relaxed").lazy()


def own_regions(ground_truth, regions):
    """The GT's regions taken from its annotation (no consensus boxes)."""
    return ground_truth.join(regions.drop("task_id"), on=["project_id", "annotation_id"])


def against_gt(annotations, regions, ground_truth, answers=None):
    """scores_against_ground_truth with the GT's own regions."""
    answers = scores.answers(annotations, regions) if answers is None else answers
    return scores.with_control_weights(
        scores.scores_against_ground_truth(
            annotations, answers, regions, ground_truth, own_regions(ground_truth, regions)
        ),
        None,
    )


def confusion(annotations, regions, ground_truth, answers, scored):
    """confusion_matrix of `scored` (against_gt's) with the per-region values paired the same way."""
    return confusion_matrix(
        scored,
        scores.region_value_pairs(annotations, answers, regions, ground_truth, own_regions(ground_truth, regions)),
    )


def test_answers_include_empty_answers_and_skip_cancelled_annotations():
    annotations, regions = annotations_and_regions(
        [("t1", "a", ["cat"]), ("t1", "b", None), ("t1", "c", ["dog", "cat"]), ("t1", "d", ["cat"])],
        cancelled={("t1", "d")},
    )
    got = scores.answers(annotations, regions).collect().sort("annotator")
    assert got["annotator"].to_list() == ["a", "b", "c"]
    assert got["answer"].to_list() == [["cat"], [], ["cat", "dog"]]
    assert got["answer_key"].to_list() == ["cat", None, "cat\x1fdog"]


def test_choices_attached_to_a_region_are_not_task_answers():
    annotations, regions = annotations_and_regions([("t1", "a", ["cat"])])
    box = pl.LazyFrame(
        {
            "project_id": ["p"],
            "task_id": ["t1"],
            "annotation_id": ["t1:a"],
            "region_id": ["box1"],
            "control": ["bbox"],
            "type": ["rectanglelabels"],
            "labels": [["animal"]],
        }
    )
    per_region = box.with_columns(
        pl.lit("label").alias("control"), pl.lit("choices").alias("type"), pl.lit(["dog"]).alias("labels")
    )
    got = scores.answers(annotations, pl.concat([regions, box, per_region], how="diagonal")).collect()
    assert got["answer"].to_list() == [["cat"]]


def test_scores_against_ground_truth_skip_the_gt_annotation_itself():
    annotations, regions = annotations_and_regions(
        [("t1", "gt", ["cat"]), ("t1", "a", ["cat"]), ("t1", "b", None), ("t2", "a", ["dog"])]
    )
    ground_truth = pl.LazyFrame(
        {"project_id": ["p"], "task_id": ["t1"], "annotation_id": ["t1:gt"], "source_task_id": ["t1"]}
    )
    got = against_gt(annotations, regions, ground_truth).collect().sort("annotator")
    assert got["annotator"].to_list() == ["a", "b"]  # not the GT itself, not task t2 without GT
    assert got["score"].to_list() == [1.0, 0.0]


def test_pairwise_task_agreement_is_the_mean_over_pairs():
    annotations, regions = annotations_and_regions(
        [("t1", "a", ["cat"]), ("t1", "b", ["cat"]), ("t1", "c", ["dog"]), ("t2", "a", ["cat"])]
    )
    got = (
        scores.pairwise_task_agreement(scores.answers(annotations, regions), annotations, regions)
        .collect()
        .sort("task_id")
    )
    conform(TASK_AGREEMENT, got)
    assert got["n_annotations"].to_list() == [3, 1]
    assert got["agreement"].to_list() == [pytest.approx(1 / 3), None]  # pairs ab=1, ac=0, bc=0; one annotation: null


def test_annotator_performance_against_crowdkit_gold_example():
    c = json.loads((CASES / "crowdkit_toy_dawid_skene_and_accuracy_vs_gold.json").read_text())
    rows = [(t, w, [label]) for t, w, label in c["inputs"]["rows"]]
    rows += [(t, "gold", [label]) for t, label in c["inputs"]["ground_truth"].items()]
    annotations, regions = annotations_and_regions(rows)
    answers = scores.answers(annotations, regions)
    gold_tasks = list(c["inputs"]["ground_truth"])
    ground_truth = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": gold_tasks,
            "annotation_id": [f"{t}:gold" for t in gold_tasks],
            "source_task_id": gold_tasks,
        }
    )
    scored = against_gt(annotations, regions, ground_truth, answers)
    performance = quality.annotator_performance(
        annotations,
        NO_REVIEWS,
        scored,
        answers,
        label_scores(confusion(annotations, regions, ground_truth, answers, scored)),
    )
    got = conform(ANNOTATOR_PERFORMANCE, performance.collect())
    workers = got.filter(pl.col("annotator") != "gold").sort("annotator")
    assert dict(zip(workers["annotator"], workers["accuracy"], strict=True)) == pytest.approx(
        c["expected"]["accuracy_vs_ground_truth_per_worker"]
    )
    assert dict(zip(workers["annotator"], workers["cohen_kappa"], strict=True)) == pytest.approx(
        c["expected"]["cohen_kappa_vs_ground_truth_per_worker"]
    )
    gold = got.filter(pl.col("annotator") == "gold").row(0, named=True)
    assert gold["n_scored"] == 0 and gold["accuracy"] is None


def test_agreement_matrix_pairs_match_scikit_learn_and_include_models():
    rows = [(f"t{i}", "a", ["xy"[i % 2]]) for i in range(10)] + [
        (f"t{i}", "b", ["xy"[(i // 3) % 2]]) for i in range(10)
    ]
    annotations, regions = annotations_and_regions(rows)
    model_annotations, model_regions = annotations_and_regions(
        [(f"t{i}", "m1", ["x"]) for i in range(0, 10, 2)], origin="model"
    )
    answers = scores.answers(pl.concat([annotations, model_annotations]), pl.concat([regions, model_regions]))
    got = conform(AGREEMENT_MATRIX, quality.agreement_matrix(answers).collect())
    ab = got.filter((pl.col("annotator_a") == "a") & (pl.col("annotator_b") == "b")).row(0, named=True)
    ba = got.filter((pl.col("annotator_a") == "b") & (pl.col("annotator_b") == "a")).row(0, named=True)
    a = ["xy"[i % 2] for i in range(10)]
    b = ["xy"[(i // 3) % 2] for i in range(10)]
    assert ab["n_tasks"] == 10 and ab["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert ba["cohen_kappa"] == pytest.approx(ab["cohen_kappa"])
    am = got.filter((pl.col("annotator_a") == "a") & (pl.col("annotator_b") == "m1")).row(0, named=True)
    assert am["n_tasks"] == 5 and am["agreement"] == 1.0 and am["cohen_kappa"] is None  # one label each: undefined


def test_project_agreement_uses_humans_only_and_explains_nulls():
    annotations, regions = annotations_and_regions(
        [("t1", "a", ["x"]), ("t1", "b", ["x"]), ("t2", "a", ["x"]), ("t2", "b", ["x"])]
    )
    model_annotations, model_regions = annotations_and_regions([("t1", "m", ["y"])], origin="model")
    answers = scores.answers(pl.concat([annotations, model_annotations]), pl.concat([regions, model_regions]))
    got = conform(PROJECT_AGREEMENT, quality.project_agreement(answers).collect()).row(0, named=True)
    assert got["n_raters"] == 2 and got["n_tasks"] == 2 and got["percent_agreement"] == 1.0
    assert got["fleiss_kappa"] is None and got["krippendorff_alpha"] is None
    assert "same label" in got["undefined_reason"]


def test_review_queue_orders_tasks_a_reviewer_should_take_first():
    rows = [
        ("t1", "a", ["cat"]),
        ("t1", "b", ["dog"]),  # has GT: never queued
        ("t2", "a", ["cat"]),
        ("t2", "b", ["dog"]),  # a consensus tie
        ("t3", "a", ["cat"]),
        ("t3", "b", ["cat"]),
        ("t3", "c", ["dog"]),  # annotators disagree
        ("t4", "a", ["cat"]),
        ("t4", "b", ["cat"]),  # the model says dog
        ("t5", "a", ["cat"]),
        ("t5", "b", ["cat"]),  # the model agrees, unsure
        ("t6", "a", ["cat"]),
        ("t6", "b", ["cat"]),  # nothing to flag
    ]
    annotations, regions = annotations_and_regions(rows)
    model_annotations, model_regions = annotations_and_regions(
        [(t, "m", ["dog" if t == "t4" else "cat"]) for t in ("t2", "t3", "t4", "t5", "t6")], origin="model"
    )
    model_annotations = model_annotations.with_columns(
        score=pl.when(pl.col("task_id") == "t5").then(0.2).otherwise(0.9)
    )
    annotations = pl.concat([annotations.with_columns(score=pl.lit(None, pl.Float64)), model_annotations])
    answers = scores.answers(annotations, pl.concat([regions, model_regions]))
    tasks = annotations.select("project_id", "task_id").unique()
    ground_truth = pl.LazyFrame({"project_id": ["p"], "task_id": ["t1"]})
    conflicts = pl.LazyFrame(
        {"project_id": ["p"], "task_id": ["t2"], "rule": ["consensus tie: no majority, for review"]}
    )
    agreement = scores.pairwise_task_agreement(answers, annotations, pl.concat([regions, model_regions]))
    queue = quality.review_queue(tasks, annotations, answers, agreement, ground_truth, conflicts).collect()
    assert queue.select("task_id", "priority", "reason").rows() == [
        ("t2", 1, "consensus tie"),
        ("t3", 2, "annotators disagree"),
        ("t4", 3, "model disagrees with annotators"),
        ("t5", 4, "low model confidence"),
        ("t6", 5, "not reviewed yet"),
    ]


def test_annotator_dashboard_counts_reviews_lead_time_and_agreement_with_model_and_peers():
    annotations, regions = annotations_and_regions(
        [("t1", "a", ["cat"]), ("t2", "a", ["dog"]), ("t3", "a", ["cat"]), ("t1", "b", ["dog"])]
    )
    annotations = annotations.with_columns(
        last_action=pl.when(pl.col("annotation_id") == "t1:a").then(pl.lit("fixed_and_accepted")),
        lead_time_s=pl.Series([10.0, 20.0, 60.0, 5.0]),
    )
    reviews = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": ["t2", "t3"],
            "annotation_id": ["t2:a", "t3:a"],
            "review_id": ["r1", "r2"],
            "reviewer": "lead",
            "accepted": [True, False],
            "created_at": T0,
            "content_hash": "h",
        }
    )
    model, model_regions = annotations_and_regions([("t1", "m", ["cat"]), ("t2", "m", ["cat"])], origin="model")
    all_annotations = pl.concat([annotations, model], how="diagonal_relaxed")
    answers = scores.answers(all_annotations, pl.concat([regions, model_regions]))
    no_gt = pl.LazyFrame(
        schema={"project_id": pl.String, "task_id": pl.String, "annotation_id": pl.String, "source_task_id": pl.String}
    )
    empty_scores = against_gt(all_annotations, pl.concat([regions, model_regions]), no_gt, answers)
    got = quality.annotator_performance(
        all_annotations,
        reviews,
        empty_scores,
        answers,
        label_scores(confusion(all_annotations, pl.concat([regions, model_regions]), no_gt, answers, empty_scores)),
    ).collect()
    a = got.filter(pl.col("annotator") == "a").row(0, named=True)
    assert (a["n_accepted"], a["n_fixed_and_accepted"], a["n_rejected"], a["acceptance_score"]) == (
        1,
        1,
        1,
        pytest.approx(2 / 3),
    )
    assert (a["lead_time_total_s"], a["lead_time_median_s"]) == (90.0, 20.0)
    assert a["prediction_agreement"] == 0.5  # t1 cat = cat, t2 dog != cat
    assert a["annotator_agreement"] == 0.0  # t1: b said dog
    assert a["n_scored"] == 0 and a["accuracy"] is None and a["macro_f1"] is None  # no GT: nothing to score
    assert got.filter(pl.col("annotator") == "m")["prediction_agreement"].item() is None


def test_agreement_matrix_has_a_ground_truth_column():
    rows = [(f"t{i}", "a", ["xy"[i % 2]]) for i in range(6)] + [(f"t{i}", "gold", ["x"]) for i in range(6)]
    annotations, regions = annotations_and_regions(rows)
    answers = scores.answers(annotations, regions)
    ground_truth = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": [f"t{i}" for i in range(6)],
            "annotation_id": [f"t{i}:gold" for i in range(6)],
            "source_task_id": [f"t{i}" for i in range(6)],
        }
    )
    matrix = quality.agreement_matrix(answers, against_gt(annotations, regions, ground_truth, answers)).collect()
    versus_gt = matrix.filter((pl.col("annotator_a") == "a") & (pl.col("annotator_b") == "(ground truth)")).row(
        0, named=True
    )
    assert (versus_gt["n_tasks"], versus_gt["agreement"]) == (6, 0.5)
    mirrored = matrix.filter((pl.col("annotator_a") == "(ground truth)") & (pl.col("annotator_b") == "a")).row(
        0, named=True
    )
    assert mirrored["agreement"] == 0.5
    assert matrix.filter((pl.col("annotator_a") == "gold") & (pl.col("control") == "label"))[
        "annotator_b"
    ].to_list() == ["a"]  # not its own GT


def rating_answers(ratings: dict[str, list[int]]) -> pl.LazyFrame:
    """Answers of a rating control 'quality' (1..5) from each rater's ratings of tasks t0, t1, ..."""
    rows = [(f"t{i}", rater, None) for rater, values in ratings.items() for i in range(len(values))]
    annotations, _ = annotations_and_regions(rows)
    regions = pl.DataFrame(
        {
            "project_id": "p",
            "task_id": [t for t, _, _ in rows],
            "annotation_id": [f"{t}:{a}" for t, a, _ in rows],
            "region_id": [f"{t}:{a}" for t, a, _ in rows],
            "control": "quality",
            "type": "rating",
            "number": [float(v) for values in ratings.values() for v in values],
            "scorable": True,
        }
    )
    return scores.answers(annotations, pl.concat([REGIONS.empty(), regions], how="diagonal_relaxed").lazy())


def test_agreement_matrix_weighs_rating_disagreements_like_scikit_learn():
    a, b = [1, 2, 3, 4, 5, 5, 2, 3], [1, 3, 3, 5, 4, 5, 1, 1]
    matrix = quality.agreement_matrix(rating_answers({"a": a, "b": b})).collect()
    conform(AGREEMENT_MATRIX, matrix)
    row = matrix.filter((pl.col("control") == "quality") & (pl.col("annotator_a") == "a")).row(0, named=True)
    for weights in ("linear", "quadratic"):
        assert row[f"weighted_kappa_{weights}"] == pytest.approx(
            cohen_kappa_score(a, b, weights=weights, labels=[1, 2, 3, 4, 5])
        )
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    pooled = matrix.filter((pl.col("control") == "(all)") & (pl.col("annotator_a") == "a")).row(0, named=True)
    assert pooled["n_tasks"] == 8 and pooled["weighted_kappa_linear"] is None


def test_project_agreement_uses_ordinal_alpha_for_ratings():
    ratings = {"a": [1, 2, 3, 4, 5, 5, 2, 3], "b": [1, 3, 3, 5, 4, 5, 1, 1], "c": [2, 2, 3, 4, 5, 4, 2, 2]}
    got = quality.project_agreement(rating_answers(ratings), n_resamples=200).collect().row(0, named=True)
    table = np.array([ratings[r] for r in "abc"], dtype=float)
    assert got["krippendorff_level"] == "ordinal"
    assert got["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=table, level_of_measurement="ordinal")
    )
    assert got["krippendorff_alpha_ci_low"] < got["krippendorff_alpha"] < got["krippendorff_alpha_ci_high"]
    long = pd.DataFrame(
        [(i, r, v) for r, values in ratings.items() for i, v in enumerate(values)], columns=["item", "rater", "value"]
    )
    theirs = pingouin.intraclass_corr(long, targets="item", raters="rater", ratings="value").set_index("Type")["ICC"]
    assert (got["icc_1"], got["icc_2"], got["icc_3k"]) == pytest.approx(
        (theirs["ICC(1,1)"], theirs["ICC(A,1)"], theirs["ICC(C,k)"])
    )
    assert got["icc_2_ci_low"] < got["icc_2"] < got["icc_2_ci_high"] and got["icc_undefined_reason"] is None


def test_task_agreement_distribution_matches_numpy_quantiles():
    values = [0.1, 0.4, 0.5, 0.75, 0.9, 1.0, None]
    agreement = pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": [f"t{i}" for i in range(7)],
            "agreement": values,
            "consensus_agreement": [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, None],
        }
    )
    got = {r["measure"]: r for r in quality.task_agreement_distribution(agreement).collect().iter_rows(named=True)}
    present = [v for v in values if v is not None]
    pairwise = got["agreement"]
    assert pairwise["n_tasks"] == 6 and pairwise["mean"] == pytest.approx(np.mean(present))
    for q in (10, 25, 50, 75, 90):
        assert pairwise[f"p{q}"] == pytest.approx(np.quantile(present, q / 100))  # numpy's default is linear
    assert pairwise["share_below_half"] == pytest.approx(2 / 6) and got["consensus_agreement"][
        "share_below_half"
    ] == pytest.approx(2 / 6)
