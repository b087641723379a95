"""Agreement metrics against published worked examples and against trusted implementations."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from pipeline.metrics.agreement import (
    KRIPPENDORFF_LEVELS,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    landis_koch,
    rater_pairs,
)

CASES = Path(__file__).parent / "reference_cases"


def case(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text())


def ratings(rows, label_type=pl.String) -> pl.LazyFrame:
    return pl.LazyFrame(
        [r[:3] for r in rows], schema={"item": pl.String, "rater": pl.String, "label": label_type}, orient="row"
    )


def two_rater_kappa(rows) -> dict:
    pairs = rater_pairs(ratings(rows)).filter(pl.col("rater_a") < pl.col("rater_b"))
    return cohen_kappa(pairs, ["rater_a", "rater_b"]).collect().row(0, named=True)


# --- published examples ----------------------------------------------------------------------------


def test_cohen_kappa_sklearn_docstring():
    c = case("cohen_kappa_sklearn_docstring_strings")
    assert two_rater_kappa(c["inputs"]["rows"])["cohen_kappa"] == pytest.approx(c["expected"]["kappa"], abs=1e-9)


@pytest.mark.parametrize("subcase", ["binary", "multiclass"])
def test_cohen_kappa_artstein_poesio(subcase):
    c = case("cohen_kappa_artstein_poesio")
    got = two_rater_kappa(c["inputs"][subcase]["rows"])["cohen_kappa"]
    assert got == pytest.approx(c["expected"][f"{subcase}_kappa"], abs=c["tolerance"]["abs"])


def test_two_rater_gwet_table_cohen_alpha_and_percent_agreement():
    c = case("two_rater_cont3x3abstractors_gwet")
    rows = c["inputs"]["rows"]
    got = two_rater_kappa(rows)
    assert got["agreement"] == pytest.approx(c["expected"]["percent_agreement"], abs=1e-9)
    assert got["cohen_kappa"] == pytest.approx(c["expected"]["cohen_kappa"], abs=1e-6)
    alpha = krippendorff_alpha(ratings(rows)).collect().item()
    assert alpha == pytest.approx(c["expected"]["krippendorff_alpha_nominal"], abs=1e-6)


def test_fleiss_wikipedia_example():
    c = case("fleiss_wikipedia_10x14")
    got = fleiss_kappa(ratings(c["inputs"]["rows"])).collect().row(0, named=True)
    assert got["fleiss_kappa"] == pytest.approx(c["expected"]["fleiss_kappa"], abs=1e-9)
    assert got["percent_agreement"] == pytest.approx(c["expected"]["P_bar"], abs=1e-9)
    assert (got["n_items"], got["n_raters"], got["n_ratings"]) == (10, 14, 140)


@pytest.mark.parametrize(
    "subcase", ["all_same_category", "two_subjects_mixed", "perfect_two_categories", "unused_third_category"]
)
def test_fleiss_edge_cases(subcase):
    c = case("fleiss_randolph_edge_cases")
    expected = c["expected"][subcase]["fleiss_kappa"]
    got = fleiss_kappa(ratings(c["inputs"]["subcases"][subcase]["rows"])).collect()["fleiss_kappa"].item()
    if expected is None:
        assert got is None  # 0/0: null, never NaN, 0 or 1
    else:
        assert got == pytest.approx(expected, abs=c["tolerance"]["abs"])


def test_krippendorff_wikipedia_example_with_missing_ratings():
    c = case("krippendorff_alpha_wikipedia_3coders_15units")
    rows = c["inputs"]["rows"]
    assert krippendorff_alpha(ratings(rows)).collect().item() == pytest.approx(c["expected"]["nominal"], abs=1e-9)
    assert krippendorff_alpha(ratings(rows), level="interval").collect().item() == pytest.approx(
        c["expected"]["interval"], abs=1e-9
    )


# --- undefined and degenerate cases -------------------------------------------------------------


def test_every_rating_the_same_label_is_null_everywhere():
    rows = [(f"i{i}", r, "A") for i in range(4) for r in ("x", "y", "z")]
    assert fleiss_kappa(ratings(rows)).collect()["fleiss_kappa"].item() is None
    assert krippendorff_alpha(ratings(rows)).collect().item() is None
    pair = two_rater_kappa([r for r in rows if r[1] != "z"])
    assert pair["agreement"] == 1.0 and pair["cohen_kappa"] is None


def test_single_rater_has_no_pairable_item():
    rows = [(f"i{i}", "only", "AB"[i % 2]) for i in range(5)]
    got = fleiss_kappa(ratings(rows)).collect().row(0, named=True)
    assert got["n_items"] == 0 and got["fleiss_kappa"] is None and got["percent_agreement"] is None
    assert krippendorff_alpha(ratings(rows)).collect().item() is None
    assert rater_pairs(ratings(rows)).collect().is_empty()


def test_groups_are_computed_independently():
    rows = case("fleiss_wikipedia_10x14")["inputs"]["rows"]
    frame = pl.concat([ratings(rows).with_columns(pl.lit(g).alias("group")) for g in ("a", "b")])
    got = fleiss_kappa(frame, ["group"]).collect().sort("group")
    assert got["fleiss_kappa"].to_list() == pytest.approx([0.20993070442195522] * 2, abs=1e-9)


# --- against scikit-learn, statsmodels and krippendorff on random data ----------------------------


def assert_same(got, expected):
    """A library's NaN (undefined) is gtq's null; any other value must agree to 1e-9."""
    if np.isnan(expected):
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=60),
)
def test_cohen_kappa_matches_scikit_learn(labels):
    a, b = map(list, zip(*labels, strict=True))
    expected = cohen_kappa_score(a, b)
    rows = [(f"i{i}", "a", str(x)) for i, x in enumerate(a)] + [(f"i{i}", "b", str(y)) for i, y in enumerate(b)]
    got = two_rater_kappa(rows)["cohen_kappa"]
    assert_same(got, expected)


@settings(max_examples=40, deadline=None)
@given(
    n_items=st.integers(2, 30),
    n_raters=st.integers(2, 7),
    n_categories=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_fleiss_kappa_matches_statsmodels(n_items, n_raters, n_categories, seed):
    table = np.random.default_rng(seed).integers(0, n_categories, (n_items, n_raters))
    expected = statsmodels_fleiss(aggregate_raters(table)[0])
    rows = [(f"i{i}", f"r{r}", str(table[i, r])) for i in range(n_items) for r in range(n_raters)]
    got = fleiss_kappa(ratings(rows)).collect()["fleiss_kappa"].item()
    assert_same(got, expected)


@settings(max_examples=40, deadline=None)
@given(
    n_items=st.integers(2, 30),
    n_raters=st.integers(2, 6),
    n_categories=st.integers(2, 5),
    missing=st.floats(0, 0.6),
    level=st.sampled_from(KRIPPENDORFF_LEVELS),
    seed=st.integers(0, 2**32 - 1),
)
def test_krippendorff_alpha_matches_krippendorff_package_with_missing_ratings(
    n_items, n_raters, n_categories, missing, level, seed
):
    rng = np.random.default_rng(seed)
    scale = np.sort(rng.choice(20, n_categories, replace=False)).astype(float)  # uneven steps: ordinal != interval
    table = scale[rng.integers(0, n_categories, (n_raters, n_items))]
    table[rng.random(table.shape) < missing] = np.nan
    rows = [
        (f"i{i}", f"r{r}", table[r, i]) for r in range(n_raters) for i in range(n_items) if not np.isnan(table[r, i])
    ]
    got = krippendorff_alpha(ratings(rows, pl.Float64), level=level).collect()["krippendorff_alpha"]
    if not rows:
        assert got.is_empty()  # no rating at all: no group to report
        return
    values_in_pairable_units = [
        table[~np.isnan(table[:, i]), i] for i in range(n_items) if (~np.isnan(table[:, i])).sum() >= 2
    ]
    if not values_in_pairable_units or len(set(np.concatenate(values_in_pairable_units))) < 2:
        assert got.item() is None  # the package raises here: nothing to compare or one value only
        return
    expected = krippendorff.alpha(reliability_data=table, level_of_measurement=level)
    assert got.item() == pytest.approx(expected, abs=1e-9)


def test_generalised_fleiss_with_unequal_raters_per_item():
    """Hand-computed: items with 3, 2 and 1 ratings; the single rating counts only in the category shares."""
    rows = [("i1", "a", "x"), ("i1", "b", "x"), ("i1", "c", "y"), ("i2", "a", "y"), ("i2", "b", "y"), ("i3", "a", "x")]
    got = fleiss_kappa(ratings(rows)).collect().row(0, named=True)
    p_bar = (2 / 6 + 2 / 2) / 2  # item 1: x,x pair agrees (2 of 6 ordered pairs); item 2: all agree
    p_e = (5 / 9) ** 2 + (4 / 9) ** 2  # each item's shares, averaged: x (2/3 + 0 + 1) / 3, y (1/3 + 1 + 0) / 3
    assert got["n_items"] == 2 and got["n_ratings"] == 6
    assert got["fleiss_kappa"] == pytest.approx((p_bar - p_e) / (1 - p_e), abs=1e-12)


def test_irrcac_four_raters_with_missing_ratings():
    """Fleiss' kappa, AC1 and alpha as irrCAC reports them on its own dataset (Gwet's generalisation:
    Fleiss and AC1 share one chance model, each item's label shares averaged over the items)."""
    c = case("irrcac_cac_raw4raters")
    rows = [(item, rater, str(label)) for item, rater, label in c["inputs"]["rows"]]
    got = fleiss_kappa(ratings(rows)).collect().row(0, named=True)
    assert got["percent_agreement"] == pytest.approx(c["expected"]["percent_agreement"], abs=c["tolerance"])
    assert got["fleiss_kappa"] == pytest.approx(c["expected"]["fleiss_kappa"], abs=c["tolerance"])
    assert gwet_ac1(ratings(rows)).collect().item() == pytest.approx(c["expected"]["gwet_ac1"], abs=c["tolerance"])
    assert krippendorff_alpha(ratings(rows)).collect().item() == pytest.approx(
        c["expected"]["krippendorff_alpha"], abs=c["tolerance"]
    )


