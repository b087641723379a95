"""The quality tables, composed from the answer and score frames with the metric functions.

Each function returns exactly the columns of its contract table (pipeline.contract).
"""

from __future__ import annotations

import polars as pl

from pipeline.metrics.aggregate import dawid_skene, majority_vote
from pipeline.metrics.agreement import agreement_statistics, cohen_kappa, krippendorff_band, landis_koch, rater_pairs
from pipeline.metrics.bootstrap import agreement_intervals
from pipeline.metrics.classification import calibration_bins, expected_calibration_error
from pipeline.metrics.detection import coco_summary
from pipeline.metrics.icc import ICC_FORMS, intraclass_correlation
from pipeline.metrics.ordered import ordered_mean, ordered_sum
from pipeline.metrics.scores import answer_ratings, answer_votes, overall
from pipeline.reviews import with_review_state
from pipeline.vocabulary import (
    ANNOTATION,
    ANSWER,
    CATEGORICAL_TYPES,
    HUMAN,
    MODEL,
    PARTICIPANT,
    TASK,
    TASK_CONTROL,
    submitted_human,
)

CATEGORICAL = pl.col("type").is_in(CATEGORICAL_TYPES)  # answers that are categories (kappa, votes, equality)


def annotator_performance(
    annotations: pl.LazyFrame,
    reviews: pl.LazyFrame,
    scores: pl.LazyFrame,
    answers: pl.LazyFrame,
    label_scores: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per annotator or model version, Label Studio's members dashboard and more.

    - volume: n_annotations, n_submitted, n_skipped; review verdicts (`pipeline.reviews`): n_accepted,
      n_fixed_and_accepted, n_rejected, and acceptance_score = accepted (fixed or not) / reviewed;
    - lead time of submitted work: total, mean and median seconds;
    - against GT: n_scored (annotations), accuracy (mean over them of the overall score, the control
      scores' weighted mean; an empty answer against a non-empty GT scores 0), cohen_kappa (over the
      categorical answers both gave, categories kept apart per control), macro_f1 (the mean of the
      per-label F1 of quality.label_scores, box labels included);
    - prediction_agreement: share of answers equal to the model's on the same task and control (humans);
    - annotator_agreement: share of answers equal to another human annotator's, over all such pairs.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    reviews : pl.LazyFrame
        core.reviews.
    scores : pl.LazyFrame
        quality.annotation_scores (`scores.scores_against_ground_truth` with control weights).
    answers : pl.LazyFrame
        quality.answers (`scores.answers`).
    label_scores : pl.LazyFrame
        quality.label_scores (`classification.label_scores`).

    Returns
    -------
    pl.LazyFrame
        One row per project and participant (annotator, origin) with the columns of
        quality.annotator_performance (without gt_version and run_id).

    Notes
    -----
    Every ratio is null when there is nothing to count (no review, no score, no model answer, no other
    annotator's answer on the same task and control).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANNOTATION_SCORES, ANSWERS, LABEL_SCORES, REVIEWS
    >>> from pipeline.metrics.quality import annotator_performance
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id=["1", "1", "2", "2"],
    ...                              annotation_id=["10", "11", "12", "13"], annotator="ann", origin="human",
    ...                              was_cancelled=[False, False, False, True],
    ...                              lead_time_s=[30.0, 10.0, 20.0, None],
    ...                              last_action=["accepted", None, "rejected", None])
    >>> reviews = REVIEWS.of(project_id="p", task_id=["1"], annotation_id="11", reviewer="lead", accepted=True)
    >>> who = {"project_id": "p", "annotator": "ann", "origin": "human", "control": "label"}
    >>> scores = ANNOTATION_SCORES.of(**who, task_id=["1", "2"], annotation_id=["10", "12"], type="choices",
    ...                               score=[1.0, 0.0], weight=1.0, answer_key=["cat", "dog"], gt_answer_key="cat")
    >>> answers = ANSWERS.of(**who, task_id=["1", "2"], annotation_id=["10", "12"], type="choices",
    ...                      answer_key=["cat", "dog"])
    >>> label_scores = LABEL_SCORES.of(**who, label=["cat", "dog"], f1=[0.5, 0.0])
    >>> performance = annotator_performance(annotations, reviews, scores, answers, label_scores).collect()
    >>> performance.select("n_annotations", "n_submitted", "n_skipped", "n_accepted", "n_rejected",
    ...                    pl.col("acceptance_score").round(4), "lead_time_mean_s").rows()
    [(4, 3, 1, 2, 1, 0.6667, 20.0)]
    >>> performance.select("n_scored", "accuracy", "cohen_kappa", "macro_f1", "prediction_agreement").rows()
    [(2, 0.5, 0.0, 0.25, None)]
    """
    state = with_review_state(annotations, reviews)
    submitted = ~pl.col("was_cancelled")
    verdict = pl.col("review_state")
    volume = state.group_by(PARTICIPANT).agg(
        pl.len().alias("n_annotations"),
        submitted.sum().alias("n_submitted"),
        pl.col("was_cancelled").sum().alias("n_skipped"),
        (verdict == "accepted").sum().alias("n_accepted"),
        (verdict == "fixed_and_accepted").sum().alias("n_fixed_and_accepted"),
        (verdict == "rejected").sum().alias("n_rejected"),
        ordered_sum(pl.col("lead_time_s").filter(submitted)).alias("lead_time_total_s"),
        ordered_mean(pl.col("lead_time_s").filter(submitted)).alias("lead_time_mean_s"),
        pl.col("lead_time_s").filter(submitted).median().alias("lead_time_median_s"),
    )
    reviewed = pl.col("n_accepted") + pl.col("n_fixed_and_accepted") + pl.col("n_rejected")
    per_annotation = overall(scores, [*PARTICIPANT, "task_id", "annotation_id"])
    accuracy = per_annotation.group_by(PARTICIPANT).agg(
        pl.len().alias("n_scored"), ordered_mean("score").alias("accuracy")
    )
    per_control = [
        pl.concat_str("control", pl.col(c), separator="\x1e").alias(c) for c in ("answer_key", "gt_answer_key")
    ]
    answered = scores.filter(pl.col("answer_key").is_not_null() & pl.col("gt_answer_key").is_not_null() & CATEGORICAL)
    kappa = cohen_kappa(answered.with_columns(per_control), PARTICIPANT, a="answer_key", b="gt_answer_key")
    macro = label_scores.group_by(PARTICIPANT).agg(ordered_mean(pl.col("f1")).alias("macro_f1"))

    given = (
        answers.filter(CATEGORICAL)
        .drop_nulls("answer_key")
        .select("project_id", "task_id", "control", "annotator", "origin", "answer_key")
    )
    model = given.filter(pl.col("origin") == MODEL).select(*TASK_CONTROL, pl.col("answer_key").alias("model_key"))
    versus_model = (
        given.filter(pl.col("origin") == HUMAN)
        .join(model, on=TASK_CONTROL)
        .group_by(PARTICIPANT)
        .agg((pl.col("answer_key") == pl.col("model_key")).mean().alias("prediction_agreement"))
    )
    humans = given.filter(pl.col("origin") == HUMAN)
    versus_humans = (
        humans.join(
            humans.select(*TASK_CONTROL, pl.col("annotator").alias("other"), pl.col("answer_key").alias("other_key")),
            on=TASK_CONTROL,
        )
        .filter(pl.col("annotator") != pl.col("other"))
        .group_by(PARTICIPANT)
        .agg((pl.col("answer_key") == pl.col("other_key")).mean().alias("annotator_agreement"))
    )
    counts = ["n_submitted", "n_skipped", "n_accepted", "n_fixed_and_accepted", "n_rejected", "n_scored"]
    return (
        volume.with_columns(
            acceptance_score=pl.when(reviewed > 0).then(
                (pl.col("n_accepted") + pl.col("n_fixed_and_accepted")) / reviewed
            )
        )
        .join(accuracy, on=PARTICIPANT, how="left")
        .join(kappa.select(*PARTICIPANT, "cohen_kappa"), on=PARTICIPANT, how="left")
        .join(macro, on=PARTICIPANT, how="left")
        .join(versus_model, on=PARTICIPANT, how="left")
        .join(versus_humans, on=PARTICIPANT, how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64), pl.col("n_annotations").cast(pl.Int64))
        .sort(PARTICIPANT)
    )


def annotator_daily(annotations: pl.LazyFrame, scores: pl.LazyFrame) -> pl.LazyFrame:
    """The trend: per annotator or model and UTC day, in `annotator_performance`'s units.

    The days add up to its totals: n_annotations (skipped included), n_submitted, n_scored (annotations
    scored against GT) and accuracy (the mean of their overall scores, control weights applied).

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    scores : pl.LazyFrame
        quality.annotation_scores.

    Returns
    -------
    pl.LazyFrame
        project_id, annotator, origin, day, n_annotations, n_submitted, n_scored, accuracy.

    Notes
    -----
    An annotation's day is that of its last update, else of its creation; null when the export dates
    neither (sorted last).

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANNOTATION_SCORES
    >>> from pipeline.metrics.quality import annotator_daily
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id=["1", "2", "3"], annotation_id=["10", "12", "13"],
    ...                              annotator="ann", origin="human", was_cancelled=[False, False, True],
    ...                              created_at=[datetime(2024, 5, 1, 9), datetime(2024, 5, 1, 23),
    ...                                          datetime(2024, 5, 2, 8)],
    ...                              updated_at=[None, datetime(2024, 5, 2, 1), None])
    >>> scores = ANNOTATION_SCORES.of(project_id="p", task_id=["1", "2"], annotation_id=["10", "12"],
    ...                               annotator="ann", origin="human", control="label", score=[1.0, 0.0], weight=1.0)
    >>> daily = annotator_daily(annotations, scores).collect()
    >>> daily.select(pl.col("day").cast(pl.String), "n_annotations", "n_submitted", "n_scored", "accuracy").rows()
    [('2024-05-01', 1, 1, 1, 1.0), ('2024-05-02', 2, 1, 1, 0.0)]
    """
    dated = annotations.with_columns(pl.coalesce("updated_at", "created_at").dt.date().alias("day"))
    volume = dated.group_by(*PARTICIPANT, "day").agg(
        pl.len().cast(pl.Int64).alias("n_annotations"),
        (~pl.col("was_cancelled")).sum().cast(pl.Int64).alias("n_submitted"),
    )
    scored = (
        overall(scores, [*PARTICIPANT, "task_id", "annotation_id"])
        .join(dated.select(*ANNOTATION, "day"), on=ANNOTATION)
        .group_by(*PARTICIPANT, "day")
        .agg(pl.len().cast(pl.Int64).alias("n_scored"), ordered_mean("score").alias("accuracy"))
    )
    return (
        volume.join(scored, on=[*PARTICIPANT, "day"], how="left", nulls_equal=True)
        .with_columns(pl.col("n_scored").fill_null(0))
        .sort(*PARTICIPANT, "day", nulls_last=True)
    )


GROUND_TRUTH_PARTICIPANT = "(ground truth)"


ALL_CONTROLS = "(all)"  # the agreement matrix's row pooling every categorical control


def _ordinal_kappas(pairs: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Linearly and quadratically weighted kappa of the rating controls' pairs (labels are the ratings)."""
    ordinal = pairs.filter(pl.col("type") == "rating").with_columns(pl.col("label_a", "label_b").cast(pl.Float64))
    linear, quadratic = (
        cohen_kappa(ordinal, keys, weights=w).select(*keys, pl.col("cohen_kappa").alias(f"weighted_kappa_{w}"))
        for w in ("linear", "quadratic")
    )
    return linear.join(quadratic, on=keys, nulls_equal=True)


