"""Chance-corrected agreement on categorical ratings, vectorised over many groups at once.

Every function takes a long frame of ratings, one row per (item, rater, label) with optional grouping
columns `by` (for example project and control), and returns one row per group. A missing rating is an
absent row, never a category. Undefined values (0/0) are null, never 0, 1 or NaN.

Conventions match the reference implementations the tests compare against: scikit-learn's
`cohen_kappa_score`, statsmodels' `fleiss_kappa` and the `krippendorff` package.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

ITEM, RATER, LABEL = "item", "rater", "label"

# Expected agreement this close to 1 means "every rating has the same label": chance correction is 0/0.
_DEGENERATE = 1e-12


def chance_corrected(observed: pl.Expr, expected: pl.Expr) -> pl.Expr:
    """(observed - expected) / (1 - expected), null when expected agreement is 1 (the 0/0 case)."""
    return pl.when(expected < 1 - _DEGENERATE).then((observed - expected) / (1 - expected))


def rater_pairs(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Every ordered pair of distinct raters on the items both rated, with both labels.

    Returns `by`, item, rater_a, rater_b, label_a, label_b. Each rater must rate an item at most once.
    """
    keys = [*by, ITEM]
    left = ratings.select(*keys, pl.col(RATER).alias("rater_a"), pl.col(LABEL).alias("label_a"))
    right = ratings.select(*keys, pl.col(RATER).alias("rater_b"), pl.col(LABEL).alias("label_b"))
    return left.join(right, on=keys).filter(pl.col("rater_a") != pl.col("rater_b"))


def cohen_kappa(pairs: pl.LazyFrame, by: Sequence[str], a: str = "label_a", b: str = "label_b") -> pl.LazyFrame:
    """Cohen's kappa of two label columns over the paired items of each group.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the share of items where a == b and
    p_e = sum_k n_a(k) * n_b(k) / n^2 from each side's own label frequencies (Cohen 1960).
    Returns `by`, n_items, agreement (p_o), cohen_kappa. Edge cases: a group with no paired item has no
    row; p_e = 1 (both sides always give the same single label) gives a null kappa.
    """
    pairs, by = _keyed(pairs, by)
    observed = pairs.group_by(by).agg(
        pl.len().alias("n_items"),
        (pl.col(a) == pl.col(b)).mean().alias("agreement"),
    )
    side_a = pairs.group_by([*by, a]).agg(pl.len().alias("n_a"))
    side_b = pairs.group_by([*by, b]).agg(pl.len().alias("n_b"))
    expected = (
        side_a.join(side_b, left_on=[*by, a], right_on=[*by, b])
        .group_by(by)
        .agg((pl.col("n_a") * pl.col("n_b")).sum().alias("n_ab"))
    )
    return (
        observed.join(expected, on=by, how="left", nulls_equal=True)
        .with_columns((pl.col("n_ab").fill_null(0) / pl.col("n_items") ** 2).alias("expected"))
        .select(
            *by,
            "n_items",
            "agreement",
            chance_corrected(pl.col("agreement"), pl.col("expected")).alias("cohen_kappa"),
        )
        .select(pl.exclude(_WHOLE))
    )


