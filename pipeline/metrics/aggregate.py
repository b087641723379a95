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

from pipeline.metrics.agreement import codes, count_matrices

ITEM, RATER, LABEL = "item", "rater", "label"
_FLOOR = 1e-10


def majority_vote(ratings: pl.LazyFrame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """The majority label of each item, a tie reported as a tie.

    majority = the label with the most votes, majority_share = its votes / the item's votes.

    Parameters
    ----------
    ratings : pl.LazyFrame
        `by`, item, rater, label: one row per vote.
    by : sequence of str, default=()
        Grouping columns (for example project and control).

    Returns
    -------
    pl.LazyFrame
        `by`, item, n_votes, majority, majority_share, tied; one row per item.

    Notes
    -----
    A tie gives a null majority and tied true, never a label picked by its spelling; majority_share is
    still the share of the top label. Votes are counted on the item x label count matrix
    (`agreement.count_matrices`): the whole vote is a bincount and an argmax.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.aggregate import majority_vote
    >>> votes = pl.LazyFrame({"item": [1, 1, 1, 2, 2], "rater": ["a", "b", "c", "a", "b"],
    ...                       "label": ["cat", "cat", "dog", "cat", "dog"]})
    >>> majority_vote(votes).collect().sort("item").with_columns(pl.col("majority_share").round(4)).rows()
    [(1, 3, 'cat', 0.6667, False), (2, 2, None, 0.5, True)]
    """
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
                majority=pl.when(~pl.col("tied")).then("majority"),
                **{k: pl.lit(v, frame.schema[k]) for k, v in group.key.items()},
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
    """What `dawid_skene` learns.

    Attributes
    ----------
    labels : pl.DataFrame
        item, label (the most probable true label), confidence (its posterior).
    posteriors : pl.DataFrame
        item, label, probability: every label's posterior, per item.
    priors : dict of str to float
        The estimated share of each true label.
    confusion : pl.DataFrame
        rater, true_label, label, probability: each rater's estimated probability of answering `label`
        when the truth is `true_label`.
    iterations : int
        EM iterations run.
    """

    labels: pl.DataFrame  # item, label, confidence (the posterior of that label)
    posteriors: pl.DataFrame  # item, label, probability
    priors: dict[str, float]
    confusion: pl.DataFrame  # rater, true_label, label, probability
    iterations: int


def dawid_skene(ratings: pl.DataFrame, max_iter: int = 100, tol: float = 1e-5) -> DawidSkene:
    """Dawid-Skene (1979) consensus labels and per-rater confusion matrices, by EM.

    As crowd-kit: posteriors start at the vote shares, priors and error rates follow from them (that is
    `max_iter=0`); each iteration is an E-step (posterior of item i's true label t proportional to
    prior_t x prod over its ratings of error[rater, t, response]) then an M-step (priors = mean posterior;
    error[rater, t, r] = the rater's responses r weighted by the posteriors of t, normalised over r), and
    stops once the evidence lower bound per rating gains less than `tol`.

    Parameters
    ----------
    ratings : pl.DataFrame
        One group's item, rater, label; a rater may rate an item several times.
    max_iter : int, default=100
        The most EM iterations.
    tol : float, default=1e-5
        Stop when the evidence lower bound per rating gains less than this.

    Returns
    -------
    DawidSkene
        labels, posteriors, priors, confusion and iterations.

    Notes
    -----
    What it returns always describes one iteration. Error rates are clipped at 1e-10, so that an unseen
    response is unlikely, not impossible. Deterministic: no random start. No ratings: empty frames, no
    priors, 0 iterations.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.aggregate import dawid_skene
    >>> ratings = pl.DataFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6],
    ...                         "rater": ["a", "b", "c"] * 6,
    ...                         "label": ["cat", "cat", "cat", "cat", "cat", "dog", "dog", "dog", "dog",
    ...                                   "cat", "dog", "dog", "cat", "cat", "cat", "dog", "dog", "dog"]})
    >>> found = dawid_skene(ratings)
    >>> found.labels.sort("item")["label"].to_list()
    ['cat', 'cat', 'dog', 'dog', 'cat', 'dog']
    >>> {label: round(prior, 4) for label, prior in found.priors.items()}
    {'cat': 0.5, 'dog': 0.5}
    >>> rater_c = found.confusion.filter(pl.col("rater") == "c").sort("true_label", "label")
    >>> rater_c.select("true_label", "label", pl.col("probability").round(4)).rows()
    [('cat', 'cat', 0.6667), ('cat', 'dog', 0.3333), ('dog', 'cat', 0.0), ('dog', 'dog', 1.0)]
    """
    if ratings.is_empty():
        return DawidSkene(
            labels=pl.DataFrame(schema={ITEM: ratings.schema[ITEM], LABEL: pl.String, "confidence": pl.Float64}),
            posteriors=pl.DataFrame(schema={ITEM: ratings.schema[ITEM], LABEL: pl.String, "probability": pl.Float64}),
            priors={},
            confusion=pl.DataFrame(
                schema={
                    RATER: ratings.schema[RATER],
                    "true_label": pl.String,
                    LABEL: pl.String,
                    "probability": pl.Float64,
                }
            ),
            iterations=0,
        )
    (item_index, items), (rater_index, raters), (label_index, classes) = (
        codes(ratings[c]) for c in (ITEM, RATER, LABEL)
    )
    item_index, rater_index, label_index = (index.astype(np.int64) for index in (item_index, rater_index, label_index))
    items, raters, classes = items.to_numpy(), raters.to_numpy(), classes.cast(pl.String).to_numpy()
    n_items, n_raters, k = len(items), len(raters), len(classes)

    # Item x (rater, response) count matrix: both EM steps are products with it (a rater may rate twice).
    from scipy import sparse  # imported where used, as scipy is throughout gtq

    cell = rater_index * k + label_index
    responses = sparse.csr_matrix((np.ones(len(cell)), (item_index, cell)), shape=(n_items, n_raters * k))
    by_cell = responses.T.tocsr()

    def m_step(posterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Priors, and error rates[rater, true, response] = that rater's responses weighted by the posteriors."""
        counts = (by_cell @ posterior).reshape(n_raters, k, k).transpose(0, 2, 1)
        return posterior.mean(axis=0), np.clip(
            counts / np.maximum(counts.sum(axis=2, keepdims=True), _FLOOR), _FLOOR, 1.0
        )

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
    rater, truth, answer = np.meshgrid(np.arange(n_raters), np.arange(k), np.arange(k), indexing="ij")
    return DawidSkene(
        labels=pl.DataFrame({ITEM: items, LABEL: classes[best], "confidence": posterior[np.arange(n_items), best]}),
        posteriors=pl.DataFrame(
            {ITEM: np.repeat(items, k), LABEL: np.tile(classes, n_items), "probability": posterior.ravel()}
        ),
        priors=dict(zip(classes.tolist(), priors.tolist(), strict=True)),
        confusion=pl.DataFrame(
            {
                RATER: raters[rater.ravel()],
                "true_label": classes[truth.ravel()],
                LABEL: classes[answer.ravel()],
                "probability": errors.ravel(),
            }
        ),
        iterations=iterations,
    )
