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
    """Jaccard index of two answer-key columns: |A ∩ B| / |A ∪ B|.

    Parameters
    ----------
    a, b : str
        Answer-key columns: an answer's labels joined by SEPARATOR ("\\x1f").

    Returns
    -------
    pl.Expr
        The Jaccard index of the two label sets, in [0, 1].

    Notes
    -----
    A null key is an empty set: both empty score 1, exactly one empty 0.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import SEPARATOR, jaccard
    >>> keys = pl.DataFrame({"a": [f"cat{SEPARATOR}dog", "cat", None, None], "b": ["cat", "cat", "cat", None]})
    >>> keys.select(jaccard("a", "b").alias("score"))["score"].to_list()
    [0.5, 1.0, 0.0, 1.0]
    """
    empty = pl.lit([], pl.List(pl.String))
    left, right = pl.col(a).str.split(SEPARATOR).fill_null(empty), pl.col(b).str.split(SEPARATOR).fill_null(empty)
    union = left.list.set_union(right).list.len()
    return pl.when(union == 0).then(1.0).otherwise(left.list.set_intersection(right).list.len() / union)


def taxonomy_similarity(pairs: pl.LazyFrame, a: str, b: str) -> pl.LazyFrame:
    """Partial credit of two taxonomy answers along their paths.

    Two paths score the length of their common prefix over the longer path's depth (Animal/Cat vs
    Animal/Dog = 1/2); sets of paths score the mean, over the paths of both sides, of each path's best
    match on the other side.

    Parameters
    ----------
    pairs : pl.LazyFrame
        Rows with the answer keys `a` and `b`: paths joined by SEPARATOR, levels by PATH_SEPARATOR ("/").
    a, b : str
        The two answer-key columns.

    Returns
    -------
    pl.LazyFrame
        `pairs` with a `score` column, in [0, 1] (rows in no particular order).

    Notes
    -----
    Both answers empty score 1; exactly one empty scores 0. A score is a function of the two keys alone:
    it is computed once per distinct (a, b) and joined back on the keys, never on a row number, since a
    lazy `pairs` (a join) may give its rows in another order each time it is evaluated.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import SEPARATOR, taxonomy_similarity
    >>> pairs = pl.LazyFrame({"pair": [1, 2, 3, 4],
    ...                       "a": ["Animal/Cat", "Animal/Cat", f"Animal/Cat{SEPARATOR}Plant", None],
    ...                       "b": ["Animal/Dog", "Animal/Cat", "Animal/Cat", None]})
    >>> taxonomy_similarity(pairs, "a", "b").collect().sort("pair")["score"].round(4).to_list()
    [0.5, 1.0, 0.6667, 1.0]
    """
    answered = pairs.select(a, b).drop_nulls().unique()  # a score is a function of the two keys alone
    paths = [
        answered.select(a, b, pl.col(side).str.split(SEPARATOR).alias("path"))
        .with_columns(_path=pl.int_ranges(pl.col("path").list.len()))  # a path's place in its answer
        .explode("path", "_path")
        .with_columns(levels=pl.col("path").str.split(PATH_SEPARATOR))
        for side in (a, b)
    ]
    combos = paths[0].join(paths[1], on=[a, b], suffix="_b")
    depth = pl.min_horizontal(pl.col("levels").list.len(), pl.col("levels_b").list.len())
    deepest = int(pl.concat([p.select(pl.col("levels").list.len()) for p in paths]).max().collect().item() or 0)
    common = pl.sum_horizontal(
        pl.lit(0),
        *(
            ((pl.col("levels").list.head(k) == pl.col("levels_b").list.head(k)) & (depth >= k)).cast(pl.Int32)
            for k in range(1, deepest + 1)
        ),
    )  # prefixes are nested, so the count of equal heads is the common prefix's length
    credit = combos.with_columns(
        credit=common / pl.max_horizontal(pl.col("levels").list.len(), pl.col("levels_b").list.len())
    )
    best = (
        pl.concat(
            [
                credit.group_by(a, b, "_path").agg(pl.col("credit").max()),
                credit.group_by(a, b, "_path_b").agg(pl.col("credit").max()).rename({"_path_b": "_path"}),
            ]
        )
        .group_by(a, b)
        .agg(ordered_sum(pl.col("credit")))
    )
    n_paths = pl.col(a).str.split(SEPARATOR).list.len().fill_null(0) + pl.col(b).str.split(
        SEPARATOR
    ).list.len().fill_null(0)
    return (
        pairs.join(best, on=[a, b], how="left")  # a null key matches nothing: its credit is 0
        .with_columns(score=pl.when(n_paths == 0).then(1.0).otherwise(pl.col("credit").fill_null(0.0) / n_paths))
        .drop("credit")
    )