def agreement_matrix(answers: pl.LazyFrame, scores: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Every ordered pair of participants (annotators and model versions) per project and categorical
    control, plus a control "(all)" pooling them, and with `scores` (quality.annotation_scores) a
    "(ground truth)" participant too.

    Over the tasks both answered: agreement = share of identical answers, cohen_kappa as in `cohen_kappa`
    (pooled: categories kept apart per control); for rating controls also the linearly and quadratically
    weighted kappa on the rating scale. Against the GT, a participant's own GT annotation is not counted
    (as in the scores). Both orders of a pair are present so the table pivots into a full matrix.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers: the categorical answers of annotators and models (`scores.answer_ratings`).
    scores : pl.LazyFrame, default=None
        quality.annotation_scores, to add the "(ground truth)" participant.

    Returns
    -------
    pl.LazyFrame
        project_id, control, annotator_a, annotator_b, n_tasks, agreement, cohen_kappa,
        weighted_kappa_linear, weighted_kappa_quadratic (rating controls only).

    Notes
    -----
    Only tasks both participants answered count (an empty answer is no answer); kappa is null when both
    always give one same label.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS, ANNOTATION_SCORES
    >>> from pipeline.metrics.quality import agreement_matrix
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "2", "2", "3", "3"],
    ...                      annotation_id=["10", "11", "12", "13", "14", "15"], annotator=["ann", "bob"] * 3,
    ...                      origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "cat", "dog", "dog"])
    >>> matrix = agreement_matrix(answers).collect()
    >>> matrix.select("control", "annotator_a", "annotator_b", "n_tasks",
    ...               pl.col("agreement", "cohen_kappa").round(4)).rows()
    [('(all)', 'ann', 'bob', 3, 0.6667, 0.4), ('(all)', 'bob', 'ann', 3, 0.6667, 0.4),
     ('label', 'ann', 'bob', 3, 0.6667, 0.4), ('label', 'bob', 'ann', 3, 0.6667, 0.4)]
    """
    by = ["project_id", "control", "type"]
    pairs = rater_pairs(answer_ratings(answers).drop("origin", "number"), by).drop("item")
    if scores is not None:
        versus_gt = scores.filter(
            pl.col("answer_key").is_not_null() & pl.col("gt_answer_key").is_not_null() & CATEGORICAL
        ).select(
            *by,
            pl.col("annotator").alias("rater_a"),
            pl.lit(GROUND_TRUTH_PARTICIPANT).alias("rater_b"),
            pl.col("answer_key").alias("label_a"),
            pl.col("gt_answer_key").alias("label_b"),
        )
        mirrored = versus_gt.select(
            *by,
            pl.col("rater_b").alias("rater_a"),
            pl.col("rater_a").alias("rater_b"),
            pl.col("label_b").alias("label_a"),
            pl.col("label_a").alias("label_b"),
        )
        pairs = pl.concat([pairs, versus_gt, mirrored], how="diagonal")
    pooled = pairs.with_columns(
        pl.concat_str("control", pl.col(c), separator="\x1e").alias(c) for c in ("label_a", "label_b")
    ).with_columns(control=pl.lit(ALL_CONTROLS), type=pl.lit(None, pl.String))
    keys = [*by, "rater_a", "rater_b"]
    return (
        pl.concat([cohen_kappa(pairs, keys), cohen_kappa(pooled, keys)])
        .join(_ordinal_kappas(pairs, keys), on=keys, how="left", nulls_equal=True)
        .select(
            "project_id",
            "control",
            pl.col("rater_a").alias("annotator_a"),
            pl.col("rater_b").alias("annotator_b"),
            pl.col("n_items").alias("n_tasks"),
            "agreement",
            "cohen_kappa",
            "weighted_kappa_linear",
            "weighted_kappa_quadratic",
        )
        .sort("project_id", "control", "annotator_a", "annotator_b")
    )


def task_agreement_distribution(task_agreement: pl.LazyFrame) -> pl.LazyFrame:
    """How task agreement is spread over a project's tasks with two or more annotations.

    Per measure (pairwise `agreement`, `consensus_agreement`) the count, mean, quantiles (10, 25, 50, 75,
    90 %, linear interpolation) and the share of tasks below 0.5.

    Parameters
    ----------
    task_agreement : pl.LazyFrame
        quality.task_agreement (`scores.pairwise_task_agreement`).

    Returns
    -------
    pl.LazyFrame
        project_id, measure, n_tasks, mean, p10, p25, p50, p75, p90, share_below_half.

    Notes
    -----
    Tasks with a null measure (fewer than two annotations) are left out.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import TASK_AGREEMENT
    >>> from pipeline.metrics.quality import task_agreement_distribution
    >>> task_agreement = TASK_AGREEMENT.of(project_id="p", task_id=["1", "2", "3", "4"], n_annotations=[3, 3, 2, 1],
    ...                                    agreement=[1.0, 0.25, 0.5, None], consensus_agreement=[1.0, 0.0, 1.0, None])
    >>> spread = task_agreement_distribution(task_agreement).collect().with_columns(pl.col(pl.Float64).round(4))
    >>> spread.rows()
    [('p', 'agreement', 3, 0.5833, 0.3, 0.375, 0.5, 0.75, 0.9, 0.3333),
     ('p', 'consensus_agreement', 3, 0.6667, 0.2, 0.5, 1.0, 1.0, 1.0, 0.3333)]
    """
    long = task_agreement.unpivot(
        index="project_id", on=["agreement", "consensus_agreement"], variable_name="measure"
    ).drop_nulls("value")
    value = pl.col("value")
    return (
        long.group_by("project_id", "measure")
        .agg(
            pl.len().cast(pl.Int64).alias("n_tasks"),
            ordered_mean(value).alias("mean"),
            *(value.quantile(q, "linear").alias(f"p{int(q * 100)}") for q in (0.1, 0.25, 0.5, 0.75, 0.9)),
            (value < 0.5).mean().alias("share_below_half"),
        )
        .sort("project_id", "measure")
    )


KRIPPENDORFF_LEVEL = {"choices": "nominal", "taxonomy": "nominal", "rating": "ordinal", "number": "interval"}


def project_agreement(answers: pl.LazyFrame, n_resamples: int = 1000, seed: int = 0) -> pl.LazyFrame:
    """Inter-annotator reliability per project and control, human annotators only.

    Categorical controls (choices, taxonomy, rating): generalised Fleiss' kappa (with its Landis & Koch
    band) and Gwet's AC1. Every control with answers that can be compared: Krippendorff's alpha at the
    control's level (nominal for choices and taxonomy, ordinal for rating, interval for number; with
    Krippendorff's band). Each with a seeded 95% percentile bootstrap interval over tasks
    (`pipeline.metrics.bootstrap`). Rating and number controls: the six intraclass correlations of
    Shrout & Fleiss with their F intervals (`pipeline.metrics.icc`).

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers (`scores.answers`).
    n_resamples : int, default=1000
        Bootstrap replicates per control.
    seed : int, default=0
        The bootstrap's seed.

    Returns
    -------
    pl.LazyFrame
        The columns of quality.project_agreement (without gt_version and run_id): one row per project and
        control with answers.

    Notes
    -----
    `undefined_reason` and `icc_undefined_reason` say why a value is null. Kappa and AC1 are null for
    number controls (they need categories).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS
    >>> from pipeline.metrics.quality import project_agreement
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "2", "2", "3", "3", "4", "4"],
    ...                      annotation_id=[str(i) for i in range(10, 18)], annotator=["ann", "bob"] * 4,
    ...                      origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "cat", "dog", "dog", "cat", "cat"])
    >>> reliability = project_agreement(answers, n_resamples=100).collect()
    >>> reliability.select("n_tasks", "percent_agreement",
    ...                    pl.col("fleiss_kappa", "krippendorff_alpha", "gwet_ac1").round(4),
    ...                    "fleiss_kappa_band", "krippendorff_alpha_band").rows()
    [(4, 0.75, 0.4667, 0.5333, 0.5294, 'Moderate', 'unreliable')]
    """
    by = ["project_id", "control"]
    ratings = answer_ratings(answers, origins=(HUMAN,), types=tuple(KRIPPENDORFF_LEVEL)).drop("origin")
    results = []
    for type_, level in KRIPPENDORFF_LEVEL.items():
        of_type = ratings.filter(pl.col("type") == type_).collect()
        if level != "nominal":
            of_type = of_type.with_columns(label=pl.col("number"))
        intervals = agreement_intervals(of_type, by, level=level, n_resamples=n_resamples, seed=seed)
        statistics = agreement_statistics(of_type, by, level).join(intervals, on=by, how="left")
        if level != "nominal":  # numbers: the intraclass correlations too
            icc = intraclass_correlation(of_type.rename({"number": "value"}), by).drop("icc_n_items", "icc_n_raters")
            statistics = statistics.join(icc, on=by, how="left")
        results.append(
            statistics.with_columns(
                krippendorff_level=pl.lit(level), categorical=pl.lit(type_ in CATEGORICAL_TYPES)
            ).lazy()
        )
    categorical_only = [
        "fleiss_kappa",
        "fleiss_kappa_ci_low",
        "fleiss_kappa_ci_high",
        "gwet_ac1",
        "gwet_ac1_ci_low",
        "gwet_ac1_ci_high",
        "percent_agreement",
    ]
    return (
        pl.concat(results, how="diagonal_relaxed")
        .with_columns(pl.when(pl.col("categorical")).then(pl.col(c)).alias(c) for c in categorical_only)
        .select(
            *by,
            pl.col("n_items").alias("n_tasks"),
            "n_raters",
            "n_ratings",
            "percent_agreement",
            "fleiss_kappa",
            "fleiss_kappa_ci_low",
            "fleiss_kappa_ci_high",
            landis_koch(pl.col("fleiss_kappa")).alias("fleiss_kappa_band"),
            "krippendorff_level",
            "krippendorff_alpha",
            "krippendorff_alpha_ci_low",
            "krippendorff_alpha_ci_high",
            krippendorff_band(pl.col("krippendorff_alpha")).alias("krippendorff_alpha_band"),
            "gwet_ac1",
            "gwet_ac1_ci_low",
            "gwet_ac1_ci_high",
            *(f"{form}{part}" for form in ICC_FORMS for part in ("", "_ci_low", "_ci_high")),
            "icc_undefined_reason",
            pl.when(pl.col("n_items") == 0)
            .then(pl.lit("no task has two ratings"))
            .when(pl.col("krippendorff_alpha").is_null())
            .then(pl.lit("every rating has the same label: chance agreement is 1"))
            .when(~pl.col("categorical"))
            .then(pl.lit("kappa and AC1 need categories: numbers are scored by alpha only"))
            .alias("undefined_reason"),
        )
        .sort(by)
    )


REVIEW_REASONS = (
    "consensus tie",
    "annotators disagree",
    "model disagrees with annotators",
    "low model confidence",
    "not reviewed yet",
)


def review_queue(
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    answers: pl.LazyFrame,
    task_agreement: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    conflicts: pl.LazyFrame,
    low_confidence: float = 0.5,
) -> pl.LazyFrame:
    """Tasks without GT, in the order a reviewer should take them, with the reason.

    Order (the way Label Studio's review stream can be sorted, combined): consensus ties first, then the
    lowest agreement between annotators, then the largest disagreement between the model and the
    annotators' majority answer, then the lowest model confidence.

    Parameters
    ----------
    tasks : pl.LazyFrame
        core.tasks.
    annotations : pl.LazyFrame
        core.annotations (a model's `score` is its confidence).
    answers : pl.LazyFrame
        quality.answers.
    task_agreement : pl.LazyFrame
        quality.task_agreement.
    ground_truth : pl.LazyFrame
        core.ground_truth.
    conflicts : pl.LazyFrame
        core.ground_truth_conflicts: a `rule` starting "consensus tie" marks a tie.
    low_confidence : float, default=0.5
        The model score below which a task is queued for "low model confidence".

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, priority (1 first, per project), reason (one of REVIEW_REASONS),
        n_annotations, agreement, model_disagreement (the share of categorical controls where the model's
        latest answer differs from the annotators' untied majority), model_score (the lowest).

    Notes
    -----
    Only tasks with a submitted human annotation enter the queue. A task with GT (including a Scout image
    done in another task) never does.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, ANSWERS, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS, TASKS, TASK_AGREEMENT
    >>> from pipeline.metrics.quality import review_queue
    >>> tasks = TASKS.of(project_id="p", task_id=["1", "2", "3", "4"])
    >>> made = {"project_id": "p", "task_id": ["1", "1", "2", "2", "3", "3", "4"],
    ...         "annotation_id": ["10", "11", "12", "13", "14", "15", "16"],
    ...         "annotator": ["ann", "bob", "ann", "bob", "ann", "detector-v1", "ann"],
    ...         "origin": ["human", "human", "human", "human", "human", "model", "human"]}
    >>> annotations = ANNOTATIONS.of(**made, was_cancelled=False, score=[None, None, None, None, None, 0.3, None])
    >>> answers = ANSWERS.of(**made, control="label", type="choices",
    ...                      answer_key=["cat", "dog", "cat", "cat", "cat", "dog", "cat"])
    >>> task_agreement = TASK_AGREEMENT.of(project_id="p", task_id=["1", "2", "3", "4"], n_annotations=[2, 2, 1, 1],
    ...                                    agreement=[0.0, 1.0, None, None])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["2"], annotation_id="12", source_task_id="2")
    >>> conflicts = GROUND_TRUTH_CONFLICTS.of(project_id="p", task_id=["1"], rule="consensus tie")
    >>> queue = review_queue(tasks, annotations, answers, task_agreement, ground_truth, conflicts).collect()
    >>> queue.select("task_id", "priority", "reason", "model_disagreement", "model_score").rows()
    [('1', 1, 'consensus tie', None, None), ('3', 2, 'model disagrees with annotators', 1.0, 0.3),
     ('4', 3, 'not reviewed yet', None, None)]
    """
    answers = answers.filter(CATEGORICAL)
    majority = (
        majority_vote(answer_votes(answers.filter(pl.col("origin") == HUMAN)), ["project_id", "control"])
        .filter(~pl.col("tied"))
        .select("project_id", pl.col("item").alias("task_id"), "control", "majority")
    )
    model = (
        answers.filter(pl.col("origin") == MODEL)
        .group_by(TASK_CONTROL)
        .agg(pl.col("answer_key").sort_by("updated_at").last())
    )
    disagreement = (
        model.join(majority, on=TASK_CONTROL)
        .group_by(TASK)
        .agg((pl.col("answer_key").ne_missing(pl.col("majority"))).mean().alias("model_disagreement"))
    )
    model_score = (
        annotations.filter(pl.col("origin") == MODEL).group_by(TASK).agg(pl.col("score").min().alias("model_score"))
    )
    ties = (
        conflicts.filter(pl.col("rule").str.starts_with("consensus tie"))
        .select("project_id", "task_id")
        .unique()
        .with_columns(tie=pl.lit(True))
    )
    submitted = annotations.filter(submitted_human()).select(TASK).unique()
    reason = (
        pl.when(pl.col("tie"))
        .then(pl.lit(REVIEW_REASONS[0]))
        .when(pl.col("agreement") < 1)
        .then(pl.lit(REVIEW_REASONS[1]))
        .when(pl.col("model_disagreement") > 0)
        .then(pl.lit(REVIEW_REASONS[2]))
        .when(pl.col("model_score") < low_confidence)
        .then(pl.lit(REVIEW_REASONS[3]))
        .otherwise(pl.lit(REVIEW_REASONS[4]))
    )
    return (
        tasks.select(TASK)
        .join(submitted, on=TASK, how="semi")
        .join(ground_truth.select(TASK), on=TASK, how="anti")
        .join(task_agreement.select(*TASK, "n_annotations", "agreement"), on=TASK, how="left")
        .join(disagreement, on=TASK, how="left")
        .join(model_score, on=TASK, how="left")
        .join(ties, on=TASK, how="left")
        .with_columns(pl.col("tie").fill_null(False))
        .with_columns(reason=reason)
        .sort(
            "project_id",
            pl.col("reason").replace_strict(REVIEW_REASONS, list(range(len(REVIEW_REASONS)))),
            pl.col("agreement").fill_null(1.0),
            -pl.col("model_disagreement").fill_null(0.0),
            pl.col("model_score").fill_null(1.0),
            "task_id",
        )
        .with_columns(priority=pl.int_range(1, pl.len() + 1).over("project_id"))
        .select(
            "project_id",
            "task_id",
            "priority",
            "reason",
            "n_annotations",
            "agreement",
            "model_disagreement",
            "model_score",
        )
    )


def consensus_labels(answers: pl.LazyFrame, ground_truth: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Majority vote and Dawid-Skene per classification control, from the human annotators' answers.

    Dawid-Skene learns from every task of the control (the more answers, the better its annotator
    confusion matrices); the labels are reported for the tasks without GT.

    Parameters
    ----------
    answers : pl.LazyFrame
        quality.answers: the human answers of the categorical controls count (`scores.answer_ratings`).
    ground_truth : pl.LazyFrame
        core.ground_truth.

    Returns
    -------
    labels : pl.DataFrame
        project_id, control, task_id, n_votes, majority, majority_share, tied, dawid_skene,
        dawid_skene_confidence (as quality.consensus_labels).
    confusion : pl.DataFrame
        project_id, control, annotator, true_label, label, probability (as quality.annotator_confusion).

    Notes
    -----
    A tied vote has a null majority (`aggregate.majority_vote`); Dawid-Skene still gives a label.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS, GROUND_TRUTH
    >>> from pipeline.metrics.quality import consensus_labels
    >>> answers = ANSWERS.of(project_id="p", task_id=["1", "1", "1", "2", "2", "2", "3", "3"],
    ...                      annotation_id=[str(i) for i in range(10, 18)],
    ...                      annotator=["ann", "bob", "cid", "ann", "bob", "cid", "ann", "bob"], origin="human",
    ...                      control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", "dog", "dog", "dog", "cat", "dog"])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["2"], annotation_id="13", source_task_id="2")
    >>> labels, confusion = consensus_labels(answers, ground_truth)
    >>> labels.select("task_id", "n_votes", "majority", "tied", "dawid_skene",
    ...               pl.col("dawid_skene_confidence").round(4)).rows()
    [('1', 3, 'cat', False, 'cat', 1.0), ('3', 2, None, True, 'dog', 0.6502)]
    >>> cid = confusion.filter(pl.col("annotator") == "cid").sort("true_label", "label")
    >>> cid.select("true_label", "label", pl.col("probability").round(4)).rows()
    [('cat', 'cat', 0.0), ('cat', 'dog', 1.0), ('dog', 'cat', 0.0), ('dog', 'dog', 1.0)]
    """
    ratings = answer_ratings(answers, origins=(HUMAN,)).drop("origin").collect()
    by = ["project_id", "control"]
    votes = majority_vote(ratings.lazy(), by).collect()
    labels, confusion = [], []
    for (project, control), group in ratings.group_by(by, maintain_order=True):
        result = dawid_skene(group)
        labels.append(result.labels.with_columns(project_id=pl.lit(project), control=pl.lit(control)))
        confusion.append(result.confusion.with_columns(project_id=pl.lit(project), control=pl.lit(control)))
    ds = (
        pl.concat(labels)
        if labels
        else pl.DataFrame(
            schema={
                "item": pl.String,
                "label": pl.String,
                "confidence": pl.Float64,
                "project_id": pl.String,
                "control": pl.String,
            }
        )
    )
    without_gt = ground_truth.select("project_id", pl.col("task_id").alias("item")).collect()
    table = (
        votes.join(ds, on=[*by, "item"], how="left")
        .join(without_gt, on=["project_id", "item"], how="anti")
        .select(
            *by,
            pl.col("item").alias("task_id"),
            pl.col("n_votes").cast(pl.Int64),
            "majority",
            "majority_share",
            "tied",
            pl.col("label").alias("dawid_skene"),
            pl.col("confidence").alias("dawid_skene_confidence"),
        )
        .sort(*by, "task_id")
    )
    matrices = (
        pl.concat(confusion).select(*by, pl.col("rater").alias("annotator"), "true_label", "label", "probability")
        if confusion
        else pl.DataFrame(
            schema={
                "project_id": pl.String,
                "control": pl.String,
                "annotator": pl.String,
                "true_label": pl.String,
                "label": pl.String,
                "probability": pl.Float64,
            }
        )
    )
    return table, matrices


def model_performance(
    performance: pl.LazyFrame,
    detection: pl.LazyFrame,
    average_precision: pl.LazyFrame,
    image_scores: pl.LazyFrame,
    scores: pl.LazyFrame,
    regions: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per model version: its classification figures against GT (from annotator_performance), its box F1
    at IoU 0.5 and 0.75 (optimal matching, mean over box controls, from detection_scores), COCO's twelve
    summary figures (`detection.coco_summary`, over labels, thresholds and box controls), the whole-image ROC AUC (mean
    over box controls, from image_detection_scores), and the calibration of the
    confidence it gives each classification answer (the result's `score`): expected calibration error
    over 10 bins, against whether the answer equals the GT's.

    Parameters
    ----------
    performance : pl.LazyFrame
        quality.annotator_performance.
    detection : pl.LazyFrame
        quality.detection_scores.
    average_precision : pl.LazyFrame
        quality.average_precision.
    image_scores : pl.LazyFrame
        quality.image_detection_scores.
    scores : pl.LazyFrame
        quality.annotation_scores.
    regions : pl.LazyFrame
        core.regions (the confidence of each answer).

    Returns
    -------
    pl.LazyFrame
        The columns of quality.model_performance (without gt_version and run_id): one row per project and
        model version.

    Notes
    -----
    A figure with nothing to compute from is null; n_predictions is 0 for a model that gives no
    confidence.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import (ANNOTATION_SCORES, ANNOTATOR_PERFORMANCE, AVERAGE_PRECISION, DETECTION_SCORES,
    ...                                IMAGE_DETECTION_SCORES, REGIONS)
    >>> from pipeline.metrics.quality import model_performance
    >>> model = {"project_id": "p", "annotator": "detector-v1", "origin": "model"}
    >>> performance = ANNOTATOR_PERFORMANCE.of(**model, n_submitted=[4], n_scored=4, accuracy=0.75, macro_f1=0.7)
    >>> detection = DETECTION_SCORES.of(**model, control="box", matching="hungarian", iou_threshold=[0.5, 0.75],
    ...                                 f1=[0.8, 0.6])
    >>> ap = AVERAGE_PRECISION.of(**model, control="box", label="car", iou_threshold=[0.5, 0.75], area_range="all",
    ...                           ap=[0.7, 0.5], recall_max_1=0.4, recall_max_10=0.6, recall_max_100=0.8)
    >>> image_scores = IMAGE_DETECTION_SCORES.of(**model, control="box", roc_auc=[0.9])
    >>> answered = {"task_id": ["1", "2", "3", "4"], "annotation_id": ["10", "11", "12", "13"], "control": "label",
    ...             "type": "choices"}
    >>> scores = ANNOTATION_SCORES.of(**model, **answered, score=[1.0, 0.0, 1.0, 1.0], weight=1.0)
    >>> regions = REGIONS.of(project_id="p", **answered, score=[0.9, 0.8, 0.3, 0.2])
    >>> found = model_performance(performance, detection, ap, image_scores, scores, regions).collect()
    >>> found.select("model_version", "accuracy", "box_f1_iou_50", "box_f1_iou_75", "map_50_95", "map_50",
    ...              "image_roc_auc", "n_predictions", pl.col("calibration_error").round(4)).rows()
    [('detector-v1', 0.75, 0.8, 0.6, 0.6, 0.7, 0.9, 4, 0.6)]
    """
    models = performance.filter(pl.col("origin") == MODEL).select(
        "project_id",
        pl.col("annotator").alias("model_version"),
        "n_submitted",
        "n_scored",
        "accuracy",
        "cohen_kappa",
        "macro_f1",
    )
    boxes = (
        detection.filter((pl.col("origin") == MODEL) & (pl.col("matching") == "hungarian"))
        .group_by("project_id", "annotator")
        .agg(
            *(
                ordered_mean(pl.col("f1").filter(pl.col("iou_threshold") == t)).alias(f"box_f1_iou_{int(t * 100)}")
                for t in (0.5, 0.75)
            )
        )
        .join(
            coco_summary(average_precision, ["project_id", "annotator"]),
            on=["project_id", "annotator"],
            how="full",
            coalesce=True,
        )
        .join(
            image_scores.group_by("project_id", "annotator").agg(
                ordered_mean(pl.col("roc_auc")).alias("image_roc_auc")
            ),
            on=["project_id", "annotator"],
            how="full",
            coalesce=True,
        )
        .rename({"annotator": "model_version"})
    )
    calibration = expected_calibration_error(model_answers(scores, regions), ["project_id", "model_version"])
    return (
        models.join(boxes, on=["project_id", "model_version"], how="left")
        .join(calibration, on=["project_id", "model_version"], how="left")
        .with_columns(pl.col("n_predictions").fill_null(0).cast(pl.Int64))
        .sort("project_id", "model_version")
    )


def model_answers(scores: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """Each classification answer of a model scored against GT, with its confidence and whether it is right.

    Parameters
    ----------
    scores : pl.LazyFrame
        quality.annotation_scores.
    regions : pl.LazyFrame
        core.regions: the `score` of each result item.

    Returns
    -------
    pl.LazyFrame
        project_id, model_version, confidence (the highest `score` of the answer's result items) and
        correct (the answer equals the GT's: score 1).

    Notes
    -----
    Only categorical controls (choices, taxonomy, rating) and model answers with a result item count.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATION_SCORES, REGIONS
    >>> from pipeline.metrics.quality import model_answers
    >>> answered = {"project_id": "p", "task_id": ["1", "2"], "annotation_id": ["10", "11"], "control": "label",
    ...             "type": "choices"}
    >>> scores = ANNOTATION_SCORES.of(**answered, annotator="detector-v1", origin="model", score=[1.0, 0.0])
    >>> regions = REGIONS.of(**answered, score=[0.9, 0.8])
    >>> model_answers(scores, regions).collect().sort("confidence").rows()
    [('p', 'detector-v1', 0.8, False), ('p', 'detector-v1', 0.9, True)]
    """
    confidence = regions.filter(CATEGORICAL).group_by(ANSWER).agg(pl.col("score").max().alias("confidence"))
    return (
        scores.filter(pl.col("origin") == MODEL)
        .join(confidence, on=ANSWER)
        .select(
            "project_id",
            pl.col("annotator").alias("model_version"),
            "confidence",
            (pl.col("score") == 1).alias("correct"),
        )
    )


def calibration_curve(scores: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """Per model version, the reliability diagram of its classification answers (`calibration_bins`).

    Parameters
    ----------
    scores : pl.LazyFrame
        quality.annotation_scores.
    regions : pl.LazyFrame
        core.regions: the `score` of each result item (`model_answers`).

    Returns
    -------
    pl.LazyFrame
        project_id, model_version, bin (of 10), n_predictions, mean_confidence, accuracy.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATION_SCORES, REGIONS
    >>> from pipeline.metrics.quality import calibration_curve
    >>> answered = {"project_id": "p", "task_id": ["1", "2", "3"], "annotation_id": ["10", "11", "12"],
    ...             "control": "label", "type": "choices"}
    >>> scores = ANNOTATION_SCORES.of(**answered, annotator="detector-v1", origin="model", score=[1.0, 0.0, 1.0])
    >>> regions = REGIONS.of(**answered, score=[0.92, 0.95, 0.35])
    >>> curve = calibration_curve(scores, regions).collect()
    >>> curve.select("bin", "n_predictions", "mean_confidence", "accuracy").rows()
    [(3, 1, 0.35, 1.0), (9, 2, 0.935, 0.5)]
    """
    return calibration_bins(model_answers(scores, regions), ["project_id", "model_version"])
