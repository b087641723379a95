"""Chance-corrected agreement on ratings, vectorised over many groups at once.

Every function takes a long frame of ratings, one row per (item, rater, label) with optional grouping
columns `by` (for example project and control), and returns one row per group. A missing rating is an
absent row, never a category. Undefined values (0/0) are null, never 0, 1 or NaN.

Cohen's kappa works on rater pairs (a Polars join). Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha
are all functions of one item x label count matrix per group (`count_matrices`: ids dictionary-encoded
once, counts by bincount), written once in `statistics` with item weights, so the bootstrap
(`pipeline.metrics.bootstrap`) reuses the same formulas with resampling multiplicities.

Conventions match the reference implementations the tests compare against: scikit-learn's
`cohen_kappa_score`, statsmodels' `fleiss_kappa` and the `krippendorff` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

ITEM, RATER, LABEL = "item", "rater", "label"

# Expected agreement this close to 1 means "every rating has the same label": chance correction is 0/0.
_DEGENERATE = 1e-12


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
    return (
        pl.when(alpha >= 0.8)
        .then(pl.lit("reliable"))
        .when(alpha >= 0.667)
        .then(pl.lit("tentative"))
        .when(alpha.is_not_null())
        .then(pl.lit("unreliable"))
    )


_WHOLE = "__whole__"


def _keyed(frame: pl.LazyFrame, by: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """Group keys to join on; with no `by`, one constant key so that the whole frame is one group."""
    if by:
        return frame, list(by)
    return frame.with_columns(pl.lit(0).alias(_WHOLE)), [_WHOLE]


KRIPPENDORFF_LEVELS = ("nominal", "ordinal", "interval")
STATISTICS = ("fleiss_kappa", "gwet_ac1", "krippendorff_alpha")


def codes(column: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dictionary-encode a column: each value's code (0..n-1, in sorted order of the values) and the values.

    Non-negative integer ids of a compact range (the usual database ids) are encoded through a direct
    lookup table in two linear passes; anything else by a dense rank."""
    if column.dtype.is_integer() and column.len() and column.min() >= 0 and column.max() < 4 * column.len() + 1024:
        values = column.to_numpy()
        present = np.zeros(int(column.max()) + 1, dtype=bool)
        present[values] = True
        uniques = pl.Series(column.name, np.flatnonzero(present), dtype=column.dtype)
        if present.all():  # ids 0..n-1, every one used: they are their own codes
            return values, uniques
        return (np.cumsum(present) - 1)[values], uniques
    return (column.rank("dense").cast(pl.Int64) - 1).to_numpy(), column.unique().sort()


@dataclass(frozen=True)
class Counts:
    """One group's ratings as an item x label count matrix: counts[i, k] = ratings of items[i] in labels[k]."""

    key: dict
    counts: np.ndarray
    items: pl.Series
    labels: pl.Series
    n_raters: int


def count_matrices(ratings: pl.DataFrame, by: Sequence[str] = ()) -> list[Counts]:
    """Per group of `by`, the item x label count matrix (items and labels in sorted order)."""
    groups = ratings.partition_by(list(by), as_dict=True, maintain_order=True) if by else {(): ratings} if ratings.height else {}
    matrices = []
    for key, group in groups.items():
        item, items = codes(group[ITEM])
        label, labels = codes(group[LABEL])
        n_items, k = len(items), len(labels)
        cell = item.astype(np.int64) * k  # one index array, built in place: fewer fresh pages to fault in
        cell += label
        counts = np.bincount(cell, minlength=n_items * k).reshape(n_items, k).astype(float)
        matrices.append(Counts(dict(zip(by, key, strict=True)), counts, items, labels, len(codes(group[RATER])[1])))
    return matrices


def _ratio(numerator: np.ndarray, denominator: np.ndarray, defined: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)