def test_gwet_ac1_published_two_rater_example():
    c = case("two_rater_cont3x3abstractors_gwet")
    got = gwet_ac1(ratings(c["inputs"]["rows"])).collect().item()
    assert got == pytest.approx(c["expected"]["gwet_ac1"], abs=1e-6)


def test_gwet_ac1_is_stable_when_one_category_dominates_and_null_with_one_category():
    rows = [(f"i{i}", r, "A") for i in range(20) for r in ("x", "y")] + [("i20", "x", "A"), ("i20", "y", "B")]
    kappa = fleiss_kappa(ratings(rows)).collect()["fleiss_kappa"].item()
    ac1 = gwet_ac1(ratings(rows)).collect().item()
    assert kappa < 0 < 0.9 < ac1  # the kappa paradox: 95% agreement, negative kappa; AC1 stays high
    assert gwet_ac1(ratings([(f"i{i}", r, "A") for i in range(3) for r in "xy"])).collect().item() is None


@pytest.mark.parametrize(
    "probe", json.loads((CASES / "landis_koch_interpretation_bands.json").read_text())["expected"]["labels"].items()
)
def test_landis_koch_bands(probe):
    value, label = probe
    got = pl.select(landis_koch(pl.lit(float(value.split()[0])))).item()
    assert got == label
    assert pl.select(landis_koch(pl.lit(None, pl.Float64))).item() is None


