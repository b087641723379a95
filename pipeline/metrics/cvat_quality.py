"""CVAT's quality report (CVAT 2.32.1), reproduced: one annotation job compared with its task's ground-truth job.

CVAT's quality control compares every annotation job of a task with the task's ground-truth (GT) job, on the
frames the two share. On each frame it pairs the job's shapes one-to-one with the GT shapes, family by family
(boxes, point sets, polygons and masks, polylines, skeletons, tags), by the Hungarian algorithm on one minus a
similarity; it then lists the conflicts (a GT shape missing, an extra shape, a mismatching label, a low overlap,
mismatching attributes, groups or line direction, a shape covered by others) and counts the pairs into
accuracy, precision and recall. This module computes the same report from the shapes of a CVAT for images 1.1
export, without CVAT or Datumaro: `compare_job` for one job, `task_summary` for a task's jobs.

Input frames
------------
`shapes` (the job) and `gt_shapes` (the GT job) have one row per shape or tag of the export:

==========  =====================  ==============================================================================
column      type                   meaning
==========  =====================  ==============================================================================
job         str                    the job
frame       int                    the frame: the `id` of the <image> element
shape       int                    the shape's position in its <image> element (0, 1, ...: the shapes in file
                                   order, then the tags); names the shape in conflicts and gives CVAT's order
kind        str                    the XML element: box, polygon, polyline, points, ellipse, mask, skeleton,
                                   cuboid or tag
label       str                    the label
points      list[f64]              the geometry as the XML gives it: box [xtl, ytl, xbr, ybr]; polygon, polyline,
                                   points [x0, y0, x1, y1, ...]; ellipse [cx, cy, rx, ry]; mask [left, top,
                                   width, height]; empty or null for skeleton, cuboid and tag
rle         list[i64]              mask only: the XML's `rle`, run lengths over the mask's box row by row,
                                   starting with a background run (optional column)
rotation    f64                    box and ellipse: degrees clockwise (optional, default 0)
occluded    bool                   (optional, default false)
outside     bool                   an outside shape of a track, left out as CVAT does (optional, default false)
z_order     i64                    (optional, default 0)
group_id    i64                    0 for none (optional, default 0)
attributes  list[struct]           name (str), value (str): the shape's <attribute> elements (optional)
elements    list[struct]           skeleton: label (str), points (list[f64], [x, y]), outside (bool), occluded
                                   (bool), one per skeleton point (optional)
==========  =====================  ==============================================================================

`images` and `gt_images` have one row per <image> element of each job's export: job (str), frame (int),
width and height (int). A job is compared on the frames both jobs have (CVAT compares a job on the GT frames
in its range), a frame without shapes included. `labels`, optional, are the task's labels in <meta><labels>
order: label (str), attributes (list of struct name, input_type, default_value: the attribute specs) and
sublabels (list[str]: a skeleton's points in order); see `compare_job`.

What CVAT does, step by step
----------------------------
Coordinates are rounded to 2 decimals first (Datumaro stores them so). Cuboids are left out (2D tasks).

- Boxes: IoU of the axis-aligned boxes (-1 when they do not intersect) when both have the same rotation,
  else the pixel IoU of the two rotated boxes as polygons.
- Polygons, masks and ellipses (as masks) together: shapes of one group and one label form one object; the
  pixel IoU of objects, each reduced to its visible pixels (a higher z_order, then a later shape, paints over
  a lower one) when `panoptic_comparison`.
- Point sets: single points without a group are compared by OKS at the image's scale; otherwise in the
  group's box (the box of all shapes of the group): 0 when the two boxes do not intersect, else the points
  are paired (Hungarian on OKS at the scale of the two boxes' mean area) and the OKS summed over the pairs,
  divided by the pairs plus the unpaired points.
- Polylines: both lines resampled to the same number of points, the mean of exp(-d^2 / (2 s (2 t)^2)) over
  the point pairs (s the image area, t `line_thickness`), the better of the two directions.
- Skeletons: OKS of the skeleton points in sublabel order (an absent point left out, an occluded one counts
  as unmatched), scale the mean of the two group boxes' areas; 0 when the group boxes do not intersect.
- Tags: 1 for the same label, 0.5 otherwise.

Pairs with a similarity below `iou_threshold` (0.5 for tags) stay unmatched; matched pairs with different
labels are mismatches. Then, per frame and in this order: low_overlap (a pair below `low_overlap_threshold`),
missing_annotation (unmatched GT), extra_annotation (unmatched in the job), mismatching_label,
mismatching_direction (polylines more similar the other way round), covered_annotation (a box, polygon or
mask of the job with less than `object_visibility_threshold` of it uncovered by the shapes above it),
mismatching_attributes (same-label pairs only; CVAT compares `occluded` too), mismatching_groups (groups
paired by the IoU of their matched members). Severity: error for missing_annotation, extra_annotation and
mismatching_label, warning for the others.

Counts: valid = same-label pairs, total = pairs + unmatched on both sides, ds = pairs + extra, gt = pairs +
missing; accuracy = valid / total, precision = valid / ds, recall = valid / gt (0 for 0/0, as CVAT). A task
sums its jobs' counts.

Conventions
-----------
Shapes are named by (job, shape position). CVAT compares a frame's tags first, then its shapes in the XML's
order (its database order stably sorted by z_order), and that order decides the Hungarian algorithm's ties and
the order of the conflicts: with `shape` in file order, pairs, conflicts and their order are CVAT's own, and
so are the similarities and mean IoUs, to the last bit (Datumaro's float arithmetic is followed). Nulls, never
NaN: a similarity CVAT does not have (tags, single shapes) is null, and so is the mean IoU of a job with no
frame compared.

Checked against CVAT's own test reports (tests/metrics/reference_cases/cvat_quality_tasks_22_23.json): every
conflict, count and mean IoU of its reports on tasks 22 and 23. Pixel IoUs use pycocotools, as CVAT does. One
approximation: CVAT draws an ellipse with OpenCV; here it is OpenCV's `ellipse2Poly` outline (integer centre
and axes, its angle step) filled row by row on pixel centres, which can differ from OpenCV's fill by a pixel at
the border and so change an ellipse's IoU slightly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

KINDS = ("box", "polygon", "polyline", "points", "ellipse", "mask", "skeleton", "cuboid", "tag")

# CVAT's comparison families, in the order it chains their results (bbox, points, polygon with masks, polyline,
# skeleton, label).
FAMILIES = ("box", "points", "segment", "line", "skeleton", "tag")
_FAMILY = {
    "box": "box",
    "points": "points",
    "polygon": "segment",
    "mask": "segment",
    "ellipse": "segment",
    "polyline": "line",
    "skeleton": "skeleton",
    "tag": "tag",
}
# Least number of coordinates of a shape's points (Datumaro refuses a polygon of fewer than 3 points).
_LEAST_POINTS = {"box": 4, "polygon": 6, "polyline": 4, "points": 2, "ellipse": 4, "mask": 4}
# Shapes that can cover others, or be covered (CVAT's spatial types: bbox, polygon, mask).
_COVERING = ("box", "polygon", "mask", "ellipse")

CONFLICT_TYPES = (
    "low_overlap",
    "missing_annotation",
    "extra_annotation",
    "mismatching_label",
    "mismatching_direction",
    "covered_annotation",
    "mismatching_attributes",
    "mismatching_groups",
)
ERROR_TYPES = ("missing_annotation", "extra_annotation", "mismatching_label")

# Attributes CVAT never compares (track_id, keyframe, z_order, group, rotation, outside) or compares otherwise.
_IGNORED_ATTRIBUTES = frozenset({"track_id", "keyframe", "z_order", "group", "rotation", "outside"})

# Skeleton point visibility, as Datumaro's Points.Visibility.
_ABSENT, _HIDDEN, _VISIBLE = 0, 1, 2

COUNT_COLUMNS = ["valid_count", "missing_count", "extra_count", "total_count", "ds_count", "gt_count"]

CONFLICT_SCHEMA = {
    "frame": pl.Int64,
    "type": pl.String,
    "severity": pl.String,
    "job": pl.String,
    "shape": pl.Int64,
    "kind": pl.String,
    "label": pl.String,
    "gt_job": pl.String,
    "gt_shape": pl.Int64,
    "gt_kind": pl.String,
    "gt_label": pl.String,
    "similarity": pl.Float64,
}


@dataclass(frozen=True)
class QualitySettings:
    """CVAT's quality settings (a task's quality_settings), with CVAT 2.32.1's defaults.

    Attributes
    ----------
    iou_threshold : float, default=0.4
        Least similarity of a matched pair (IoU, OKS or line similarity).
    low_overlap_threshold : float, default=0.8
        A matched pair below it is a low_overlap conflict.
    oks_sigma : float, default=0.09
        OKS sigma of point sets and skeletons.
    point_size_base : {"group_bbox_size", "image_size"}, default="group_bbox_size"
        The scale of a point set's OKS: the area of the two group boxes' mean, or the image's area.
    line_thickness : float, default=0.01
        Polyline tolerance, relative to the square root of the image area.
    compare_line_orientation : bool, default=True
        Report mismatching_direction.
    line_orientation_threshold : float, default=0.1
        Least gain of similarity from reversing a line that counts as a wrong direction.
    compare_groups : bool, default=True
        Report mismatching_groups.
    group_match_threshold : float, default=0.5
        Least IoU of two groups' matched members that pairs the groups.
    check_covered_annotations : bool, default=True
        Report covered_annotation.
    object_visibility_threshold : float, default=0.05
        Least visible share of a box, polygon or mask not to be covered.
    panoptic_comparison : bool, default=True
        Compare polygons and masks on their visible pixels only.
    compare_attributes : bool, default=True
        Report mismatching_attributes.
    ignored_attributes : tuple of str, default=()
        Attributes never compared.
    empty_is_annotated : bool, default=False
        Count a frame empty in both jobs as one valid annotation (and an empty side as one annotation).
    target_metric : {"accuracy", "precision", "recall"}, default="accuracy"
        The metric CVAT shows against `target_metric_threshold`; no effect on the comparison.
    target_metric_threshold : float, default=0.7
        See `target_metric`.
    max_validations_per_job : int, default=0
        CVAT's limit on a job's validations; no effect on the comparison.
    """

    iou_threshold: float = 0.4
    low_overlap_threshold: float = 0.8
    oks_sigma: float = 0.09
    point_size_base: str = "group_bbox_size"
    line_thickness: float = 0.01
    compare_line_orientation: bool = True
    line_orientation_threshold: float = 0.1
    compare_groups: bool = True
    group_match_threshold: float = 0.5
    check_covered_annotations: bool = True
    object_visibility_threshold: float = 0.05
    panoptic_comparison: bool = True
    compare_attributes: bool = True
    ignored_attributes: tuple[str, ...] = ()
    empty_is_annotated: bool = False
    target_metric: str = "accuracy"
    target_metric_threshold: float = 0.7
    max_validations_per_job: int = 0

    def __post_init__(self) -> None:
        if self.point_size_base not in ("group_bbox_size", "image_size"):
            raise ValueError(f"unknown point_size_base {self.point_size_base!r}")


@dataclass(frozen=True)
class JobReport:
    """One job's comparison with the GT job.

    Attributes
    ----------
    conflicts : pl.DataFrame
        One row per conflict, in CVAT's order: frame, type, severity, then the job's shape (job, shape, kind,
        label; null for a missing annotation) and the GT shape (gt_job, gt_shape, gt_kind, gt_label; null for
        an extra or covered annotation), and the pair's similarity (IoU, OKS or line similarity; null for tags
        and single shapes).
    frames : pl.DataFrame
        One row per frame compared: job, gt_job, frame, valid_count, missing_count, extra_count, total_count,
        ds_count, gt_count, accuracy, precision, recall, mean_iou, conflict_count, error_count,
        warning_count.
    summary : pl.DataFrame
        One row: job, gt_job, frame_count and the counts, ratios and conflict counts over the frames;
        mean_iou is the mean of the frames' (null without frames).
    matches : pl.DataFrame
        The valid pairs (same label, the `valid_count`), as `conflicts` lists shapes, with type "matched" and a
        null severity: a low_overlap or mismatching_attributes conflict names one of these pairs.
    """

    conflicts: pl.DataFrame
    frames: pl.DataFrame
    summary: pl.DataFrame
    matches: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CONFLICT_SCHEMA))


# ---------------------------------------------------------------------------------------------------------------
# Geometry helpers: boxes as [x, y, w, h] lists, with Datumaro's arithmetic (so ties and thresholds fall alike).


def _round(values) -> np.ndarray:
    """Coordinates as Datumaro stores them: rounded to 2 decimals."""
    return np.around(np.asarray(values, dtype=np.float64), 2)


def _corner_bbox(points: np.ndarray) -> list[float] | None:
    """[x, y, w, h] of a point list (a polygon's, a polyline's)."""
    if not len(points):
        return None
    xs, ys = points[0::2], points[1::2]
    x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    return [x0, y0, x1 - x0, y1 - y0]


def _max_bbox(boxes: Sequence[Sequence[float]]) -> list[float]:
    """The box around boxes ([0, 0, 0, 0] for none)."""
    x0 = min((b[0] for b in boxes), default=0)
    y0 = min((b[1] for b in boxes), default=0)
    x1 = max((b[0] + b[2] for b in boxes), default=0)
    y1 = max((b[1] + b[3] for b in boxes), default=0)
    return [x0, y0, x1 - x0, y1 - y0]


def _mean_bbox(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """The mean of two boxes (their mean left, top, right and bottom)."""
    left = (a[0] + b[0]) / 2
    top = (a[1] + b[1]) / 2
    right = ((a[0] + a[2]) + (b[0] + b[2])) / 2
    bottom = ((a[1] + a[3]) + (b[1] + b[3])) / 2
    return [left, top, right - left, bottom - top]


def _bbox_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two [x, y, w, h] boxes; -1 when they do not intersect (Datumaro's convention)."""
    in_w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    in_h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    intersection = in_w * in_h
    if not intersection:
        return -1
    return intersection / (a[2] * a[3] + b[2] * b[3] - intersection)


