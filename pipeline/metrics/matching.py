"""Box geometry and one-to-one matching, vectorised: IoU of candidate pairs, IoU clusters, and three
matching rules (greedy largest-IoU-first, COCO's score order, optimal assignment).

Boxes are rows with x, y, width, height (top-left corner and size, any one unit per image; rotation is
ignored). Candidate pairs come from a join on the grouping keys (same image, same label), never from a
dense matrix. Pairs whose two boxes have no other candidate match under every rule and are settled at
once; only contested pairs go through the rule's rounds (or, for the optimal assignment, scipy's solver
per contested image).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.vocabulary import BOX_TYPES

GEOMETRY = ["x", "y", "width", "height"]


def scorable_box() -> pl.Expr:
    """Regions that are boxes a score applies to: a box type, scorable, with a geometry.

    Returns
    -------
    pl.Expr
        A Boolean over core.regions rows: `type` a box type (rectanglelabels, rectangle), `scorable`
        true and `width` not null.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import scorable_box
    >>> regions = pl.DataFrame({"type": ["rectanglelabels", "rectanglelabels", "polygonlabels", "rectangle"],
    ...                         "scorable": [True, False, True, True], "width": [10.0, 10.0, None, None]})
    >>> regions.select(scorable_box().alias("box"))["box"].to_list()
    [True, False, False, False]
    """
    return pl.col("type").is_in(BOX_TYPES) & pl.col("scorable") & pl.col("width").is_not_null()


def box_label() -> pl.Expr:
    """A box's label for matching: its first label.

    Returns
    -------
    pl.Expr
        The first element of the `labels` list column, named `label`.

    Notes
    -----
    A box without labels gets "", so unlabelled boxes match each other.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import box_label
    >>> regions = pl.DataFrame({"labels": [["car", "red"], [], None]})
    >>> regions.select(box_label())["label"].to_list()
    ['car', '', '']
    """
    return pl.col("labels").list.first().fill_null("").alias("label")


def box_intersection(a: str = "_a", b: str = "_b") -> pl.Expr:
    """The area two boxes share.

    Parameters
    ----------
    a, b : str, default="_a", "_b"
        Column suffixes: the boxes are x{a}, y{a}, width{a}, height{a} (top-left corner and size) and the
        same with suffix `b`.

    Returns
    -------
    pl.Expr
        max(0, overlap in x) x max(0, overlap in y): 0 for boxes apart or only touching.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import box_intersection
    >>> pairs = pl.DataFrame({"x_a": [0.0, 0.0], "y_a": 0.0, "width_a": 2.0, "height_a": 2.0,
    ...                       "x_b": [1.0, 2.0], "y_b": 0.0, "width_b": 2.0, "height_b": 2.0})
    >>> pairs.select(box_intersection().alias("shared"))["shared"].to_list()
    [2.0, 0.0]
    """
    ix = (
        pl.min_horizontal(pl.col(f"x{a}") + pl.col(f"width{a}"), pl.col(f"x{b}") + pl.col(f"width{b}"))
        - pl.max_horizontal(pl.col(f"x{a}"), pl.col(f"x{b}"))
    ).clip(lower_bound=0)
    iy = (
        pl.min_horizontal(pl.col(f"y{a}") + pl.col(f"height{a}"), pl.col(f"y{b}") + pl.col(f"height{b}"))
        - pl.max_horizontal(pl.col(f"y{a}"), pl.col(f"y{b}"))
    ).clip(lower_bound=0)
    return ix * iy


def box_iou(a: str = "_a", b: str = "_b") -> pl.Expr:
    """Intersection over union of two boxes: intersection / (area_a + area_b - intersection).

    Parameters
    ----------
    a, b : str, default="_a", "_b"
        Column suffixes: the boxes are x{a}, y{a}, width{a}, height{a} and the same with suffix `b`, in
        any one unit (percent or pixels give the same IoU).

    Returns
    -------
    pl.Expr
        The IoU, in [0, 1].

    Notes
    -----
    Boxes that only touch have IoU 0; two boxes of no area have no IoU (null): an empty box matches
    nothing.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import box_iou
    >>> pairs = pl.DataFrame({"x_a": [0.0, 0.0, 0.0], "y_a": 0.0, "width_a": [2.0, 2.0, 0.0],
    ...                       "height_a": [2.0, 2.0, 0.0], "x_b": [1.0, 2.0, 0.0], "y_b": 0.0,
    ...                       "width_b": [2.0, 2.0, 0.0], "height_b": [2.0, 2.0, 0.0]})
    >>> pairs.select(box_iou().round(4).alias("iou"))["iou"].to_list()
    [0.3333, 0.0, None]
    """
    intersection = box_intersection(a, b)
    union = pl.col(f"width{a}") * pl.col(f"height{a}") + pl.col(f"width{b}") * pl.col(f"height{b}") - intersection
    return pl.when(union > 0).then(intersection / union)


def crowd_iou(a: str = "_a", b: str = "_b") -> pl.Expr:
    """COCO's overlap of box `a` with a crowd region `b`: intersection / area of `a`.

    pycocotools' iscrowd IoU: a detection inside a crowd region overlaps it fully, however large the region.

    Parameters
    ----------
    a, b : str, default="_a", "_b"
        Column suffixes of the box (`a`) and the crowd region (`b`), as `box_iou`.

    Returns
    -------
    pl.Expr
        The overlap, in [0, 1]; null for a box of no area.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import crowd_iou
    >>> pairs = pl.DataFrame({"x_a": [1.0, 9.0], "y_a": 1.0, "width_a": 2.0, "height_a": 2.0,
    ...                       "x_b": 0.0, "y_b": 0.0, "width_b": 10.0, "height_b": 10.0})
    >>> pairs.select(crowd_iou().alias("overlap"))["overlap"].to_list()
    [1.0, 0.5]
    """
    area = pl.col(f"width{a}") * pl.col(f"height{a}")
    return pl.when(area > 0).then(box_intersection(a, b) / area)


def iou_clusters(boxes: pl.LazyFrame, by: Sequence[str], member: str, iou_threshold: float | str) -> pl.LazyFrame:
    """Group boxes into clusters: connected components of the boxes of *different* members (annotators)
    within `by` that overlap with IoU >= iou_threshold.

    Parameters
    ----------
    boxes : pl.LazyFrame
        `by`, `member`, a unique integer `box` id and x, y, width, height.
    by : sequence of str
        Boxes cluster within a group only (for example task and label).
    member : str
        The column naming who drew the box: two boxes of one member are never linked directly.
    iou_threshold : float or str
        The IoU from which two boxes are linked: a number, or the name of a column holding each box's
        threshold.

    Returns
    -------
    pl.LazyFrame
        `boxes` with a `cluster` column: the smallest box id of the component.

    Notes
    -----
    Links are transitive (a chain of overlapping boxes is one cluster, even when its ends do not overlap).
    A box overlapping nothing is its own cluster.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import iou_clusters
    >>> boxes = pl.LazyFrame({"task": 1, "annotator": ["a", "b", "c", "c"], "box": [1, 2, 3, 4],
    ...                       "x": [0.0, 4.0, 8.0, 50.0], "y": 0.0, "width": 10.0, "height": 10.0})
    >>> iou_clusters(boxes, ["task"], "annotator", 0.4).collect().sort("box").select("box", "cluster").rows()
    [(1, 1), (2, 1), (3, 1), (4, 4)]
    """
    threshold = [iou_threshold] if isinstance(iou_threshold, str) else []
    left = boxes.select(*by, member, "box", *GEOMETRY, *threshold)
    edges = (
        left.join(left.drop(threshold), on=list(by), suffix="_b")
        .filter((pl.col(member) != pl.col(f"{member}_b")) & (pl.col("box") != pl.col("box_b")))
        .rename({c: f"{c}_a" for c in GEOMETRY})
        .filter(box_iou() >= (pl.col(iou_threshold) if threshold else iou_threshold))
        .select("box", "box_b")
        .collect()
    )
    labels = boxes.select("box").collect().with_columns(cluster=pl.col("box"))
    while True:  # min-label propagation: a few rounds, one per hop of the longest chain
        reached = (
            edges.join(labels, left_on="box_b", right_on="box")
            .group_by("box")
            .agg(pl.col("cluster").min().alias("via"))
        )
        updated = (
            labels.join(reached, on="box", how="left")
            .with_columns(cluster=pl.min_horizontal("cluster", "via"))
            .drop("via")
        )
        if updated.equals(labels):
            break
        labels = updated
    return boxes.join(labels.lazy(), on="box")


def closest_to_mean(clustered: pl.LazyFrame, cluster: Sequence[str]) -> pl.LazyFrame:
    """Per cluster, the member box nearest to the cluster's mean box.

    distance = sum over x, y, width, height of |value - the cluster's mean value| (L1).

    Parameters
    ----------
    clustered : pl.LazyFrame
        Boxes with their cluster (as `iou_clusters` gives them): `cluster`, a `box` id, x, y, width, height.
    cluster : sequence of str
        The columns that name a cluster (for example task and cluster).

    Returns
    -------
    pl.LazyFrame
        One row of `clustered` per cluster.

    Notes
    -----
    Among boxes equally near the mean, the smallest box id wins.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import closest_to_mean
    >>> clustered = pl.LazyFrame({"cluster": [1, 1, 1, 4], "box": [1, 2, 3, 4], "x": [0.0, 4.0, 8.0, 50.0],
    ...                           "y": 0.0, "width": 10.0, "height": 10.0})
    >>> closest_to_mean(clustered, ["cluster"]).collect().sort("cluster").select("cluster", "box").rows()
    [(1, 2), (4, 4)]
    """
    distance = pl.sum_horizontal((pl.col(c) - pl.col(c).mean().over(cluster)).abs() for c in GEOMETRY)
    return (
        clustered.with_columns(_distance=distance)
        .filter(pl.col("_distance") == pl.col("_distance").min().over(cluster))
        .group_by(cluster)
        .agg(pl.all().sort_by("box").first())
        .drop("_distance")
    )


def greedy_matches(pairs: pl.DataFrame, group: Sequence[str], a: str, b: str, weight: str) -> pl.DataFrame:
    """One-to-one matching that takes the heaviest pair first (Scout's rule: largest IoU first).

    Parameters
    ----------
    pairs : pl.DataFrame
        The candidate pairs, already filtered by the threshold: `group`, `a`, `b`, `weight`.
    group : sequence of str
        Matching is one to one within a group (for example an image and an annotator).
    a, b : str
        The id columns of the two sides.
    weight : str
        The column to take largest first (IoU).

    Returns
    -------
    pl.DataFrame
        The matched rows of `pairs`.

    Notes
    -----
    Ties go to the smaller ids, so the result never depends on row order. Computed as rounds of
    mutually-best pairs (each round is a few group-bys); with a strict order this is exactly the sequential
    greedy matching. Greedy may match fewer pairs than `optimal_matches`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import greedy_matches
    >>> pairs = pl.DataFrame({"image": 1, "det": [1, 1, 2], "gt": [10, 11, 10], "iou": [0.9, 0.6, 0.8]})
    >>> greedy_matches(pairs, ["image"], "det", "gt", "iou").sort("det").select("det", "gt").rows()
    [(1, 10)]
    """
    keys_a, keys_b = [*group, a], [*group, b]
    alone, contested = _uncontested(pairs, keys_a, keys_b)
    remaining = contested.sort(weight, a, b, descending=[True, False, False]).with_row_index("_order")
    matched = [alone]
    while not remaining.is_empty():
        best_a = remaining.group_by(keys_a).agg(pl.col("_order").min().alias("_best_a"))
        best_b = remaining.group_by(keys_b).agg(pl.col("_order").min().alias("_best_b"))
        picks = (
            remaining.join(best_a, on=keys_a)
            .join(best_b, on=keys_b)
            .filter((pl.col("_order") == pl.col("_best_a")) & (pl.col("_order") == pl.col("_best_b")))
            .drop("_best_a", "_best_b")
        )
        matched.append(picks.drop("_order"))
        remaining = remaining.join(picks.select(keys_a), on=keys_a, how="anti").join(
            picks.select(keys_b), on=keys_b, how="anti"
        )
    return pl.concat(matched)


def _uncontested(pairs: pl.DataFrame, keys_a: list[str], keys_b: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split candidate pairs into those whose two boxes have no other candidate (every rule matches them:
    most pairs, in practice) and the rest, which need the rule."""
    alone = (pl.len().over(keys_a) == 1) & (pl.len().over(keys_b) == 1)
    flagged = pairs.with_columns(_alone=alone)
    return flagged.filter(pl.col("_alone")).drop("_alone"), flagged.filter(~pl.col("_alone")).drop("_alone")


def optimal_matches(
    pairs: pl.DataFrame, group: Sequence[str], a: str, b: str, weight: str, most_matches_first: bool = True
) -> pl.DataFrame:
    """One-to-one matching that maximises the number of matches, then their total weight (IoU).

    An optimal assignment (scipy's `linear_sum_assignment`, the Hungarian method CVAT uses). For the count
    to come first, each candidate pair weighs M + weight with M above any possible number of matches, so
    one more match always beats any gain in IoU.

    Parameters
    ----------
    pairs : pl.DataFrame
        The candidate pairs, already filtered by the threshold: `group`, `a`, `b`, `weight`.
    group : sequence of str
        Matching is one to one within a group.
    a, b : str
        The id columns of the two sides.
    weight : str
        The column whose total is maximised (IoU).
    most_matches_first : bool, default=True
        False maximises the total weight alone (a similarity score).

    Returns
    -------
    pl.DataFrame
        The matched rows of `pairs`.

    Notes
    -----
    Uncontested pairs are in every optimum and taken as they are; only the groups with contested pairs
    (few, in practice) are solved one by one.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import optimal_matches
    >>> pairs = pl.DataFrame({"image": 1, "det": [1, 1, 2], "gt": [10, 11, 10], "iou": [0.9, 0.6, 0.8]})
    >>> optimal_matches(pairs, ["image"], "det", "gt", "iou").sort("det").select("det", "gt").rows()
    [(1, 11), (2, 10)]
    >>> weak = pairs.with_columns(iou=pl.Series([0.9, 0.1, 0.2]))
    >>> optimal_matches(weak, ["image"], "det", "gt", "iou", most_matches_first=False).select("det", "gt").rows()
    [(1, 10)]
    """
    from scipy.optimize import linear_sum_assignment  # imported where used, as scipy is throughout gtq

    group = list(group)
    alone, contested = _uncontested(pairs, [*group, a], [*group, b])
    matched = [alone]
    for part in contested.partition_by(group, maintain_order=True):
        part = part.sort(a, b)
        rows, row_of = np.unique(part[a].to_numpy(), return_inverse=True)
        cols, col_of = np.unique(part[b].to_numpy(), return_inverse=True)
        gain = np.zeros((len(rows), len(cols)))
        gain[row_of, col_of] = (min(len(rows), len(cols)) + 1 if most_matches_first else 0) + part[weight].to_numpy()
        picked_rows, picked_cols = linear_sum_assignment(gain, maximize=True)
        chosen = gain[picked_rows, picked_cols] > 0  # an assignment may pad with non-candidates
        keys = pl.DataFrame(
            {a: rows[picked_rows[chosen]], b: cols[picked_cols[chosen]]}, schema={a: part.schema[a], b: part.schema[b]}
        )
        matched.append(part.join(keys, on=[a, b]))
    return pl.concat(matched)


def score_ordered_matches(
    pairs: pl.DataFrame, group: Sequence[str], detection: str, target: str, rank: str, weight: str
) -> pl.DataFrame:
    """COCO's rule: detections in order of `rank` (0 = most confident) each take the free target with the
    largest weight (IoU).

    Parameters
    ----------
    pairs : pl.DataFrame
        The candidate pairs, already filtered by the threshold: `group`, `detection`, `target`, `rank`,
        `weight`.
    group : sequence of str
        Matching is one to one within a group.
    detection, target : str
        The id columns of the detections and of the targets (GT boxes).
    rank : str
        Each detection's rank in its group, 0 first (highest score).
    weight : str
        The column a detection takes the largest of (IoU).

    Returns
    -------
    pl.DataFrame
        The matched rows of `pairs`.

    Notes
    -----
    Ties of weight go to the later target, as in pycocotools. Computed in rounds: a detection is settled
    once no earlier unsettled detection competes for any of its free targets, so every settled detection
    sees exactly what the sequential loop would show it.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.matching import score_ordered_matches
    >>> pairs = pl.DataFrame({"image": 1, "det": [1, 1, 2], "gt": [10, 11, 10], "iou": [0.9, 0.6, 0.8],
    ...                       "rank": [0, 0, 1]})
    >>> score_ordered_matches(pairs, ["image"], "det", "gt", "rank", "iou").select("det", "gt").rows()
    [(1, 10)]
    >>> second_first = pairs.with_columns(rank=pl.Series([1, 1, 0]))
    >>> matched = score_ordered_matches(second_first, ["image"], "det", "gt", "rank", "iou")
    >>> matched.sort("det").select("det", "gt").rows()
    [(1, 11), (2, 10)]
    """
    group = list(group)
    keys_d, keys_t = [*group, detection], [*group, target]
    alone, remaining = _uncontested(pairs, keys_d, keys_t)
    matched = [alone]
    while not remaining.is_empty():
        settled = (
            remaining.with_columns(_first=pl.col(rank) == pl.col(rank).min().over(keys_t))
            .filter(pl.col("_first").all().over(keys_d))
            .drop("_first")
        )
        picks = (
            settled.sort(weight, target, descending=True)
            .group_by(keys_d, maintain_order=True)
            .first()
            .select(pairs.columns)
        )
        matched.append(picks)
        remaining = remaining.join(settled.select(keys_d).unique(), on=keys_d, how="anti").join(
            picks.select(keys_t), on=keys_t, how="anti"
        )
    return pl.concat(matched).select(pairs.columns)