# --- weighted kappa ---------------------------------------------------------------------------------


def weighted_kappa(rows, weights, scale=None) -> float | None:
    """Two raters' weighted kappa with labels replaced by their position on `scale` (default: as given)."""
    position = {label: i for i, label in enumerate(scale)} if scale else None
    frame = ratings([(i, r, float(position[x] if position else x)) for i, r, x in rows], pl.Float64)
    pairs = rater_pairs(frame).filter(pl.col("rater_a") < pl.col("rater_b"))
    return cohen_kappa(pairs, ["rater_a", "rater_b"], weights=weights).collect()["cohen_kappa"].item()


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_scikit_learn_example(weights):
    c = case("cohen_kappa_weighted_sklearn")
    assert weighted_kappa(c["inputs"]["rows"], weights) == pytest.approx(c["expected"][weights], abs=1e-9)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_irr_anxiety_on_the_declared_scale_and_on_the_observed_one(weights):
    """gtq uses the declared scale (1..6: the unused 5 is still a step); irr and scikit-learn's default
    drop unused levels, which is the same as declaring only the observed categories."""
    c = case("cohen_kappa_weighted_irr_anxiety")
    rows = c["inputs"]["rows"]
    assert weighted_kappa(rows, weights, scale=[1, 2, 3, 4, 5, 6]) == pytest.approx(
        c["expected"][f"{weights}_full_scale_1_to_6"], abs=1e-9
    )
    observed = c["inputs"]["observed_categories"]
    assert weighted_kappa(rows, weights, scale=observed) == pytest.approx(
        c["expected"][f"{weights}_observed_categories_only"], abs=1e-9
    )
    assert weighted_kappa(rows, None) == pytest.approx(c["expected"]["unweighted"], abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=60),
    weights=st.sampled_from(["linear", "quadratic"]),
)
def test_weighted_kappa_matches_scikit_learn(labels, weights):
    a, b = map(list, zip(*labels, strict=True))
    expected = cohen_kappa_score(a, b, weights=weights, labels=list(range(5)))
    rows = [(f"i{i}", "a", x) for i, x in enumerate(a)] + [(f"i{i}", "b", y) for i, y in enumerate(b)]
    assert_same(weighted_kappa(rows, weights), expected)


def test_large_counts_do_not_overflow():
    """70,000 tasks in one category: squared counts pass 2^32, which broke a 32-bit count once."""
    rng = np.random.default_rng(5)
    labels = np.where(rng.random((2, 70_000)) < 0.95, 1.0, 2.0)
    rows = [(f"i{i}", f"r{r}", str(int(labels[r, i]))) for r in range(2) for i in range(70_000)]
    got = krippendorff_alpha(ratings(rows)).collect().item()
    assert got == pytest.approx(krippendorff.alpha(reliability_data=labels, level_of_measurement="nominal"), abs=1e-9)