def _box_polygon(points: np.ndarray, rotation: float) -> list[float]:
    """A box's corners as a polygon, rotated by `rotation` degrees (clockwise) about its centre."""
    x, y, w, h = float(points[0]), float(points[1]), float(points[2] - points[0]), float(points[3] - points[1])
    corners = [x, y, x + w, y, x + w, y + h, x, y + h]
    angle = rotation / 180 * math.pi
    if angle:
        xy = np.reshape(corners, (-1, 2))
        centre = (xy[0] + xy[2]) / 2
        cos, sin = np.cos(angle), np.sin(angle)
        corners = (np.matmul(xy - centre, ((cos, sin), (-sin, cos))) + centre).flatten()
    return _round(corners).tolist()


def _polygon_rle(points: Sequence[float], height: int, width: int) -> dict:
    return mask_utils.frPyObjects([list(points)], height, width)[0]


def _encode(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def _mask_rle(counts: Sequence[int], box: Sequence[float], height: int, width: int) -> dict:
    """A CVAT mask (run lengths over its box, row by row, background first) as a full-image RLE."""
    left, top, w, h = (int(v) for v in box)
    runs = np.asarray(counts, dtype=np.int64)
    if runs.sum() != w * h:
        raise ValueError(f"a mask's run lengths add up to {runs.sum()}, not its width x height {w} x {h}")
    tight = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8).reshape(h, w)
    full = np.zeros((height, width), dtype=np.uint8)
    full[top : top + h, left : left + w] = tight[: max(0, height - top), : max(0, width - left)]
    return _encode(full)


def _ellipse_rle(points: Sequence[float], rotation: float, height: int, width: int) -> dict:
    """An ellipse [cx, cy, rx, ry] as CVAT turns it into a mask (OpenCV's filled ellipse; see the module notes)."""
    cx, cy = round(points[0]), round(points[1])
    rx, ry = abs(round(points[2])), abs(round(points[3]))
    step = 90 if max(rx, ry) < 3 else 30 if max(rx, ry) < 10 else 18 if max(rx, ry) < 15 else 5
    degrees = np.radians(np.minimum(np.arange(0, 360 + step, step), 360))
    angle = math.radians(round(rotation) % 360)
    ex, ey = rx * np.cos(degrees), ry * np.sin(degrees)
    xs = cx + ex * math.cos(angle) - ey * math.sin(angle)
    ys = cy + ex * math.sin(angle) + ey * math.cos(angle)
    mask = np.zeros((height, width), dtype=bool)
    rows = np.arange(int(np.floor(ys.min() + 0.5)), int(np.floor(ys.max() + 0.5)) + 1)
    rows = rows[(rows >= 0) & (rows < height)]
    if len(rows):
        y = np.clip(rows.astype(np.float64), ys.min(), ys.max())[:, None]
        y0, y1, x0, x1 = ys[:-1], ys[1:], xs[:-1], xs[1:]
        crossing = (np.minimum(y0, y1) <= y) & (y <= np.maximum(y0, y1))
        with np.errstate(divide="ignore", invalid="ignore"):
            at = np.where(y1 != y0, x0 + (y - y0) * (x1 - x0) / (y1 - y0), np.maximum(x0, x1))
        left = np.floor(np.where(crossing, at, np.inf).min(axis=1) + 0.5)
        right = np.floor(np.where(crossing, at, -np.inf).max(axis=1) + 0.5)
        columns = np.arange(width)
        mask[rows] = (columns >= left[:, None]) & (columns <= right[:, None])
    return _encode(mask)


