"""The quality tables as steps: the project's core tables and GT -> each quality.* table, stamped with the run
and the GT version it was scored against (`stamped`). No Dagster, no warehouse.

One function per quality asset, named like it; a step that makes several tables yields (table, rows)
pairs in the order they are written, each computed when the one before is written.

Each step is one call of `pipeline.metrics` (where the formulas are, with their own examples) and a stamp: its
examples show the call on a few rows of the tables it reads, made with the `table` helper that every example
defines (a table of the contract with the columns given, the others null).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from pipeline.contract import (
    ANNOTATOR_CONFUSION,
    AVERAGE_PRECISION,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    IMAGE_DETECTION_SCORES,
    JOB_QUALITY,
    PRECISION_RECALL_CURVE,
    REGION_CONFLICTS,
    Table,
)
from pipeline.groundtruth import ground_truth_regions
from pipeline.ingest.scout import image_confidence
from pipeline.metrics import classification, detection, quality, scores
from pipeline.metrics.cvat_quality import QualitySettings
from pipeline.steps.cvat import cvat_quality
from pipeline.vocabulary import TASK

Tables = Iterator[tuple[Table, pl.LazyFrame]]


def gt_version_of(*inputs: pl.LazyFrame) -> int | None:
    """The GT version rows computed from `inputs` were scored against: the greatest `gt_version` the inputs carry
    (core.ground_truth, or scores computed from it); None when none carries one.

    Parameters
    ----------
    *inputs : pl.LazyFrame
        The frames the rows were computed from; those without a `gt_version` column are passed over.

    Returns
    -------
    int or None
        max(gt_version) over the inputs' rows; None without an input that has the column, or when every value
        is null (no GT yet).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.steps.quality import gt_version_of
    >>> scores, older = pl.LazyFrame({"gt_version": [3, 4, None]}), pl.LazyFrame({"gt_version": [2]})
    >>> gt_version_of(scores, older, pl.LazyFrame({"label": ["cat"]}))
    4
    >>> gt_version_of(pl.LazyFrame({"label": ["cat"]})) is None
    True
    """
    carried = [i.select(pl.col("gt_version").max()) for i in inputs if "gt_version" in i.collect_schema().names()]
    return pl.concat(carried).select(pl.col("gt_version").max()).collect().item() if carried else None


def stamped(rows: pl.LazyFrame, run_id: str, *inputs: pl.LazyFrame) -> pl.LazyFrame:
    """`rows` stamped with the GT version they were scored against and the run that computed them.

    Parameters
    ----------
    rows : pl.LazyFrame
        A quality table's rows, without the stamp.
    run_id : str
        The run.
    *inputs : pl.LazyFrame
        The frames the rows were computed from (`gt_version_of`).

    Returns
    -------
    pl.LazyFrame
        `rows` with `gt_version` (Int64: `gt_version_of(*inputs)`, null when no input carries one) and `run_id`,
        the last two columns of every quality table (`contract.RUN_COLUMNS`).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.steps.quality import stamped
    >>> rows = pl.LazyFrame({"label": ["cat", "dog"]})
    >>> stamped(rows, "run-9", pl.LazyFrame({"gt_version": [3]})).collect().rows()
    [('cat', 3, 'run-9'), ('dog', 3, 'run-9')]
    >>> stamped(rows, "run-9").collect()["gt_version"].to_list()  # scored against no GT
    [None, None]
    """
    return rows.with_columns(gt_version=pl.lit(gt_version_of(*inputs), pl.Int64), run_id=pl.lit(run_id))


def answers(
    annotations: pl.LazyFrame, regions: pl.LazyFrame, label_config: pl.LazyFrame, *, run_id: str
) -> pl.LazyFrame:
    """quality.answers: what each submitted annotation and prediction answered per task-level control.

    One row per submitted annotation (or prediction) and task-level answer control of its project
    (`metrics.scores.answers`): an annotation that left a control blank has a row with an empty answer.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations; cancelled (skipped) ones are left out.
    regions : pl.LazyFrame
        core.regions: the answers are the results of an answer type not attached to a region.
    label_config : pl.LazyFrame
        core.label_config, for the declared ranges of numeric controls.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.answers rows; gt_version null (answers do not depend on the GT).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, LABEL_CONFIG, REGIONS
    >>> from pipeline.steps.quality import answers
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11"],
    ...                              annotator=["ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10"], region_id="r1", control="label",
    ...                      type="choices", labels=[["cat"]])
    >>> rows = answers(annotations, regions, LABEL_CONFIG.empty().lazy(), run_id="run-1").collect()
    >>> rows.sort("annotator").select("annotator", "control", "answer_key", "gt_version", "run_id").rows()
    [('ann', 'label', 'cat', None, 'run-1'), ('bob', 'label', None, None, 'run-1')]
    """
    return stamped(scores.answers(annotations, regions, label_config), run_id)


def annotation_scores(
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    *,
    weights: pl.LazyFrame | None,
    run_id: str,
) -> pl.LazyFrame:
    """quality.annotation_scores: each annotation and prediction scored against its task's GT per control, with
    the control's weight.

    The scores of `metrics.scores.scores_against_ground_truth` (in [0, 1], by the control's type: equality of
    the answers, matched regions' IoU, ...) against the GT's own regions (`groundtruth.ground_truth_regions`).
    The GT annotation itself is not scored, nor a task without GT.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers.
    annotations, regions : pl.LazyFrame
        core.annotations, core.regions.
    ground_truth : pl.LazyFrame
        core.ground_truth: each task's GT annotation.
    weights : pl.LazyFrame or None
        project_id, control, weight: the project's control weights (GT policy); 1 where none is set.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.annotation_scores rows, stamped with the GT's version.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, LABEL_CONFIG, REGIONS
    >>> from pipeline.steps.quality import annotation_scores, answers
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1",
    ...                                gt_version=2)
    >>> answered = answers(annotations, regions, LABEL_CONFIG.empty().lazy(), run_id="run-1")
    >>> weights = pl.LazyFrame({"project_id": ["p"], "control": "label", "weight": 2.0})
    >>> scored = annotation_scores(answered, annotations, regions, ground_truth, weights=weights, run_id="run-1")
    >>> scored.sort("annotator").select("annotator", "score", "weight", "gt_version", "run_id").collect().rows()
    [('ann', 1.0, 2.0, 2, 'run-1'), ('bob', 0.0, 2.0, 2, 'run-1')]
    """
    gt_regions = ground_truth_regions(ground_truth, regions)
    rows = scores.scores_against_ground_truth(annotations, answers, regions, ground_truth, gt_regions)
    return stamped(scores.with_control_weights(rows, weights), run_id, ground_truth)


def annotator_performance(
    annotations: pl.LazyFrame,
    reviews: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    answers: pl.LazyFrame,
    label_scores: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.annotator_performance: per annotator and model version, volume, reviews, lead time and agreement.

    `metrics.quality.annotator_performance`: among its figures, accuracy = the mean over the participant's scored
    annotations of their overall score (the control scores' weighted mean) and macro_f1 = the mean of its
    labels' F1. A ratio with nothing to count is null.

    Parameters
    ----------
    annotations, reviews : pl.LazyFrame
        core.annotations, core.reviews.
    annotation_scores, answers, label_scores : pl.LazyFrame
        quality.annotation_scores, quality.answers, quality.label_scores.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.annotator_performance rows, stamped with the GT version of the scores.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES, REVIEWS
    >>> from pipeline.steps.quality import annotator_performance
    >>> ann = {"project_id": "p", "annotator": "ann", "origin": "human"}
    >>> made = {**ann, "task_id": ["1", "2"], "annotation_id": ["10", "11"]}
    >>> annotations = ANNOTATIONS.of(**made, was_cancelled=False)
    >>> scores = ANNOTATION_SCORES.of(**made, control="label", type="choices", score=[1.0, 0.0], weight=1.0,
    ...                               answer_key=["cat", "dog"], gt_answer_key="cat", gt_version=2)
    >>> answers = ANSWERS.of(**made, control="label", type="choices", answer_key=["cat", "dog"])
    >>> label_scores = LABEL_SCORES.of(**ann, control="label", label=["cat", "dog"], f1=[0.5, 0.0], gt_version=2)
    >>> performance = annotator_performance(annotations, REVIEWS.empty().lazy(), scores, answers, label_scores,
    ...                                     run_id="run-1").collect()
    >>> performance.select("annotator", "n_submitted", "n_scored", "accuracy", "macro_f1", "gt_version").rows()
    [('ann', 2, 2, 0.5, 0.25, 2)]
    """
    rows = quality.annotator_performance(annotations, reviews, annotation_scores, answers, label_scores)
    return stamped(rows, run_id, annotation_scores, label_scores)


