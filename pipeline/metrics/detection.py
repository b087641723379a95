"""Detection quality of annotators and models against the GT boxes, vectorised in Polars.

**Matching** (`detection_scores`). Per task, box control and IoU threshold, each participant's boxes are
matched one to one with the GT's, under one of three rules named in the output's `matching` column:

- ``hungarian`` (the default figure): the optimal assignment, the most matches, then the largest total IoU
  (`matching.optimal_matches`, as CVAT);
- ``greedy``: largest IoU first (Scout's documented rule, `matching.greedy_matches`);
- ``coco``: boxes in order of their score each take the free GT box of largest IoU (pycocotools,
  `matching.score_ordered_matches`); boxes without a score (people's) keep their drawing order.

Boxes of the same label are matched first; then, among what is left, boxes whose geometry matches under
another label (CVAT's "mismatching label"). What remains is a false positive (the participant's) or a false
negative (the GT's). A box on a confirmed-empty image is a false positive. IoU is computed in the boxes' own
unit: percent and pixel coordinates give the same IoU. A participant is scored on the tasks with GT it
annotated (an annotation without boxes counts: its GT boxes are false negatives); `n_tasks` counts them.

precision = tp / participant boxes, recall = tp / GT boxes (both null with no box to count),
F1 = 2 tp / (2 tp + fp + fn) with mismatched boxes counted on both sides (as CVAT; the same definitions as
`pipeline.metrics.classification`).

**Average precision** (`average_precision`): COCO's, for participants whose boxes carry a score (models).
**Whole image** (`image_detection_scores`): Scout's image-level evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.metrics.batches import task_batches
from pipeline.metrics.classification import UNMATCHED, f1, precision, recall
from pipeline.metrics.matching import (
    GEOMETRY,
    box_iou,
    box_label,
    crowd_iou,
    greedy_matches,
    optimal_matches,
    scorable_box,
    score_ordered_matches,
)
from pipeline.metrics.ordered import ordered_mean
from pipeline.metrics.similarity import keypoint_similarity, polygon_iou, span_iou
from pipeline.vocabulary import (
    ANNOTATOR_CONTROL,
    BOX_TYPES,
    KEYPOINT_TYPES,
    MODEL,
    PARTICIPANT_CONTROL,
    POLYGON_TYPES,
    SPAN_TYPES,
    TASK,
)

# pycocotools' grids, computed the same way so that thresholds compare bit for bit.
IOU_SWEEP = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))
RECALL_GRID = tuple(float(r) for r in np.linspace(0.0, 1.0, 101))
MATCHING_RULES = ("hungarian", "greedy", "coco")
WHOLE_IMAGE_CLASSIFIER = "(whole-image classifier)"  # Scout's WIC: an image-level model of its own
# COCOeval's area ranges (square pixels) and detections per image and label.
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
MAX_DETECTIONS = (1, 10, 100)


def _match(rule: str, pairs: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    if rule == "hungarian":
        return optimal_matches(pairs, key, "box", "box_gt", "iou")
    if rule == "greedy":
        return greedy_matches(pairs, key, "box", "box_gt", "iou")
    if rule == "coco":
        return score_ordered_matches(pairs, key, "box", "box_gt", "rank", "iou")
    raise ValueError(f"unknown matching rule {rule!r}; expected one of {MATCHING_RULES}")


_image_order = pl.col("task_id").cast(pl.Int64, strict=False)  # null for ids that are not numbers, which sort first


def _ranked(boxes: pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    """Each box's rank (0 first) among the boxes of its `by` group: highest score first, then drawing order
    (box id); boxes without a score keep their drawing order."""
    # Sorted, a box's rank is its distance from its group's first row (a rank over each of many small groups is slower).
    return (
        boxes.sort(*by, (-pl.col("score")).fill_null(0.0), "box")
        .with_columns(_at=pl.int_range(pl.len(), dtype=pl.Int64))
        .with_columns(rank=pl.col("_at") - pl.col("_at").min().over(by))
        .drop("_at")
    )


def _scored_tasks(gt_boxes: pl.DataFrame, boxes: pl.DataFrame) -> pl.DataFrame:
    """Who is scored where: every participant of a task with GT (task_id, annotator, origin)."""
    return boxes.select(*TASK, "annotator", "origin").unique().join(gt_boxes.select(TASK).unique(), on=TASK)


def _real_boxes(gt_boxes: pl.DataFrame, boxes: pl.DataFrame, rules: Sequence[str]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The GT's boxes, and the participants' boxes on tasks with GT (ranked when the coco rule needs it)."""
    real = boxes.lazy().drop_nulls("box").join(gt_boxes.lazy().select(TASK).unique(), on=TASK, how="semi")
    real = (
        _ranked(real, [*TASK, "annotator", "control"])
        if "coco" in rules
        else real.with_columns(rank=pl.lit(0, pl.Int64))
    )
    return gt_boxes.lazy().drop_nulls("box"), real.collect().lazy()  # ranked once: every rule and threshold reads it