# ---------------------------------------------------------------------------------------------------------------
# One frame's annotations, as CVAT's Datumaro items hold them.


@dataclass(eq=False)
class _Ann:
    shape: int
    kind: str
    label: str
    family: str
    group: int
    z_order: int
    attributes: dict
    points: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rotation: float = 0.0
    label_rank: int = 0
    rle: dict | None = None
    visibility: np.ndarray | None = None  # skeletons: per sublabel, _ABSENT / _HIDDEN / _VISIBLE

    def bbox(self) -> list[float] | None:
        """Datumaro's get_bbox: [x, y, w, h], None for a tag."""
        if self.kind == "tag":
            return None
        if self.kind == "box":
            p = self.points
            return [float(p[0]), float(p[1]), float(p[2] - p[0]), float(p[3] - p[1])]
        if self.rle is not None:
            return [float(v) for v in mask_utils.toBbox(self.rle)]
        if self.kind == "skeleton":
            seen = self.points.reshape(-1, 2)[self.visibility != _ABSENT]
            return _max_bbox([[x, y, 0.0, 0.0] for x, y in seen.tolist()])
        if self.kind == "points":
            return _max_bbox([[x, y, 0.0, 0.0] for x, y in self.points.reshape(-1, 2).tolist()])
        return _corner_bbox(self.points)


@dataclass(frozen=True)
class _Labels:
    rank: dict[str, int]
    attributes: dict[str, list[tuple[str, str, str]]]
    sublabels: dict[str, list[str]]


def _label_info(labels: pl.DataFrame | None, shapes: Sequence[pl.DataFrame]) -> _Labels:
    """Label order, attribute specs and skeleton point order, from `labels` or (without it) from the shapes."""
    used = sorted(set().union(*(set(s["label"].to_list()) for s in shapes)))
    names = [] if labels is None else labels["label"].to_list()
    rank = {name: i for i, name in enumerate(names + [n for n in used if n not in names])}
    attributes: dict[str, list[tuple[str, str, str]]] = {}
    sublabels: dict[str, list[str]] = {}
    if labels is not None:
        for row in labels.to_dicts():
            if "attributes" in row and row["attributes"] is not None:
                attributes[row["label"]] = [(a["name"], a["input_type"], a["default_value"]) for a in row["attributes"]]
            if row.get("sublabels"):
                sublabels[row["label"]] = list(row["sublabels"])
    guessed: dict[str, set[str]] = {}
    for frame in shapes:
        skeletons = frame.filter(pl.col("kind") == "skeleton")
        for label, elements in zip(skeletons["label"].to_list(), skeletons["elements"].to_list(), strict=True):
            if label not in sublabels:
                guessed.setdefault(label, set()).update(e["label"] for e in elements or [])
    sublabels.update({label: sorted(names) for label, names in guessed.items()})
    return _Labels(rank, attributes, sublabels)


def _typed_attributes(label: str, attributes, labels: _Labels) -> dict:
    """A shape's attributes as CVAT compares them: every spec'd attribute (default when absent), typed."""
    given = {a["name"]: a["value"] for a in attributes or []}
    specs = labels.attributes.get(label)
    if specs is None:
        return given
    typed = {}
    for name, input_type, default in specs:
        value = given.get(name, default)
        if input_type == "number":
            value = float(value)
        elif input_type == "checkbox":
            value = str(value).lower() == "true"
        typed[name] = value
    return typed