def annotator_daily(annotations: pl.LazyFrame, annotation_scores: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.annotator_daily: submitted work and accuracy per annotator and model per day.

    `metrics.quality.annotator_daily`: per UTC day of an annotation's last update (its creation when never
    updated; undated: a null day), in annotator_performance's units, so the days add up to its totals.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    annotation_scores : pl.LazyFrame
        quality.annotation_scores.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.annotator_daily rows, stamped with the GT version of the scores.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANNOTATION_SCORES
    >>> from pipeline.steps.quality import annotator_daily
    >>> made = {"project_id": "p", "task_id": ["1", "2"], "annotation_id": ["10", "11"], "annotator": "ann",
    ...         "origin": "human"}
    >>> annotations = ANNOTATIONS.of(**made, was_cancelled=False,
    ...                              created_at=[datetime(2024, 5, 1, 9), datetime(2024, 5, 2, 9)])
    >>> scores = ANNOTATION_SCORES.of(**made, control="label", score=[1.0, 0.0], weight=1.0, gt_version=2)
    >>> daily = annotator_daily(annotations, scores, run_id="run-1").collect()
    >>> daily.select(pl.col("day").cast(pl.String), "n_submitted", "n_scored", "accuracy", "gt_version").rows()
    [('2024-05-01', 1, 1, 1.0, 2), ('2024-05-02', 1, 1, 0.0, 2)]
    """
    return stamped(quality.annotator_daily(annotations, annotation_scores), run_id, annotation_scores)


def confusion_matrix(
    annotation_scores: pl.LazyFrame,
    region_conflicts: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.confusion_matrix: each categorical control's confusion against GT (per-region values against the GT
    region each is matched with) and each box region control's (the region conflicts), in long form.

    The categorical cells are `metrics.classification.confusion_matrix`'s (a task-level answer counts once per
    annotation, a per-region value once per region), the box cells `metrics.detection.conflict_counts`' of the
    region conflicts. "(empty)" is a blank answer, "(unmatched)" a region without a match.

    Parameters
    ----------
    annotation_scores, region_conflicts : pl.LazyFrame
        quality.annotation_scores, quality.region_conflicts.
    annotations, answers, regions, ground_truth : pl.LazyFrame
        core.annotations, quality.answers, core.regions and core.ground_truth: the per-region values
        (`metrics.scores.region_value_pairs`).
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.confusion_matrix rows (the categorical controls', then the box controls'), stamped with the
        GT version of the scores and conflicts.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATION_SCORES, ANNOTATIONS, ANSWERS, GROUND_TRUTH, REGION_CONFLICTS, REGIONS
    >>> from pipeline.steps.quality import confusion_matrix
    >>> ann = {"project_id": "p", "annotator": "ann", "origin": "human"}
    >>> scores = ANNOTATION_SCORES.of(**ann, task_id=["1", "2"], annotation_id=["10", "11"], control="label",
    ...                               type="choices", answer_key=["cat", "dog"], gt_answer_key="cat", gt_version=2)
    >>> conflicts = REGION_CONFLICTS.of(**ann, task_id=["3"], control="box", kind="wrong_label", gt_label="car",
    ...                                 label="bus", gt_version=2)
    >>> no_region_values = [t.empty().lazy() for t in (ANNOTATIONS, ANSWERS, REGIONS, GROUND_TRUTH)]
    >>> matrix = confusion_matrix(scores, conflicts, *no_region_values, run_id="run-1").collect()
    >>> matrix.select("control", "gt_label", "label", "count", "gt_version").rows()
    [('label', 'cat', 'cat', 1, 2), ('label', 'cat', 'dog', 1, 2), ('box', 'car', 'bus', 1, 2)]
    """
    gt_regions = ground_truth_regions(ground_truth, regions)
    region_values = scores.region_value_pairs(annotations, answers, regions, ground_truth, gt_regions)
    categorical = classification.confusion_matrix(annotation_scores, region_values)
    pairs = region_conflicts.filter(pl.col("kind").is_in(detection.CONFLICT_KINDS))  # CVAT's warnings: no pair
    boxes = detection.conflict_counts(pairs.drop("gt_version", "run_id"))
    return stamped(pl.concat([categorical, boxes]), run_id, annotation_scores, region_conflicts)


