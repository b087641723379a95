"""Aggregating several annotators' labels into one consensus label per item (when no GT exists).

- Majority vote: the most frequent label; a tie is reported as a tie (label null, `tied` true), never
  broken by label spelling.
- Dawid-Skene (1979): EM over class priors and one confusion matrix per annotator, as crowd-kit runs
  it. The item posteriors start at the vote shares and the M-step (priors and confusion matrices from
  the posteriors) follows; each iteration is an E-step (posteriors from priors and confusion matrices)
  then an M-step, until the evidence lower bound per rating gains less than `tol`, or `max_iter`. Both
  steps are products with the sparse item x (rater, response) count matrix, never a dense item x
  annotator matrix. Error rates are clipped at 1e-10 so that an unseen response is unlikely, not
  impossible. Deterministic: no random start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

from pipeline.metrics.agreement import codes, count_matrices

ITEM, RATER, LABEL = "item", "rater", "label"
_FLOOR = 1e-10


def majority_vote(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Per item: n_votes, majority (null on a tie), majority_share, tied. Votes are counted on the item x
    label count matrix (`agreement.count_matrices`): the whole vote is a bincount and an argmax."""
    frame = ratings.collect()
    parts = []
    for group in count_matrices(frame, by):
        top, n_votes = group.counts.max(axis=1), group.counts.sum(axis=1)
        tied = (group.counts == top[:, None]).sum(axis=1) > 1
        majority = group.labels.gather(group.counts.argmax(axis=1))
        parts.append(
            pl.DataFrame(
                {
                    ITEM: group.items,
                    "n_votes": n_votes.astype(np.int64),
                    "majority": majority,
                    "majority_share": top / n_votes,
                    "tied": tied,
                }
            )
            .with_columns(
                majority=pl.when(~pl.col("tied")).then("majority"), **{k: pl.lit(v, frame.schema[k]) for k, v in group.key.items()}
            )
            .select(*by, ITEM, "n_votes", "majority", "majority_share", "tied")
        )
    schema = {
        **frame.select(*by, ITEM).schema,
        "n_votes": pl.Int64,
        "majority": frame.schema[LABEL],
        "majority_share": pl.Float64,
        "tied": pl.Boolean,
    }
    return (pl.concat(parts) if parts else pl.DataFrame(schema=schema)).lazy()


@dataclass
class DawidSkene:
    labels: pl.DataFrame  # item, label, confidence (the posterior of that label)
    posteriors: pl.DataFrame  # item, label, probability
    priors: dict[str, float]
    confusion: pl.DataFrame  # rater, true_label, label, probability
    iterations: int


def dawid_skene(ratings: pl.DataFrame, max_iter: int = 100, tol: float = 1e-5) -> DawidSkene:
    """Dawid-Skene on one group's ratings (item, rater, label; a rater may rate an item several times).

    As crowd-kit: posteriors start at the vote shares, priors and error rates follow from them (that is
    `max_iter=0`); each iteration is an E-step then an M-step, and stops once the evidence lower bound per
    rating gains less than `tol`. What it returns always describes one iteration. No ratings: empty."""
    if ratings.is_empty():
        return DawidSkene(
            labels=pl.DataFrame(schema={ITEM: ratings.schema[ITEM], LABEL: pl.String, "confidence": pl.Float64}),
            posteriors=pl.DataFrame(schema={ITEM: ratings.schema[ITEM], LABEL: pl.String, "probability": pl.Float64}),
            priors={},
            confusion=pl.DataFrame(
                schema={RATER: ratings.schema[RATER], "true_label": pl.String, LABEL: pl.String, "probability": pl.Float64}
            ),
            iterations=0,
        )
    (item_index, items), (rater_index, raters), (label_index, classes) = (codes(ratings[c]) for c in (ITEM, RATER, LABEL))
    item_index, rater_index, label_index = (index.astype(np.int64) for index in (item_index, rater_index, label_index))
    items, raters, classes = items.to_numpy(), raters.to_numpy(), classes.cast(pl.String).to_numpy()
    n_items, n_raters, k = len(items), len(raters), len(classes)

    # Item x (rater, response) count matrix: both EM steps are products with it (a rater may rate twice).
    cell = rater_index * k + label_index
    responses = sparse.csr_matrix((np.ones(len(cell)), (item_index, cell)), shape=(n_items, n_raters * k))
    by_cell = responses.T.tocsr()

    def m_step(posterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Priors, and error rates[rater, true, response] = that rater's responses weighted by the posteriors."""
        counts = (by_cell @ posterior).reshape(n_raters, k, k).transpose(0, 2, 1)
        return posterior.mean(axis=0), np.clip(counts / np.maximum(counts.sum(axis=2, keepdims=True), _FLOOR), _FLOOR, 1.0)

    def log_joint(priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
        """log prior + sum over the item's ratings of log error rates, per item and true label."""
        log_errors = np.log(errors).transpose(0, 2, 1).reshape(n_raters * k, k)  # [(rater, response), true]
        return np.log(np.maximum(priors, _FLOOR)) + responses @ log_errors

    posterior = np.bincount(item_index * k + label_index, minlength=n_items * k).reshape(n_items, k).astype(float)
    posterior /= posterior.sum(axis=1, keepdims=True)
    priors, errors = m_step(posterior)
    iterations, previous = 0, -np.inf
    while iterations < max_iter:
        iterations += 1
        joint = log_joint(priors, errors)  # E-step
        posterior = np.exp(joint - joint.max(axis=1, keepdims=True))
        posterior /= posterior.sum(axis=1, keepdims=True)
        priors, errors = m_step(posterior)
        # Evidence lower bound per rating (EM never lowers it): E_q[log joint] + entropy of q.
        entropy = -(posterior * np.log(np.maximum(posterior, _FLOOR))).sum()
        bound = float((posterior * log_joint(priors, errors)).sum() + entropy) / len(cell)
        if bound - previous < tol:
            break
        previous = bound

    best = posterior.argmax(axis=1)
    r, t, l = np.meshgrid(np.arange(n_raters), np.arange(k), np.arange(k), indexing="ij")
    return DawidSkene(
        labels=pl.DataFrame({ITEM: items, LABEL: classes[best], "confidence": posterior[np.arange(n_items), best]}),
        posteriors=pl.DataFrame({ITEM: np.repeat(items, k), LABEL: np.tile(classes, n_items), "probability": posterior.ravel()}),
        priors=dict(zip(classes.tolist(), priors.tolist(), strict=True)),
        confusion=pl.DataFrame(
            {RATER: raters[r.ravel()], "true_label": classes[t.ravel()], LABEL: classes[l.ravel()], "probability": errors.ravel()}
        ),
        iterations=iterations,
    )