def _annotations(rows: list[dict], height: int, width: int, labels: _Labels) -> list[_Ann]:
    """A frame's shapes in CVAT's comparison order (tags, then shapes), cuboids and outside shapes left out."""
    rows = sorted(rows, key=lambda r: (r["kind"] != "tag", r["shape"]))
    anns = []
    for row in rows:
        kind = row["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        if kind == "cuboid" or row["outside"]:
            continue
        attributes = _typed_attributes(row["label"], row["attributes"], labels)
        if kind != "tag":
            attributes["occluded"] = bool(row["occluded"])
        ann = _Ann(
            shape=row["shape"],
            kind=kind,
            label=row["label"],
            label_rank=labels.rank[row["label"]],
            family=_FAMILY[kind],
            group=row["group_id"] or 0,
            z_order=row["z_order"] or 0,
            attributes=attributes,
            rotation=row["rotation"] or 0.0,
        )
        points = row["points"] or []
        if len(points) < _LEAST_POINTS.get(kind, 0) or len(points) % 2:
            raise ValueError(f"a {kind} needs an even number of coordinates, at least {_LEAST_POINTS[kind]}: {points}")
        if kind == "box":
            x0, y0, x1, y1 = points
            ann.points = _round([x0, y0, x0 + (x1 - x0), y0 + (y1 - y0)])
        elif kind in ("polygon", "polyline", "points"):
            ann.points = _round(points)
        elif kind == "ellipse":
            ann.rle = _ellipse_rle(points, ann.rotation, height, width)
        elif kind == "mask":
            ann.rle = _mask_rle(row["rle"] or [], points, height, width)
        elif kind == "skeleton":
            by_label = {}
            for element in row["elements"] or []:
                by_label.setdefault(element["label"], element)
            merged, visibility = [], []
            for sublabel in labels.sublabels.get(row["label"], []):
                element = by_label.get(sublabel)
                if element is None:
                    merged.extend([0.0, 0.0])
                    visibility.append(_ABSENT)
                    continue
                merged.extend(_round(element["points"]).tolist())
                visibility.append(_ABSENT if element["outside"] else _HIDDEN if element["occluded"] else _VISIBLE)
            ann.points = np.asarray(merged, dtype=np.float64)
            ann.visibility = np.asarray(visibility, dtype=np.int64)
        anns.append(ann)
    return anns


def _groups(anns: Sequence[_Ann], indices: Sequence[int] | None = None) -> list[list[int]]:
    """Datumaro's find_instances over `anns` (or those at `indices`, in that order): ungrouped annotations
    alone, in order, then each group in group order."""
    indices = range(len(anns)) if indices is None else indices
    order = sorted(indices, key=lambda i: anns[i].group)
    groups: list[list[int]] = []
    for i in order:
        if anns[i].group and groups and anns[groups[-1][0]].group == anns[i].group:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _group_bboxes(anns: Sequence[_Ann]) -> list[list[float]]:
    """Each annotation's group box: the box around the shapes of its group (its own box when ungrouped)."""
    bboxes: list[list[float]] = [[0, 0, 0, 0]] * len(anns)
    for members in _groups(anns):
        box = _max_bbox([b for b in (anns[i].bbox() for i in members) if b is not None])
        for i in members:
            bboxes[i] = box
    return bboxes


# ---------------------------------------------------------------------------------------------------------------
# Similarities, one per family.


def box_iou(
    a: Sequence[float], b: Sequence[float], a_rotation: float = 0.0, b_rotation: float = 0.0, *, height: int, width: int
) -> float:
    """CVAT's similarity of two boxes: IoU, of the rotated boxes' pixels when their rotations differ.

    Parameters
    ----------
    a, b : sequence of float
        The boxes, [xtl, ytl, xbr, ybr] (already rounded to 2 decimals, as CVAT compares them).
    a_rotation, b_rotation : float, default=0
        Their rotations, degrees clockwise about the centre.
    height, width : int
        The image's size, in pixels (for the rotated case).

    Returns
    -------
    float
        Same rotation: the IoU of the axis-aligned boxes (their rotation ignored), -1 when they do not
        intersect. Different rotations: the pixel IoU of the two rotated boxes as polygons (pycocotools).

    Examples
    --------
    >>> from pipeline.metrics.cvat_quality import box_iou
    >>> box_iou([0, 0, 10, 10], [5, 0, 15, 10], height=20, width=20)
    0.3333333333333333
    >>> box_iou([0, 0, 10, 10], [20, 20, 30, 30], height=40, width=40)
    -1
    >>> box_iou([0, 0, 10, 10], [0, 0, 10, 10], 0.0, 90.0, height=20, width=20)
    1.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_rotation == b_rotation:
        box_a = [float(a[0]), float(a[1]), float(a[2] - a[0]), float(a[3] - a[1])]
        box_b = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
        return _bbox_iou(box_a, box_b)
    rles = [_polygon_rle(_box_polygon(p, r), height, width) for p, r in ((a, a_rotation), (b, b_rotation))]
    return float(mask_utils.iou([rles[1]], [rles[0]], [0])[0][0])


def segment_ious(gt: Sequence[dict], ds: Sequence[dict]) -> np.ndarray:
    """Pixel IoU of every GT object with every job object (pycocotools RLEs of one image size).

    Parameters
    ----------
    gt, ds : sequence of dict
        The objects' masks as pycocotools RLEs (CVAT: an object's visible pixels under `panoptic_comparison`,
        else the union of its shapes).

    Returns
    -------
    np.ndarray of shape (len(gt), len(ds))
        IoU = |A & B| / |A | B|, 0 for disjoint or empty masks.

    Examples
    --------
    >>> import numpy as np
    >>> from pycocotools import mask as mask_utils
    >>> from pipeline.metrics.cvat_quality import segment_ious
    >>> square = np.zeros((4, 4), dtype=np.uint8, order="F"); square[:2, :2] = 1
    >>> half = np.zeros((4, 4), dtype=np.uint8, order="F"); half[:2, :1] = 1
    >>> segment_ious([mask_utils.encode(square)], [mask_utils.encode(half), mask_utils.encode(square)]).tolist()
    [[0.5, 1.0]]
    """
    if not len(gt) or not len(ds):
        return np.zeros((len(gt), len(ds)))
    return np.asarray(mask_utils.iou(list(ds), list(gt), [0] * len(gt)), dtype=np.float64).reshape(len(ds), len(gt)).T


def _oks(a: np.ndarray, b: np.ndarray, scale: float, sigma: float, a_visible=None, b_visible=None) -> float:
    """CVAT's OKS of two aligned point lists: sum of exp(-d^2 / (2 s (2 sigma)^2)) over the points visible in
    both, over the points visible in either (a point visible in one only counts 0)."""
    p1, p2 = a.reshape(-1, 2), b.reshape(-1, 2)
    if len(p1) != len(p2):
        return 0
    va = np.full(len(p1), True) if a_visible is None else np.asarray(a_visible, dtype=bool)
    vb = np.full(len(p2), True) if b_visible is None else np.asarray(b_visible, dtype=bool)
    dists = np.linalg.norm(p1 - p2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(va * vb * np.exp((va == vb) * (-(dists**2) / (2 * scale * (2 * sigma) ** 2)))) / np.sum(
            va | vb, dtype=float
        )


def points_similarity(
    a: Sequence[float],
    b: Sequence[float],
    a_bbox: Sequence[float],
    b_bbox: Sequence[float],
    *,
    image_area: float,
    sigma: float = 0.09,
    point_size_base: str = "group_bbox_size",
    iou_threshold: float = 0.4,
) -> float:
    """CVAT's similarity of two point sets: OKS, with the points paired first.

    Parameters
    ----------
    a, b : sequence of float
        The points, [x0, y0, x1, y1, ...] (rounded to 2 decimals).
    a_bbox, b_bbox : sequence of float
        Their group boxes, [x, y, w, h]: the box around every shape of the point set's group (its own box
        when ungrouped).
    image_area : float
        Image height x width, in pixels.
    sigma : float, default=0.09
        OKS sigma.
    point_size_base : {"group_bbox_size", "image_size"}, default="group_bbox_size"
        The OKS scale s: the area of the mean of the two group boxes, or the image area.
    iou_threshold : float, default=0.4
        Least OKS of two single points paired.

    Returns
    -------
    float
        Both group boxes of zero area (single points): the mean over aligned points of
        exp(-d^2 / (2 s (2 sigma)^2)) with s the image area (0 for different point counts). Otherwise 0
        when the group boxes do not intersect (group_bbox_size), else the points are paired one-to-one
        (Hungarian on that per-point OKS, pairs below `iou_threshold` dropped) and the OKS summed over the
        pairs, divided by pairs + unpaired points of both sets.

    Examples
    --------
    >>> from pipeline.metrics.cvat_quality import points_similarity
    >>> float(points_similarity([10, 10], [10, 10], [10, 10, 0, 0], [10, 10, 0, 0], image_area=100 * 100))
    1.0
    >>> round(float(points_similarity([0, 0, 10, 10], [10, 10, 0, 1], [0, 0, 10, 10], [0, 0, 10, 10],
    ...                               image_area=100 * 100)), 4)
    0.9285
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_bbox[2] * a_bbox[3] == 0 and b_bbox[2] * b_bbox[3] == 0:
        return _oks(a, b, image_area, sigma)
    if point_size_base == "image_size":
        scale = image_area
    else:
        if _bbox_iou(a_bbox, b_bbox) <= 0:
            return 0
        mean = _mean_bbox(a_bbox, b_bbox)
        scale = mean[2] * mean[3]
    pa, pb = a.reshape(-1, 2), b.reshape(-1, 2)
    dists = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
    single = np.exp(-(dists**2) / (2 * scale * (2 * sigma) ** 2)) / 1.0
    pairs, mismatched, a_extra, b_extra = match_pairs(single, np.ones(single.shape, dtype=bool), iou_threshold)
    pairs = pairs + mismatched
    paired = np.linalg.norm(pa[[i for i, _ in pairs]] - pb[[j for _, j in pairs]], axis=1)
    return np.sum(np.exp(-(paired**2) / (2 * scale * (2 * sigma) ** 2))) / (len(pairs) + len(a_extra) + len(b_extra))


def skeleton_similarity(
    a: Sequence[float],
    b: Sequence[float],
    a_visibility: Sequence[int],
    b_visibility: Sequence[int],
    a_bbox: Sequence[float],
    b_bbox: Sequence[float],
    *,
    sigma: float = 0.09,
) -> float:
    """CVAT's similarity of two skeletons: OKS of their points, aligned by sublabel.

    Parameters
    ----------
    a, b : sequence of float
        The skeleton points in sublabel order, [x0, y0, ...] (rounded to 2 decimals; [0, 0] where absent).
    a_visibility, b_visibility : sequence of int
        Per point: 0 absent (outside), 1 hidden (occluded), 2 visible.
    a_bbox, b_bbox : sequence of float
        The group boxes, [x, y, w, h].
    sigma : float, default=0.09
        OKS sigma.

    Returns
    -------
    float
        0 when the group boxes do not intersect or the point counts differ; else
        sum over points visible in both of exp(-d^2 / (2 s (2 sigma)^2)) / (points visible in either), s the
        area of the mean of the two group boxes. An occluded point counts as not visible. NaN (0/0) when no
        point is visible in either, which never matches.

    Examples
    --------
    >>> from pipeline.metrics.cvat_quality import skeleton_similarity
    >>> float(skeleton_similarity([0, 0, 10, 10], [0, 0, 10, 10], [2, 2], [2, 2], [0, 0, 10, 10], [0, 0, 10, 10]))
    1.0
    >>> float(skeleton_similarity([0, 0, 10, 10], [0, 0, 10, 10], [2, 1], [2, 2], [0, 0, 10, 10], [0, 0, 10, 10]))
    0.5
    """
    if _bbox_iou(a_bbox, b_bbox) <= 0:
        return 0
    mean = _mean_bbox(a_bbox, b_bbox)
    visible_a = np.asarray(a_visibility) == _VISIBLE
    visible_b = np.asarray(b_visibility) == _VISIBLE
    return _oks(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), mean[2] * mean[3], sigma, visible_a, visible_b
    )


