"""Intraclass correlation: agreement of raters on numbers (Shrout & Fleiss 1979; McGraw & Wong 1996).

With n items and their ratings, from the analysis of variance of the ratings:

- ICC(1,1) = (MSB - MSW) / (MSB + (k0 - 1) MSW) and ICC(1,k) = (MSB - MSW) / MSB: one-way random effects,
  each item rated by its own raters (the usual case in labeling: three of fifty annotators per task). MSB
  and MSW are the between- and within-item mean squares; items may have different numbers of ratings, and
  k0 = (N - sum_i m_i^2 / N) / (n - 1) is their effective number (k when every item has k ratings).
- ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n), ICC(2,k) = (MSR - MSE) / (MSR + (MSC -
  MSE) / n): two-way random effects, absolute agreement; ICC(3,1) = (MSR - MSE) / (MSR + (k - 1) MSE),
  ICC(3,k) = (MSR - MSE) / MSR: two-way mixed effects, consistency. MSR, MSC, MSE are the item, rater and
  residual mean squares. These need every rater to rate every item once: otherwise they are null.

Confidence intervals are the F-distribution intervals of Shrout & Fleiss (ICC 1 and 3) and McGraw & Wong
(ICC 2, with Satterthwaite's degrees of freedom), as pingouin computes them.

Edge cases: items with one rating are left out (as Krippendorff's alpha does); a rater's several ratings of
an item are averaged; fewer than two items, no variation at all (every mean square 0), or an incomplete
design for the two-way forms give null, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.metrics.agreement import codes

ICC_FORMS = ("icc_1", "icc_2", "icc_3", "icc_1k", "icc_2k", "icc_3k")
ITEM, RATER, VALUE = "item", "rater", "value"


def intraclass_correlation(ratings: pl.DataFrame, by: Sequence[str] = (), confidence: float = 0.95) -> pl.DataFrame:
    """The six intraclass correlations with their confidence intervals, per group of `by`.

    From the analysis of variance of the ratings (module doc): ICC(1,1) = (MSB - MSW) / (MSB + (k0 - 1) MSW),
    ICC(1,k) = (MSB - MSW) / MSB (one-way random effects); ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE +
    k (MSC - MSE) / n), ICC(2,k) = (MSR - MSE) / (MSR + (MSC - MSE) / n) (two-way random, absolute
    agreement); ICC(3,1) = (MSR - MSE) / (MSR + (k - 1) MSE), ICC(3,k) = (MSR - MSE) / MSR (two-way mixed,
    consistency).

    Parameters
    ----------
    ratings : pl.DataFrame
        `by`, item, rater, value (a number): one row per rating.
    by : sequence of str, default=()
        Grouping columns; empty for the whole frame as one group.
    confidence : float, default=0.95
        The coverage of the F-distribution intervals (Shrout & Fleiss; McGraw & Wong for ICC 2).

    Returns
    -------
    pl.DataFrame
        `by`, icc_n_items, icc_n_raters, then for each form of ICC_FORMS (icc_1, icc_2, icc_3, icc_1k,
        icc_2k, icc_3k) the value, `<form>_ci_low` and `<form>_ci_high`, and icc_undefined_reason (null
        when all six are defined); one row per group.

    Notes
    -----
    Null ratings are dropped; a rater's several ratings of an item are averaged; items with one rating are
    left out. Fewer than two items, no variation at all (every mean square 0), or an incomplete design
    for the two-way forms (ICC 2 and 3 need every rater to rate every item) give null, with the reason.
    An interval with an end infinite or undefined is null (pingouin keeps the other end). Otherwise matches
    pingouin's `intraclass_corr`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.icc import intraclass_correlation
    >>> ratings = pl.DataFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4], "rater": ["a", "b", "c"] * 4,
    ...                         "value": [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0, 4.0, 5.0, 2.0, 2.0, 4.0]})
    >>> table = intraclass_correlation(ratings)
    >>> table.select(pl.col("icc_1", "icc_2", "icc_3", "icc_1k", "icc_2k", "icc_3k").round(4)).rows()
    [(0.7042, 0.7162, 0.8154, 0.8772, 0.8833, 0.9298)]
    >>> table.select(pl.col("icc_2_ci_low", "icc_2_ci_high").round(4)).rows()
    [(0.1662, 0.9756)]

    Without rater c's rating of item 4, the design is incomplete: only the one-way forms are defined.

    >>> incomplete = ratings.filter((pl.col("item") != 4) | (pl.col("rater") != "c"))
    >>> table = intraclass_correlation(incomplete)
    >>> table.select(pl.col("icc_1", "icc_2").round(4)).rows()
    [(0.8663, None)]
    >>> table.item(0, "icc_undefined_reason")
    'ICC 2 and 3 need every rater to rate every item; here raters differ between items'
    """
    by = list(by)
    rated = ratings.drop_nulls(VALUE).group_by(*by, ITEM, RATER).agg(pl.col(VALUE).mean())
    rated = rated.filter(pl.len().over(*by, ITEM) >= 2).sort(
        *by, ITEM, RATER
    )  # sums in a fixed order: the same bits every run
    rows = []
    for key, group in rated.partition_by(by, as_dict=True, maintain_order=True).items() if by else [((), rated)]:
        with np.errstate(divide="ignore", invalid="ignore"):  # an interval reaching infinity is reported as null
            rows.append(dict(zip(by, key, strict=True)) | _forms(group, 1 - confidence))
    schema = {
        **ratings.select(by).schema,
        "icc_n_items": pl.Int64,
        "icc_n_raters": pl.Int64,
        **{f"{form}{part}": pl.Float64 for form in ICC_FORMS for part in ("", "_ci_low", "_ci_high")},
        "icc_undefined_reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _forms(group: pl.DataFrame, alpha: float) -> dict:
    item, items = codes(group[ITEM])
    rater, raters = codes(group[RATER])
    values = group[VALUE].to_numpy().astype(float)
    n, k, total = len(items), len(raters), len(values)
    found = {"icc_n_items": n, "icc_n_raters": k, "icc_undefined_reason": None}
    if n < 2:
        return found | {"icc_undefined_reason": "fewer than two items have two ratings"}

    m = np.bincount(item, minlength=n).astype(float)
    item_means = np.bincount(item, weights=values, minlength=n) / m
    grand = values.mean()
    msb = (m * (item_means - grand) ** 2).sum() / (n - 1)
    msw = ((values - item_means[item]) ** 2).sum() / (total - n)
    k0 = (total - (m**2).sum() / total) / (n - 1)
    if msb + msw == 0:
        return found | {"icc_undefined_reason": "every rating is the same number: there is no variance to share"}
    icc1, icc1k = _ratio(msb - msw, msb + (k0 - 1) * msw), _ratio(msb - msw, msb)
    f1 = msb / msw if msw > 0 else np.inf
    low, high = f1 / _f_quantile(1 - alpha / 2, n - 1, total - n), f1 * _f_quantile(1 - alpha / 2, total - n, n - 1)
    found |= _with_interval("icc_1", icc1, (low - 1) / (low + k0 - 1), (high - 1) / (high + k0 - 1))
    found |= _with_interval("icc_1k", icc1k, 1 - 1 / low, 1 - 1 / high)

    if total != n * k:
        return found | {
            "icc_undefined_reason": "ICC 2 and 3 need every rater to rate every item; here raters differ between items"
        }
    table = np.empty((n, k))
    table[item, rater] = values
    rater_means = table.mean(axis=0)
    msr = k * ((item_means - grand) ** 2).sum() / (n - 1)
    msc = n * ((rater_means - grand) ** 2).sum() / (k - 1)
    mse = ((table - item_means[:, None] - rater_means[None, :] + grand) ** 2).sum() / ((n - 1) * (k - 1))
    icc2 = _ratio(msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n)
    icc3 = _ratio(msr - mse, msr + (k - 1) * mse)
    f3 = msr / mse if mse > 0 else np.inf
    df_error = (n - 1) * (k - 1)
    low, high = f3 / _f_quantile(1 - alpha / 2, n - 1, df_error), f3 * _f_quantile(1 - alpha / 2, df_error, n - 1)
    found |= _with_interval("icc_3", icc3, (low - 1) / (low + k - 1), (high - 1) / (high + k - 1))
    found |= _with_interval("icc_3k", _ratio(msr - mse, msr), 1 - 1 / low, 1 - 1 / high)
    # McGraw & Wong: Satterthwaite's degrees of freedom for the absolute-agreement interval.
    fj = msc / mse if mse > 0 else np.inf
    spread = n * (1 + (k - 1) * icc2) - k * icc2
    v = (k - 1) * (n - 1) * (k * icc2 * fj + spread) ** 2 / ((n - 1) * k**2 * icc2**2 * fj**2 + spread**2)
    upper_f, lower_f = _f_quantile(1 - alpha / 2, n - 1, v), _f_quantile(1 - alpha / 2, v, n - 1)
    low2 = n * (msr - upper_f * mse) / (upper_f * (k * msc + (k * n - k - n) * mse) + n * msr)
    high2 = n * (lower_f * msr - mse) / (k * msc + (k * n - k - n) * mse + n * lower_f * msr)
    found |= _with_interval("icc_2", icc2, low2, high2)
    found |= _with_interval(
        "icc_2k",
        _ratio(msr - mse, msr + (msc - mse) / n),
        low2 * k / (1 + low2 * (k - 1)),
        high2 * k / (1 + high2 * (k - 1)),
    )
    return found


def _f_quantile(q: float, dfn: float, dfd: float) -> float:
    """The q-quantile of the F distribution: scipy.stats.f.ppf's own computation. scipy is imported where used
    throughout gtq: it takes about a second to import, which a run that computes nothing need not pay."""
    from scipy.special import fdtri

    return fdtri(dfn, dfd, q)


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator != 0 else None


def _with_interval(form: str, value: float | None, low: float, high: float) -> dict:
    defined = value is not None and np.isfinite(low) and np.isfinite(high)
    return {
        form: value,
        f"{form}_ci_low": float(low) if defined else None,
        f"{form}_ci_high": float(high) if defined else None,
    }
