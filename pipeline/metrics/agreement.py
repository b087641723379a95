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

    Parameters
    ----------
    ratings : pl.LazyFrame
        `by`, item, rater, label: one row per rating.
    by : sequence of str, default=()
        Grouping columns (for example project and control): raters are paired within a group only.

    Returns
    -------
    pl.LazyFrame
        `by`, item, rater_a, label_a, rater_b, label_b: both orders of each pair, so an item rated by m
        raters gives m (m - 1) rows.

    Notes
    -----
    Each rater must rate an item at most once. An item with one rating has no pair, hence no row.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import rater_pairs
    >>> ratings = pl.LazyFrame({"item": [1, 1, 2], "rater": ["a", "b", "a"], "label": ["cat", "dog", "cat"]})
    >>> rater_pairs(ratings).collect().sort("rater_a").rows()
    [(1, 'a', 'cat', 'b', 'dog'), (1, 'b', 'dog', 'a', 'cat')]
    """
    keys = [*by, ITEM]
    left = ratings.select(*keys, pl.col(RATER).alias("rater_a"), pl.col(LABEL).alias("label_a"))
    right = ratings.select(*keys, pl.col(RATER).alias("rater_b"), pl.col(LABEL).alias("label_b"))
    return left.join(right, on=keys).filter(pl.col("rater_a") != pl.col("rater_b"))


KAPPA_WEIGHTS = (None, "linear", "quadratic")


def cohen_kappa(
    pairs: pl.LazyFrame, by: Sequence[str], a: str = "label_a", b: str = "label_b", weights: str | None = None
) -> pl.LazyFrame:
    """Cohen's kappa of two label columns over the paired items of each group, optionally weighted.

    kappa = 1 - sum_ij w_ij o_ij / sum_ij w_ij e_ij, with o the observed share of items rated (i, j),
    e_ij = n_a(i) n_b(j) / n^2 from each side's own label frequencies, and the disagreement weight
    w_ij = [i != j] (unweighted: kappa = (p_o - p_e) / (1 - p_e), Cohen 1960), |i - j| ("linear") or
    (i - j)^2 ("quadratic", Cohen 1968).

    Parameters
    ----------
    pairs : pl.LazyFrame
        `by` and the two label columns `a` and `b`, one row per paired item (as `rater_pairs` gives them).
    by : sequence of str
        Grouping columns; empty for one kappa over the whole frame.
    a, b : str, default="label_a", "label_b"
        The two label columns.
    weights : {None, "linear", "quadratic"}, default=None
        The disagreement weight: None for unweighted kappa.

    Returns
    -------
    pl.LazyFrame
        `by`, n_items, agreement (p_o, the share of exact matches), cohen_kappa; one row per group.

    Raises
    ------
    ValueError
        For `weights` other than None, "linear" or "quadratic".

    Notes
    -----
    Weighted kappa needs numeric labels: their positions on the declared scale (so an unused step still
    counts as a step, as scikit-learn with `labels=` the full scale; the normalisation by the scale's
    length cancels out). A group with no paired item has no row; no expected disagreement (both sides
    always give one same label) gives a null kappa. Matches scikit-learn's `cohen_kappa_score`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import cohen_kappa
    >>> pairs = pl.LazyFrame({"label_a": ["cat", "cat", "dog", "dog", "cat"],
    ...                       "label_b": ["cat", "dog", "dog", "dog", "cat"]})
    >>> cohen_kappa(pairs, []).collect().with_columns(pl.col("cohen_kappa").round(4)).to_dicts()
    [{'n_items': 5, 'agreement': 0.8, 'cohen_kappa': 0.6154}]
    >>> stars = pl.LazyFrame({"label_a": [1, 2, 3, 3, 1], "label_b": [1, 3, 3, 2, 2]})
    >>> [round(cohen_kappa(stars, [], weights=w).collect().item(0, "cohen_kappa"), 4)
    ...  for w in (None, "linear", "quadratic")]
    [0.1176, 0.3478, 0.5714]
    >>> same = pl.LazyFrame({"label_a": ["cat", "cat"], "label_b": ["cat", "cat"]})
    >>> cohen_kappa(same, []).collect().item(0, "cohen_kappa") is None
    True
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
        .agg(
            (pl.col("n_a") * pl.col("n_b") * disagreement(pl.col("_label_a"), pl.col("_label_b")))
            .sum()
            .alias("expected_sum")
        )
    )
    return (
        observed.join(expected, on=by, how="left", nulls_equal=True)
        .with_columns(expected=pl.col("expected_sum") / pl.col("n_items").cast(pl.Float64) ** 2)
        .select(
            *by,
            "n_items",
            "agreement",
            pl.when(pl.col("expected") > _DEGENERATE)
            .then(1 - pl.col("observed") / pl.col("expected"))
            .alias("cohen_kappa"),
        )
        .select(pl.exclude(_WHOLE))
    )


