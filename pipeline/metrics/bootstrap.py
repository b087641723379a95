"""Bootstrap confidence intervals of the project-level agreement statistics, seeded and vectorised.

The unit of resampling is the item (task): a replicate draws n items with replacement, which is the
same as giving each item a multiplicity w_i (a multinomial draw). Fleiss' kappa, Gwet's AC1 and
Krippendorff's alpha are written once, in `pipeline.metrics.agreement.statistics`, as ratios of sums
over items weighted by w_i, so a whole block of replicates is a few matrix products W @ C (W is
replicates x items, C the item x label count matrix) instead of re-running the statistic on each
resample (tested equal to the statistic of the materialised resample). The interval is the percentile
interval of the replicates where the statistic is defined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.metrics.agreement import STATISTICS, count_matrices, statistics

_BLOCK_CELLS = 20_000_000  # replicates x items per block: bounds memory to a few hundred MB


def _resample_weights(rng: np.random.Generator, n_items: int, n_replicates: int) -> np.ndarray:
    """Each replicate's item multiplicities: n_items draws with replacement, counted (a multinomial draw,
    made as 32-bit uniform integers and a bincount per replicate: several times faster than
    `Generator.multinomial`, and than one bincount over all replicates' 64-bit offsets)."""
    draws = rng.integers(0, n_items, size=(n_replicates, n_items), dtype=np.int32 if n_items < 2**31 else np.int64)
    weights = np.empty((n_replicates, n_items))
    for replicate, drawn in enumerate(draws):
        weights[replicate] = np.bincount(drawn, minlength=n_items)
    return weights


def agreement_intervals(
    ratings: pl.DataFrame,
    by: Sequence[str],
    level: str = "nominal",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pl.DataFrame:
    """Percentile bootstrap intervals of Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha per group.

    A replicate draws the group's n items with replacement (item multiplicities w, a multinomial draw) and
    computes each statistic on the weighted count matrix (`agreement.statistics`); the interval is the
    (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the replicates where the statistic is defined.

    Parameters
    ----------
    ratings : pl.DataFrame
        `by`, item, rater, label: one row per rating (labels numeric for the ordinal and interval levels).
    by : sequence of str
        Grouping columns; each group is resampled on its own.
    level : {"nominal", "ordinal", "interval"}, default="nominal"
        Krippendorff's level of measurement.
    n_resamples : int, default=1000
        Bootstrap replicates per group.
    confidence : float, default=0.95
        The interval's coverage.
    seed : int, default=0
        Seeds each group's generator, together with the group's position.

    Returns
    -------
    pl.DataFrame
        `by`, n_resamples, and `<statistic>_ci_low`, `<statistic>_ci_high` for fleiss_kappa, gwet_ac1 and
        krippendorff_alpha; one row per group.

    Notes
    -----
    Each group gets its own generator seeded from `seed` and the group's position, so a rerun on the same
    data gives the same interval. An interval is null where fewer than half the replicates define the
    statistic (too few items to say anything). No ratings: an empty frame.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.agreement import agreement_statistics
    >>> from pipeline.metrics.bootstrap import agreement_intervals
    >>> ratings = pl.DataFrame({"project": "p", "item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6],
    ...                         "rater": ["a", "b", "c"] * 6,
    ...                         "label": ["cat", "cat", "cat", "cat", "cat", "dog", "dog", "dog", "dog",
    ...                                   "cat", "dog", "dog", "cat", "cat", "cat", "dog", "dog", "dog"]})
    >>> intervals = agreement_intervals(ratings, ["project"], n_resamples=200, seed=0)
    >>> intervals.equals(agreement_intervals(ratings, ["project"], n_resamples=200, seed=0))
    True
    >>> kappa = agreement_statistics(ratings, ["project"]).item(0, "fleiss_kappa")
    >>> intervals.item(0, "fleiss_kappa_ci_low") < kappa < intervals.item(0, "fleiss_kappa_ci_high")
    True

    One item cannot be resampled into a defined statistic:

    >>> agreement_intervals(ratings.filter(pl.col("item") == 1), ["project"], n_resamples=100).row(0)
    ('p', 100, None, None, None, None, None, None)
    """
    tail = (1 - confidence) / 2
    rows = []
    for index, group in enumerate(count_matrices(ratings, by)):
        counts, n_items = group.counts, group.counts.shape[0]
        values = group.labels.cast(pl.Float64).to_numpy() if level == "interval" else None
        rng = np.random.default_rng([seed, index])
        block = max(1, _BLOCK_CELLS // n_items)
        replicates: dict[str, list[np.ndarray]] = {name: [] for name in STATISTICS}
        for start in range(0, n_resamples, block):
            weights = _resample_weights(rng, n_items, min(block, n_resamples - start))
            found = statistics(counts, weights, level, values)
            for name in STATISTICS:
                replicates[name].append(found[name])
        row = group.key | {"n_resamples": n_resamples}
        for name, parts in replicates.items():
            drawn = np.concatenate(parts)
            defined = drawn[~np.isnan(drawn)]
            low, high = np.quantile(defined, [tail, 1 - tail]) if len(defined) * 2 >= n_resamples else (None, None)
            row |= {
                f"{name}_ci_low": None if low is None else float(low),
                f"{name}_ci_high": None if high is None else float(high),
            }
        rows.append(row)
    schema = {**ratings.select(by).schema, "n_resamples": pl.Int64} | {
        f"{name}_ci_{end}": pl.Float64 for name in STATISTICS for end in ("low", "high")
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