def _resample(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CVAT's line alignment: both lines walked together by relative length, each original vertex of either
    line becoming a point of both; the last point pair (the two line ends) is dropped, as CVAT does."""

    def ends(line: np.ndarray) -> tuple[np.ndarray, list[float]]:
        lengths = np.linalg.norm(line[1:] - line[:-1], axis=1)
        cumulative, total = [], 0
        for length in lengths:
            total = total + length
            cumulative.append(total)
        return lengths, cumulative + cumulative[-1:]

    a_lengths, a_ends = ends(a)
    b_lengths, b_ends = ends(b)
    a_total, b_total = a_ends[-1], b_ends[-1]
    na, nb = len(a) - 1, len(b) - 1
    new_a = np.zeros((na + nb + 1, 2))
    new_b = np.zeros((na + nb + 1, 2))
    new_a[0], new_b[0] = a[0], b[0]

    def between(line, lengths, index, total, ahead):
        q = ahead * (total / (lengths[index] or 1))
        return line[1 + index] if abs(q) <= 1e-7 else line[index] * q + line[1 + index] * (1 - q)

    i = j = k = 0
    while i < na or j < nb:
        k = i + j + 1
        at_a = a_ends[i] / (a_total or 1)
        at_b = b_ends[j] / (b_total or 1)
        if i < na and at_a <= at_b:
            if j < nb:
                new_b[k] = between(b, b_lengths, j, b_total, at_b - at_a)
            else:
                new_b[k] = b[j]
            i += 1
            new_a[k] = a[i]
        else:
            if i < na:
                new_a[k] = between(a, a_lengths, i, a_total, at_a - at_b)
            else:
                new_a[k] = a[i]
            j += 1
            new_b[k] = b[j]
    return new_a[:k], new_b[:k]


def line_similarity(
    gt: Sequence[float], ds: Sequence[float], *, scale: float, torso_radius: float = 0.01, oriented: bool = False
) -> float:
    """CVAT's similarity of two polylines.

    Parameters
    ----------
    gt, ds : sequence of float
        The lines, [x0, y0, x1, y1, ...] (rounded to 2 decimals), at least 2 points each.
    scale : float
        The image area, height x width, in pixels.
    torso_radius : float, default=0.01
        CVAT's `line_thickness`: the tolerance t, relative to the square root of the image area.
    oriented : bool, default=False
        Compare the given direction only; else the better of both directions of `ds`.

    Returns
    -------
    float
        0 when the lines' bounding circles are farther apart than r_gt^2 + r_ds^2 + s (6 t)^2 (squared centre
        distance); else both lines are resampled to common points placed by relative length (CVAT drops the
        final pair) and the similarity is the mean of exp(-d^2 / (2 s (2 t)^2)) over the point pairs.

    Examples
    --------
    >>> from pipeline.metrics.cvat_quality import line_similarity
    >>> float(line_similarity([0, 0, 10, 0], [10, 0, 0, 0], scale=100 * 100))
    1.0
    >>> round(float(line_similarity([0, 0, 10, 0], [10, 0, 0, 0], scale=100 * 100, oriented=True)), 4)
    0.0
    >>> round(float(line_similarity([0, 0, 10, 0, 20, 0], [0, 1, 20, 1], scale=100 * 100)), 4)
    0.8825
    """
    gt, ds = np.asarray(gt, dtype=np.float64), np.asarray(ds, dtype=np.float64)

    def circle(line: np.ndarray) -> tuple[float, float, float]:
        xs, ys = line[0::2].tolist(), line[1::2].tolist()
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        return (x0 + x1) / 2, (y0 + y1) / 2, ((x1 - x0) ** 2 + (y1 - y0) ** 2) / 4

    gx, gy, gr2 = circle(gt)
    dx, dy, dr2 = circle(ds)
    if (dx - gx) ** 2 + (dy - gy) ** 2 > dr2 + gr2 + scale * (6 * torso_radius) ** 2:
        return 0
    a, b = _resample(gt.reshape(-1, 2), ds.reshape(-1, 2))

    def compare(line_b: np.ndarray) -> float:
        dists = np.linalg.norm(a - line_b, axis=1)
        return sum(np.exp(-(dists**2) / (2 * scale * (2 * torso_radius) ** 2))) / len(a)

    return max([compare(b)] if oriented else [compare(b), compare(b[::-1])])


# ---------------------------------------------------------------------------------------------------------------
# Matching.


def match_pairs(
    similarity: np.ndarray, same_label: np.ndarray, threshold: float
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[int], list[int]]:
    """CVAT's one-to-one matching: Hungarian on 1 - similarity, pairs below the threshold dropped.

    Parameters
    ----------
    similarity : np.ndarray of shape (n_gt, n_ds)
        Similarity of each GT object with each job object (NaN or infinite: never matched).
    same_label : np.ndarray of bool, shape (n_gt, n_ds)
        Whether a pair has the same label: a matched pair with different labels is a mismatch.
    threshold : float
        Least similarity of a pair.

    Returns
    -------
    matches : list of (int, int)
        (GT index, job index) of the matched pairs with the same label.
    mismatches : list of (int, int)
        Matched pairs with different labels.
    gt_unmatched, ds_unmatched : list of int
        The rest of each side.

    Notes
    -----
    The cost matrix is square (padded with cost 1) and every cost above 1 - threshold is set to 1, as CVAT
    does, so the assignment (scipy's `linear_sum_assignment`), its ties and the order of the lists are
    CVAT's: the assignment's row order, with the job's unmatched objects in the order of the rows they were
    assigned to.

    Examples
    --------
    >>> import numpy as np
    >>> from pipeline.metrics.cvat_quality import match_pairs
    >>> similarity = np.array([[0.9, 0.5], [0.3, 0.1], [0.0, 0.0]])
    >>> match_pairs(similarity, np.ones((3, 2), dtype=bool), 0.4)
    ([(0, 0)], [], [1, 2], [1])
    >>> match_pairs(np.array([[0.9, 0.5], [0.45, 0.1]]), np.array([[True, False], [True, True]]), 0.4)
    ([(1, 0)], [(0, 1)], [], [])
    """
    n_gt, n_ds = similarity.shape
    size = max(n_gt, n_ds)
    cost = np.ones((size, size))
    cost[:n_gt, :n_ds] = 1 - similarity
    cost[~np.isfinite(cost)] = 1
    cost[cost > 1 - threshold] = 1
    rows, cols = linear_sum_assignment(cost) if n_gt and n_ds else ([], [])
    matches, mismatches, gt_unmatched, ds_unmatched = [], [], [], []
    for i, j in zip(rows, cols, strict=True):
        i, j = int(i), int(j)
        if cost[i, j] > 1 - threshold or cost[i, j] == 1:
            if i < n_gt:
                gt_unmatched.append(i)
            if j < n_ds:
                ds_unmatched.append(j)
        elif same_label[i, j]:
            matches.append((i, j))
        else:
            mismatches.append((i, j))
    if not len(rows):
        gt_unmatched, ds_unmatched = list(range(n_gt)), list(range(n_ds))
    return matches, mismatches, gt_unmatched, ds_unmatched


@dataclass
class _Matched:
    """A family's (or all families') matching, in frame-wide annotation indices."""

    matches: list[tuple[int, int]] = field(default_factory=list)
    mismatches: list[tuple[int, int]] = field(default_factory=list)
    gt_unmatched: list[int] = field(default_factory=list)
    ds_unmatched: list[int] = field(default_factory=list)
    similarity: dict[tuple[int, int], float] = field(default_factory=dict)

    def extend(self, other: _Matched) -> None:
        self.matches += other.matches
        self.mismatches += other.mismatches
        self.gt_unmatched += other.gt_unmatched
        self.ds_unmatched += other.ds_unmatched
        self.similarity.update(other.similarity)


def _segment_masks(anns: Sequence[_Ann], height: int, width: int, panoptic: bool) -> tuple[list[list[int]], list[dict]]:
    """The polygon-and-mask objects of a frame (a group's shapes of one label form one object; ungrouped
    shapes are objects alone) and each object's mask: its visible pixels when `panoptic`, else its union."""
    objects: list[list[int]] = []
    # CVAT takes the polygons, then the masks (ellipses are masks), each in frame order.
    polygons = [i for i, a in enumerate(anns) if a.kind == "polygon"]
    masks = [i for i, a in enumerate(anns) if a.kind in ("mask", "ellipse")]
    for members in _groups(anns, polygons + masks):
        members = sorted(members, key=lambda i: anns[i].label_rank)
        objects += [list(same) for _, same in itertools.groupby(members, key=lambda i: anns[i].label_rank)]
    rles = {}
    for obj in objects:
        for i in obj:
            ann = anns[i]
            rles[i] = ann.rle if ann.rle is not None else _polygon_rle(ann.points.tolist(), height, width)
    unions = [mask_utils.merge([rles[i] for i in obj]) for obj in objects]
    if not panoptic:
        return objects, unions
    # An object whose box meets no other object's box shows all of its pixels: only the others are painted in
    # z-order to find what shows of each (the same masks, without decoding every shape to the image's size).
    boxes = mask_utils.toBbox(unions) if unions else np.empty((0, 4))
    near = (boxes[:, None, 0] < boxes[None, :, 0] + boxes[None, :, 2]) & (
        boxes[None, :, 0] < boxes[:, None, 0] + boxes[:, None, 2]
    )
    near &= (boxes[:, None, 1] < boxes[None, :, 1] + boxes[None, :, 3]) & (
        boxes[None, :, 1] < boxes[:, None, 1] + boxes[:, None, 3]
    )
    np.fill_diagonal(near, False)
    overlapping = set(np.flatnonzero(near.any(axis=1)).tolist())
    if not overlapping:
        return objects, unions
    painted = np.zeros((height, width), dtype=np.uint16 if len(objects) < 2**16 - 1 else np.int64)
    layers = sorted(
        ((i, n) for n, obj in enumerate(objects) if n in overlapping for i in obj), key=lambda p: anns[p[0]].z_order
    )
    for i, n in layers:
        painted[mask_utils.decode(rles[i]).astype(bool)] = n + 1
    return objects, [_encode(painted == n + 1) if n in overlapping else unions[n] for n in range(len(objects))]


