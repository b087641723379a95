"""Intraclass correlation against Shrout & Fleiss's published example and against pingouin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.metrics.icc import ICC_FORMS, intraclass_correlation

# Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability", Psychological
# Bulletin 86(2), Table 2: six targets rated by four judges; Table 4 gives the six ICCs to two decimals.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
SHROUT_FLEISS_ICC = {"icc_1": 0.17, "icc_2": 0.29, "icc_3": 0.71, "icc_1k": 0.44, "icc_2k": 0.62, "icc_3k": 0.91}
PINGOUIN_TYPE = {
    "icc_1": "ICC(1,1)",
    "icc_2": "ICC(A,1)",
    "icc_3": "ICC(C,1)",
    "icc_1k": "ICC(1,k)",
    "icc_2k": "ICC(A,k)",
    "icc_3k": "ICC(C,k)",
}


def ratings(table) -> pl.DataFrame:
    rows = [(f"t{i}", f"j{j}", float(v)) for i, row in enumerate(table) for j, v in enumerate(row) if v is not None]
    return pl.DataFrame(rows, schema={"item": pl.String, "rater": pl.String, "value": pl.Float64}, orient="row")


def test_shrout_and_fleiss_published_example():
    got = intraclass_correlation(ratings(SHROUT_FLEISS)).row(0, named=True)
    assert {form: round(got[form], 2) for form in ICC_FORMS} == SHROUT_FLEISS_ICC
    assert (got["icc_n_items"], got["icc_n_raters"], got["icc_undefined_reason"]) == (6, 4, None)


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 12), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_every_form_and_interval_equals_pingouin(n_items, n_raters, seed):
    rng = np.random.default_rng(seed)
    table = np.round(rng.normal(0, 1, (n_items, 1)) * rng.uniform(0, 3) + rng.normal(0, 1, (n_items, n_raters)), 1)
    got = intraclass_correlation(ratings(table)).row(0, named=True)
    long = pd.DataFrame(
        [(i, j, v) for i, row in enumerate(table) for j, v in enumerate(row)], columns=["item", "rater", "value"]
    )
    theirs = pingouin.intraclass_corr(long, targets="item", raters="rater", ratings="value").set_index("Type")
    for form, name in PINGOUIN_TYPE.items():
        assert got[form] == pytest.approx(theirs.loc[name, "ICC"], abs=1e-9), form
        low, high = theirs.loc[name, "CI95"]  # pingouin rounds its interval to 2 decimals
        if not (np.isfinite(low) and np.isfinite(high)):  # an end undefined (few items: Satterthwaite's df <= 0)
            assert (got[f"{form}_ci_low"], got[f"{form}_ci_high"]) == (None, None), form  # gtq: no interval
            continue
        assert (got[f"{form}_ci_low"], got[f"{form}_ci_high"]) == (
            pytest.approx(low, abs=0.005 + 1e-9),
            pytest.approx(high, abs=0.005 + 1e-9),
        ), form


def test_raters_that_differ_between_items_give_the_one_way_forms_only():
    """Three items rated by different pairs of annotators: ICC(1) is defined (Shrout & Fleiss's case 1),
    the two-way forms are not; the unbalanced one-way ICC uses k0, here 7/3 ratings per item."""
    table = [[1.0, 2.0, None, None], [None, 4.0, 5.0, None], [7.0, None, 8.0, 9.0]]
    got = intraclass_correlation(ratings(table)).row(0, named=True)
    values = [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0, 9.0]]
    grand = np.mean([v for row in values for v in row])
    msb = sum(len(r) * (np.mean(r) - grand) ** 2 for r in values) / 2
    msw = sum(((np.array(r) - np.mean(r)) ** 2).sum() for r in values) / (7 - 3)
    k0 = (7 - (4 + 4 + 9) / 7) / 2
    assert got["icc_1"] == pytest.approx((msb - msw) / (msb + (k0 - 1) * msw)) and got["icc_1k"] == pytest.approx(
        (msb - msw) / msb
    )
    assert got["icc_2"] is None and got["icc_3k"] is None and "every rater" in got["icc_undefined_reason"]


def test_no_variance_and_single_items_are_null_with_a_reason():
    same = intraclass_correlation(ratings([[3, 3], [3, 3]])).row(0, named=True)
    assert all(same[form] is None for form in ICC_FORMS) and "same number" in same["icc_undefined_reason"]
    one = intraclass_correlation(ratings([[1, 2], [5, None]])).row(0, named=True)  # item 2 has one rating
    assert one["icc_n_items"] == 1 and one["icc_1"] is None and "two items" in one["icc_undefined_reason"]