def _label_counts(ratings: pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    """n_ik: how many ratings item i got in category k, with m_i, the item's number of ratings."""
    return (
        ratings.group_by([*by, ITEM, LABEL])
        .agg(pl.len().alias("n_ik"))
        .with_columns(pl.col("n_ik").sum().over([*by, ITEM]).alias("m_i"))
    )


def fleiss_kappa(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Fleiss' kappa, generalised to a number of ratings that differs per item.

    P_i = sum_k n_ik (n_ik - 1) / (m_i (m_i - 1)) is item i's share of agreeing rating pairs, averaged
    over the items with m_i >= 2 ratings into P_bar (items with one rating have no pair). The chance
    term P_e = sum_k p_k^2 takes the category shares p_k over all ratings. kappa = (P_bar - P_e) / (1 - P_e).
    With a constant number of raters this is Fleiss (1971) exactly.

    Returns `by`, n_items (items with >= 2 ratings), n_raters, n_ratings, percent_agreement (P_bar),
    fleiss_kappa. Null kappa when no item has two ratings or every rating has the same label.
    """
    ratings, by = _keyed(ratings, by)
    counts = _label_counts(ratings, by)
    pairable = counts.filter(pl.col("m_i") >= 2)
    per_item = pairable.group_by([*by, ITEM]).agg(
        ((pl.col("n_ik") * (pl.col("n_ik") - 1)).sum() / (pl.col("m_i") * (pl.col("m_i") - 1)).first()).alias("p_i")
    )
    observed = per_item.group_by(by).agg(pl.len().alias("n_items"), pl.col("p_i").mean().alias("percent_agreement"))
    shares = counts.group_by([*by, LABEL]).agg(pl.col("n_ik").sum().alias("n_k"))
    expected = shares.group_by(by).agg(
        ((pl.col("n_k") / pl.col("n_k").sum()) ** 2).sum().alias("expected"),
        pl.col("n_k").sum().alias("n_ratings"),
    )
    raters = ratings.group_by(by).agg(pl.col(RATER).n_unique().alias("n_raters"))
    return (
        raters.join(expected, on=by, nulls_equal=True)
        .join(observed, on=by, how="left", nulls_equal=True)
        .select(
            *by,
            pl.col("n_items").fill_null(0),
            "n_raters",
            "n_ratings",
            "percent_agreement",
            chance_corrected(pl.col("percent_agreement"), pl.col("expected")).alias("fleiss_kappa"),
        )
        .select(pl.exclude(_WHOLE))
    )


def gwet_ac1(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Gwet's AC1, the chance-corrected agreement that stays stable when one category dominates.

    p_a is Fleiss' P_bar (items with >= 2 ratings); the chance term is
    p_e = sum_k pi_k (1 - pi_k) / (q - 1), with pi_k the mean over rated items of each item's share of
    ratings in category k and q the number of categories used (Gwet 2008; irrCAC's `gwet.ac1.raw`).
    AC1 = (p_a - p_e) / (1 - p_e). Returns `by`, gwet_ac1; null when no item has two ratings or only
    one category is used (q = 1).
    """
    ratings, by = _keyed(ratings, by)
    counts = _label_counts(ratings, by)
    observed = (
        counts.filter(pl.col("m_i") >= 2)
        .group_by([*by, ITEM])
        .agg(((pl.col("n_ik") * (pl.col("n_ik") - 1)).sum() / (pl.col("m_i") * (pl.col("m_i") - 1)).first()).alias("p_i"))
        .group_by(by)
        .agg(pl.col("p_i").mean().alias("p_a"))
    )
    n_items = counts.group_by(by).agg(pl.col(ITEM).n_unique().alias("n_items"))
    shares = (
        counts.with_columns(share=pl.col("n_ik") / pl.col("m_i"))
        .group_by([*by, LABEL])
        .agg(pl.col("share").sum())
        .join(n_items, on=by)
        .with_columns(pi=pl.col("share") / pl.col("n_items"))
        .group_by(by)
        .agg((pl.col("pi") * (1 - pl.col("pi"))).sum().alias("spread"), pl.len().alias("q"))
    )
    expected = pl.when(pl.col("q") > 1).then(pl.col("spread") / (pl.col("q") - 1))
    return (
        _groups(ratings, by)
        .join(observed, on=by, how="left", nulls_equal=True)
        .join(shares, on=by, how="left", nulls_equal=True)
        .select(*by, chance_corrected(pl.col("p_a"), expected).alias("gwet_ac1"))
        .select(pl.exclude(_WHOLE))
    )


def landis_koch(kappa: pl.Expr) -> pl.Expr:
    """Landis & Koch (1977) band of a kappa: Poor (< 0), Slight (<= 0.20), Fair (<= 0.40), Moderate
    (<= 0.60), Substantial (<= 0.80), Almost Perfect; null for a null kappa."""
    return (
        pl.when(kappa < 0).then(pl.lit("Poor"))
        .when(kappa <= 0.2).then(pl.lit("Slight"))
        .when(kappa <= 0.4).then(pl.lit("Fair"))
        .when(kappa <= 0.6).then(pl.lit("Moderate"))
        .when(kappa <= 0.8).then(pl.lit("Substantial"))
        .when(kappa.is_not_null()).then(pl.lit("Almost Perfect"))
    )  # fmt: skip


def krippendorff_band(alpha: pl.Expr) -> pl.Expr:
    """Krippendorff's reading of alpha: reliable (>= 0.8), tentative (>= 0.667), unreliable; null for null."""
    return pl.when(alpha >= 0.8).then(pl.lit("reliable")).when(alpha >= 0.667).then(pl.lit("tentative")).when(alpha.is_not_null()).then(pl.lit("unreliable"))


def krippendorff_alpha_nominal(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Krippendorff's alpha for nominal data, with missing ratings.

    Only units with m_u >= 2 ratings are pairable; n = sum of their m_u and n_c the pooled count of
    category c among them. alpha = 1 - D_o / D_e with
    D_o = (1/n) sum_u (m_u^2 - sum_c n_uc^2) / (m_u - 1) and D_e = (n^2 - sum_c n_c^2) / (n (n - 1)),
    i.e. alpha = 1 - (n - 1) sum_u [...] / (n^2 - sum_c n_c^2) (Krippendorff 2011, coincidence matrix).

    Returns `by`, krippendorff_alpha. Null when no unit is pairable or all pairable values share one
    category (D_e = 0).
    """
    ratings, by = _keyed(ratings, by)
    counts = _label_counts(ratings, by).filter(pl.col("m_i") >= 2)
    per_unit = counts.group_by([*by, ITEM]).agg(
        ((pl.col("m_i").first() ** 2 - (pl.col("n_ik") ** 2).sum()) / (pl.col("m_i").first() - 1)).alias("d_u"),
        pl.col("m_i").first(),
    )
    observed = per_unit.group_by(by).agg(pl.col("d_u").sum(), pl.col("m_i").sum().alias("n"))
    pooled = (
        counts.group_by([*by, LABEL])
        .agg(pl.col("n_ik").sum().alias("n_c"))
        .group_by(by)
        .agg((pl.col("n_c") ** 2).sum().alias("sum_n_c2"))
    )
    expected_disagreement = pl.col("n").cast(pl.Float64) ** 2 - pl.col("sum_n_c2")
    return (
        _groups(ratings, by)
        .join(observed.join(pooled, on=by, nulls_equal=True), on=by, how="left", nulls_equal=True)
        .select(
            *by,
            pl.when(expected_disagreement > 0)
            .then(1 - (pl.col("n") - 1) * pl.col("d_u") / expected_disagreement)
            .alias("krippendorff_alpha"),
        )
        .select(pl.exclude(_WHOLE))
    )


_WHOLE = "__whole__"


def _keyed(frame: pl.LazyFrame, by: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """Group keys to join on; with no `by`, one constant key so that the whole frame is one group."""
    if by:
        return frame, list(by)
    return frame.with_columns(pl.lit(0).alias(_WHOLE)), [_WHOLE]


def _groups(ratings: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """One row per group, so that groups without a pairable item still get a (null) result."""
    return ratings.select(by).unique()
