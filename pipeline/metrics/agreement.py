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


KAPPA_WEIGHTS = (None, "linear", "quadratic")


def cohen_kappa(pairs: pl.LazyFrame, by: Sequence[str], a: str = "label_a", b: str = "label_b", weights: str | None = None) -> pl.LazyFrame:
    """Cohen's kappa of two label columns over the paired items of each group, optionally weighted.

    kappa = 1 - sum_ij w_ij o_ij / sum_ij w_ij e_ij, with o the observed share of items rated (i, j),
    e_ij = n_a(i) n_b(j) / n^2 from each side's own label frequencies, and the disagreement weight
    w_ij = [i != j] (unweighted: kappa = (p_o - p_e) / (1 - p_e), Cohen 1960), |i - j| ("linear") or
    (i - j)^2 ("quadratic", Cohen 1968). Weighted kappa needs numeric labels: their positions on the
    declared scale (so an unused step still counts as a step, as scikit-learn with `labels=` the full
    scale; the normalisation by the scale's length cancels out).
    Returns `by`, n_items, agreement (p_o, exact matches), cohen_kappa. Edge cases: a group with no paired
    item has no row; no expected disagreement (both sides always give one same label) gives a null kappa.
    """
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}; expected one of {KAPPA_WEIGHTS}")
    pairs, by = _keyed(pairs, by)

    def disagreement(x: pl.Expr, y: pl.Expr) -> pl.Expr:
        if weights is None:
            return (x != y).cast(pl.Float64)
        return (x - y).abs() if weights == "linear" else (x - y).cast(pl.Float64) ** 2

    observed = pairs.group_by(by).agg(
        pl.len().alias("n_items"),
        (pl.col(a) == pl.col(b)).mean().alias("agreement"),
        disagreement(pl.col(a), pl.col(b)).mean().alias("observed"),
    )
    side_a = pairs.group_by([*by, a]).agg(pl.len().alias("n_a")).rename({a: "_label_a"})
    side_b = pairs.group_by([*by, b]).agg(pl.len().alias("n_b")).rename({b: "_label_b"})
    expected = (
        side_a.join(side_b, on=by, nulls_equal=True)  # every label pair: a few per group
        .group_by(by)
        .agg((pl.col("n_a") * pl.col("n_b") * disagreement(pl.col("_label_a"), pl.col("_label_b"))).sum().alias("expected_sum"))
    )
    return (
        observed.join(expected, on=by, how="left", nulls_equal=True)
        .with_columns(expected=pl.col("expected_sum") / pl.col("n_items").cast(pl.Float64) ** 2)
        .select(
            *by,
            "n_items",
            "agreement",
            pl.when(pl.col("expected") > _DEGENERATE).then(1 - pl.col("observed") / pl.col("expected")).alias("cohen_kappa"),
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


KRIPPENDORFF_LEVELS = ("nominal", "ordinal", "interval")


def krippendorff_alpha(ratings: pl.LazyFrame, by: Sequence[str] = (), level: str = "nominal") -> pl.LazyFrame:
    """Krippendorff's alpha with missing ratings, for nominal, ordinal or interval labels.

    Only units with m_u >= 2 ratings are pairable; n = sum of their m_u and n_c the pooled count of
    value c among them. With delta^2(c, k) the level's squared distance,
    alpha = 1 - (n - 1) sum_u [sum_{c,k} n_uc n_uk delta^2(c, k) / (m_u - 1)] / sum_{c,k} n_c n_k delta^2(c, k)
    (Krippendorff 2011, coincidence-matrix form). delta^2 is 1 for different categories (nominal),
    (c - k)^2 (interval, numeric labels) or (rank(c) - rank(k))^2 with rank the mid-rank of a value among
    the pooled values (ordinal, labels that sort in their order). Sums over pairs use sum_{c,k} n_c n_k (v_c - v_k)^2 = 2 n sum n_c v_c^2 - 2 (sum n_c v_c)^2
    on values centred per group, so no pair of values is ever materialised.

    Returns `by`, krippendorff_alpha. Null when no unit is pairable or all pairable values are equal
    (expected disagreement 0).
    """
    if level not in KRIPPENDORFF_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {KRIPPENDORFF_LEVELS}")
    ratings, by = _keyed(ratings, by)
    counts = _label_counts(ratings, by).filter(pl.col("m_i") >= 2)
    pooled = counts.group_by([*by, LABEL]).agg(pl.col("n_ik").sum().alias("n_c"))
    m = pl.col("m_i").first()
    if level == "nominal":
        unit_disagreement = (m**2 - (pl.col("n_ik") ** 2).sum()) / (m - 1)
        expected = pooled.group_by(by).agg(
            (pl.col("n_c").sum().cast(pl.Float64) ** 2 - (pl.col("n_c") ** 2).sum()).alias("expected"), pl.col("n_c").sum().alias("n")
        )
    else:
        # Ordinal distances are interval distances between mid-ranks: with rank(v) = cum_count(< v) + n_v / 2,
        # sum_{g=c..k} n_g - (n_c + n_k) / 2 = rank(k) - rank(c).
        mid_rank = pl.col("n_c").cum_sum().over(by) - pl.col("n_c") / 2
        value = mid_rank if level == "ordinal" else pl.col(LABEL).cast(pl.Float64)
        pooled = (
            pooled.sort([*by, LABEL])
            .with_columns(value=value)
            .with_columns(value=pl.col("value") - (pl.col("value") * pl.col("n_c")).sum().over(by) / pl.col("n_c").sum().over(by))
        )
        counts = counts.join(pooled.select(*by, LABEL, "value"), on=[*by, LABEL], nulls_equal=True)
        spread = pl.col("n_ik") * pl.col("value")
        unit_disagreement = 2 * (m * (spread * pl.col("value")).sum() - spread.sum() ** 2) / (m - 1)
        n, weighted = pl.col("n_c").sum(), pl.col("n_c") * pl.col("value")
        expected = pooled.group_by(by).agg((2 * (n * (weighted * pl.col("value")).sum() - weighted.sum() ** 2)).alias("expected"), n.alias("n"))
    observed = counts.group_by([*by, ITEM]).agg(unit_disagreement.alias("d_u")).group_by(by).agg(pl.col("d_u").sum())
    return (
        _groups(ratings, by)
        .join(observed.join(expected, on=by, nulls_equal=True), on=by, how="left", nulls_equal=True)
        .select(
            *by,
            pl.when(pl.col("expected") > _DEGENERATE * pl.col("n") ** 2)
            .then(1 - (pl.col("n") - 1) * pl.col("d_u") / pl.col("expected"))
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
