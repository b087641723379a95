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
    return pl.DataFrame([r[:3] for r in rows], schema={"item": pl.String, "rater": pl.String, "label": pl.String}, orient="row")


def test_dawid_skene_crowdkit_toy_example():
    c = case("crowdkit_toy_dawid_skene_and_accuracy_vs_gold")
    result = dawid_skene(frame(c["inputs"]["rows"]))
    assert dict(result.labels.select("item", "label").iter_rows()) == c["expected"]["dawid_skene_labels"]
    assert result.priors == pytest.approx(c["expected"]["dawid_skene_priors_converged"], abs=1e-3)


def test_dawid_skene_1979_anaesthesia_patients_with_repeated_ratings():
    c = case("dawid_skene_1979_anaesthesia_45_patients")
    rows = [(item, rater, str(label)) for item, rater, label, _ in c["inputs"]["rows"]]  # observer 1 rated each patient 3 times
    result = dawid_skene(frame(rows))
    assert dict(result.labels.select("item", "label").iter_rows()) == {k: str(v) for k, v in c["expected"]["labels"].items()}
    assert result.priors == pytest.approx(c["expected"]["class_priors"], abs=c["tolerance"]["class_priors_abs"])
    posteriors = result.posteriors.filter(pl.col("item") == "p07").sort("label")["probability"].to_list()
    assert posteriors == pytest.approx(c["expected"]["posteriors_for_ambiguous_patients"]["p07"], abs=c["tolerance"]["posteriors_abs"])
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