def landis_koch(kappa: pl.Expr) -> pl.Expr:
    """Landis & Koch (1977) band of a kappa.

    Parameters
    ----------
    kappa : pl.Expr
        Kappa values (Cohen's or Fleiss').

    Returns
    -------
    pl.Expr
        Poor (< 0), Slight (<= 0.20), Fair (<= 0.40), Moderate (<= 0.60), Substantial (<= 0.80), Almost
        Perfect (above); null for a null kappa.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import landis_koch
    >>> kappas = pl.DataFrame({"kappa": [-0.1, 0.15, 0.5, 0.81, None]})
    >>> kappas.select(landis_koch(pl.col("kappa")).alias("band"))["band"].to_list()
    ['Poor', 'Slight', 'Moderate', 'Almost Perfect', None]
    """
    return (
        pl.when(kappa < 0)
        .then(pl.lit("Poor"))
        .when(kappa <= 0.2)
        .then(pl.lit("Slight"))
        .when(kappa <= 0.4)
        .then(pl.lit("Fair"))
        .when(kappa <= 0.6)
        .then(pl.lit("Moderate"))
        .when(kappa <= 0.8)
        .then(pl.lit("Substantial"))
        .when(kappa.is_not_null())
        .then(pl.lit("Almost Perfect"))
    )


def krippendorff_band(alpha: pl.Expr) -> pl.Expr:
    """Krippendorff's reading of alpha.

    Parameters
    ----------
    alpha : pl.Expr
        Krippendorff's alpha values.

    Returns
    -------
    pl.Expr
        reliable (>= 0.8), tentative (>= 0.667), unreliable (below); null for a null alpha.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import krippendorff_band
    >>> alphas = pl.DataFrame({"alpha": [0.85, 0.7, 0.2, None]})
    >>> alphas.select(krippendorff_band(pl.col("alpha")).alias("band"))["band"].to_list()
    ['reliable', 'tentative', 'unreliable', None]
    """
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
    """Dictionary-encode a column: each value's code and the distinct values.

    Parameters
    ----------
    column : pl.Series
        The values to encode, without nulls.

    Returns
    -------
    codes : np.ndarray
        Each row's code, 0 .. n - 1 in the sorted order of the distinct values.
    values : pl.Series
        The n distinct values, sorted: `values[codes[i]] == column[i]`.

    Notes
    -----
    Non-negative integer ids of a compact range (the usual database ids) are encoded through a direct
    lookup table in two linear passes; anything else by a dense rank.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import codes
    >>> index, values = codes(pl.Series("id", [7, 3, 7, 5]))
    >>> index.tolist(), values.to_list()
    ([2, 0, 2, 1], [3, 5, 7])
    >>> index, values = codes(pl.Series("label", ["dog", "cat", "dog"]))
    >>> index.tolist(), values.to_list()
    ([1, 0, 1], ['cat', 'dog'])
    """
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
    """One group's ratings as an item x label count matrix: counts[i, k] = ratings of items[i] in labels[k].

    Attributes
    ----------
    key : dict
        The group's values of the `by` columns.
    counts : np.ndarray of shape (n_items, n_labels)
        The ratings of each item in each label, as floats.
    items : pl.Series
        The items, sorted: the rows of `counts`.
    labels : pl.Series
        The labels used, sorted: the columns of `counts`.
    n_raters : int
        The distinct raters of the group.
    """

    key: dict
    counts: np.ndarray
    items: pl.Series
    labels: pl.Series
    n_raters: int


def count_matrices(ratings: pl.DataFrame, by: Sequence[str] = ()) -> list[Counts]:
    """Per group of `by`, the item x label count matrix (items and labels in sorted order).

    Parameters
    ----------
    ratings : pl.DataFrame
        `by`, item, rater, label: one row per rating.
    by : sequence of str, default=()
        Grouping columns; empty for the whole frame as one group.

    Returns
    -------
    list of Counts
        One per group, in the order the groups first appear.

    Notes
    -----
    Ids are dictionary-encoded once (`codes`) and the counts made by one bincount. No ratings, no group:
    an empty list.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import count_matrices
    >>> ratings = pl.DataFrame({"item": [1, 1, 2, 2, 2], "rater": ["a", "b", "a", "b", "c"],
    ...                         "label": ["cat", "cat", "cat", "dog", "dog"]})
    >>> [group] = count_matrices(ratings)
    >>> group.counts.tolist(), group.items.to_list(), group.labels.to_list(), group.n_raters
    ([[2.0, 0.0], [1.0, 2.0]], [1, 2], ['cat', 'dog'], 3)
    """
    groups = (
        ratings.partition_by(list(by), as_dict=True, maintain_order=True)
        if by
        else {(): ratings}
        if ratings.height
        else {}
    )
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