def statistics(counts: np.ndarray, weights: np.ndarray, level: str = "nominal", values: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha of an item x label count matrix, for each row of
    `weights` (item multiplicities: one row of ones is the data itself; NaN where undefined).

    With m_i the item's ratings and items with m_i >= 2 "pairable":
    - percent agreement P_bar: mean over pairable items of P_i = sum_k n_ik (n_ik - 1) / (m_i (m_i - 1));
    - pi_k: the mean over rated items (m_i >= 1) of each item's share of label k, n_ik / m_i;
    - Fleiss' kappa, generalised to a varying number of ratings per item as Gwet (2014, Handbook of
      Inter-Rater Reliability) and irrCAC do: (P_bar - P_e) / (1 - P_e) with P_e = sum_k pi_k^2. When every
      item has the same number of ratings, pi_k is the share of all ratings and this is Fleiss (1971);
    - Gwet's AC1: (P_bar - p_e) / (1 - p_e), p_e = sum_k pi_k (1 - pi_k) / (q - 1), q the labels used
      (Gwet 2008; irrCAC);
    - Krippendorff's alpha over pairable units: 1 - (n - 1) sum_u [sum_ck n_uc n_uk d2(c, k) / (m_u - 1)]
      / sum_ck n_c n_k d2(c, k), with d2 = [c != k] (nominal), (v_c - v_k)^2 (interval, `values` the
      labels' numbers) or the same on mid-ranks among the pooled values, cum_count(< v) + n_v / 2, which
      is Krippendorff's ordinal metric (ordinal; columns in the labels' order). Sums over pairs use
      sum_ck n_c n_k (v_c - v_k)^2 = 2 n sum n_c v_c^2 - 2 (sum n_c v_c)^2 on centred values.
    Undefined: no pairable item (P_bar, kappa, AC1, alpha); every rating one label (P_e = 1; q = 1;
    expected disagreement 0).
    """
    if level not in KRIPPENDORFF_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {KRIPPENDORFF_LEVELS}")
    m = counts.sum(axis=1)
    pairable = m >= 2
    if pairable.all():  # the usual case: no copy
        c_p, m_p, w_p = counts, m, weights
    else:
        c_p, m_p, w_p = counts[pairable], m[pairable], weights[:, pairable]
    squares = np.einsum("ij,ij->i", c_p, c_p)  # sum_k n_ik^2, once for Fleiss and alpha
    p_i = (squares - m_p) / (m_p * (m_p - 1))
    n_pairable_items = w_p.sum(axis=1)
    p_bar = _ratio(w_p @ p_i, n_pairable_items, n_pairable_items > 0)
    n_k = weights @ counts
    item_shares = (weights / m) @ counts if len(weights) == 1 else weights @ (counts / m[:, None])  # the cheaper order
    pi = item_shares / weights.sum(axis=1, keepdims=True)
    p_e = (pi**2).sum(axis=1)
    fleiss = _ratio(p_bar - p_e, 1 - p_e, p_e < 1 - _DEGENERATE)
    q = (n_k > 0).sum(axis=1)
    chance = _ratio((pi * (1 - pi)).sum(axis=1), q - 1.0, q > 1)
    ac1 = _ratio(p_bar - chance, 1 - chance, q > 1)
    n = w_p @ m_p
    n_c = n_k if c_p is counts else w_p @ c_p
    if level == "nominal":
        observed = w_p @ ((m_p**2 - squares) / (m_p - 1))
        expected = n**2 - (n_c**2).sum(axis=1)
    else:
        if level == "ordinal":
            v = np.cumsum(n_c, axis=1) - n_c / 2  # mid-ranks, per weighting
        else:
            v = np.broadcast_to(np.asarray(values, dtype=float), n_c.shape)
        v = v - ((n_c * v).sum(axis=1) / np.where(n > 0, n, 1))[:, None]
        if len(weights) == 1:  # the data itself: per-item sums are a vector
            s1, s2 = c_p @ v[0], c_p @ v[0] ** 2
            observed = w_p @ (2 * (m_p * s2 - s1**2) / (m_p - 1))
        else:
            s1, s2 = c_p @ v.T, c_p @ (v**2).T  # items x weightings
            observed = (w_p * (2 * (m_p[:, None] * s2 - s1**2) / (m_p - 1)[:, None]).T).sum(axis=1)
        expected = 2 * (n * (n_c * v**2).sum(axis=1) - (n_c * v).sum(axis=1) ** 2)
    alpha = 1 - _ratio((n - 1) * observed, expected, expected > _DEGENERATE * n**2)
    return {"percent_agreement": p_bar, "fleiss_kappa": fleiss, "gwet_ac1": ac1, "krippendorff_alpha": alpha, "n_items": n_pairable_items}


def agreement_statistics(ratings: pl.LazyFrame | pl.DataFrame, by: Sequence[str] = (), level: str = "nominal") -> pl.DataFrame:
    """`statistics` per group. Labels must be numeric for the ordinal and interval levels.

    Returns `by`, n_items (items with >= 2 ratings), n_raters, n_ratings, percent_agreement,
    fleiss_kappa, gwet_ac1, krippendorff_alpha; one row per group, null where undefined.
    """
    frame = ratings.collect() if isinstance(ratings, pl.LazyFrame) else ratings
    rows = []
    for group in count_matrices(frame, by):
        values = group.labels.cast(pl.Float64).to_numpy() if level == "interval" else None
        found = statistics(group.counts, np.ones((1, len(group.counts))), level, values)
        rows.append(
            group.key
            | {name: float(value[0]) for name, value in found.items()}
            | {"n_raters": group.n_raters, "n_ratings": int(group.counts.sum())}
        )
    schema = {
        **frame.select(by).schema,
        "n_items": pl.Float64,
        "n_raters": pl.Int64,
        "n_ratings": pl.Int64,
        "percent_agreement": pl.Float64,
    } | {name: pl.Float64 for name in STATISTICS}
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return table.with_columns(pl.col("n_items").cast(pl.Int64), pl.col(pl.Float64).exclude("n_items").fill_nan(None)).select(list(schema))


def fleiss_kappa(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Fleiss' kappa generalised to a varying number of ratings per item (`statistics`). Returns `by`,
    n_items (items with >= 2 ratings), n_raters, n_ratings, percent_agreement, fleiss_kappa."""
    return agreement_statistics(ratings, by).select(*by, "n_items", "n_raters", "n_ratings", "percent_agreement", "fleiss_kappa").lazy()


def gwet_ac1(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Gwet's AC1, stable when one category dominates (`statistics`). Returns `by`, gwet_ac1."""
    return agreement_statistics(ratings, by).select(*by, "gwet_ac1").lazy()


def krippendorff_alpha(ratings: pl.LazyFrame, by: Sequence[str] = (), level: str = "nominal") -> pl.LazyFrame:
    """Krippendorff's alpha with missing ratings at a level of measurement (`statistics`). Returns `by`,
    krippendorff_alpha."""
    return agreement_statistics(ratings, by, level).select(*by, "krippendorff_alpha").lazy()
