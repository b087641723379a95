"""Majority vote and Dawid-Skene against published examples (crowd-kit's toy data, Dawid & Skene 1979)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.metrics.aggregate import dawid_skene, majority_vote

CASES = Path(__file__).parent / "reference_cases"


def case(name):
    return json.loads((CASES / f"{name}.json").read_text())


def frame(rows):
    return pl.DataFrame(
        [r[:3] for r in rows], schema={"item": pl.String, "rater": pl.String, "label": pl.String}, orient="row"
    )


def test_dawid_skene_crowdkit_toy_example():
    c = case("crowdkit_toy_dawid_skene_and_accuracy_vs_gold")
    result = dawid_skene(frame(c["inputs"]["rows"]))
    assert dict(result.labels.select("item", "label").iter_rows()) == c["expected"]["dawid_skene_labels"]
    assert result.priors == pytest.approx(c["expected"]["dawid_skene_priors_converged"], abs=1e-3)


def test_dawid_skene_1979_anaesthesia_patients_with_repeated_ratings():
    c = case("dawid_skene_1979_anaesthesia_45_patients")
    rows = [
        (item, rater, str(label)) for item, rater, label, _ in c["inputs"]["rows"]
    ]  # observer 1 rated each patient 3 times
    result = dawid_skene(frame(rows))
    assert dict(result.labels.select("item", "label").iter_rows()) == {
        k: str(v) for k, v in c["expected"]["labels"].items()
    }
    assert result.priors == pytest.approx(c["expected"]["class_priors"], abs=c["tolerance"]["class_priors_abs"])
    posteriors = result.posteriors.filter(pl.col("item") == "p07").sort("label")["probability"].to_list()
    assert posteriors == pytest.approx(
        c["expected"]["posteriors_for_ambiguous_patients"]["p07"], abs=c["tolerance"]["posteriors_abs"]
    )
    observer1 = result.confusion.filter(pl.col("rater") == "obs1").sort("true_label", "label")["probability"].to_list()
    expected = [x for row in c["expected"]["observer1_error_rates_rows_true_cols_response"] for x in row]
    assert observer1 == pytest.approx(expected, abs=0.01)


def test_majority_vote_reports_ties_instead_of_breaking_them():
    c = case("dawid_skene_1979_anaesthesia_45_patients")
    rows = [(item, rater, str(label)) for item, rater, label, _ in c["inputs"]["rows"]]
    votes = majority_vote(frame(rows).lazy()).collect()
    disagreements = c["expected"]["majority_vote_disagrees_with_ds_on"]
    for patient in ("p02", "p36"):  # clear majorities that Dawid-Skene overrules
        row = votes.filter(pl.col("item") == patient).row(0, named=True)
        assert row["majority"] == str(disagreements[patient]["majority_vote"]) and not row["tied"]
    p12 = votes.filter(pl.col("item") == "p12").row(0, named=True)  # 3 votes for 2, 3 for 3: the paper's
    assert p12["tied"] and p12["majority"] is None  # "majority" 2 broke a tie; gtq reports it
    tie = majority_vote(frame([("x", "a", "cat"), ("x", "b", "dog")]).lazy()).collect().row(0, named=True)
    assert tie["tied"] and tie["majority"] is None and tie["majority_share"] == 0.5


# crowd-kit's own Dawid-Skene tests (Toloka/crowd-kit, tests/aggregation/test_ds_aggregation.py): the state
# after 0 and 1 EM iterations (test_dawid_skene_step_by_step, atol 0.005), where probabilities, priors and
# error rates must describe one and the same iteration.
CROWDKIT_DATA = [
    *[("t1", w, label) for w, label in (("w1", "no"), ("w2", "yes"), ("w4", "yes"), ("w5", "no"))],
    *[("t2", w, label) for w, label in (("w1", "yes"), ("w2", "yes"), ("w3", "yes"), ("w4", "no"), ("w5", "no"))],
    *[("t3", w, label) for w, label in (("w1", "yes"), ("w2", "no"), ("w3", "no"), ("w4", "yes"), ("w5", "no"))],
    *[("t4", w, "yes") for w in ("w1", "w2", "w3", "w4", "w5")],
    *[("t5", w, label) for w, label in (("w1", "yes"), ("w2", "no"), ("w3", "no"), ("w4", "no"), ("w5", "no"))],
]
CROWDKIT_STEPS = {
    0: {
        "probas_no": {"t1": 0.5, "t2": 0.4, "t3": 0.6, "t4": 0.0, "t5": 0.8},
        "priors": {"no": 0.46, "yes": 0.54},
        "labels": {"t2": "yes", "t3": "no", "t4": "yes", "t5": "no"},  # t1 is a 0.5/0.5 tie: crowd-kit takes "no"
        # (worker, observed): P(observed | true no), P(observed | true yes)
        "errors": {
            ("w1", "no"): (0.22, 0.19),
            ("w1", "yes"): (0.78, 0.81),
            ("w2", "no"): (0.61, 0.22),
            ("w2", "yes"): (0.39, 0.78),
            ("w3", "no"): (0.78, 0.27),
            ("w3", "yes"): (0.22, 0.73),
            ("w4", "no"): (0.52, 0.30),
            ("w4", "yes"): (0.48, 0.70),
            ("w5", "no"): (1.00, 0.63),
            ("w5", "yes"): (0.00, 0.37),
        },
    },
    1: {
        "probas_no": {"t1": 0.35, "t2": 0.26, "t3": 0.87, "t4": 0.0, "t5": 0.95},
        "priors": {"no": 0.49, "yes": 0.51},
        "labels": {"t1": "yes", "t2": "yes", "t3": "no", "t4": "yes", "t5": "no"},
        "errors": {
            ("w1", "no"): (0.14, 0.25),
            ("w1", "yes"): (0.86, 0.75),
            ("w2", "no"): (0.75, 0.07),
            ("w2", "yes"): (0.25, 0.93),
            ("w3", "no"): (0.87, 0.09),
            ("w3", "yes"): (0.13, 0.91),
            ("w4", "no"): (0.50, 0.31),
            ("w4", "yes"): (0.50, 0.69),
            ("w5", "no"): (1.00, 0.61),
            ("w5", "yes"): (0.00, 0.39),
        },
    },
}


@pytest.mark.parametrize("iterations", [0, 1])
def test_dawid_skene_step_by_step_as_crowd_kit(iterations):
    expected = CROWDKIT_STEPS[iterations]
    result = dawid_skene(frame(CROWDKIT_DATA), max_iter=iterations, tol=0.0)
    assert result.iterations == iterations
    probas = dict(result.posteriors.filter(pl.col("label") == "no").select("item", "probability").iter_rows())
    assert probas == pytest.approx(expected["probas_no"], abs=0.005)
    assert result.priors == pytest.approx(expected["priors"], abs=0.005)
    labels = dict(result.labels.select("item", "label").iter_rows())
    assert {item: labels[item] for item in expected["labels"]} == expected["labels"]
    errors = {
        (r["rater"], r["label"], r["true_label"]): r["probability"] for r in result.confusion.iter_rows(named=True)
    }
    for (worker, observed), (given_no, given_yes) in expected["errors"].items():
        assert errors[worker, observed, "no"] == pytest.approx(given_no, abs=0.005), (worker, observed)
        assert errors[worker, observed, "yes"] == pytest.approx(given_yes, abs=0.005), (worker, observed)


@pytest.mark.parametrize("overlap", [3, 300])
def test_dawid_skene_keeps_a_symmetric_crowd_at_its_vote_shares(overlap):
    """crowd-kit's test_dawid_skene_overlap: every task gets 1/3 "no" from a rotating third of the workers."""
    rows = [
        (str(task), f"w{worker}", "yes" if (worker - task) % 3 else "no")
        for worker in range(overlap)
        for task in range(3)
    ]
    result = dawid_skene(frame(rows), max_iter=20)
    assert result.posteriors.filter(pl.col("label") == "yes")["probability"].to_list() == pytest.approx(
        [2 / 3] * 3, abs=0.005
    )
    assert result.labels["label"].to_list() == ["yes"] * 3
    assert result.priors == pytest.approx({"no": 1 / 3, "yes": 2 / 3}, abs=0.005)


def test_dawid_skene_on_no_ratings_is_empty():
    result = dawid_skene(frame([]))
    assert (
        result.labels.is_empty()
        and result.posteriors.is_empty()
        and result.confusion.is_empty()
        and result.priors == {}
    )