def statistics(
    counts: np.ndarray, weights: np.ndarray, level: str = "nominal", values: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha of an item x label count matrix, for each row of
    `weights` (item multiplicities: one row of ones is the data itself).

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

    Parameters
    ----------
    counts : np.ndarray of shape (n_items, n_labels)
        Ratings of each item in each label (`Counts.counts`).
    weights : np.ndarray of shape (n_weightings, n_items)
        Item multiplicities, one weighting per row: a row of ones is the data itself, a bootstrap
        replicate is the count of each item drawn.
    level : {"nominal", "ordinal", "interval"}, default="nominal"
        Krippendorff's level of measurement (the other statistics are nominal).
    values : np.ndarray of shape (n_labels,), default=None
        The labels' numbers, for the interval level.

    Returns
    -------
    dict of str to np.ndarray of shape (n_weightings,)
        percent_agreement, fleiss_kappa, gwet_ac1, krippendorff_alpha and n_items (the weighted count of
        pairable items); NaN where undefined.

    Raises
    ------
    ValueError
        For an unknown `level`.

    Notes
    -----
    Undefined: no pairable item (P_bar, kappa, AC1, alpha); every rating one label (P_e = 1; q = 1;
    expected disagreement 0).

    Examples
    --------
    >>> import numpy as np
    >>> from pipeline.metrics.agreement import statistics
    >>> counts = np.array([[3.0, 0.0], [1.0, 2.0], [0.0, 3.0], [1.0, 1.0]])  # 4 items, labels cat and dog
    >>> found = statistics(counts, np.array([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]]))
    >>> {name: np.round(value, 4).tolist() for name, value in found.items()}
    {'percent_agreement': [0.5833, 0.75], 'fleiss_kappa': [0.1608, 0.4667], 'gwet_ac1': [0.1724, 0.5294],
     'krippendorff_alpha': [0.3333, 0.6429], 'n_items': [4.0, 4.0]}
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
    return {
        "percent_agreement": p_bar,
        "fleiss_kappa": fleiss,
        "gwet_ac1": ac1,
        "krippendorff_alpha": alpha,
        "n_items": n_pairable_items,
    }


