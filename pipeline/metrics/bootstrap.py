"""Bootstrap confidence intervals of the project-level agreement statistics, seeded and vectorised.

The unit of resampling is the item (task): a replicate draws n items with replacement, which is the
same as giving each item a multiplicity w_i (a multinomial draw). Fleiss' kappa, Gwet's AC1 and
Krippendorff's alpha are ratios of sums over items of per-item quantities computed from the
item x category count matrix C, so a whole block of replicates is a few matrix products W @ C (W is
replicates x items) instead of re-running the statistic on each resample. The formulas are those of
`pipeline.metrics.agreement` with every item sum weighted by w_i (tested equal to running those
functions on the materialised resamples). The interval is the percentile interval of the replicates
where the statistic is defined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.metrics.agreement import ITEM, LABEL

STATISTICS = ("fleiss_kappa", "gwet_ac1", "krippendorff_alpha")
_DEGENERATE = 1e-12
_BLOCK_CELLS = 20_000_000  # replicates x items per block: bounds memory to a few hundred MB


def count_matrix(ratings: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The item x label count matrix of one group's ratings (item, label), and the labels in sorted order."""
    items = ratings[ITEM].cast(pl.String).to_numpy()
    labels = ratings[LABEL].to_numpy()
    _, item_code = np.unique(items, return_inverse=True)
    label_values, label_code = np.unique(labels, return_inverse=True)
    counts = np.zeros((item_code.max() + 1, len(label_values)))
    np.add.at(counts, (item_code, label_code), 1)
    return counts, label_values


def _ratio(numerator: np.ndarray, denominator: np.ndarray, defined: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)


def replicate_statistics(counts: np.ndarray, weights: np.ndarray, level: str = "nominal", values: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each statistic for each row of `weights` (replicates x items multiplicities) on the item x label
    `counts`; NaN where it is undefined. `values` are the labels' numbers (interval level; for ordinal
    the labels' order is the columns' order)."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    c_p, m_p, w_p = counts[pairable], m[pairable], weights[:, pairable]
    # Fleiss (generalised): mean agreement of pairable items; shares over all ratings.
    p_i = (c_p * (c_p - 1)).sum(axis=1) / (m_p * (m_p - 1))
    n_pairable_items = w_p.sum(axis=1)
    p_bar = _ratio(w_p @ p_i, n_pairable_items, n_pairable_items > 0)
    n_k = weights @ counts
    shares = n_k / n_k.sum(axis=1, keepdims=True)
    p_e = (shares**2).sum(axis=1)
    fleiss = _ratio(p_bar - p_e, 1 - p_e, p_e < 1 - _DEGENERATE)
    # Gwet's AC1: category shares averaged over items; q = categories used in the replicate.
    pi = (weights @ (counts / m[:, None])) / weights.sum(axis=1, keepdims=True)
    q = (n_k > 0).sum(axis=1)
    chance = _ratio((pi * (1 - pi)).sum(axis=1), q - 1.0, q > 1)
    ac1 = _ratio(p_bar - chance, 1 - chance, q > 1)
    # Krippendorff's alpha over pairable units.
    n = w_p @ m_p
    n_c = w_p @ c_p
    if level == "nominal":
        observed = w_p @ ((m_p**2 - (c_p**2).sum(axis=1)) / (m_p - 1))
        expected = n**2 - (n_c**2).sum(axis=1)
    else:
        if level == "ordinal":
            v = np.cumsum(n_c, axis=1) - n_c / 2  # mid-ranks, per replicate
        else:
            v = np.broadcast_to(np.asarray(values, dtype=float), n_c.shape)
        v = v - ((n_c * v).sum(axis=1) / np.where(n > 0, n, 1))[:, None]
        s1, s2 = c_p @ v.T, c_p @ (v**2).T  # items x replicates
        observed = (w_p * (2 * (m_p[:, None] * s2 - s1**2) / (m_p - 1)[:, None]).T).sum(axis=1)
        expected = 2 * (n * (n_c * v**2).sum(axis=1) - (n_c * v).sum(axis=1) ** 2)
    alpha = 1 - _ratio((n - 1) * observed, expected, expected > _DEGENERATE * n**2)
    return {"fleiss_kappa": fleiss, "gwet_ac1": ac1, "krippendorff_alpha": alpha}


def agreement_intervals(
    ratings: pl.DataFrame,
    by: Sequence[str],
    level: str = "nominal",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pl.DataFrame:
    """Percentile bootstrap intervals of Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha per group.

    ratings: `by`, item, label (one row per rating; labels numeric for the ordinal and interval levels).
    Each group gets its own generator seeded from `seed` and the group's position, so a rerun on the
    same data gives the same interval. Returns `by`, n_resamples and {statistic}_ci_low/_ci_high; null
    where fewer than half the replicates define the statistic (too few items to say anything).
    """
    tail = (1 - confidence) / 2
    rows = []
    for index, (key, group) in enumerate(ratings.sort([*by, ITEM]).group_by(list(by), maintain_order=True)):
        counts, labels = count_matrix(group)
        n_items = counts.shape[0]
        rng = np.random.default_rng([seed, index])
        block = max(1, _BLOCK_CELLS // n_items)
        replicates: dict[str, list[np.ndarray]] = {name: [] for name in STATISTICS}
        for start in range(0, n_resamples, block):
            weights = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=min(block, n_resamples - start)).astype(float)
            for name, values in replicate_statistics(counts, weights, level, labels if level == "interval" else None).items():
                replicates[name].append(values)
        row = dict(zip(by, key, strict=True)) | {"n_resamples": n_resamples}
        for name, parts in replicates.items():
            values = np.concatenate(parts)
            defined = values[~np.isnan(values)]
            low, high = np.quantile(defined, [tail, 1 - tail]) if len(defined) * 2 >= n_resamples else (None, None)
            row |= {f"{name}_ci_low": None if low is None else float(low), f"{name}_ci_high": None if high is None else float(high)}
        rows.append(row)
    schema = {**ratings.select(by).schema, "n_resamples": pl.Int64} | {
        f"{name}_ci_{end}": pl.Float64 for name in STATISTICS for end in ("low", "high")
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
