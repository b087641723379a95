"""Per-label precision, recall, F1 and confusion matrices against scikit-learn and its documented examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from pipeline.metrics.classification import confusion_matrix, label_scores

CASE = json.loads(
    (Path(__file__).parent / "reference_cases" / "per_label_precision_recall_f1_sklearn_docs.json").read_text()
)


def scores_frame(gt: list, predicted: list) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "project_id": "p",
            "task_id": [f"t{i}" for i in range(len(gt))],
            "annotation_id": [f"a{i}" for i in range(len(gt))],
            "annotator": "a",
            "origin": "human",
            "control": "c",
            "type": "choices",
            "answer_key": [str(x) for x in predicted],
            "gt_answer_key": [str(x) for x in gt],
        }
    )


NO_REGION_VALUES = pl.LazyFrame(
    schema=dict.fromkeys(
        [
            "project_id",
            "task_id",
            "annotation_id",
            "annotator",
            "origin",
            "control",
            "type",
            "region_id",
            "gt_region_id",
            "answer_key",
            "gt_answer_key",
        ],
        pl.String,
    )
)


def per_label(gt, predicted) -> dict[str, dict]:
    matrix = confusion_matrix(scores_frame(gt, predicted), NO_REGION_VALUES)
    return {r["label"]: r for r in label_scores(matrix).collect().iter_rows(named=True)}


def test_classification_report_docstring_example():
    rows = CASE["inputs"]["report_example"]
    gt = [label for _, rater, label in rows if rater == "gt"]
    predicted = [label for _, rater, label in rows if rater == "annotator"]
    got = per_label(gt, predicted)
    for label, expected in CASE["expected"]["report_example"]["per_label"].items():
        assert got[label]["precision"] == pytest.approx(expected["precision"])
        assert got[label]["recall"] == pytest.approx(expected["recall"])
        assert got[label]["f1"] == pytest.approx(expected["f1"])
        assert got[label]["support"] == expected["support"]
    macro_f1 = np.mean([got[label]["f1"] for label in got])  # the mean of per-label F1, not F1 of the means
    assert macro_f1 == pytest.approx(CASE["expected"]["report_example"]["macro"]["f1"])


def test_a_label_never_predicted_has_no_precision():
    example = CASE["inputs"]["zero_division_example"]
    got = per_label(example["gt"], example["annotator"])
    assert got["b"]["precision"] is None and got["b"]["recall"] == 0.0 and got["b"]["f1"] == 0.0
    assert got["a"]["precision"] == pytest.approx(2 / 3) and got["a"]["f1"] == pytest.approx(0.8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=50))
def test_against_scikit_learn(pairs):
    gt, predicted = map(list, zip(*pairs, strict=True))
    labels = sorted(set(gt) | set(predicted))
    p, r, f, support = precision_recall_fscore_support(gt, predicted, labels=labels, zero_division=np.nan)
    got = per_label(gt, predicted)
    for i, label in enumerate(labels):
        row = got[str(label)]
        assert row["support"] == support[i]
        for ours, theirs in ((row["precision"], p[i]), (row["recall"], r[i])):
            assert (ours is None) if np.isnan(theirs) else ours == pytest.approx(theirs)
        assert row["f1"] == pytest.approx(0.0 if np.isnan(f[i]) else f[i])  # sklearn: nan only when p or r is nan
    matrix = confusion_matrix(scores_frame(gt, predicted), NO_REGION_VALUES).collect()
    expected = sk_confusion(gt, predicted, labels=labels)
    for row in matrix.iter_rows(named=True):
        assert row["count"] == expected[labels.index(int(row["gt_label"])), labels.index(int(row["label"]))]
    assert matrix["count"].sum() == len(pairs)


def test_expected_calibration_error_hand_computed():
    from pipeline.metrics.classification import expected_calibration_error

    predictions = pl.LazyFrame(
        {"m": "x", "confidence": [0.95, 0.95, 0.15, 0.15, 1.0], "correct": [True, False, False, False, True]}
    )
    got = expected_calibration_error(predictions, ["m"]).collect().row(0, named=True)
    # top bin: confidences .95, .95, 1.0 -> mean .9667, accuracy 2/3; bin 1: .15, .15 -> accuracy 0
    expected = 3 / 5 * abs(2 / 3 - (0.95 + 0.95 + 1.0) / 3) + 2 / 5 * 0.15
    assert got["calibration_error"] == pytest.approx(expected) and got["n_predictions"] == 5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60))
def test_calibration_bins_equal_scikit_learns_calibration_curve(pairs):
    from sklearn.calibration import calibration_curve

    from pipeline.metrics.classification import calibration_bins

    pairs = [
        (c, y) for c, y in pairs if abs(c * 10 - round(c * 10)) > 1e-9 or c == 1.0
    ]  # no confidence on an inner bin edge
    if not pairs:
        return
    confidence, correct = zip(*pairs, strict=True)
    got = calibration_bins(pl.LazyFrame({"m": "x", "confidence": confidence, "correct": correct}), ["m"]).collect()
    accuracy, mean_confidence = calibration_curve(
        np.array(correct, dtype=int), np.array(confidence), n_bins=10, strategy="uniform"
    )
    assert got["accuracy"].to_list() == pytest.approx(list(accuracy))
    assert got["mean_confidence"].to_list() == pytest.approx(list(mean_confidence))
    assert got["n_predictions"].sum() == len(pairs)
