"""How alike two answers, or two sets of regions, are: a score in [0, 1] per control type.

The definitions are Label Studio's (its open-source evalme), made symmetric so that a score does not
depend on which side is the reference. For every type: both sides empty = 1, exactly one empty = 0.

Answers (one value per annotation and control; `answer_similarity`):
- choices: Jaccard index of the chosen sets, |A ∩ B| / |A ∪ B| (exact match for a single choice).
- taxonomy: partial credit along the path. Two paths score the length of their common prefix over the
  longer path's depth (Animal/Cat vs Animal/Dog = 1/2); sets of paths score the mean, over the paths of
  both sides, of each path's best match on the other side.
- rating, number: 1 - |a - b| / range, floored at 0, with range the control's declared scale
  (Rating 1..maxRating, Number min..max), else the range of the values given in the project; a range
  of 0 means exact match.
- datetime: exact match.
- textarea: normalised Levenshtein similarity, 1 - distance / length of the longer text, after trimming
  and collapsing white space (several lines are one text).

Regions (any number per annotation and control; `region_similarity`): candidate pairs are regions of
the same label; each pair weighs its geometric similarity, and the regions are matched one to one so
that the total weight is the largest (`matching.optimal_matches`). score = sum of matched weights /
max(n_a, n_b): a missed or extra region costs as much as a mismatched one.
- rectangles: box IoU (the same in percent and pixel coordinates).
- spans (Labels on text, HyperText, Paragraphs): 1-D IoU of the half-open offsets [start, end).
- polygons: polygon IoU (shapely); invalid polygons (self-intersecting) are repaired with `make_valid`
  and counted in `repaired` (the candidate pairs that needed a repair). The shapes are `polygon_shapes`,
  whose areas validation holds polygons to (`polygon_measures`): one definition of a polygon's area.
- keypoints: exp(-d^2 / (2 k^2)), d the distance as a share of the image side and k = 0.09 (the
  object-keypoint similarity with the image as the object's scale and CVAT's default sigma).
Choices and text attached to a region (per-region) score, per attached control, the sum over matched
region pairs of region weight x the attached values' similarity, over max(n_a, n_b) regions carrying it.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import shapely
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from pipeline.metrics.matching import box_iou, optimal_matches
from pipeline.metrics.ordered import ordered_sum
from pipeline.vocabulary import BOX_TYPES, KEYPOINT_TYPES, NUMERIC_TYPES, POLYGON_TYPES, SPAN_TYPES

KEYPOINT_SIGMA = 0.09
POLYGON_MEASURES = pl.Struct({"polygon_area": pl.Float64, "polygon_repaired": pl.Boolean})  # see polygon_measures
SEPARATOR = "\x1f"  # between the labels of an answer key
PATH_SEPARATOR = "/"  # between the levels of a taxonomy path


def jaccard(a: str, b: str) -> pl.Expr:
    """Jaccard index of two answer-key columns (labels joined by SEPARATOR); null keys are empty sets."""
    empty = pl.lit([], pl.List(pl.String))
    left, right = pl.col(a).str.split(SEPARATOR).fill_null(empty), pl.col(b).str.split(SEPARATOR).fill_null(empty)
    union = left.list.set_union(right).list.len()
    return pl.when(union == 0).then(1.0).otherwise(left.list.set_intersection(right).list.len() / union)


def taxonomy_similarity(pairs: pl.LazyFrame, a: str, b: str) -> pl.LazyFrame:
    """`pairs` with a `score` column: the path partial credit of answer keys `a` and `b` (module doc)."""
    pairs = pairs.with_row_index("_pair")
    paths = [
        pairs.select("_pair", pl.col(side).str.split(SEPARATOR).alias("path")).explode("path").drop_nulls("path").with_row_index("_path")
        .with_columns(levels=pl.col("path").str.split(PATH_SEPARATOR))
        for side in (a, b)
    ]  # fmt: skip
    combos = paths[0].join(paths[1], on="_pair", suffix="_b")
    depth = pl.min_horizontal(pl.col("levels").list.len(), pl.col("levels_b").list.len())
    deepest = int(pl.concat([p.select(pl.col("levels").list.len()) for p in paths]).max().collect().item() or 0)
    common = pl.sum_horizontal(
        pl.lit(0),
        *(
            ((pl.col("levels").list.head(k) == pl.col("levels_b").list.head(k)) & (depth >= k)).cast(pl.Int32)
            for k in range(1, deepest + 1)
        ),
    )  # prefixes are nested, so the count of equal heads is the common prefix's length
    credit = combos.with_columns(credit=common / pl.max_horizontal(pl.col("levels").list.len(), pl.col("levels_b").list.len()))
    best = (
        pl.concat(
            [
                credit.group_by("_pair", "_path").agg(pl.col("credit").max()),
                credit.group_by("_pair", "_path_b").agg(pl.col("credit").max()).rename({"_path_b": "_path"}),
            ]
        )
        .group_by("_pair")
        .agg(ordered_sum(pl.col("credit")))
    )
    n_paths = pl.col(a).str.split(SEPARATOR).list.len().fill_null(0) + pl.col(b).str.split(SEPARATOR).list.len().fill_null(0)
    return (
        pairs.join(best, on="_pair", how="left")
        .with_columns(score=pl.when(n_paths == 0).then(1.0).otherwise(pl.col("credit").fill_null(0.0) / n_paths))
        .drop("_pair", "credit")
    )


def scaled_difference(a: str, b: str, value_range: str) -> pl.Expr:
    """1 - |a - b| / range floored at 0; exact match when the range is 0 or unknown."""
    difference = (pl.col(a) - pl.col(b)).abs()
    return (
        pl.when(pl.col(value_range) > 0)
        .then((1 - difference / pl.col(value_range)).clip(lower_bound=0.0))
        .otherwise((difference == 0).cast(pl.Float64))
    )


def _normalised_text(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(r"\s+", " ").str.strip_chars()


def text_similarity(a: str, b: str) -> pl.Expr:
    """Normalised Levenshtein similarity of two text columns (rapidfuzz, element-wise in C)."""

    def similarity(texts: pl.Series) -> pl.Series:
        left, right = texts.struct.field("a").fill_null("").to_list(), texts.struct.field("b").fill_null("").to_list()
        if not left:
            return pl.Series([], dtype=pl.Float64)
        return pl.Series(process.cpdist(left, right, scorer=Levenshtein.normalized_similarity, dtype=np.float64), dtype=pl.Float64)

    return pl.struct(_normalised_text(a).alias("a"), _normalised_text(b).alias("b")).map_batches(similarity, return_dtype=pl.Float64)


def answer_similarity(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Score each row of `pairs` (type, key_a, key_b, number_a, number_b, value_range) as its type says;
    keys are null for an empty answer. Returns `pairs` with `score`."""
    one_empty = pl.col("key_a").is_null() != pl.col("key_b").is_null()
    both_empty = pl.col("key_a").is_null() & pl.col("key_b").is_null()
    taxonomy = taxonomy_similarity(pairs.filter(pl.col("type") == "taxonomy"), "key_a", "key_b")
    others = pairs.filter(pl.col("type") != "taxonomy").with_columns(
        score=pl.when(both_empty)
        .then(1.0)
        .when(one_empty)
        .then(0.0)
        .when(pl.col("type") == "choices")
        .then(jaccard("key_a", "key_b"))
        .when(pl.col("type").is_in(NUMERIC_TYPES))
        .then(scaled_difference("number_a", "number_b", "value_range"))
        .when(pl.col("type") == "textarea")
        .then(text_similarity("key_a", "key_b"))
        .otherwise((pl.col("key_a") == pl.col("key_b")).cast(pl.Float64))
    )
    return pl.concat([others, taxonomy.select(others.collect_schema().names())])