def scaled_difference(a: str, b: str, value_range: str) -> pl.Expr:
    """Similarity of two numbers on a scale: 1 - |a - b| / range, floored at 0.

    Parameters
    ----------
    a, b : str
        The two number columns.
    value_range : str
        The column holding the scale's range (max - min).

    Returns
    -------
    pl.Expr
        The similarity, in [0, 1].

    Notes
    -----
    When the range is 0 or unknown (null), only an exact match scores (1, else 0).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import scaled_difference
    >>> numbers = pl.DataFrame({"a": [4.0, 1.0, 3.0, 3.0], "b": [5.0, 5.0, 3.0, 4.0], "range": [4.0, 2.0, 0.0, None]})
    >>> numbers.select(scaled_difference("a", "b", "range").alias("score"))["score"].to_list()
    [0.75, 0.0, 1.0, 0.0]
    """
    difference = (pl.col(a) - pl.col(b)).abs()
    return (
        pl.when(pl.col(value_range) > 0)
        .then((1 - difference / pl.col(value_range)).clip(lower_bound=0.0))
        .otherwise((difference == 0).cast(pl.Float64))
    )


def _normalised_text(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(r"\s+", " ").str.strip_chars()


def text_similarity(a: str, b: str) -> pl.Expr:
    """Normalised Levenshtein similarity of two text columns: 1 - distance / length of the longer text.

    Parameters
    ----------
    a, b : str
        The two text columns.

    Returns
    -------
    pl.Expr
        The similarity, in [0, 1] (rapidfuzz, element-wise in C).

    Notes
    -----
    White space is trimmed and runs of it collapsed to one space first (several lines are one text). A
    null text is "": two empty texts score 1.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import text_similarity
    >>> texts = pl.DataFrame({"a": ["a cat  sat", "kitten", None], "b": ["a cat sat ", "sitting", None]})
    >>> texts.select(text_similarity("a", "b").round(4).alias("score"))["score"].to_list()
    [1.0, 0.5714, 1.0]
    """

    def similarity(texts: pl.Series) -> pl.Series:
        left, right = texts.struct.field("a").fill_null("").to_list(), texts.struct.field("b").fill_null("").to_list()
        if not left:
            return pl.Series([], dtype=pl.Float64)
        return pl.Series(
            process.cpdist(left, right, scorer=Levenshtein.normalized_similarity, dtype=np.float64), dtype=pl.Float64
        )

    return pl.struct(_normalised_text(a).alias("a"), _normalised_text(b).alias("b")).map_batches(
        similarity, return_dtype=pl.Float64
    )


def answer_similarity(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Score each pair of answers as its control type says (module doc).

    choices: `jaccard`; taxonomy: `taxonomy_similarity`; rating and number: `scaled_difference`; textarea:
    `text_similarity`; any other type (datetime): exact match.

    Parameters
    ----------
    pairs : pl.LazyFrame
        type, key_a, key_b (answer keys, null for an empty answer), number_a, number_b (rating and number
        values) and value_range (the control's range), plus any other columns.

    Returns
    -------
    pl.LazyFrame
        `pairs` with `score` in [0, 1] (taxonomy rows last).

    Notes
    -----
    For every type, both answers empty score 1 and exactly one empty scores 0.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import SEPARATOR, answer_similarity
    >>> pairs = pl.LazyFrame({"type": ["choices", "taxonomy", "rating", "textarea", "datetime", "choices"],
    ...                       "key_a": ["cat", "Animal/Cat", "4", "hello", "2024-01-01", None],
    ...                       "key_b": [f"cat{SEPARATOR}dog", "Animal/Dog", "5", "hallo", "2024-01-02", "cat"],
    ...                       "number_a": [None, None, 4.0, None, None, None],
    ...                       "number_b": [None, None, 5.0, None, None, None],
    ...                       "value_range": [None, None, 4.0, None, None, None]})
    >>> answer_similarity(pairs).collect().select("type", pl.col("score").round(4)).rows()
    [('choices', 0.5), ('rating', 0.75), ('textarea', 0.8), ('datetime', 0.0), ('choices', 0.0), ('taxonomy', 0.5)]
    """
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
    """IoU of two text spans, half-open character offsets [start, end) and [start_b, end_b).

    intersection / (length_a + length_b - intersection).

    Returns
    -------
    pl.Expr
        The IoU, in [0, 1]; null when both spans are empty.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import span_iou
    >>> spans = pl.DataFrame({"start": [0, 0, 0], "end": [10, 5, 0], "start_b": [5, 5, 0], "end_b": [15, 10, 0]})
    >>> spans.select(span_iou().round(4).alias("iou"))["iou"].to_list()
    [0.3333, 0.0, None]
    """
    intersection = (pl.min_horizontal("end", "end_b") - pl.max_horizontal("start", "start_b")).clip(lower_bound=0)
    union = (pl.col("end") - pl.col("start")) + (pl.col("end_b") - pl.col("start_b")) - intersection
    return pl.when(union > 0).then(intersection / union)


def keypoint_similarity() -> pl.Expr:
    """Object keypoint similarity of two keypoints: exp(-d^2 / (2 k^2)).

    d is the distance as a share of the image side (each axis divided by its image size) and k =
    KEYPOINT_SIGMA = 0.09 (the image as the object's scale, CVAT's default sigma).

    Returns
    -------
    pl.Expr
        The similarity, in (0, 1], of the keypoints (x, y, coordinate_unit, original_width,
        original_height) and the same suffixed `_b`; each side in its own unit: "percent" of the image, or
        "pixel" (divided by the image's size).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import keypoint_similarity
    >>> image = {"original_width": 200, "original_height": 100, "original_width_b": 200, "original_height_b": 100}
    >>> points = pl.DataFrame({"x": 50.0, "y": 50.0, "coordinate_unit": "percent",
    ...                        "x_b": [100.0, 118.0], "y_b": 50.0, "coordinate_unit_b": "pixel", **image})
    >>> points.select(keypoint_similarity().round(4).alias("oks"))["oks"].to_list()
    [1.0, 0.6065]
    """

    def share(axis: str, size: str, suffix: str) -> pl.Expr:
        value = pl.col(f"{axis}{suffix}")
        return (
            pl.when(pl.col(f"coordinate_unit{suffix}") == "pixel")
            .then(value / pl.col(f"{size}{suffix}"))
            .otherwise(value / 100)
        )

    squared = (share("x", "original_width", "") - share("x", "original_width", "_b")) ** 2 + (
        share("y", "original_height", "") - share("y", "original_height", "_b")
    ) ** 2
    return (-squared / (2 * KEYPOINT_SIGMA**2)).exp()


def polygon_shapes(points: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each polygon as the shape gtq scores and validates, and whether it had to be repaired.

    Parameters
    ----------
    points : pl.Series
        Polygons: each a list of [x, y] vertices, the ring closing back to the first.

    Returns
    -------
    shapes : np.ndarray of object
        One shapely geometry per polygon, None for a null or one with fewer than 3 points.
    repaired : np.ndarray of bool
        Whether the polygon was invalid and repaired.

    Notes
    -----
    An invalid polygon (its ring crosses itself, as the bow-tie [[0,0],[2,2],[2,0],[0,2]] that Label Studio
    lets people draw) is read as shapely's `make_valid` of it (the bow-tie's two triangles, area 2).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import polygon_shapes
    >>> points = pl.Series([[[0, 0], [2, 0], [2, 2], [0, 2]], [[0, 0], [2, 2], [2, 0], [0, 2]], [[0, 0], [1, 1]], None],
    ...                    dtype=pl.List(pl.List(pl.Float64)))
    >>> shapes, repaired = polygon_shapes(points)
    >>> [None if shape is None else shape.geom_type for shape in shapes], repaired.tolist()
    (['Polygon', 'MultiPolygon', None, None], [False, True, False, False])
    """
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
    """Each polygon's area and whether it was repaired: the one definition of a polygon's area.

    Validation holds polygons to it, scoring measures them with it (`polygon_shapes`).

    Parameters
    ----------
    points : pl.Series
        Polygons: each a list of [x, y] vertices.

    Returns
    -------
    pl.Series
        The struct {polygon_area, polygon_repaired} (POLYGON_MEASURES) per polygon: the area of its shape
        after repair (the shoelace area of a simple polygon, 2 for the bow-tie where the shoelace formula
        gives 0), and whether it was repaired.

    Notes
    -----
    The area is 0 when the points are collinear or repeat, or are fewer than 3; null points give null.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import polygon_measures
    >>> points = pl.Series([[[0, 0], [2, 0], [2, 2], [0, 2]], [[0, 0], [2, 2], [2, 0], [0, 2]], [[0, 0], [1, 1]], None],
    ...                    dtype=pl.List(pl.List(pl.Float64)))
    >>> polygon_measures(points).to_list()
    [{'polygon_area': 4.0, 'polygon_repaired': False}, {'polygon_area': 2.0, 'polygon_repaired': True},
     {'polygon_area': 0.0, 'polygon_repaired': False}, None]
    """
    shapes, repaired = polygon_shapes(points)
    area = np.where(shapely.is_missing(shapes), 0.0, shapely.area(shapes))
    measured = pl.DataFrame({"drawn": points.is_not_null(), "polygon_area": area, "polygon_repaired": repaired})
    return (
        measured.select(pl.when("drawn").then(pl.struct("polygon_area", "polygon_repaired")).alias(points.name))
        .to_series()
        .cast(POLYGON_MEASURES)
    )


def polygon_iou(points_a: pl.Series, points_b: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """IoU of each pair of polygons: area(A ∩ B) / (area(A) + area(B) - area(A ∩ B)).

    Parameters
    ----------
    points_a, points_b : pl.Series
        Polygons of the same length (lists of [x, y] vertices, read as `polygon_shapes`).

    Returns
    -------
    iou : np.ndarray of float
        The IoU of each pair; NaN when the union has no area (or a side has no shape).
    repaired : np.ndarray of bool
        Whether either polygon of the pair had to be repaired.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import polygon_iou
    >>> squares = pl.Series([[[0, 0], [2, 0], [2, 2], [0, 2]]] * 2, dtype=pl.List(pl.List(pl.Float64)))
    >>> others = pl.Series([[[1, 0], [3, 0], [3, 2], [1, 2]], [[0, 0], [2, 2], [2, 0], [0, 2]]],
    ...                    dtype=pl.List(pl.List(pl.Float64)))
    >>> iou, repaired = polygon_iou(squares, others)
    >>> iou.round(4).tolist(), repaired.tolist()
    ([0.3333, 0.5], [False, True])
    """
    if points_a.is_empty():
        return np.empty(0), np.empty(0, dtype=bool)
    (a, invalid_a), (b, invalid_b) = polygon_shapes(points_a), polygon_shapes(points_b)
    intersection = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        # Clipped: the areas of a repaired (self-intersecting) polygon and of its intersection with an equal one
        # are summed in other orders, so an IoU of 1 can come out as 1.0000000000000002.
        iou = np.clip(intersection / union, 0.0, 1.0)
        return np.where(union > 0, iou, np.nan), invalid_a | invalid_b


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


def matched_regions(
    comparisons: pl.LazyFrame, a: pl.LazyFrame, b: pl.LazyFrame, on: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match side a's regions with side b's one to one per comparison (`on` keys) and control.

    Candidate pairs are regions of the same label; each weighs its geometric similarity (box IoU, span IoU,
    polygon IoU or keypoint similarity, by type), and the matching maximises the total weight
    (`matching.optimal_matches`). Pairs of weight 0 are no candidates.

    Parameters
    ----------
    comparisons : pl.LazyFrame
        The `on` keys of every comparison to count, with regions or without.
    a, b : pl.LazyFrame
        Each side's regions: `on` + REGION_COLUMNS (`label` the region's first label).
    on : list of str
        The columns naming a comparison and control.

    Returns
    -------
    matched : pl.DataFrame
        `on`, region_id, region_id_b, weight: one row per matched pair.
    counts : pl.DataFrame
        `on`, n_a, n_b (each side's regions), repaired (candidate pairs that needed a polygon repair); one
        row per comparison.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import matched_regions
    >>> def boxes(ids, xs):
    ...     return pl.LazyFrame({"task_id": 1, "control": "box", "region_id": ids, "type": "rectanglelabels",
    ...                          "label": "car", "x": xs, "y": 0.0, "width": 10.0, "height": 10.0, "points": None,
    ...                          "start": None, "end": None, "original_width": None, "original_height": None,
    ...                          "coordinate_unit": "percent"})
    >>> comparisons = pl.LazyFrame({"task_id": [1], "control": ["box"]})
    >>> matched, counts = matched_regions(comparisons, boxes(["a1", "a2"], [0.0, 30.0]), boxes(["b1"], [5.0]),
    ...                                   ["task_id", "control"])
    >>> matched.with_columns(pl.col("weight").round(4)).rows(), counts.rows()
    ([(1, 'box', 'a1', 'b1', 0.3333)], [(1, 'box', 2, 1, 0)])
    """
    a = a.collect().with_row_index("_a")
    b = b.collect().with_row_index("_b")
    pairs = a.join(b, on=[*on, "label"], suffix="_b")
    polygons = pairs.filter(pl.col("type").is_in(POLYGON_TYPES))
    iou, repaired = polygon_iou(polygons["points"], polygons["points_b"])
    polygons = polygons.with_columns(
        weight=pl.Series(iou, dtype=pl.Float64).fill_nan(None), repaired=pl.Series(repaired, dtype=pl.Boolean)
    )
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
        .join(
            weighted.group_by(on).agg(pl.col("repaired").sum().alias("repaired")), on=on, how="left", nulls_equal=True
        )
        .with_columns(pl.col("n_a", "n_b", "repaired").fill_null(0).cast(pl.Int64))
    )
    return matched.select(*on, "region_id", "region_id_b", "weight"), counts


def region_similarity(matched: pl.DataFrame, counts: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """The similarity of two sets of regions: score = sum of matched weights / max(n_a, n_b).

    A missed or extra region costs as much as a mismatched one.

    Parameters
    ----------
    matched : pl.DataFrame
        `on` and the weight of each matched pair (`matched_regions`).
    counts : pl.DataFrame
        `on`, n_a, n_b, repaired, one row per comparison (`matched_regions`).
    on : list of str
        The columns naming a comparison and control.

    Returns
    -------
    pl.DataFrame
        `on`, score (in [0, 1]), repaired; one row per row of `counts`.

    Notes
    -----
    Both sides empty score 1; one side empty scores 0.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.similarity import region_similarity
    >>> matched = pl.DataFrame({"task_id": [1], "control": "box", "region_id": "a1", "region_id_b": "b1",
    ...                         "weight": 0.5})
    >>> counts = pl.DataFrame({"task_id": [1, 2], "control": "box", "n_a": [2, 0], "n_b": [1, 0], "repaired": 0})
    >>> region_similarity(matched, counts, ["task_id", "control"]).sort("task_id").rows()
    [(1, 'box', 0.25, 0), (2, 'box', 1.0, 0)]
    """
    total = matched.group_by(on).agg(ordered_sum(pl.col("weight")))
    n = pl.max_horizontal("n_a", "n_b")
    return counts.join(total, on=on, how="left", nulls_equal=True).select(
        *on, pl.when(n == 0).then(1.0).otherwise(pl.col("weight").fill_null(0.0) / n).alias("score"), "repaired"
    )