def agreement_statistics(
    ratings: pl.LazyFrame | pl.DataFrame, by: Sequence[str] = (), level: str = "nominal"
) -> pl.DataFrame:
    """Percent agreement, Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha per group (`statistics`).

    Parameters
    ----------
    ratings : pl.LazyFrame or pl.DataFrame
        `by`, item, rater, label: one row per rating; a missing rating is an absent row.
    by : sequence of str, default=()
        Grouping columns; empty for the whole frame as one group.
    level : {"nominal", "ordinal", "interval"}, default="nominal"
        Krippendorff's level of measurement. Labels must be numeric for the ordinal and interval levels.

    Returns
    -------
    pl.DataFrame
        `by`, n_items (items with >= 2 ratings), n_raters, n_ratings, percent_agreement, fleiss_kappa,
        gwet_ac1, krippendorff_alpha; one row per group.

    Notes
    -----
    Undefined values are null, never 0, 1 or NaN: no item with two ratings, or every rating the same
    label (chance agreement is 1). No ratings: an empty frame. Matches statsmodels' `fleiss_kappa` (a
    fixed number of ratings per item) and the `krippendorff` package.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import agreement_statistics
    >>> species = pl.DataFrame({"control": "species", "item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
    ...                         "rater": ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "b"],
    ...                         "label": ["cat", "cat", "cat", "cat", "dog", "dog", "dog", "dog", "dog", "cat", "dog"]})
    >>> blur = pl.DataFrame({"control": "blur", "item": [1, 1, 2, 2], "rater": ["a", "b", "a", "b"], "label": "no"})
    >>> table = agreement_statistics(pl.concat([species, blur]), ["control"]).sort("control")
    >>> table.with_columns(pl.col(pl.Float64).round(4)).rows()
    [('blur', 2, 2, 4, 1.0, None, None, None),
     ('species', 4, 3, 11, 0.5833, 0.1608, 0.1724, 0.3333)]
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
    } | dict.fromkeys(STATISTICS, pl.Float64)
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return table.with_columns(
        pl.col("n_items").cast(pl.Int64), pl.col(pl.Float64).exclude("n_items").fill_nan(None)
    ).select(list(schema))


def fleiss_kappa(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Fleiss' kappa generalised to a varying number of ratings per item (`statistics`).

    kappa = (P_bar - P_e) / (1 - P_e), P_bar the mean over items with >= 2 ratings of the share of agreeing
    rating pairs, P_e = sum_k pi_k^2 with pi_k the mean over items of their share of label k.

    Parameters
    ----------
    ratings : pl.LazyFrame
        `by`, item, rater, label: one row per rating.
    by : sequence of str, default=()
        Grouping columns.

    Returns
    -------
    pl.LazyFrame
        `by`, n_items (items with >= 2 ratings), n_raters, n_ratings, percent_agreement, fleiss_kappa.

    Notes
    -----
    Null with no item rated twice, or when every rating has one label (P_e = 1).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import fleiss_kappa
    >>> ratings = pl.LazyFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
    ...                         "rater": ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "b"],
    ...                         "label": ["cat", "cat", "cat", "cat", "dog", "dog", "dog", "dog", "dog", "cat", "dog"]})
    >>> fleiss_kappa(ratings).collect().with_columns(pl.col(pl.Float64).round(4)).to_dicts()
    [{'n_items': 4, 'n_raters': 3, 'n_ratings': 11, 'percent_agreement': 0.5833, 'fleiss_kappa': 0.1608}]
    """
    return (
        agreement_statistics(ratings, by)
        .select(*by, "n_items", "n_raters", "n_ratings", "percent_agreement", "fleiss_kappa")
        .lazy()
    )


def gwet_ac1(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Gwet's AC1, stable when one category dominates (`statistics`).

    AC1 = (P_bar - p_e) / (1 - p_e), p_e = sum_k pi_k (1 - pi_k) / (q - 1), q the labels used (Gwet 2008).

    Parameters
    ----------
    ratings : pl.LazyFrame
        `by`, item, rater, label: one row per rating.
    by : sequence of str, default=()
        Grouping columns.

    Returns
    -------
    pl.LazyFrame
        `by`, gwet_ac1.

    Notes
    -----
    Null with no item rated twice, or when a single label is used (q = 1).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import gwet_ac1
    >>> ratings = pl.LazyFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
    ...                         "rater": ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "b"],
    ...                         "label": ["cat", "cat", "cat", "cat", "dog", "dog", "dog", "dog", "dog", "cat", "dog"]})
    >>> round(gwet_ac1(ratings).collect().item(), 4)
    0.1724
    """
    return agreement_statistics(ratings, by).select(*by, "gwet_ac1").lazy()


def krippendorff_alpha(ratings: pl.LazyFrame, by: Sequence[str] = (), level: str = "nominal") -> pl.LazyFrame:
    """Krippendorff's alpha with missing ratings at a level of measurement (`statistics`).

    alpha = 1 - (n - 1) sum_u [sum_ck n_uc n_uk d2(c, k) / (m_u - 1)] / sum_ck n_c n_k d2(c, k), over the
    items with >= 2 ratings, with d2 = [c != k] (nominal), (v_c - v_k)^2 (interval) or the same on
    mid-ranks (ordinal).

    Parameters
    ----------
    ratings : pl.LazyFrame
        `by`, item, rater, label: one row per rating (numeric labels for ordinal and interval).
    by : sequence of str, default=()
        Grouping columns.
    level : {"nominal", "ordinal", "interval"}, default="nominal"
        The level of measurement.

    Returns
    -------
    pl.LazyFrame
        `by`, krippendorff_alpha.

    Notes
    -----
    Null with no item rated twice, or no expected disagreement (every rating one label). Matches the
    `krippendorff` package.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import krippendorff_alpha
    >>> stars = pl.LazyFrame({"item": [1, 1, 2, 2, 3, 3], "rater": ["a", "b", "a", "b", "a", "b"],
    ...                       "label": [1.0, 2.0, 3.0, 3.0, 5.0, 4.0]})
    >>> [round(krippendorff_alpha(stars, level=level).collect().item(), 4)
    ...  for level in ("nominal", "ordinal", "interval")]
    [0.2857, 0.902, 0.8333]
    """
    return agreement_statistics(ratings, by, level).select(*by, "krippendorff_alpha").lazy()
