"""Bootstrap intervals: each replicate is the statistic of a real resample, and the intervals agree with scipy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import bootstrap
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from pipeline.metrics.agreement import (
    KRIPPENDORFF_LEVELS,
    count_matrices,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    statistics,
)
from pipeline.metrics.bootstrap import agreement_intervals


def random_ratings(
    rng: np.random.Generator, n_items: int, n_raters: int, n_categories: int, missing: float
) -> pl.DataFrame:
    scale = np.sort(rng.choice(10, n_categories, replace=False)).astype(float)
    rows = [
        (f"i{i:03d}", f"r{r}", scale[rng.integers(n_categories)])
        for i in range(n_items)
        for r in range(n_raters)
        if rng.random() >= missing
    ]
    return pl.DataFrame(rows, schema={"item": pl.String, "rater": pl.String, "label": pl.Float64}, orient="row")


@settings(max_examples=40, deadline=None)
@given(
    n_items=st.integers(2, 12),
    n_raters=st.integers(2, 5),
    n_categories=st.integers(1, 4),
    missing=st.floats(0, 0.5),
    level=st.sampled_from(KRIPPENDORFF_LEVELS),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_replicate_is_the_statistic_of_the_materialised_resample(
    n_items, n_raters, n_categories, missing, level, seed
):
    rng = np.random.default_rng(seed)
    ratings = random_ratings(rng, n_items, n_raters, n_categories, missing)
    if ratings.is_empty():
        return
    [group] = count_matrices(ratings)
    counts, labels, items = group.counts, group.labels, group.items.to_numpy()
    multiplicity = rng.integers(0, 3, len(items))
    if multiplicity.sum() == 0:
        return
    found = statistics(counts, multiplicity[None, :].astype(float), level, labels.to_numpy())
    got = {name: found[name][0] for name in ("fleiss_kappa", "gwet_ac1", "krippendorff_alpha")}
    resample = pl.concat(
        [
            ratings.filter(pl.col("item") == item).with_columns(item=pl.lit(f"{item}#{copy}"))
            for item, w in zip(items, multiplicity, strict=True)
            for copy in range(w)
        ]
    ).lazy()
    expected = {
        "fleiss_kappa": fleiss_kappa(resample).collect()["fleiss_kappa"].item(),
        "gwet_ac1": gwet_ac1(resample).collect()["gwet_ac1"].item(),
        "krippendorff_alpha": krippendorff_alpha(resample, level=level).collect()["krippendorff_alpha"].item(),
    }
    for name, value in expected.items():
        if value is None:
            assert np.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(value, abs=1e-9), name


def test_fleiss_interval_agrees_with_scipy_percentile_bootstrap():
    rng = np.random.default_rng(11)
    table = np.where(
        rng.random((120, 4)) < 0.7, rng.integers(0, 3, (120, 1)), rng.integers(0, 3, (120, 4))
    )  # agreeing raters
    ratings = pl.DataFrame(
        [(f"i{i:03d}", f"r{r}", float(table[i, r])) for i in range(120) for r in range(4)],
        schema=["item", "rater", "label"],
        orient="row",
    ).with_columns(group=pl.lit("g"))
    got = agreement_intervals(ratings, ["group"], n_resamples=4000, seed=1).row(0, named=True)
    counts = aggregate_raters(table)[0]
    reference = bootstrap(
        (np.arange(120),),
        lambda idx: statsmodels_fleiss(counts[idx]),
        method="percentile",
        n_resamples=4000,
        vectorized=False,
        random_state=2,
    ).confidence_interval
    assert got["fleiss_kappa_ci_low"] == pytest.approx(reference.low, abs=0.02)
    assert got["fleiss_kappa_ci_high"] == pytest.approx(reference.high, abs=0.02)
    point = statsmodels_fleiss(counts)
    assert got["fleiss_kappa_ci_low"] < point < got["fleiss_kappa_ci_high"]


def test_intervals_are_seeded_and_null_when_undefined():
    rng = np.random.default_rng(3)
    ratings = random_ratings(rng, 30, 3, 3, 0.1).with_columns(group=pl.lit("g"))
    first = agreement_intervals(ratings, ["group"], n_resamples=200, seed=7)
    assert first.equals(agreement_intervals(ratings, ["group"], n_resamples=200, seed=7))
    assert not first.equals(agreement_intervals(ratings, ["group"], n_resamples=200, seed=8))
    one_label = ratings.with_columns(label=pl.lit(1.0))
    undefined = agreement_intervals(one_label, ["group"], n_resamples=50).row(0, named=True)
    assert undefined["fleiss_kappa_ci_low"] is None and undefined["krippendorff_alpha_ci_high"] is None
