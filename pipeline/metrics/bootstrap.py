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

    ratings: `by`, item, rater, label (one row per rating; labels numeric for the ordinal and interval
    levels). Each group gets its own generator seeded from `seed` and the group's position, so a rerun on
    the same data gives the same interval. Returns `by`, n_resamples and {statistic}_ci_low/_ci_high;
    null where fewer than half the replicates define the statistic (too few items to say anything).
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
            row |= {f"{name}_ci_low": None if low is None else float(low), f"{name}_ci_high": None if high is None else float(high)}
        rows.append(row)
    schema = {**ratings.select(by).schema, "n_resamples": pl.Int64} | {
        f"{name}_ci_{end}": pl.Float64 for name in STATISTICS for end in ("low", "high")
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