def label_scores(confusion_matrix: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.label_scores: each label's precision, recall and F1 against GT.

    From the confusion matrix (`metrics.classification.label_scores`), per participant, control and label, with
    tp its diagonal cell, fp = predicted - tp, fn = support - tp: precision = tp / (tp + fp), recall = tp / (tp +
    fn), F1 = 2 tp / (2 tp + fp + fn). A label never predicted has a null precision, one absent from the GT a
    null recall; "(unmatched)" is no label.

    Parameters
    ----------
    confusion_matrix : pl.LazyFrame
        quality.confusion_matrix.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.label_scores rows, stamped with the confusion matrix's GT version.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import CONFUSION_MATRIX
    >>> from pipeline.steps.quality import label_scores
    >>> matrix = CONFUSION_MATRIX.of(project_id="p", annotator="ann", origin="human", control="label",
    ...                              gt_label=["cat", "cat", "dog"], label=["cat", "dog", "dog"], count=[3, 1, 2],
    ...                              gt_version=2)
    >>> scored = label_scores(matrix, run_id="run-1").collect().with_columns(pl.col(pl.Float64).round(4))
    >>> scored.select("label", "support", "predicted", "tp", "precision", "recall", "f1", "gt_version").rows()
    [('cat', 4, 3, 3, 1.0, 0.75, 0.8571, 2), ('dog', 2, 3, 2, 0.6667, 1.0, 0.8, 2)]
    """
    return stamped(classification.label_scores(confusion_matrix), run_id, confusion_matrix)


def agreement_matrix(answers: pl.LazyFrame, annotation_scores: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.agreement_matrix: pairwise agreement and kappas between all participants and the GT.

    `metrics.quality.agreement_matrix`: every ordered pair of participants (annotators, model versions and
    "(ground truth)", whose answers are the scores' GT answers) per categorical control and "(all)", over the
    tasks both answered: agreement (the share of equal answers) and Cohen's kappa (weighted kappas for ratings).

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers.
    annotation_scores : pl.LazyFrame
        quality.annotation_scores: the GT's answers.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.agreement_matrix rows, stamped with the GT version of the scores (null without GT).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATION_SCORES, ANSWERS
    >>> from pipeline.steps.quality import agreement_matrix
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "2", "2"], annotation_id=["10", "11", "12", "13"],
    ...                      annotator=["ann", "bob"] * 2, origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "cat"])
    >>> matrix = agreement_matrix(answers, ANNOTATION_SCORES.empty().lazy(), run_id="run-1").collect()
    >>> ann_bob = matrix.filter(annotator_a="ann", control="label")
    >>> ann_bob.select("annotator_b", "n_tasks", "agreement", "gt_version", "run_id").rows()
    [('bob', 2, 0.5, None, 'run-1')]
    """
    return stamped(quality.agreement_matrix(answers, annotation_scores), run_id, annotation_scores)


def task_agreement(
    answers: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    *,
    weights: pl.LazyFrame | None,
    run_id: str,
    tasks: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """quality.task_agreement: Label Studio's task agreement over pairs of human annotations, every control
    weighted by `weights`. Task-local (`steps.by_task`): a task's row is computed from its rows and what
    `task_agreement_context` gives.

    `metrics.scores.pairwise_task_agreement`: each pair of a task's submitted human annotations scores the
    weighted mean of its control scores; agreement = the mean over the n (n - 1) / 2 pairs, consensus_agreement =
    the share of pairs scoring >= 0.5. A task with one annotation has null agreement.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers.
    annotations, regions : pl.LazyFrame
        core.annotations, core.regions.
    weights : pl.LazyFrame or None
        project_id, control, weight: the project's control weights (GT policy); 1 where none is set.
    run_id : str
        The run.
    tasks : pl.DataFrame, optional
        project_id, task_id: the tasks to compute (their rows are those of computing every task); all by default.

    Returns
    -------
    pl.LazyFrame
        The quality.task_agreement rows, stamped with the run (no GT version: agreement does not depend on the GT).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, LABEL_CONFIG, REGIONS
    >>> from pipeline.steps.quality import answers, task_agreement, task_agreement_distribution
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> answered = answers(annotations, regions, LABEL_CONFIG.empty().lazy(), run_id="run-1")
    >>> rows = task_agreement(answered, annotations, regions, weights=None, run_id="run-1").collect()
    >>> rows.select("task_id", "n_annotations", pl.col("agreement").round(4), "gt_version", "run_id").rows()
    [('1', 3, 0.3333, None, 'run-1')]
    >>> spread = task_agreement_distribution(rows.lazy(), run_id="run-1").collect()
    >>> spread.select("measure", "n_tasks", pl.col("mean").round(4)).rows()
    [('agreement', 1, 0.3333), ('consensus_agreement', 1, 0.3333)]
    """
    rows = scores.pairwise_task_agreement(answers, annotations, regions, weights=weights, tasks=tasks)
    return stamped(rows, run_id)


def task_agreement_context(answers: pl.LazyFrame, annotations: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """What a task's quality.task_agreement row reads beyond the task (`steps.by_task`): the project's controls
    and scales a comparison is scored on (`metrics.scores.pairwise_context`)."""
    return scores.pairwise_context(answers, regions)


def task_agreement_distribution(task_agreement: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.task_agreement_distribution: how task agreement is spread over the project's tasks with two or
    more annotations (`metrics.quality.task_agreement_distribution`), stamped with the run.

    Parameters
    ----------
    task_agreement : pl.LazyFrame
        quality.task_agreement.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.task_agreement_distribution rows: one per measure.
    """
    return stamped(quality.task_agreement_distribution(task_agreement), run_id)


def project_agreement(answers: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.project_agreement: Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha per control, with intervals.

    `metrics.quality.project_agreement` over the human answers of each control: Fleiss' kappa and Gwet's AC1
    (categorical controls), Krippendorff's alpha at the control's level, with their bands, each with a 95%
    percentile bootstrap interval over the tasks (1000 resamples, seed 0: a run repeats its numbers); the
    intraclass correlations of rating and number controls. A statistic that cannot be computed is null, and
    `undefined_reason` says why.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.project_agreement rows, stamped with the run (no GT version).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS
    >>> from pipeline.steps.quality import project_agreement
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "2", "2", "3", "3", "4", "4"],
    ...                      annotation_id=[str(i) for i in range(10, 18)], annotator=["ann", "bob"] * 4,
    ...                      origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "cat", "dog", "dog", "cat", "cat"])
    >>> reliability = project_agreement(answers, run_id="run-1").collect()
    >>> reliability.select("control", "n_tasks", "percent_agreement", pl.col("fleiss_kappa").round(4), "run_id").rows()
    [('label', 4, 0.75, 0.4667, 'run-1')]
    """
    return stamped(quality.project_agreement(answers), run_id)


def detection_scores(
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    tasks: pl.LazyFrame,
    *,
    run_id: str,
    cvat: QualitySettings | None = None,
) -> Tables:
    """quality.detection_scores, region_conflicts, job_quality, average_precision, precision_recall_curve and
    image_detection_scores: every annotator's and model's boxes against the GT's, in that order.

    The boxes of each participant's latest submitted annotation on a task with GT against the GT's boxes
    (`metrics.detection.detection_inputs`): one-to-one matches at IoU 0.5:0.05:0.95 and their counts and F1, the
    conflicts (box and per-region; a CVAT job's frames as CVAT's quality report has them, with its figures per
    job, `steps.cvat.cvat_quality`), COCO average precision and its precision-recall curve, and whole-image
    detection against the images' classifier confidence (`ingest.scout.image_confidence`).

    Parameters
    ----------
    annotations, regions, ground_truth, tasks : pl.LazyFrame
        core.annotations, core.regions, core.ground_truth, core.tasks (the images' confidence).
    run_id : str
        The run.
    cvat : QualitySettings, optional
        How CVAT jobs are compared (the policy's `cvat_quality`); CVAT's defaults when None.

    Yields
    ------
    table : Table
        DETECTION_SCORES, REGION_CONFLICTS, JOB_QUALITY, AVERAGE_PRECISION, PRECISION_RECALL_CURVE,
        IMAGE_DETECTION_SCORES.
    rows : pl.LazyFrame
        Its rows, stamped with the GT's version.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, DETECTION_SCORES, GROUND_TRUTH, REGIONS, TASKS
    >>> from pipeline.steps.quality import detection_scores
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11"],
    ...                              annotator=["lead", "ann"], origin="human", was_cancelled=False)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1",
    ...                                gt_version=2)
    >>> box = {"project_id": "p", "task_id": "1", "control": "box", "type": "rectanglelabels", "item_index": 0,
    ...        "y": 0.0, "width": 10.0, "height": 10.0, "scorable": True, "coordinate_unit": "pixel"}
    >>> regions = REGIONS.of(**box, annotation_id=["10", "11"], region_id=["a", "b"], labels=[["car"]] * 2,
    ...                      x=[0.0, 1.0])
    >>> tables = dict(detection_scores(annotations, regions, ground_truth, TASKS.empty().lazy(), run_id="run-1"))
    >>> [table.name for table in tables]  # doctest: +NORMALIZE_WHITESPACE
    ['detection_scores', 'region_conflicts', 'job_quality', 'average_precision', 'precision_recall_curve',
     'image_detection_scores']
    >>> at_50 = tables[DETECTION_SCORES].filter(matching="hungarian", iou_threshold=0.5)
    >>> at_50.select("annotator", "tp", "fp", "fn", "f1", "gt_version").collect().rows()
    [('ann', 1, 0, 0, 1.0, 2)]
    """
    gt_regions = ground_truth_regions(ground_truth, regions)
    gt_boxes, boxes, crowd = detection.detection_inputs(annotations, regions, gt_regions, ground_truth)

    def scored(table: Table, rows: pl.DataFrame) -> tuple[Table, pl.LazyFrame]:
        return table, stamped(rows.lazy(), run_id, ground_truth)

    yield scored(DETECTION_SCORES, detection.detection_scores(gt_boxes, boxes))
    cvat_conflicts, jobs = cvat_quality(annotations, regions, ground_truth, tasks, cvat)
    own = pl.concat(
        [
            detection.box_conflicts(gt_boxes, boxes),
            detection.region_conflicts(annotations, regions, gt_regions, ground_truth),
        ]
    ).with_columns(severity=pl.lit(None, pl.String))
    compared_by_cvat = cvat_conflicts.select(TASK).unique()  # its frames are CVAT's to judge
    yield scored(REGION_CONFLICTS, pl.concat([own.join(compared_by_cvat, on=TASK, how="anti"), cvat_conflicts]))
    yield scored(JOB_QUALITY, jobs)
    ap, curves = detection.average_precision(gt_boxes, boxes, crowd)
    yield scored(AVERAGE_PRECISION, ap)
    yield scored(PRECISION_RECALL_CURVE, curves)
    wic = image_confidence(tasks).collect()
    yield scored(IMAGE_DETECTION_SCORES, detection.image_detection_scores(gt_boxes, boxes, wic))


def review_queue(
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    task_agreement: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    ground_truth_conflicts: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.review_queue: tasks without GT, in the order a reviewer should take them, with the reason.

    `metrics.quality.review_queue`: consensus ties first, then the lowest agreement between annotators, then the
    largest disagreement between the model and the annotators' majority answer, then the lowest model
    confidence; priority counts 1, 2, ... per project. Only tasks with a submitted human annotation and no GT
    enter the queue.

    Parameters
    ----------
    tasks, annotations : pl.LazyFrame
        core.tasks, core.annotations.
    answers, task_agreement : pl.LazyFrame
        quality.answers, quality.task_agreement.
    ground_truth, ground_truth_conflicts : pl.LazyFrame
        core.ground_truth, core.ground_truth_conflicts (the consensus ties).
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.review_queue rows, stamped with the GT's version.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANSWERS, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS, TASKS, TASK_AGREEMENT
    >>> from pipeline.steps.quality import review_queue
    >>> tasks = TASKS.of(project_id="p", task_id=["1", "2", "3"])
    >>> made = {"project_id": "p", "task_id": ["1", "1", "2", "2", "3", "3"],
    ...         "annotation_id": ["10", "11", "12", "13", "14", "15"], "annotator": ["ann", "bob"] * 3,
    ...         "origin": "human"}
    >>> annotations = ANNOTATIONS.of(**made, was_cancelled=False)
    >>> answers = ANSWERS.of(**made, control="label", type="choices",
    ...                      answer_key=["cat", "dog", "cat", "cat", "cat", "dog"])
    >>> task_agreement = TASK_AGREEMENT.of(project_id="p", task_id=["1", "2", "3"], n_annotations=2,
    ...                                    agreement=[0.0, 1.0, 0.0])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["3"], annotation_id="14", source_task_id="3",
    ...                                gt_version=2)
    >>> conflicts = GROUND_TRUTH_CONFLICTS.empty().lazy()
    >>> queue = review_queue(tasks, annotations, answers, task_agreement, ground_truth, conflicts, run_id="run-1")
    >>> queue.select("task_id", "priority", "agreement", "gt_version").collect().rows()
    [('1', 1, 0.0, 2), ('2', 2, 1.0, 2)]
    """
    rows = quality.review_queue(tasks, annotations, answers, task_agreement, ground_truth, ground_truth_conflicts)
    return stamped(rows, run_id, ground_truth)


def consensus_labels(answers: pl.LazyFrame, ground_truth: pl.LazyFrame, *, run_id: str) -> Tables:
    """quality.consensus_labels (majority vote and Dawid-Skene labels of tasks without GT), then
    quality.annotator_confusion (each annotator's estimated confusion).

    `metrics.quality.consensus_labels`: the human answers of each categorical control are the votes; the
    majority label (null on a tie) and Dawid-Skene's label with its confidence, for the tasks without GT.
    Dawid-Skene's per-annotator confusion matrices are estimated from every task's answers, without the GT.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers.
    ground_truth : pl.LazyFrame
        core.ground_truth: the tasks left out of the labels.
    run_id : str
        The run.

    Yields
    ------
    table : Table
        CONSENSUS_LABELS, then ANNOTATOR_CONFUSION.
    rows : pl.LazyFrame
        Its rows, stamped with the run; the labels also with the GT's version (the confusion does not depend on
        it).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS, CONSENSUS_LABELS, GROUND_TRUTH
    >>> from pipeline.steps.quality import consensus_labels
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "1", "2", "2", "2"],
    ...                      annotation_id=[str(i) for i in range(10, 16)], annotator=["ann", "bob", "cid"] * 2,
    ...                      origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "dog", "dog", "dog"])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["2"], annotation_id="13", source_task_id="2",
    ...                                gt_version=2)
    >>> tables = dict(consensus_labels(answers, ground_truth, run_id="run-1"))
    >>> [table.key for table in tables]
    ['quality.consensus_labels', 'quality.annotator_confusion']
    >>> tables[CONSENSUS_LABELS].select("task_id", "n_votes", "majority", "tied", "gt_version").collect().rows()
    [('1', 3, 'cat', False, 2)]
    """
    labels, confusion = quality.consensus_labels(answers, ground_truth)
    yield CONSENSUS_LABELS, stamped(labels.lazy(), run_id, ground_truth)
    yield ANNOTATOR_CONFUSION, stamped(confusion.lazy(), run_id)


def model_performance(
    annotator_performance: pl.LazyFrame,
    detection_scores: pl.LazyFrame,
    average_precision: pl.LazyFrame,
    image_detection_scores: pl.LazyFrame,
    annotation_scores: pl.LazyFrame,
    regions: pl.LazyFrame,
    *,
    run_id: str,
) -> pl.LazyFrame:
    """quality.model_performance: per model version, classification and box figures and its calibration.

    `metrics.quality.model_performance`: the model's classification figures of annotator_performance, box F1 at
    IoU 0.5 and 0.75, COCO's twelve summary figures, the whole-image ROC AUC and the expected calibration error
    of the confidence it gives its classification answers (10 bins). A figure the model has nothing for (no box
    control, no confidence) is null.

    Parameters
    ----------
    annotator_performance, detection_scores, average_precision, image_detection_scores : pl.LazyFrame
        The quality tables of those names: the model versions' rows.
    annotation_scores : pl.LazyFrame
        quality.annotation_scores: whether each model answer equals the GT's.
    regions : pl.LazyFrame
        core.regions: the confidence (`score`) of each model answer.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.model_performance rows, stamped with the greatest GT version of the scored inputs.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import (ANNOTATION_SCORES, ANNOTATOR_PERFORMANCE, AVERAGE_PRECISION, DETECTION_SCORES,
    ...                                IMAGE_DETECTION_SCORES, REGIONS)
    >>> from pipeline.steps.quality import model_performance
    >>> performance = ANNOTATOR_PERFORMANCE.of(project_id="p", annotator=["detector-v1", "ann"],
    ...                                        origin=["model", "human"], n_submitted=4, n_scored=4,
    ...                                        accuracy=[0.75, 1.0], gt_version=2)
    >>> no_boxes = [t.empty().lazy() for t in (DETECTION_SCORES, AVERAGE_PRECISION, IMAGE_DETECTION_SCORES)]
    >>> found = model_performance(performance, *no_boxes, ANNOTATION_SCORES.empty().lazy(), REGIONS.empty().lazy(),
    ...                           run_id="run-1")
    >>> found.select("model_version", "accuracy", "map_50", "calibration_error", "gt_version").collect().rows()
    [('detector-v1', 0.75, None, None, 2)]
    """
    scored = (annotator_performance, detection_scores, average_precision, image_detection_scores, annotation_scores)
    return stamped(quality.model_performance(*scored, regions), run_id, *scored)


def calibration_curve(annotation_scores: pl.LazyFrame, regions: pl.LazyFrame, *, run_id: str) -> pl.LazyFrame:
    """quality.calibration_curve: per model version and confidence bin, how often its answers equal the GT's.

    `metrics.quality.calibration_curve`: a model answer with confidence c (its result's `score`) falls in bin
    floor(10 c) (1 in the top bin); per bin, n_predictions, the mean confidence and accuracy (the share equal to
    the GT's answer). Answers without a confidence and empty bins have no row.

    Parameters
    ----------
    annotation_scores : pl.LazyFrame
        quality.annotation_scores.
    regions : pl.LazyFrame
        core.regions: the confidence of each model answer.
    run_id : str
        The run.

    Returns
    -------
    pl.LazyFrame
        The quality.calibration_curve rows, stamped with the GT version of the scores.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATION_SCORES, REGIONS
    >>> from pipeline.steps.quality import calibration_curve
    >>> answered = {"project_id": "p", "task_id": ["1", "2", "3"], "annotation_id": ["10", "11", "12"],
    ...             "control": "label", "type": "choices"}
    >>> scores = ANNOTATION_SCORES.of(**answered, annotator="detector-v1", origin="model", score=[1.0, 0.0, 1.0],
    ...                               gt_version=2)
    >>> regions = REGIONS.of(**answered, score=[0.92, 0.95, 0.35])
    >>> curve = calibration_curve(scores, regions, run_id="run-1").collect()
    >>> curve.select("bin", "n_predictions", "mean_confidence", "accuracy", "gt_version").rows()
    [(3, 1, 0.35, 1.0, 2), (9, 2, 0.935, 0.5, 2)]
    """
    return stamped(quality.calibration_curve(annotation_scores, regions), run_id, annotation_scores)