def _match_family(
    family: str,
    gt: list[_Ann],
    ds: list[_Ann],
    height: int,
    width: int,
    settings: QualitySettings,
    gt_boxes: list,
    ds_boxes: list,
) -> _Matched:
    """One family's matching on a frame, with every pair's similarity (CVAT's pairwise distances)."""
    g = [i for i, a in enumerate(gt) if a.family == family]
    d = [j for j, a in enumerate(ds) if a.family == family]
    if family == "skeleton":  # a skeleton whose points are all outside is not compared
        g = [i for i in g if (gt[i].visibility != _ABSENT).any()]
        d = [j for j in d if (ds[j].visibility != _ABSENT).any()]
    if not g and not d:
        return _Matched()
    if family == "segment":
        gt_objects, gt_masks = _segment_masks(gt, height, width, settings.panoptic_comparison)
        ds_objects, ds_masks = _segment_masks(ds, height, width, settings.panoptic_comparison)
        similarity = segment_ious(gt_masks, ds_masks)
        same = np.array([[gt[o[0]].label == ds[p[0]].label for p in ds_objects] for o in gt_objects], dtype=bool)
        found = match_pairs(
            similarity.reshape(len(gt_objects), len(ds_objects)),
            same.reshape(len(gt_objects), len(ds_objects)),
            settings.iou_threshold,
        )
        result = _Matched()
        result.matches = [(i, j) for a, b in found[0] for i in gt_objects[a] for j in ds_objects[b]]
        result.mismatches = [(i, j) for a, b in found[1] for i in gt_objects[a] for j in ds_objects[b]]
        result.gt_unmatched = [i for a in found[2] for i in gt_objects[a]]
        result.ds_unmatched = [j for b in found[3] for j in ds_objects[b]]
        result.similarity = {
            (i, j): float(similarity[a, b])
            for a in range(len(gt_objects))
            for b in range(len(ds_objects))
            for i in gt_objects[a]
            for j in ds_objects[b]
        }
        return result
    similarity = np.zeros((len(g), len(d)))
    for a, i in enumerate(g):
        for b, j in enumerate(d):
            x, y = gt[i], ds[j]
            if family == "box":
                value = box_iou(x.points, y.points, x.rotation, y.rotation, height=height, width=width)
            elif family == "points":
                value = points_similarity(
                    x.points,
                    y.points,
                    gt_boxes[i],
                    ds_boxes[j],
                    image_area=height * width,
                    sigma=settings.oks_sigma,
                    point_size_base=settings.point_size_base,
                    iou_threshold=settings.iou_threshold,
                )
            elif family == "line":
                value = line_similarity(x.points, y.points, scale=height * width, torso_radius=settings.line_thickness)
            elif family == "skeleton":
                value = skeleton_similarity(
                    x.points, y.points, x.visibility, y.visibility, gt_boxes[i], ds_boxes[j], sigma=settings.oks_sigma
                )
            else:  # tag
                value = 0.5 + (x.label == y.label) / 2
            similarity[a, b] = value
    same = np.array([[gt[i].label == ds[j].label for j in d] for i in g], dtype=bool).reshape(len(g), len(d))
    found = match_pairs(similarity, same, 0.5 if family == "tag" else settings.iou_threshold)
    return _Matched(
        matches=[(g[a], d[b]) for a, b in found[0]],
        mismatches=[(g[a], d[b]) for a, b in found[1]],
        gt_unmatched=[g[a] for a in found[2]],
        ds_unmatched=[d[b] for b in found[3]],
        similarity={(i, j): float(similarity[a, b]) for a, i in enumerate(g) for b, j in enumerate(d)},
    )


# ---------------------------------------------------------------------------------------------------------------
# Conflicts.


def _covered(anns: Sequence[_Ann], height: int, width: int, threshold: float) -> list[int]:
    """CVAT's covered shapes: boxes (unrotated), polygons and masks less than `threshold` visible under the
    union of the shapes above them (z_order, then order)."""
    order = sorted((i for i, a in enumerate(anns) if a.kind in _COVERING), key=lambda i: anns[i].z_order)
    rles = []
    for i in order:
        ann = anns[i]
        if ann.rle is not None:
            rles.append(ann.rle)
        elif ann.kind == "box":
            rles.append(_polygon_rle(_box_polygon(ann.points, 0.0), height, width))
        else:
            rles.append(_polygon_rle(ann.points.tolist(), height, width))
    covered = []
    for k in range(len(order) - 1):
        top = mask_utils.merge(rles[k + 1 :])
        bottom = rles[k]
        inter = mask_utils.merge([top, bottom], intersect=True)
        union = mask_utils.merge([top, bottom])
        bottom_area, inter_area, union_area = (int(v) for v in mask_utils.area([bottom, inter, union]))
        if inter_area / (union_area or 1) == 0:
            continue
        if 1 - inter_area / (bottom_area or 1) < threshold:
            covered.append(order[k])
    return covered


def _attributes_differ(a: _Ann, b: _Ann, ignored: frozenset[str]) -> bool:
    keys = (a.attributes.keys() | b.attributes.keys()) - ignored
    return any(k not in a.attributes or k not in b.attributes or a.attributes[k] != b.attributes[k] for k in keys)


def _group_conflicts(
    gt: list[_Ann], ds: list[_Ann], pairs: list[tuple[int, int]], threshold: float
) -> list[tuple[int, int]]:
    """Matched shape pairs whose groups do not correspond (CVAT's mismatching_groups)."""
    gt_groups = _groups(gt, [i for i, a in enumerate(gt) if a.kind != "tag"])
    ds_groups = _groups(ds, [j for j, a in enumerate(ds) if a.kind != "tag"])
    gt_of = {i: n for n, members in enumerate(gt_groups) for i in members}
    ds_of = {j: n for n, members in enumerate(ds_groups) for j in members}
    paired = dict(pairs)
    similarity = np.zeros((len(gt_groups), len(ds_groups)))
    for a, gm in enumerate(gt_groups):
        for b, dm in enumerate(ds_groups):
            inter = sum(1 for i in gm for j in dm if paired.get(i) == j)
            similarity[a, b] = inter / ((len(gm) + len(dm) - inter) or 1)
    found = match_pairs(similarity, similarity == 1, threshold)
    gt_group_of_ds = {b: a for a, b in found[0] + found[1]}
    return [
        (i, j)
        for i, j in pairs
        if (len(gt_groups[gt_of[i]]) == 1 and len(ds_groups[ds_of[j]]) != 1) or gt_group_of_ds.get(ds_of[j]) != gt_of[i]
    ]