def _same_label_first(
    candidates: pl.DataFrame, group: list[str], mine: str, theirs: str, match
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One-to-one matches (`match` of candidate pairs) of the same label first; then, among the regions left
    on both sides, matches across labels (CVAT's mismatched label). Returns (same-label, other-label)."""
    same = match(candidates.filter("same_label"))
    rest = candidates.join(same.select(mine), on=mine, how="anti").join(
        same.select(*group, theirs), on=[*group, theirs], how="anti"
    )
    return same, match(rest.filter(~pl.col("same_label")))


def _batched_matches(
    real_gt: pl.LazyFrame, real: pl.LazyFrame, gt_boxes: pl.DataFrame, thresholds: Sequence[float], rules: Sequence[str]
):
    """One-to-one matches, batch by batch of images (they are independent, so memory stays bounded at any
    scale). Yields (rule, threshold, the batch's boxes, same-label matches, mismatched-label matches);
    matches are frames of task_id, annotator, box, box_gt, iou."""
    key = [*TASK, "annotator", "control"]
    gt_side = real_gt.select(
        *TASK,
        "control",
        pl.col("box").alias("box_gt"),
        pl.col("label").alias("label_gt"),
        *(pl.col(c).alias(f"{c}_gt") for c in GEOMETRY),
    )
    group = ["task_id", "annotator"]  # box ids are unique: with the annotator and the image they fix the key
    for in_batch in task_batches(gt_boxes.select(pl.col("task_id").n_unique()).item()):
        mine = real.filter(in_batch).collect()
        candidates = (  # streamed: the pairs of an image are filtered as they are made
            mine.lazy()
            .select(*key, "box", "label", "rank", *GEOMETRY)
            .join(gt_side.filter(in_batch), on=[*TASK, "control"])
            .with_columns(iou=box_iou("", "_gt"), same_label=pl.col("label") == pl.col("label_gt"))
            .filter(pl.col("iou") >= min(thresholds))
            .select(
                "task_id", "annotator", "box", "box_gt", "same_label", "iou", *(["rank"] if "coco" in rules else [])
            )
            .collect(engine="streaming")
        )
        for rule in rules:
            for threshold in thresholds:
                above = candidates.filter(pl.col("iou") >= threshold)
                same, other = _same_label_first(
                    above, group, "box", "box_gt", lambda pairs, rule=rule: _match(rule, pairs, group)
                )
                yield rule, threshold, mine, same, other


def detection_scores(
    gt_boxes: pl.DataFrame,
    boxes: pl.DataFrame,
    thresholds: Sequence[float] = IOU_SWEEP,
    rules: Sequence[str] = MATCHING_RULES,
) -> pl.DataFrame:
    """TP, FP, FN and mismatched labels per project, participant, control, matching rule and IoU threshold.

    Boxes are matched one to one with the GT's per task (module doc): same label first, then across labels
    (mismatched_label). precision = tp / participant boxes, recall = tp / GT boxes, F1 = 2 tp / (2 tp + fp +
    fn) with mismatched boxes counted on both sides (as CVAT).

    Parameters
    ----------
    gt_boxes : pl.DataFrame
        project_id, task_id, control, label, box (unique id), x, y, width, height; plus one row per GT
        without a box (box null) so that its task counts.
    boxes : pl.DataFrame
        The participants' boxes with annotator, origin and score (null for people), same columns; plus one
        row per participant's annotation without a box (box null).
    thresholds : sequence of float, default=IOU_SWEEP
        IoU thresholds (a pair matches at IoU >= threshold); by default 0.5, 0.55, ..., 0.95.
    rules : sequence of str, default=MATCHING_RULES
        Matching rules among "hungarian", "greedy" and "coco".

    Returns
    -------
    pl.DataFrame
        project_id, annotator, origin, control, matching, iou_threshold, n_tasks, tp, fp, fn,
        mismatched_label, precision, recall, f1; here fp and fn leave the mismatched boxes out.

    Notes
    -----
    A participant is scored on the tasks with GT it annotated (`n_tasks`); an annotation without boxes
    counts (its GT boxes are false negatives), and a box on a confirmed-empty image is a false positive.
    Precision and recall are null with no box to count.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import detection_scores
    >>> gt_boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "control": "box", "label": "car",
    ...                          "box": [0, 1, 2], "x": [0.0, 50.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0})
    >>> boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "annotator": "ann", "origin": "human",
    ...                       "control": "box", "label": ["car", "car", "bus"], "box": [0, 1, 2],
    ...                       "x": [1.0, 80.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0, "score": None})
    >>> scores = detection_scores(gt_boxes, boxes, thresholds=[0.5], rules=["hungarian"])
    >>> scores.select("n_tasks", "tp", "fp", "fn", "mismatched_label",
    ...               pl.col("precision", "recall", "f1").round(4)).rows()
    [(2, 1, 1, 1, 1, 0.3333, 0.3333, 0.3333)]
    """
    real_gt, real = _real_boxes(gt_boxes, boxes, rules)
    who = _scored_tasks(gt_boxes, boxes).lazy()
    # Totals per participant and control: its boxes, and the GT boxes of the tasks it annotated.
    gt_per_task = real_gt.group_by(*TASK, "control").len("n_gt")
    totals = (
        real.group_by(ANNOTATOR_CONTROL)
        .len("n_boxes")
        .join(
            who.join(gt_per_task, on=TASK).group_by(ANNOTATOR_CONTROL).agg(pl.col("n_gt").sum()),
            on=ANNOTATOR_CONTROL,
            how="full",
            coalesce=True,
        )
        .join(
            who.group_by("project_id", "annotator").agg(
                pl.col("origin").first(), pl.col("task_id").n_unique().alias("n_tasks")
            ),
            on=["project_id", "annotator"],
        )
        .with_columns(pl.col("n_boxes", "n_gt", "n_tasks").fill_null(0).cast(pl.Int64))
        .collect()
    )
    counted = [
        matches.join(mine.select("box", *ANNOTATOR_CONTROL), on="box")
        .group_by(ANNOTATOR_CONTROL)
        .len("count")
        .with_columns(matching=pl.lit(rule), iou_threshold=pl.lit(threshold), what=pl.lit(name))
        for rule, threshold, mine, same, other in _batched_matches(real_gt, real, gt_boxes, thresholds, rules)
        for matches, name in ((same, "tp"), (other, "mismatched_label"))
    ]
    grid = pl.DataFrame(
        {
            "matching": [r for r in rules for _ in thresholds],
            "iou_threshold": [float(t) for _ in rules for t in thresholds],
        }
    )
    counts = (
        pl.concat(counted)
        .group_by(*ANNOTATOR_CONTROL, "matching", "iou_threshold")
        .agg(*(pl.col("count").filter(pl.col("what") == name).sum().alias(name) for name in ("tp", "mismatched_label")))
        if counted
        else pl.DataFrame(
            schema={
                **dict.fromkeys(ANNOTATOR_CONTROL, pl.String),
                "matching": pl.String,
                "iou_threshold": pl.Float64,
                "tp": pl.UInt32,
                "mismatched_label": pl.UInt32,
            }
        )
    )
    totals = (
        totals.join(grid, how="cross")
        .join(counts, on=[*ANNOTATOR_CONTROL, "matching", "iou_threshold"], how="left")
        .with_columns(pl.col("tp", "mismatched_label").fill_null(0).cast(pl.Int64))
    )
    tp, mismatched = pl.col("tp"), pl.col("mismatched_label")
    return (
        totals.with_columns(
            fp=pl.col("n_boxes") - tp - mismatched,
            fn=pl.col("n_gt") - tp - mismatched,
        )
        .with_columns(
            precision=precision(tp, pl.col("fp") + mismatched),
            recall=recall(tp, pl.col("fn") + mismatched),
            f1=f1(tp, pl.col("fp") + mismatched, pl.col("fn") + mismatched),
        )
        .select(
            *PARTICIPANT_CONTROL,
            "matching",
            "iou_threshold",
            "n_tasks",
            "tp",
            "fp",
            "fn",
            "mismatched_label",
            "precision",
            "recall",
            "f1",
        )
        .sort("project_id", "control", "matching", "iou_threshold", "annotator")
    )


def average_precision(
    gt_boxes: pl.DataFrame,
    boxes: pl.DataFrame,
    crowd: pl.DataFrame | None = None,
    thresholds: Sequence[float] = IOU_SWEEP,
    area_ranges: dict[str, tuple[float, float]] = AREA_RANGES,
    max_detections: Sequence[int] = MAX_DETECTIONS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """COCO average precision and recall per participant, control, label, IoU threshold and area range,
    and the precision-recall curves (area "all"), as pycocotools' COCOeval (bbox) computes them.

    For boxes with a score (models'): AP = the mean over the 101 recall points 0, 0.01, ..., 1 of the
    interpolated precision (the largest precision at that recall or beyond).

    Parameters
    ----------
    gt_boxes : pl.DataFrame
        The GT's boxes, as `detection_scores` takes them; an `area` column (square pixels) is used when
        present.
    boxes : pl.DataFrame
        The participants' boxes, as `detection_scores` takes them; boxes without a score are left out.
    crowd : pl.DataFrame, default=None
        COCO crowd regions (project_id, task_id, control, label, x, y, width, height): ignored GT.
    thresholds : sequence of float, default=IOU_SWEEP
        IoU thresholds, by default 0.5, 0.55, ..., 0.95.
    area_ranges : dict of str to (float, float), default=AREA_RANGES
        Named ranges of box area in square pixels: all, small (< 32^2), medium, large (> 96^2).
    max_detections : sequence of int, default=MAX_DETECTIONS
        The numbers m of best boxes per task and label that `recall_max_<m>` reads (1, 10, 100).

    Returns
    -------
    ap : pl.DataFrame
        project_id, annotator, origin, control, label, iou_threshold, area_range, n_gt, n_detections, ap,
        recall_max_<m> for each m.
    curves : pl.DataFrame
        project_id, annotator, origin, control, label, iou_threshold, recall, precision at each of the 101
        points, for area "all".

    Notes
    -----
    Per task and label the highest-scored boxes, `max(max_detections)` at most, are matched in score order,
    each to the free GT box of largest IoU >= the threshold (the ``coco`` rule). GT boxes outside the area
    range, and `crowd` regions, are *ignored*: a box is matched to one of them only when no regular GT box
    is free for it, and is then neither a true nor a false positive; a crowd region takes any number of
    boxes, and its overlap is intersection / the box's area. An unmatched box outside the area range is
    ignored too. Areas are in square pixels: the `area` column when given (COCO's annotation area), else
    width x height; a box of unknown area counts in "all" only.

    Over all tasks the boxes are ranked by score (ties by numeric image id, as pycocotools), precision =
    tp / (tp + fp) and recall = tp / regular GT boxes at each rank; precision is made non-increasing from
    the right and read at 101 recall points 0, 0.01, ..., 1 (the first rank reaching that recall; 0 if
    none does). AP = their mean, with `max(max_detections)` boxes per task and label; `recall_max_<m>` is
    the recall reached with the `m` best boxes per task and label. Both are null for a label without
    regular GT boxes on the participant's tasks (pycocotools: -1); AP is 0 for a label with GT boxes and
    no detection. COCO's twelve summary figures are means of these over labels and thresholds.

    Examples
    --------
    Three GT cars; the model's best box hits, its second misses, its third hits:

    >>> import polars as pl
    >>> from pipeline.metrics.detection import average_precision
    >>> gt_boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "control": "box", "label": "car",
    ...                          "box": [0, 1, 2], "x": [0.0, 50.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0})
    >>> boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "annotator": "detector-v1", "origin": "model",
    ...                       "control": "box", "label": "car", "box": [0, 1, 2], "x": [1.0, 80.0, 0.0], "y": 0.0,
    ...                       "width": 10.0, "height": 10.0, "score": [0.9, 0.8, 0.7]})
    >>> ap, curves = average_precision(gt_boxes, boxes, thresholds=[0.5])
    >>> ap.sort("area_range").select("area_range", "n_gt", "n_detections", pl.col("ap", "recall_max_1").round(4)).rows()
    [('all', 3, 3, 0.5545, 0.6667), ('small', 3, 3, 0.5545, 0.6667)]
    >>> curves.filter(pl.col("recall").is_in([0.33, 0.34, 0.67])).select(pl.col("recall", "precision").round(4)).rows()
    [(0.33, 1.0), (0.34, 0.6667), (0.67, 0.0)]

    AP = (34 x 1 + 33 x 2/3) / 101. The boxes are 10 x 10 pixels: "medium" and "large" have no GT box, so
    no row.
    """
    key = [*TASK, "annotator", "control", "label"]
    curve_key = [*PARTICIPANT_CONTROL, "label", "iou_threshold", "area_range"]
    who = _scored_tasks(gt_boxes, boxes)
    regular = _with_area(gt_boxes.drop_nulls("box")).with_columns(iscrowd=pl.lit(False))
    crowd = (
        regular.clear()
        if crowd is None
        else _with_area(crowd).with_columns(iscrowd=pl.lit(True), box=pl.lit(-1, pl.Int64))
    )
    targets = pl.concat(
        [
            regular.select(*TASK, "control", "label", "box", *GEOMETRY, "area", "iscrowd"),
            crowd.select(*TASK, "control", "label", "box", *GEOMETRY, "area", "iscrowd"),
        ]
    )
    scored_boxes = _with_area(boxes.drop_nulls("box").filter(pl.col("score").is_not_null())).join(
        who.select(TASK).unique(), on=TASK
    )
    detections = _ranked(scored_boxes.lazy(), key).filter(pl.col("rank") < max(max_detections)).collect()
    scored = who.join(detections.select("project_id", "annotator").unique(), on=["project_id", "annotator"])
    gt_counts = pl.concat(
        [
            regular.filter(_inside(pl.col("area"), pl.lit(name == "all"), low, high))
            .join(scored, on=TASK)
            .group_by(*PARTICIPANT_CONTROL, "label")
            .agg(pl.len().alias("n_gt"))
            .with_columns(area_range=pl.lit(name))
            for name, (low, high) in area_ranges.items()
        ]
    )
    # Every area range and IoU threshold at once, numbered `combo` (40 by default). Boxes and GT boxes have ids of
    # their own (a crowd region one per pair), so the pairs of one participant under one combo are one matching
    # group: `group`, an integer that the matching's joins and windows key on instead of the strings.
    combos = (
        pl.DataFrame(
            {
                "area_range": list(area_ranges),
                "everything": [name == "all" for name in area_ranges],  # `_inside`: "all" takes every area
                "low": [float(low) for low, _ in area_ranges.values()],
                "high": [float(high) for _, high in area_ranges.values()],
            }
        )
        .with_row_index("area")
        .join(pl.DataFrame({"iou_threshold": list(thresholds)}), how="cross", maintain_order="left_right")
        .with_row_index("combo")
        .with_columns(pl.col("combo").cast(pl.Int64))
    )
    n_combos = combos.height

    gt_in_range = _inside(pl.col("area_gt"), pl.col("everything"), pl.col("low"), pl.col("high"))  # a pair's combo
    # The candidate pairs of a box and a GT box (same task, control and label) at the lowest threshold. A pair whose
    # box and GT box have no other candidate (most) is matched under every combo it passes: only the others (the
    # contested) need the matching's rounds.
    pairs = (
        detections.lazy()
        .join(targets.lazy(), on=[*TASK, "control", "label"], suffix="_gt")
        .with_columns(iou=pl.when(pl.col("iscrowd")).then(crowd_iou("", "_gt")).otherwise(box_iou("", "_gt")))
        .filter(pl.col("iou") >= min(thresholds))
        .select(
            participant=pl.struct("project_id", "annotator").rank("dense").cast(pl.Int64),
            box="box",
            # A crowd region is never used up: each of its pairs gets a target of its own.
            box_gt=pl.when(pl.col("iscrowd")).then(-1 - pl.int_range(pl.len(), dtype=pl.Int64)).otherwise("box_gt"),
            rank="rank",
            iou="iou",
            iscrowd="iscrowd",
            area_gt="area_gt",
        )
        .with_columns(alone=(pl.len().over("participant", "box") == 1) & (pl.len().over("participant", "box_gt") == 1))
        .join_where(combos.lazy().drop("area_range", "area"), pl.col("iou") >= pl.col("iou_threshold"))
        .select(
            (pl.col("participant") * n_combos + pl.col("combo")).alias("group"),
            "box",
            "box_gt",
            "rank",
            "iou",
            "alone",
            ignored=pl.col("iscrowd") | ~gt_in_range,
        )
        .collect()
    )

    def matched(pairs: pl.DataFrame) -> pl.DataFrame:
        return score_ordered_matches(pairs, ["group"], "box", "box_gt", "rank", "iou").select("group", "box")

    alone, contested = pairs.filter("alone"), pairs.filter(~pl.col("alone"))
    hits = matched(contested.filter(~pl.col("ignored")))
    on_ignored = matched(contested.filter("ignored").join(hits, on=["group", "box"], how="anti"))
    hits = pl.concat([alone.filter(~pl.col("ignored")).select("group", "box"), hits])
    on_ignored = pl.concat([alone.filter("ignored").select("group", "box"), on_ignored])
    # One precision-recall curve (`line`) per participant, control, label and combo. The boxes in the order the
    # curves are read (pycocotools': by score, ties by image id), sorted once; `at` is a box's place in it.
    curve = [*PARTICIPANT_CONTROL, "label"]
    curve_ids = (
        pl.concat([detections.select(curve), gt_counts.select(curve)])
        .unique(maintain_order=True)
        .with_row_index("curve")
        .with_columns(pl.col("curve").cast(pl.Int64))
    )
    ordered = (
        detections.select(*curve, "task_id", "box", "rank", "score", "area")
        .join(curve_ids, on=curve, how="left")
        .sort("curve", pl.col("score"), _image_order, "task_id", "rank", descending=[False, True, False, False, False])
        .select("curve", "box", "rank", "area")
        .with_row_index("at")
    )
    lines = (  # line = curve x combos + combo: 0, 1, ... in this order
        curve_ids.join(combos.select("combo", "area_range", "iou_threshold"), how="cross")
        .join(gt_counts, on=[*curve, "area_range"], how="left")
        .select(*curve_key, "n_gt", line=pl.col("curve") * n_combos + pl.col("combo"))
        .sort("line")
    )
    # Each box's outcome under each combo, a combo x box matrix: 1 matched to a regular GT box (a true positive),
    # 2 matched to an ignored one, 0 unmatched (a false positive when its area is in the range). pycocotools
    # ignores the boxes matched to ignored GT boxes and the unmatched ones outside the range: not counted.
    outcome = np.zeros((n_combos, ordered.height), dtype=np.int8)
    for boxes_matched, flag in ((hits, 1), (on_ignored, 2)):
        placed = boxes_matched.join(ordered.select("box", "at"), on="box")
        outcome[(placed["group"] % n_combos).to_numpy(), placed["at"].to_numpy()] = flag
    in_range = [
        ordered.select(_inside(pl.col("area"), pl.lit(name == "all"), low, high).alias("inside"))["inside"].to_numpy()
        for name, (low, high) in area_ranges.items()
    ]
    curve_of, rank_of = ordered["curve"].to_numpy(), ordered["rank"].to_numpy()
    n_gt = lines["n_gt"].fill_null(0).to_numpy().reshape(-1, n_combos)  # curve x combo
    per_combo = []  # one combo at a time (a combo x box array of each would take 40 times the memory)
    for combo, area in combos.select("combo", "area").iter_rows():
        flags = outcome[combo]
        at = np.flatnonzero((flags == 1) | ((flags == 0) & in_range[area]))  # counted, in the curves' order
        counts, readings = _read_curves(flags[at] == 1, curve_of[at], rank_of[at], n_gt[:, combo], max_detections)
        per_combo.append([{**part, "line": part["line"] * n_combos + combo} for part in (counts, readings)])
    tallies, best = (
        pl.DataFrame({name: np.concatenate([parts[i][name] for parts in per_combo]) for name in per_combo[0][i]})
        for i in (0, 1)
    )
    evaluated = (
        lines.join(tallies, on="line", how="left")
        .filter(pl.col("n_gt").is_not_null() | pl.col("n_detections").is_not_null())
        .with_columns(pl.col("n_gt", "n_detections").fill_null(0).cast(pl.Int64))
        .with_columns(
            pl.when(pl.col("n_gt") > 0)
            .then(pl.col(f"tp_max_{m}").fill_null(0) / pl.col("n_gt"))
            .alias(f"recall_max_{m}")
            for m in max_detections
        )
    )
    read = (
        evaluated.filter(pl.col("n_gt") > 0)
        .select("line")
        .join(pl.DataFrame({"point": range(len(RECALL_GRID)), "recall": RECALL_GRID}), how="cross")
        .join(best, on=["line", "point"], how="left")
        .sort("line", "point")
        .with_columns(pl.col("precision").fill_null(0.0).reverse().cum_max().reverse().over("line"))
    )
    ap = (
        evaluated.join(read.group_by("line").agg(ordered_mean(pl.col("precision")).alias("ap")), on="line", how="left")
        .select(*curve_key, "n_gt", "n_detections", "ap", *(f"recall_max_{m}" for m in max_detections))
        .sort(*curve_key)
    )
    # The curves of area "all", sorted by their names through the lines' order (an integer sort, not a string one).
    shown = lines.filter(pl.col("area_range") == "all").sort(curve_key).with_row_index("position")
    curves = (
        read.join(shown.select("line", "position"), on="line")
        .sort("position", "recall")
        .join(shown.drop("position"), on="line", how="left", maintain_order="left")
        .select(*(c for c in curve_key if c != "area_range"), "recall", "precision")
    )
    return ap, curves


# COCOeval.summarize's twelve figures: (column of `average_precision`, area range, IoU threshold or all).
COCO_SUMMARY = {
    "map_50_95": ("ap", "all", None),
    "map_50": ("ap", "all", 0.5),
    "map_75": ("ap", "all", 0.75),
    "map_small": ("ap", "small", None),
    "map_medium": ("ap", "medium", None),
    "map_large": ("ap", "large", None),
    "mar_1": ("recall_max_1", "all", None),
    "mar_10": ("recall_max_10", "all", None),
    "mar_100": ("recall_max_100", "all", None),
    "mar_small": ("recall_max_100", "small", None),
    "mar_medium": ("recall_max_100", "medium", None),
    "mar_large": ("recall_max_100", "large", None),
}


def coco_summary(ap: pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    """COCO's twelve summary figures per `by` group (COCOeval.summarize; torchmetrics' names).

    Each is the mean, over labels and IoU thresholds 0.5:0.95 (or the one named), of `average_precision`'s
    AP or recall at an area range: map_50_95, map_50, map_75, map_small, map_medium, map_large, mar_1,
    mar_10, mar_100, mar_small, mar_medium, mar_large.

    Parameters
    ----------
    ap : pl.LazyFrame
        The first frame `average_precision` returns.
    by : sequence of str
        Grouping columns (for example project and participant).

    Returns
    -------
    pl.LazyFrame
        `by` and the twelve figures.

    Notes
    -----
    A figure is null where no label has GT boxes (pycocotools: -1).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import coco_summary
    >>> ap = pl.LazyFrame({"model": "m", "area_range": ["all", "all", "small"], "iou_threshold": [0.5, 0.75, 0.5],
    ...                    "ap": [0.8, 0.4, 0.6], "recall_max_1": 0.5, "recall_max_10": 0.7, "recall_max_100": 0.9})
    >>> summary = coco_summary(ap, ["model"]).collect()
    >>> summary.select(pl.col("map_50_95", "map_50", "map_75", "map_small", "map_large", "mar_100").round(4)).rows()
    [(0.6, 0.8, 0.4, 0.6, None, 0.9)]
    """

    def figure(column: str, area_range: str, threshold: float | None) -> pl.Expr:
        keep = pl.col("area_range") == area_range
        if threshold is not None:
            keep &= (pl.col("iou_threshold") - threshold).abs() < 1e-9
        return ordered_mean(pl.col(column).filter(keep))

    return ap.group_by(by).agg(figure(*spec).alias(name) for name, spec in COCO_SUMMARY.items())


def _read_curves(
    tp: np.ndarray, curve: np.ndarray, rank: np.ndarray, n_gt: np.ndarray, max_detections: Sequence[int]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One combo's precision-recall curves, from its counted boxes in the order the curves are read (each curve's
    boxes consecutive): whether each is a true positive (`tp`), its `curve` (an index of `n_gt`, its GT boxes)
    and its `rank` among the boxes of its task and label.

    Returns the tallies per curve (curve as `line`, n_detections, tp_max_<m>: the true positives among the m best
    per task and label) and, per curve with GT boxes and number k of recall points reached, the largest precision
    of the boxes reaching exactly those k points (line, point = k - 1, precision): the interpolated precision at a
    point is the largest precision at a recall >= it (pycocotools), which is the largest of these at or above it.
    """
    start = np.flatnonzero(np.diff(curve, prepend=-1))
    length = np.diff(start, append=len(curve))
    tallies = {
        "line": curve[start],
        "n_detections": length,
        **{f"tp_max_{m}": _segment_sums(tp & (rank < m), start) for m in max_detections},
    }
    tp_sum = np.cumsum(tp)  # down each curve: true positives so far, and boxes so far (true + false positives)
    tp_sum -= np.repeat(tp_sum[start] - tp[start], length)
    seen = np.arange(1, len(curve) + 1) - np.repeat(start, length)
    gt = n_gt[curve]
    with_gt = gt > 0
    curve, tp_sum, seen, gt = curve[with_gt], tp_sum[with_gt], seen[with_gt], gt[with_gt]
    recall, precision = tp_sum / gt, tp_sum / seen
    reached = np.searchsorted(np.array(RECALL_GRID), recall, side="right")  # the recall points <= the recall
    runs = np.flatnonzero(np.diff(curve, prepend=-1) | np.diff(reached, prepend=-1))
    best = {
        "line": curve[runs],
        "point": reached[runs] - 1,
        "precision": np.maximum.reduceat(precision, runs) if len(runs) else precision,
    }
    return tallies, best


def _segment_sums(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The sums of `values` over the consecutive segments beginning at the indices `start`, as integers."""
    return np.add.reduceat(values.astype(np.int64), start) if len(start) else np.zeros(0, np.int64)


def _with_area(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its boxes' `area`: as given when the column exists, else width x height."""
    area = pl.col("width") * pl.col("height")
    return frame.with_columns(area=pl.coalesce("area", area) if "area" in frame.columns else area)


def _inside(area: pl.Expr, everything: pl.Expr, low: pl.Expr | float, high: pl.Expr | float) -> pl.Expr:
    """Whether a box's `area` is in the area range from `low` to `high` (bounds included, as pycocotools); the range
    "all" (`everything`) takes every box, one of unknown area too."""
    return everything | area.is_between(low, high).fill_null(False)


def image_detection_scores(
    gt_boxes: pl.DataFrame,
    boxes: pl.DataFrame,
    image_confidence: pl.DataFrame | None = None,
    score_threshold: float = 0.5,
) -> pl.DataFrame:
    """Scout's whole-image evaluation per participant and box control.

    An image (task with GT) is positive when its GT has at least one box. The participant's image score is
    its largest box score (a box without a score, a person's, counts 1; no box counts 0), and it calls
    the image positive at score >= `score_threshold`. roc_auc = (R+ - n+ (n+ + 1) / 2) / (n+ n-), R+ the
    sum of the positive images' score ranks (the Mann-Whitney statistic, ties counted half).

    Parameters
    ----------
    gt_boxes, boxes : pl.DataFrame
        As `detection_scores` takes them (a GT row without a box: a confirmed-empty image).
    image_confidence : pl.DataFrame, default=None
        project_id, task_id, confidence: Scout's whole-image classifier (WIC). Adds the participant
        WHOLE_IMAGE_CLASSIFIER, whose image score is that confidence, on the images with GT it gave one.
    score_threshold : float, default=0.5
        The image score from which an image is called positive.

    Returns
    -------
    pl.DataFrame
        project_id, annotator, origin, control, n_images, n_positive, tp, fp, fn, tn, precision, recall,
        roc_auc.

    Notes
    -----
    roc_auc is null when the images are all positive or all negative; precision and recall are null with
    nothing to count.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import image_detection_scores
    >>> gt_boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 2, 3], "control": "box",
    ...                          "label": ["car", "car", None], "box": [0, 1, None], "x": [0.0, 0.0, None], "y": 0.0,
    ...                          "width": 10.0, "height": 10.0})
    >>> boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 2, 3], "annotator": "detector-v1", "origin": "model",
    ...                       "control": "box", "label": "car", "box": [0, 1, 2], "x": 0.0, "y": 0.0,
    ...                       "width": 10.0, "height": 10.0, "score": [0.9, 0.4, 0.6]})
    >>> scores = image_detection_scores(gt_boxes, boxes)
    >>> scores.select("n_images", "n_positive", "tp", "fp", "fn", "tn", "precision", "recall", "roc_auc").rows()
    [(3, 2, 1, 1, 1, 0, 0.5, 0.5, 0.5)]
    >>> wic = pl.DataFrame({"project_id": "p", "task_id": [1, 2, 3], "confidence": [0.9, 0.7, 0.2]})
    >>> image_detection_scores(gt_boxes, boxes, wic).select("annotator", "tp", "fp", "fn", "tn", "roc_auc").rows()
    [('(whole-image classifier)', 2, 0, 0, 1, 1.0), ('detector-v1', 1, 1, 1, 0, 0.5)]
    """
    who = _scored_tasks(gt_boxes, boxes)
    controls = (
        pl.concat([gt_boxes.select("project_id", "control"), boxes.select("project_id", "control")])
        .drop_nulls()
        .unique()
    )
    scored = (
        who.join(controls, on="project_id")
        .join(
            boxes.drop_nulls("box")
            .group_by(*TASK, "annotator", "control")
            .agg(pl.col("score").fill_null(1.0).max().alias("image_score")),
            on=[*TASK, "annotator", "control"],
            how="left",
        )
        .select(*TASK, "annotator", "origin", "control", pl.col("image_score").fill_null(0.0))
    )
    if image_confidence is not None:
        classifier = (
            gt_boxes.select(TASK)
            .unique()
            .join(image_confidence, on=TASK)
            .join(controls, on="project_id")
            .select(
                *TASK,
                annotator=pl.lit(WHOLE_IMAGE_CLASSIFIER),
                origin=pl.lit(MODEL),
                control="control",
                image_score="confidence",
            )
        )
        scored = pl.concat([scored, classifier], how="vertical_relaxed")
    images = (
        scored.join(
            gt_boxes.drop_nulls("box").group_by(*TASK, "control").agg(pl.len().alias("n_gt")),
            on=[*TASK, "control"],
            how="left",
        )
        .with_columns(positive=pl.col("n_gt").fill_null(0) > 0)
        .with_columns(called=pl.col("image_score") >= score_threshold)
    )
    positive, called = pl.col("positive"), pl.col("called")
    n_pos, n_neg = positive.sum(), (~positive).sum()
    rank_sum = pl.col("image_score").rank("average").filter(positive).sum()
    auc = pl.when((n_pos > 0) & (n_neg > 0)).then((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    tp, fp, fn = (positive & called).sum(), (~positive & called).sum(), (positive & ~called).sum()
    return (
        images.group_by(PARTICIPANT_CONTROL)
        .agg(
            pl.len().alias("n_images"),
            n_pos.alias("n_positive"),
            tp.alias("tp"),
            fp.alias("fp"),
            fn.alias("fn"),
            (~positive & ~called).sum().alias("tn"),
            precision(tp, fp).alias("precision"),
            recall(tp, fn).alias("recall"),
            auc.alias("roc_auc"),
        )
        .with_columns(pl.col("n_images", "n_positive", "tp", "fp", "fn", "tn").cast(pl.Int64))
        .sort(PARTICIPANT_CONTROL)
    )


def detection_inputs(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, gt_regions: pl.LazyFrame, ground_truth: pl.LazyFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The (gt_boxes, boxes, crowd) frames the functions of this module take, from the core tables.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    regions : pl.LazyFrame
        core.regions.
    gt_regions : pl.LazyFrame
        The GT's regions (`pipeline.groundtruth.ground_truth_regions`), core.regions rows.
    ground_truth : pl.LazyFrame
        core.ground_truth: each task's GT annotation.

    Returns
    -------
    gt_boxes : pl.DataFrame
        The GT's scorable boxes per task with GT (box null for a task whose GT has none): box, project_id,
        task_id, control, label, x, y, width, height, area, annotation_id, item_index.
    boxes : pl.DataFrame
        The boxes of each participant's latest submitted annotation or prediction on a task with GT
        (`scored_annotations`; box null for one without boxes), with annotator, origin and score.
    crowd : pl.DataFrame
        The GT's COCO crowd regions (`iscrowd`), which only COCO AP uses.

    Notes
    -----
    The GT annotation itself is excluded from `boxes`. Box ids are numbered in a fixed order. Every box
    has its `area` in square pixels (`pixel_area`; a GT box from a COCO file: the annotation's own `area`).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12", "13"],
    ...                              annotator=["lead", "ann", "ann", "detector-v1"],
    ...                              origin=["human", "human", "human", "model"], was_cancelled=False)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> box = {"project_id": "p", "task_id": "1", "control": "box", "type": "rectanglelabels", "item_index": 0,
    ...        "y": 0.0, "width": 10.0, "height": 10.0, "scorable": True, "coordinate_unit": "pixel"}
    >>> regions = REGIONS.of(**box, annotation_id=["10", "12", "13"], region_id=["a", "b", "c"],
    ...                      labels=[["car"]] * 3, x=[0.0, 1.0, 30.0], score=[None, None, 0.8])
    >>> gt_regions = regions.filter(pl.col("annotation_id") == "10")
    >>> gt_boxes, boxes, crowd = detection_inputs(annotations, regions, gt_regions, ground_truth)
    >>> gt_boxes.select("box", "label", "x", "area").rows()
    [(0, 'car', 0.0, 100.0)]
    >>> boxes.select("annotator", "annotation_id", "box", "x", "score").rows()
    [('ann', '12', 0, 1.0, None), ('detector-v1', '13', 1, 30.0, 0.8)]
    >>> crowd.height
    0
    """
    gt_area = pl.coalesce(
        pl.col("value_json").str.json_path_match("$.area").cast(pl.Float64, strict=False), pixel_area()
    ).alias("area")
    gt = ground_truth.select(*TASK).join(
        gt_regions.filter(scorable_box()).select(
            *TASK, "control", box_label(), *GEOMETRY, gt_area, "annotation_id", "item_index"
        ),
        on=TASK,
        how="left",
    )
    crowd = (
        ground_truth.select(*TASK)
        .join(gt_regions.filter(crowd_region()), on=TASK)
        .select(*TASK, "control", box_label(), *GEOMETRY, gt_area)
        .sort(*TASK, "control", *GEOMETRY)
        .collect()
    )
    latest = scored_annotations(annotations, ground_truth)
    mine = regions.filter(scorable_box()).select(
        *TASK, "annotation_id", "item_index", "control", box_label(), *GEOMETRY, "score", pixel_area().alias("area")
    )
    boxes = latest.join(mine, on=[*TASK, "annotation_id"], how="left").sort(*TASK, "annotator", "item_index")
    numbered = [
        frame.collect()
        .with_row_index("box")
        .with_columns(pl.when(pl.col("x").is_not_null()).then(pl.col("box").cast(pl.Int64)).alias("box"))
        for frame in (gt.sort(*TASK, "control", *GEOMETRY), boxes)
    ]
    return numbered[0], numbered[1], crowd


def scored_annotations(annotations: pl.LazyFrame, ground_truth: pl.LazyFrame) -> pl.LazyFrame:
    """Each participant's latest submitted annotation or prediction on a task with GT.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    ground_truth : pl.LazyFrame
        core.ground_truth.

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, annotator, annotation_id, origin: one row per participant and task with GT.

    Notes
    -----
    Cancelled (skipped) annotations and the GT annotation itself are left out; the latest is by
    `updated_at`, then annotation id.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12", "13"],
    ...                              annotator=["lead", "ann", "ann", "detector-v1"],
    ...                              origin=["human", "human", "human", "model"], was_cancelled=False)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> scored_annotations(annotations, ground_truth).collect().sort("annotator").rows()
    [('p', '1', 'ann', '12', 'human'), ('p', '1', 'detector-v1', '13', 'model')]
    """
    return (
        annotations.filter(~pl.col("was_cancelled"))
        .join(ground_truth.select(*TASK, pl.col("annotation_id").alias("gt_annotation_id"), "source_task_id"), on=TASK)
        .filter(
            ~((pl.col("annotation_id") == pl.col("gt_annotation_id")) & (pl.col("task_id") == pl.col("source_task_id")))
        )
        .group_by(*TASK, "annotator")
        .agg(pl.col("annotation_id", "origin").sort_by("updated_at", "annotation_id", nulls_last=False).last())
    )


def pixel_area() -> pl.Expr:
    """A region's box area in square pixels (COCO's area ranges are in pixels).

    width x height, and for percent coordinates x original_width x original_height / 10^4.

    Returns
    -------
    pl.Expr
        The area, over core.regions rows.

    Notes
    -----
    Null for a percent box whose image size is unknown.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import pixel_area
    >>> regions = pl.DataFrame({"width": 10.0, "height": 20.0, "coordinate_unit": ["pixel", "percent", "percent"],
    ...                         "original_width": [None, 1000, None], "original_height": [None, 500, None]})
    >>> regions.select(pixel_area().alias("area"))["area"].to_list()
    [200.0, 10000.0, None]
    """
    scale = pl.when(pl.col("coordinate_unit") == "percent").then(
        pl.col("original_width") * pl.col("original_height") / 1e4
    )
    return pl.col("width") * pl.col("height") * scale.otherwise(1.0)


def crowd_region() -> pl.Expr:
    """A COCO crowd region (`iscrowd: 1`): a box that COCO AP ignores, and no other score counts.

    Returns
    -------
    pl.Expr
        A Boolean over core.regions rows: a box type, not scorable, with a geometry, and `iscrowd` 1 in
        its `value_json`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import crowd_region
    >>> regions = pl.DataFrame({"type": "rectanglelabels", "scorable": [False, False, True], "width": 5.0,
    ...                         "value_json": ['{"iscrowd": 1}', '{"iscrowd": 0}', '{"iscrowd": 1}']})
    >>> regions.select(crowd_region().alias("crowd"))["crowd"].to_list()
    [True, False, False]
    """
    iscrowd = pl.col("value_json").str.json_path_match("$.iscrowd") == "1"
    return pl.col("type").is_in(BOX_TYPES) & ~pl.col("scorable") & pl.col("width").is_not_null() & iscrowd


CONFLICT_KINDS = ("matched", "wrong_label", "extra", "missing")


def box_conflicts(
    gt_boxes: pl.DataFrame, boxes: pl.DataFrame, threshold: float = 0.5, rule: str = "hungarian"
) -> pl.DataFrame:
    """CVAT's conflict list for boxes: one row per box of a participant and per GT box, at one IoU threshold
    and matching rule, with what became of it.

    Parameters
    ----------
    gt_boxes, boxes : pl.DataFrame
        As `detection_scores` takes them, optionally with annotation_id and item_index.
    threshold : float, default=0.5
        The IoU from which two boxes match.
    rule : {"hungarian", "greedy", "coco"}, default="hungarian"
        The matching rule.

    Returns
    -------
    pl.DataFrame
        project_id, task_id, annotator, origin, control, kind, annotation_id, item_index, label,
        gt_annotation_id, gt_item_index, gt_label, iou (pairs only); ids are null when the frames do not
        carry them.

    Notes
    -----
    kind is `matched` (a pair with the same label), `wrong_label` (a pair whose geometry matches under
    another label: CVAT's mismatched label), `extra` (the participant's box with no GT match; every box on a
    confirmed-empty image) or `missing` (a GT box the participant left unmatched).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import box_conflicts
    >>> gt_boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "control": "box", "label": "car",
    ...                          "box": [0, 1, 2], "x": [0.0, 50.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0})
    >>> boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "annotator": "ann", "origin": "human",
    ...                       "control": "box", "label": ["car", "car", "bus"], "box": [0, 1, 2],
    ...                       "x": [1.0, 80.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0, "score": None})
    >>> conflicts = box_conflicts(gt_boxes, boxes)
    >>> conflicts.select("task_id", "kind", "label", "gt_label", pl.col("iou").round(4)).rows()
    [(1, 'extra', 'car', None, None), (1, 'matched', 'car', 'car', 0.8182), (1, 'missing', None, 'car', None),
     (2, 'wrong_label', 'bus', 'car', 1.0)]
    """

    def ids(frame: pl.DataFrame) -> pl.DataFrame:  # frames made without the annotation and region ids
        missing = {"annotation_id": pl.String, "item_index": pl.Int32}.items()
        return frame.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in missing if c not in frame.columns)

    gt_boxes, boxes = ids(gt_boxes), ids(boxes)
    real_gt, real = _real_boxes(gt_boxes, boxes, [rule])
    who = (
        boxes.lazy()
        .select(*TASK, "annotator", "origin", "annotation_id")
        .unique([*TASK, "annotator"])
        .join(gt_boxes.lazy().select(TASK).unique(), on=TASK)
    )
    pairs = [
        pl.concat([same.with_columns(kind=pl.lit("matched")), other.with_columns(kind=pl.lit("wrong_label"))]).select(
            "annotator", "box", "box_gt", "iou", "kind"
        )
        for _, _, _, same, other in _batched_matches(real_gt, real, gt_boxes, [threshold], [rule])
    ]
    pairs = (
        pl.concat(pairs).lazy()
        if pairs
        else pl.LazyFrame(
            schema={"annotator": pl.String, "box": pl.Int64, "box_gt": pl.Int64, "iou": pl.Float64, "kind": pl.String}
        )
    )
    mine = real.select(
        "box", *ANNOTATOR_CONTROL, "task_id", "origin", "annotation_id", "item_index", pl.col("label").cast(pl.String)
    )
    theirs = real_gt.select("box", "control", "annotation_id", "item_index", pl.col("label").cast(pl.String), *TASK)
    return _conflict_list(
        mine.rename({"box": "region"}),
        theirs.rename({"box": "region"}),
        pairs.rename({"box": "region", "box_gt": "region_gt"}),
        who,
    )


def region_conflicts(
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    gt_regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    threshold: float = 0.5,
) -> pl.DataFrame:
    """The conflict list of `box_conflicts` for the other regions with a geometry.

    Polygons (IoU of their areas, self-intersecting ones repaired), spans (IoU of their character ranges)
    and keypoints (COCO's object keypoint similarity, in the `iou` column). Per task and control, each
    participant's regions (`scored_annotations`) are matched one to one with the GT's (`gt_regions`) at
    `threshold`: same label first (optimal matching, as CVAT), then across labels among what is left
    (`wrong_label`).

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    regions : pl.LazyFrame
        core.regions.
    gt_regions : pl.LazyFrame
        The GT's regions (`pipeline.groundtruth.ground_truth_regions`).
    ground_truth : pl.LazyFrame
        core.ground_truth.
    threshold : float, default=0.5
        The IoU (or keypoint similarity) from which two regions match.

    Returns
    -------
    pl.DataFrame
        The columns of `box_conflicts`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12", "13"],
    ...                              annotator=["lead", "ann", "ann", "detector-v1"],
    ...                              origin=["human", "human", "human", "model"], was_cancelled=False)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> square = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]]
    >>> wide = [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "12"], region_id=["a", "b"],
    ...                      item_index=0, control="outline", type="polygonlabels", scorable=True,
    ...                      labels=[["car"], ["bus"]], points=[square, wide])
    >>> gt_regions = regions.filter(pl.col("annotation_id") == "10")
    >>> conflicts = region_conflicts(annotations, regions, gt_regions, ground_truth)
    >>> conflicts.select("annotator", "kind", "label", "gt_label", "iou").rows()
    [('ann', 'wrong_label', 'bus', 'car', 0.75), ('detector-v1', 'missing', None, 'car', None)]
    """
    kinds = [*POLYGON_TYPES, *SPAN_TYPES, *KEYPOINT_TYPES]
    shape = [
        "type",
        box_label(),
        "x",
        "y",
        "points",
        "start",
        "end",
        "original_width",
        "original_height",
        "coordinate_unit",
    ]
    with_shape = pl.col("type").is_in(kinds) & pl.col("scorable")
    theirs = (
        ground_truth.select(TASK)
        .join(gt_regions.filter(with_shape), on=TASK)
        .select(*TASK, "control", "annotation_id", "item_index", *shape)
        .sort(*TASK, "control", "item_index")
        .collect()
        .with_row_index("region")
    )
    latest, gt_tasks = scored_annotations(annotations, ground_truth), theirs.lazy().select(TASK).unique()
    mine = (
        latest.join(regions.filter(with_shape), on=[*TASK, "annotation_id"])
        .select(*TASK, "annotator", "origin", "annotation_id", "item_index", "control", *shape)
        .join(gt_tasks, on=TASK, how="semi")
        .sort(*TASK, "annotator", "item_index")
        .collect()
        .with_row_index("region")
    )
    pairs = mine.join(theirs, on=[*TASK, "control", "type"], suffix="_b")
    polygons = pairs.filter(pl.col("type").is_in(POLYGON_TYPES))
    iou, _ = polygon_iou(polygons["points"], polygons["points_b"])
    weighted = pl.concat(
        [
            polygons.with_columns(iou=pl.Series(iou, dtype=pl.Float64).fill_nan(None)),
            pairs.filter(~pl.col("type").is_in(POLYGON_TYPES)).with_columns(
                iou=pl.when(pl.col("type").is_in(SPAN_TYPES)).then(span_iou()).otherwise(keypoint_similarity())
            ),
        ]
    ).filter(pl.col("iou") >= threshold)
    candidates = weighted.select(
        "task_id",
        "annotator",
        "region",
        region_gt="region_b",
        iou="iou",
        same_label=pl.col("label") == pl.col("label_b"),
    )
    group = ["task_id", "annotator"]
    same, other = _same_label_first(
        candidates,
        group,
        "region",
        "region_gt",
        lambda pairs: optimal_matches(pairs, group, "region", "region_gt", "iou"),
    )
    matches = pl.concat([same.with_columns(kind=pl.lit("matched")), other.with_columns(kind=pl.lit("wrong_label"))])
    who = latest.join(gt_tasks, on=TASK)
    return _conflict_list(
        mine.lazy().drop("type"),
        theirs.lazy().drop("type"),
        matches.lazy().select("annotator", "region", "region_gt", "iou", "kind"),
        who,
    )


def _conflict_list(mine: pl.LazyFrame, theirs: pl.LazyFrame, matches: pl.LazyFrame, who: pl.LazyFrame) -> pl.DataFrame:
    """Conflict rows from the participants' regions (`mine`: region, project_id, task_id, annotator, origin,
    control, annotation_id, item_index, label), the GT's (`theirs`: region, project_id, task_id, control,
    annotation_id, item_index, label), their `matches` (annotator, region, region_gt, iou, kind) and `who`
    is scored on which task (project_id, task_id, annotator, origin, annotation_id)."""
    gt = theirs.select(
        pl.col("region").alias("region_gt"),
        pl.col("annotation_id").alias("gt_annotation_id"),
        pl.col("item_index").alias("gt_item_index"),
        pl.col("label").alias("gt_label"),
    )
    matched = matches.join(mine, on=["region", "annotator"]).join(gt, on="region_gt")
    extra = mine.join(matches.select("region"), on="region", how="anti").with_columns(
        kind=pl.lit("extra"), iou=pl.lit(None, pl.Float64)
    )
    missing = (
        who.join(theirs.select(*TASK, "control", "region"), on=TASK)
        .join(matches.select("annotator", pl.col("region_gt").alias("region")), on=["annotator", "region"], how="anti")
        .select(
            *TASK,
            "annotator",
            "origin",
            "control",
            "annotation_id",
            pl.col("region").alias("region_gt"),
            kind=pl.lit("missing"),
        )
        .join(gt, on="region_gt")
    )
    columns = [
        "project_id",
        "task_id",
        "annotator",
        "origin",
        "control",
        "kind",
        "annotation_id",
        "item_index",
        "label",
        "gt_annotation_id",
        "gt_item_index",
        "gt_label",
        "iou",
    ]
    return (
        pl.concat([matched, extra, missing], how="diagonal")
        .select(columns)
        .sort("project_id", "task_id", "control", "annotator", "kind", "item_index", "gt_item_index", nulls_last=True)
        .collect()
    )


def detection_confusion(
    gt_boxes: pl.DataFrame, boxes: pl.DataFrame, threshold: float = 0.5, rule: str = "hungarian"
) -> pl.DataFrame:
    """CVAT's confusion matrix for boxes, per participant and box control, at one IoU threshold and rule.

    `conflict_counts` of the `box_conflicts`.

    Parameters
    ----------
    gt_boxes, boxes : pl.DataFrame
        As `detection_scores` takes them.
    threshold : float, default=0.5
        The IoU from which two boxes match.
    rule : {"hungarian", "greedy", "coco"}, default="hungarian"
        The matching rule.

    Returns
    -------
    pl.DataFrame
        project_id, annotator, origin, control, gt_label, label, count (long form).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import detection_confusion
    >>> gt_boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "control": "box", "label": "car",
    ...                          "box": [0, 1, 2], "x": [0.0, 50.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0})
    >>> boxes = pl.DataFrame({"project_id": "p", "task_id": [1, 1, 2], "annotator": "ann", "origin": "human",
    ...                       "control": "box", "label": ["car", "car", "bus"], "box": [0, 1, 2],
    ...                       "x": [1.0, 80.0, 0.0], "y": 0.0, "width": 10.0, "height": 10.0, "score": None})
    >>> detection_confusion(gt_boxes, boxes).select("gt_label", "label", "count").rows()
    [('(unmatched)', 'car', 1), ('car', '(unmatched)', 1), ('car', 'bus', 1), ('car', 'car', 1)]
    """
    return conflict_counts(box_conflicts(gt_boxes, boxes, threshold, rule).lazy()).collect()


def conflict_counts(conflicts: pl.LazyFrame) -> pl.LazyFrame:
    """Region conflicts counted as a confusion matrix.

    A pair counts under (gt_label, label), on the diagonal when the labels agree and off it for a
    mismatched label; a missing GT box under (gt_label, "(unmatched)"), an extra box under
    ("(unmatched)", label).

    Parameters
    ----------
    conflicts : pl.LazyFrame
        A conflict list (`box_conflicts`, `region_conflicts`): project_id, annotator, origin, control,
        gt_label and label (null on the side without a region).

    Returns
    -------
    pl.LazyFrame
        project_id, annotator, origin, control, gt_label, label, count (long form), sorted.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.detection import conflict_counts
    >>> conflicts = pl.LazyFrame({"project_id": "p", "annotator": "ann", "origin": "human", "control": "box",
    ...                           "gt_label": ["car", "car", "car", None], "label": ["car", "bus", None, "car"]})
    >>> conflict_counts(conflicts).collect().select("gt_label", "label", "count").rows()
    [('(unmatched)', 'car', 1), ('car', '(unmatched)', 1), ('car', 'bus', 1), ('car', 'car', 1)]
    """
    return (
        conflicts.group_by(
            "project_id",
            "annotator",
            "origin",
            "control",
            pl.col("gt_label").fill_null(UNMATCHED),
            pl.col("label").fill_null(UNMATCHED),
        )
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .sort("project_id", "control", "annotator", "gt_label", "label")
    )
