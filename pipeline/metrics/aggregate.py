"""Aggregating several annotators' labels into one consensus label per item (when no GT exists).

- Majority vote: the most frequent label; a tie is reported as a tie (label null, `tied` true), never
  broken by label spelling.
- Dawid-Skene (1979): EM over class priors and one confusion matrix per annotator. Initialised from the
  vote shares, it alternates an M-step (priors and confusion matrices from the item posteriors) and an
  E-step (item posteriors from priors and confusion matrices) until no posterior moves more than `tol`
  (or `max_iter`). Both steps are sparse: sums over the rating rows (`np.add.at`), never a dense
  item x annotator matrix. Error rates are clipped at 1e-10 so that an unseen response is unlikely, not
  impossible. Deterministic: no random start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

ITEM, RATER, LABEL = "item", "rater", "label"
_FLOOR = 1e-10


def majority_vote(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Per item: n_votes, majority (null on a tie), majority_share, tied."""
    keys = [*by, ITEM]
    votes = ratings.group_by(*keys, LABEL).agg(pl.len().alias("votes"))
    return votes.group_by(keys).agg(
        pl.col("votes").sum().alias("n_votes"),
        pl.col(LABEL).filter(pl.col("votes") == pl.col("votes").max()).alias("_top"),
        (pl.col("votes").max() / pl.col("votes").sum()).alias("majority_share"),
    ).select(
        *keys,
        "n_votes",
        pl.when(pl.col("_top").list.len() == 1).then(pl.col("_top").list.first()).alias("majority"),
        "majority_share",
        (pl.col("_top").list.len() > 1).alias("tied"),
    )


@dataclass
class DawidSkene:
    labels: pl.DataFrame  # item, label, confidence (the posterior of that label)
    posteriors: pl.DataFrame  # item, label, probability
    priors: dict[str, float]
    confusion: pl.DataFrame  # rater, true_label, label, probability
    iterations: int


def dawid_skene(ratings: pl.DataFrame, max_iter: int = 100, tol: float = 1e-5) -> DawidSkene:
    """Dawid-Skene on one group's ratings (item, rater, label; a rater may rate an item several times)."""
    items, item_index = np.unique(ratings[ITEM].to_numpy(), return_inverse=True)
    raters, rater_index = np.unique(ratings[RATER].to_numpy(), return_inverse=True)
    classes, label_index = np.unique(ratings[LABEL].cast(pl.String).to_numpy(), return_inverse=True)
    n_items, n_raters, k = len(items), len(raters), len(classes)

    posterior = np.zeros((n_items, k))
    np.add.at(posterior, (item_index, label_index), 1.0)
    posterior /= posterior.sum(axis=1, keepdims=True)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        priors = posterior.mean(axis=0)
        counts = np.zeros((n_raters, k, k))  # rater, true class, response
        np.add.at(counts, (rater_index, slice(None), label_index), posterior[item_index])
        errors = np.clip(counts / np.maximum(counts.sum(axis=2, keepdims=True), _FLOOR), _FLOOR, 1.0)
        log_post = np.tile(np.log(np.maximum(priors, _FLOOR)), (n_items, 1))
        np.add.at(log_post, item_index, np.log(errors[rater_index, :, label_index]))
        log_post -= log_post.max(axis=1, keepdims=True)
        updated = np.exp(log_post)
        updated /= updated.sum(axis=1, keepdims=True)
        change = np.abs(updated - posterior).max()
        posterior = updated
        if change < tol:
            break

    best = posterior.argmax(axis=1)
    r, t, l = np.meshgrid(np.arange(n_raters), np.arange(k), np.arange(k), indexing="ij")
    return DawidSkene(
        labels=pl.DataFrame({ITEM: items, LABEL: classes[best], "confidence": posterior[np.arange(n_items), best]}),
        posteriors=pl.DataFrame(
            {ITEM: np.repeat(items, k), LABEL: np.tile(classes, n_items), "probability": posterior.ravel()}
        ),
        priors=dict(zip(classes.tolist(), posterior.mean(axis=0).tolist(), strict=True)),
        confusion=pl.DataFrame(
            {RATER: raters[r.ravel()], "true_label": classes[t.ravel()], LABEL: classes[l.ravel()], "probability": errors.ravel()}
        ),
        iterations=iterations,
    )