def span_iou() -> pl.Expr:
    intersection = (pl.min_horizontal("end", "end_b") - pl.max_horizontal("start", "start_b")).clip(lower_bound=0)
    union = (pl.col("end") - pl.col("start")) + (pl.col("end_b") - pl.col("start_b")) - intersection
    return pl.when(union > 0).then(intersection / union)


def keypoint_similarity() -> pl.Expr:
    def share(axis: str, size: str, suffix: str) -> pl.Expr:
        value = pl.col(f"{axis}{suffix}")
        return pl.when(pl.col(f"coordinate_unit{suffix}") == "pixel").then(value / pl.col(f"{size}{suffix}")).otherwise(value / 100)

    squared = (share("x", "original_width", "") - share("x", "original_width", "_b")) ** 2 + (
        share("y", "original_height", "") - share("y", "original_height", "_b")
    ) ** 2
    return (-squared / (2 * KEYPOINT_SIGMA**2)).exp()


def polygon_shapes(points: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each polygon (a list of [x, y] vertices, the ring closing back to the first) as the shape gtq scores and
    validates, and whether it had to be repaired. An invalid polygon (its ring crosses itself, as the bow-tie
    [[0,0],[2,2],[2,0],[0,2]] that Label Studio lets people draw) is read as shapely's `make_valid` of it (the
    bow-tie's two triangles, area 2). No shape (None) for a null or one with fewer than 3 points."""
    shapes, repaired = np.full(len(points), None, dtype=object), np.zeros(len(points), dtype=bool)
    drawn = (points.list.len() >= 3).fill_null(False).to_numpy()
    rings = points.filter(drawn)
    if not rings.is_empty():
        closed = rings.list.concat(rings.list.slice(0, 1))  # closed explicitly: a ring given closed stays valid
        coordinates = closed.explode().list.slice(0, 2).list.to_array(2).to_numpy().astype(float)
        polygons = shapely.polygons(
            shapely.linearrings(coordinates, indices=np.repeat(np.arange(len(closed)), closed.list.len().to_numpy()))
        )
        invalid = ~shapely.is_valid(polygons)
        shapes[drawn], repaired[drawn] = np.where(invalid, shapely.make_valid(polygons), polygons), invalid
    return shapes, repaired


def polygon_measures(points: pl.Series) -> pl.Series:
    """Per polygon (`polygon_shapes`), the struct {polygon_area: the area of its shape, after repair (the
    shoelace area of a simple polygon, 2 for the bow-tie where the shoelace formula gives 0, 0 when its points
    are collinear or repeat, or are fewer than 3), polygon_repaired: whether it was repaired}; null for null
    points. The one definition of a polygon's area: validation holds polygons to it, scoring measures them."""
    shapes, repaired = polygon_shapes(points)
    area = np.where(shapely.is_missing(shapes), 0.0, shapely.area(shapes))
    measured = pl.DataFrame({"drawn": points.is_not_null(), "polygon_area": area, "polygon_repaired": repaired})
    return (
        measured.select(pl.when("drawn").then(pl.struct("polygon_area", "polygon_repaired")).alias(points.name))
        .to_series()
        .cast(POLYGON_MEASURES)
    )


def polygon_iou(points_a: pl.Series, points_b: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """IoU of each pair of polygons (lists of [x, y] vertices, as `polygon_shapes`) and whether either had to be repaired."""
    if points_a.is_empty():
        return np.empty(0), np.empty(0, dtype=bool)
    (a, invalid_a), (b, invalid_b) = polygon_shapes(points_a), polygon_shapes(points_b)
    intersection = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, intersection / union, np.nan), invalid_a | invalid_b


REGION_COLUMNS = [
    "region_id",
    "type",
    "label",
    "x",
    "y",
    "width",
    "height",
    "points",
    "start",
    "end",
    "original_width",
    "original_height",
    "coordinate_unit",
]


def matched_regions(comparisons: pl.LazyFrame, a: pl.LazyFrame, b: pl.LazyFrame, on: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match side a's regions with side b's one to one per comparison (`on` keys) and control.

    a, b: `on` + REGION_COLUMNS (`label` the region's first label). Returns (matched pairs: `on`,
    region_id, region_id_b, weight; counts: `on`, n_a, n_b, repaired).
    """
    a = a.collect().with_row_index("_a")
    b = b.collect().with_row_index("_b")
    pairs = a.join(b, on=[*on, "label"], suffix="_b")
    polygons = pairs.filter(pl.col("type").is_in(POLYGON_TYPES))
    iou, repaired = polygon_iou(polygons["points"], polygons["points_b"])
    polygons = polygons.with_columns(weight=pl.Series(iou, dtype=pl.Float64).fill_nan(None), repaired=pl.Series(repaired, dtype=pl.Boolean))
    others = pairs.filter(~pl.col("type").is_in(POLYGON_TYPES)).with_columns(
        weight=pl.when(pl.col("type").is_in(BOX_TYPES))
        .then(box_iou("", "_b"))
        .when(pl.col("type").is_in(SPAN_TYPES))
        .then(span_iou())
        .when(pl.col("type").is_in(KEYPOINT_TYPES))
        .then(keypoint_similarity()),
        repaired=pl.lit(False),
    )
    weighted = pl.concat([others, polygons]).filter(pl.col("weight") > 0)
    matched = optimal_matches(weighted, on, "_a", "_b", "weight", most_matches_first=False)
    counts = (
        comparisons.collect()
        .join(a.group_by(on).len("n_a"), on=on, how="left", nulls_equal=True)
        .join(b.group_by(on).len("n_b"), on=on, how="left", nulls_equal=True)
        .join(weighted.group_by(on).agg(pl.col("repaired").sum().alias("repaired")), on=on, how="left", nulls_equal=True)
        .with_columns(pl.col("n_a", "n_b", "repaired").fill_null(0).cast(pl.Int64))
    )
    return matched.select(*on, "region_id", "region_id_b", "weight"), counts


def region_similarity(matched: pl.DataFrame, counts: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """score = sum of matched weights / max(n_a, n_b), 1 when both sides are empty. Returns `on`, score, repaired."""
    total = matched.group_by(on).agg(ordered_sum(pl.col("weight")))
    n = pl.max_horizontal("n_a", "n_b")
    return counts.join(total, on=on, how="left", nulls_equal=True).select(
        *on, pl.when(n == 0).then(1.0).otherwise(pl.col("weight").fill_null(0.0) / n).alias("score"), "repaired"
    )