def _compare_frame(
    gt: list[_Ann], ds: list[_Ann], height: int, width: int, settings: QualitySettings
) -> tuple[list[tuple], _Matched, float]:
    """One frame: the conflicts (type, job index, GT index, similarity), the matching and the mean IoU."""
    gt_boxes, ds_boxes = _group_bboxes(gt), _group_bboxes(ds)
    everything, shapes = _Matched(), _Matched()
    for family in FAMILIES:
        matched = _match_family(family, gt, ds, height, width, settings, gt_boxes, ds_boxes)
        everything.extend(matched)
        if family != "tag":
            shapes.extend(matched)
    sim = shapes.similarity
    conflicts: list[tuple] = []
    for i, j in everything.matches + everything.mismatches:
        value = sim.get((i, j))
        if value and value < settings.low_overlap_threshold:
            conflicts.append(("low_overlap", j, i, value))
    conflicts += [("missing_annotation", None, i, None) for i in everything.gt_unmatched]
    conflicts += [("extra_annotation", j, None, None) for j in everything.ds_unmatched]
    conflicts += [("mismatching_label", j, i, sim.get((i, j))) for i, j in everything.mismatches]

    def closest(index: int, side: int) -> float:
        best = None
        for pair, value in sim.items():
            if pair[side] == index and (best is None or value > best):
                best = value
        return 0 if best is None else best

    ious = [sim.get(p) for p in shapes.matches + shapes.mismatches]
    ious += [closest(i, 0) for i in shapes.gt_unmatched] + [closest(j, 1) for j in shapes.ds_unmatched]
    ious = [v if v is not None and v >= 0 else 0 for v in ious]
    mean_iou = float(np.mean(ious)) if ious else 0.0

    if settings.compare_line_orientation:
        for i, j in everything.matches + everything.mismatches:
            if gt[i].kind == "polyline" and ds[j].kind == "polyline":
                oriented = line_similarity(
                    gt[i].points,
                    ds[j].points,
                    scale=height * width,
                    torso_radius=settings.line_thickness,
                    oriented=True,
                )
                if sim[(i, j)] - oriented > settings.line_orientation_threshold:
                    conflicts.append(("mismatching_direction", j, i, sim[(i, j)]))
    if settings.check_covered_annotations:
        conflicts += [
            ("covered_annotation", j, None, None)
            for j in _covered(ds, height, width, settings.object_visibility_threshold)
        ]
    if settings.compare_attributes:
        ignored = _IGNORED_ATTRIBUTES | frozenset(settings.ignored_attributes)
        conflicts += [
            ("mismatching_attributes", j, i, sim.get((i, j)))
            for i, j in everything.matches
            if _attributes_differ(gt[i], ds[j], ignored)
        ]
    if settings.compare_groups:
        conflicts += [
            ("mismatching_groups", j, i, sim.get((i, j)))
            for i, j in _group_conflicts(gt, ds, shapes.matches + shapes.mismatches, settings.group_match_threshold)
        ]
    return conflicts, everything, mean_iou


# ---------------------------------------------------------------------------------------------------------------
# Summary.


def _ratios(frame: pl.DataFrame) -> pl.DataFrame:
    """accuracy, precision and recall from the counts (CVAT: valid / (n or 1))."""
    return frame.with_columns(
        accuracy=pl.col("valid_count") / pl.max_horizontal(pl.col("total_count"), 1),
        precision=pl.col("valid_count") / pl.max_horizontal(pl.col("ds_count"), 1),
        recall=pl.col("valid_count") / pl.max_horizontal(pl.col("gt_count"), 1),
    )


def _named(prefix: str, job: str | None, ann: _Ann | None) -> dict:
    """A conflict's columns naming one shape (all null without one)."""
    if ann is None:
        return {f"{prefix}job": None, f"{prefix}shape": None, f"{prefix}kind": None, f"{prefix}label": None}
    return {f"{prefix}job": job, f"{prefix}shape": ann.shape, f"{prefix}kind": ann.kind, f"{prefix}label": ann.label}


def _frame_counts(matched: _Matched, gt: list[_Ann], ds: list[_Ann], rank: dict[str, int]) -> tuple[dict, bool, bool]:
    """A frame's annotation counts (CVAT's frame summary), and whether CVAT deems its job and GT sides empty."""
    valid, mismatched = len(matched.matches), len(matched.mismatches)
    missing, extra = len(matched.gt_unmatched), len(matched.ds_unmatched)
    counts = {
        "valid_count": valid,
        "missing_count": missing,
        "extra_count": extra,
        "total_count": valid + mismatched + missing + extra,
        "ds_count": valid + mismatched + extra,
        "gt_count": valid + mismatched + missing,
    }
    # CVAT's empty sides: no confusion-matrix cell (job label row, GT label column, "unmatched" last) on or
    # above the diagonal (job side), on or below it (GT side).
    none = len(rank)
    cells = [(rank[ds[j].label], rank[gt[i].label]) for i, j in matched.matches + matched.mismatches]
    cells += [(none, rank[gt[i].label]) for i in matched.gt_unmatched]
    cells += [(rank[ds[j].label], none) for j in matched.ds_unmatched]
    return counts, not any(r <= c for r, c in cells), not any(r >= c for r, c in cells)


def _with_virtual(counts: dict) -> dict:
    """CVAT's frame counts under `empty_is_annotated`: an empty frame is one valid annotation, an empty side one
    annotation of that side."""
    counts = dict(counts)
    if not counts["total_count"]:
        counts["valid_count"] = counts["total_count"] = 1
    counts["ds_count"] = counts["ds_count"] or 1
    counts["gt_count"] = counts["gt_count"] or 1
    return counts


def _summary(
    frames: pl.DataFrame,
    raw: pl.DataFrame,
    empty: list[tuple[bool, bool]],
    conflicts: pl.DataFrame,
    job: str | None,
    gt_job: str | None,
    empty_is_annotated: bool,
) -> pl.DataFrame:
    """The job's row: counts summed over frames (before CVAT's per-frame empty adjustments), then CVAT's
    empty-frame additions, the ratios, the conflict counts and the mean of the frames' mean IoU."""
    totals = {c: int(raw[c].sum()) for c in COUNT_COLUMNS}
    if empty_is_annotated:
        ds_empty = {n for n, (d, _) in enumerate(empty) if d}
        gt_empty = {n for n, (_, g) in enumerate(empty) if g}
        totals["valid_count"] += len(ds_empty & gt_empty)
        totals["total_count"] += len(ds_empty | gt_empty)
        totals["ds_count"] += len(ds_empty)
        totals["gt_count"] += len(gt_empty)
    errors = int(conflicts["severity"].eq("error").sum())
    row = pl.DataFrame(
        {
            "job": [job],
            "gt_job": [gt_job],
            "frame_count": [frames.height],
            **{c: [totals[c]] for c in COUNT_COLUMNS},
            "mean_iou": [float(np.mean(frames["mean_iou"].to_numpy())) if frames.height else None],
            "conflict_count": [conflicts.height],
            "error_count": [errors],
            "warning_count": [conflicts.height - errors],
        },
        schema_overrides={"job": pl.String, "gt_job": pl.String, "mean_iou": pl.Float64},
    )
    return _ratios(row).select(_SUMMARY_COLUMNS)


_FRAME_COLUMNS = [
    "job",
    "gt_job",
    "frame",
    *COUNT_COLUMNS,
    "accuracy",
    "precision",
    "recall",
    "mean_iou",
    "conflict_count",
    "error_count",
    "warning_count",
]
_SUMMARY_COLUMNS = ["frame_count" if c == "frame" else c for c in _FRAME_COLUMNS]

_OPTIONAL = {
    "rle": (pl.List(pl.Int64), None),
    "rotation": (pl.Float64, 0.0),
    "occluded": (pl.Boolean, False),
    "outside": (pl.Boolean, False),
    "z_order": (pl.Int64, 0),
    "group_id": (pl.Int64, 0),
    "attributes": (pl.List(pl.Struct({"name": pl.String, "value": pl.String})), None),
    "elements": (
        pl.List(
            pl.Struct(
                {"label": pl.String, "points": pl.List(pl.Float64), "outside": pl.Boolean, "occluded": pl.Boolean}
            )
        ),
        None,
    ),
}

# The input frame of shapes, every column (the optional ones may be left out: `_with_defaults`).
SHAPES = pl.Schema(
    {
        "job": pl.String,
        "frame": pl.Int64,
        "shape": pl.Int64,
        "kind": pl.String,
        "label": pl.String,
        "points": pl.List(pl.Float64),
        **{name: dtype for name, (dtype, _) in _OPTIONAL.items()},
    }
)


def _with_defaults(shapes: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("job", "frame", "shape", "kind", "label", "points") if c not in shapes.columns]
    if missing:
        raise ValueError(f"shapes lack the columns {missing}")
    shapes = shapes.with_columns(
        [
            pl.lit(default, dtype=dtype).alias(name)
            for name, (dtype, default) in _OPTIONAL.items()
            if name not in shapes.columns
        ]
    )
    return shapes.with_columns(
        pl.col("rotation").fill_null(0.0),
        pl.col("occluded").fill_null(False),
        pl.col("outside").fill_null(False),
        pl.col("z_order").fill_null(0),
        pl.col("group_id").fill_null(0),
    )


def _job_of(images: pl.DataFrame) -> str | None:
    jobs = images["job"].unique().to_list()
    if len(jobs) > 1:
        raise ValueError(f"images of one job expected, got jobs {sorted(jobs)}")
    return jobs[0] if jobs else None


def compare_job(
    shapes: pl.DataFrame,
    gt_shapes: pl.DataFrame,
    images: pl.DataFrame,
    gt_images: pl.DataFrame,
    settings: QualitySettings | None = None,
    labels: pl.DataFrame | None = None,
) -> JobReport:
    """CVAT's quality report of one job against the task's ground-truth job.

    Parameters
    ----------
    shapes, gt_shapes : pl.DataFrame
        The job's and the GT job's shapes and tags, one row each (columns in the module docstring).
    images, gt_images : pl.DataFrame
        job, frame, width, height: one row per frame of each job (its export's <image> elements).
    settings : QualitySettings, optional
        The task's quality settings; CVAT's defaults when None.
    labels : pl.DataFrame, optional
        The task's labels, in <meta><labels> order: label, and optionally attributes (list of struct name,
        input_type, default_value) and sublabels (list of str). With attribute specs, attributes are compared
        as CVAT does (an absent attribute takes its default; number and checkbox values are typed); without,
        as the strings given. Label order breaks CVAT's ties between objects of one group; sublabel order
        aligns skeleton points (else sorted by name, which gives the same similarities between skeletons of
        one label).

    Returns
    -------
    JobReport
        conflicts, per-frame rows and the job's summary row (see `JobReport`).

    Raises
    ------
    ValueError
        For a shapes frame without a required column, an unknown kind, or images of several jobs.

    Notes
    -----
    The frames compared are those both jobs have, in order; the GT job's image size is used. Counts:
    valid = matched pairs with the same label, total = pairs + missing + extra, ds = pairs + extra,
    gt = pairs + missing over all families (tags included); accuracy = valid / total, precision =
    valid / ds, recall = valid / gt, each 0 when its denominator is 0 (CVAT divides by `n or 1`). With
    `empty_is_annotated`, a frame empty in both jobs counts as one valid annotation, as CVAT counts it.
    mean_iou is CVAT's shape mean IoU: per frame the mean over matched shape pairs of their similarity and
    over unmatched shapes of their best similarity (negative and undefined as 0), then the mean over frames.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.cvat_quality import compare_job
    >>> def boxes(job, rows):
    ...     return pl.DataFrame([{"job": job, "frame": f, "shape": s, "kind": "box", "label": l, "points": p}
    ...                          for f, s, l, p in rows])
    >>> gt = boxes("32", [(0, 0, "cat", [10.0, 10.0, 50.0, 50.0]), (0, 1, "dog", [60.0, 60.0, 90.0, 90.0])])
    >>> job = boxes("29", [(0, 0, "cat", [12.0, 10.0, 50.0, 52.0]), (0, 1, "cat", [0.0, 60.0, 20.0, 80.0])])
    >>> images = pl.DataFrame({"job": ["29"], "frame": [0], "width": [100], "height": [100]})
    >>> report = compare_job(job, gt, images, images.with_columns(job=pl.lit("32")))
    >>> report.conflicts.select("type", "shape", "gt_shape").rows()
    [('missing_annotation', None, 1), ('extra_annotation', 1, None)]
    >>> report.summary.select("valid_count", "total_count", "accuracy", "precision", "recall").rows()
    [(1, 3, 0.3333333333333333, 0.5, 0.5)]
    """
    settings = settings or QualitySettings()
    shapes, gt_shapes = _with_defaults(shapes), _with_defaults(gt_shapes)
    job, gt_job = _job_of(images), _job_of(gt_images)
    info = _label_info(labels, [shapes, gt_shapes])
    sizes = {f: (h, w) for f, w, h in gt_images.select("frame", "width", "height").iter_rows()}
    compared = sorted(set(sizes) & set(images["frame"].to_list()))
    by_frame = {
        k[0]: v.to_dicts()
        for k, v in shapes.filter(pl.col("frame").is_in(compared)).partition_by("frame", as_dict=True).items()
    }
    gt_by_frame = {
        k[0]: v.to_dicts()
        for k, v in gt_shapes.filter(pl.col("frame").is_in(compared)).partition_by("frame", as_dict=True).items()
    }
    conflict_rows, match_rows, frame_rows, raw_rows, empty = [], [], [], [], []
    for frame in compared:
        height, width = sizes[frame]
        gt = _annotations(gt_by_frame.get(frame, []), height, width, info)
        ds = _annotations(by_frame.get(frame, []), height, width, info)
        found, matched, mean_iou = _compare_frame(gt, ds, height, width, settings)
        conflict_rows += [
            {
                "frame": frame,
                "type": kind,
                "severity": "error" if kind in ERROR_TYPES else "warning",
                **_named("", job, None if j is None else ds[j]),
                **_named("gt_", gt_job, None if i is None else gt[i]),
                "similarity": _finite(value),
            }
            for kind, j, i, value in found
        ]
        match_rows += [
            {
                "frame": frame,
                "type": "matched",
                "severity": None,
                **_named("", job, ds[j]),
                **_named("gt_", gt_job, gt[i]),
                "similarity": None if ds[j].kind == "tag" else _finite(matched.similarity.get((i, j))),
            }
            for i, j in matched.matches
        ]
        counts, ds_empty, gt_empty = _frame_counts(matched, gt, ds, info.rank)
        raw_rows.append(counts)
        empty.append((ds_empty, gt_empty))
        shown = _with_virtual(counts) if settings.empty_is_annotated else counts
        errors = sum(1 for c in found if c[0] in ERROR_TYPES)
        frame_rows.append(
            {
                "job": job,
                "gt_job": gt_job,
                "frame": frame,
                **shown,
                "mean_iou": mean_iou,
                "conflict_count": len(found),
                "error_count": errors,
                "warning_count": len(found) - errors,
            }
        )
    conflicts = pl.DataFrame(conflict_rows, schema=CONFLICT_SCHEMA)
    frames = _ratios(
        pl.DataFrame(
            frame_rows,
            schema={
                "job": pl.String,
                "gt_job": pl.String,
                "frame": pl.Int64,
                **dict.fromkeys(COUNT_COLUMNS, pl.Int64),
                "mean_iou": pl.Float64,
                "conflict_count": pl.Int64,
                "error_count": pl.Int64,
                "warning_count": pl.Int64,
            },
        )
    ).select(_FRAME_COLUMNS)
    raw = pl.DataFrame(raw_rows, schema=dict.fromkeys(COUNT_COLUMNS, pl.Int64))
    summary = _summary(frames, raw, empty, conflicts, job, gt_job, settings.empty_is_annotated)
    matches = pl.DataFrame(match_rows, schema=CONFLICT_SCHEMA)
    return JobReport(conflicts=conflicts, frames=frames, summary=summary, matches=matches)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def task_summary(reports: Sequence[JobReport]) -> pl.DataFrame:
    """CVAT's task report summary: its jobs' counts summed.

    Parameters
    ----------
    reports : sequence of JobReport
        The task's annotation jobs, each compared with the GT job (`compare_job`).

    Returns
    -------
    pl.DataFrame
        One row: job_count, frame_count (distinct frames compared), the summed counts, accuracy = valid /
        total, precision = valid / ds, recall = valid / gt (0 for 0/0), and the summed conflict, error and
        warning counts.

    Notes
    -----
    CVAT's task mean IoU is the first job's (an artefact of its accumulation), so it is left out.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.cvat_quality import JobReport, task_summary
    >>> def job(frames, valid, total, ds, gt, conflicts):
    ...     summary = pl.DataFrame({"valid_count": [valid], "missing_count": [gt - valid], "extra_count": [ds - valid],
    ...                             "total_count": [total], "ds_count": [ds], "gt_count": [gt],
    ...                             "conflict_count": [conflicts], "error_count": [conflicts], "warning_count": [0]})
    ...     return JobReport(pl.DataFrame(), pl.DataFrame({"frame": frames}, schema={"frame": pl.Int64}), summary)
    >>> task_summary([job([4], 0, 2, 1, 1, 2), job([5, 7], 2, 2, 2, 2, 1), job([], 0, 0, 0, 0, 0)]).select(
    ...     "frame_count", "valid_count", "total_count", "accuracy", "precision", "recall").rows()
    [(3, 2, 4, 0.5, 0.6666666666666666, 0.6666666666666666)]
    """
    frames = {f for r in reports for f in r.frames["frame"].to_list()}
    counts = [
        "valid_count",
        "missing_count",
        "extra_count",
        "total_count",
        "ds_count",
        "gt_count",
        "conflict_count",
        "error_count",
        "warning_count",
    ]
    sums = {c: [int(sum(int(r.summary[c].sum()) for r in reports))] for c in counts}
    row = pl.DataFrame({"job_count": [len(reports)], "frame_count": [len(frames)], **sums})
    return _ratios(row).select(
        "job_count",
        "frame_count",
        *COUNT_COLUMNS,
        "accuracy",
        "precision",
        "recall",
        "conflict_count",
        "error_count",
        "warning_count",
    )
