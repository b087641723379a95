"""Per-control scores of annotations: against the GT and between annotations, as Polars frames.

An *answer* is what one annotation gave for one task-level control that holds a single value: choices,
taxonomy, rating, number, datetime or textarea (`answers`). Empty answers are rows too (answer_key null),
because "chose nothing" is scored (both empty = 1, one empty = 0). Values attached to a region (per-region
choices or text, sharing the region's id) describe that region and are scored with it; `region_value_pairs`
lists them region by region against the matched GT region (per-label scores and confusion matrices).

A *comparison* is two annotations of one task: an annotation and the task's GT (`scores_against_ground_truth`)
or two annotators' work (`pairwise_task_agreement`). `compare` scores a comparison on every control of the
project with the definitions of `pipeline.metrics.similarity`; a comparison's overall score is the mean over
its controls weighted by the project's control weights (weight 0 ignores a control). Cancelled (skipped)
annotations are never scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from pipeline.metrics.batches import TASKS_PER_BATCH, task_batches
from pipeline.metrics.matching import box_label
from pipeline.metrics.ordered import ordered_mean, ordered_sum
from pipeline.metrics.similarity import REGION_COLUMNS, SEPARATOR, answer_similarity, matched_regions, region_similarity
from pipeline.vocabulary import (
    ANNOTATION,
    ANSWER,
    ANSWER_TYPES,
    CATEGORICAL_TYPES,
    CHOICE_TYPES,
    HUMAN,
    MODEL,
    NUMERIC_TYPES,
    ORIGINS,
    REGION,
    REGION_TYPES,
    TASK,
    submitted_human,
)

COMPARISON = [*TASK, "a", "b"]
DEFAULT_RATING_SCALE = (1.0, 5.0)  # Label Studio's Rating without maxRating


def _values(regions: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Aggregate answer-type results per `keys`: answer (sorted labels or the value), answer_number."""
    labels = pl.col("labels").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort()
    text = pl.col("text").drop_nulls().str.join("\n")
    number = pl.col("number").drop_nulls().first()
    return (
        regions.group_by(*keys, "type")
        .agg(labels.alias("_labels"), text.alias("_text"), number.alias("answer_number"))
        .with_columns(
            answer=pl.when(pl.col("type").is_in(CHOICE_TYPES))
            .then(pl.col("_labels"))
            .when((pl.col("type") == "rating") & pl.col("answer_number").is_not_null())
            .then(
                pl.concat_list(pl.col("answer_number").round().cast(pl.Int64).cast(pl.String))
            )  # stars: "4", not "4.0"
            .when((pl.col("type") == "number") & pl.col("answer_number").is_not_null())
            .then(pl.concat_list(pl.col("answer_number").cast(pl.String)))
            .when(pl.col("_text").str.strip_chars().str.len_chars() > 0)
            .then(pl.concat_list("_text"))
            .otherwise(pl.lit([], pl.List(pl.String)))
        )
        .drop("_labels", "_text")
    )


def _answer_key() -> pl.Expr:
    return pl.when(pl.col("answer").list.len() > 0).then(pl.col("answer").list.join(SEPARATOR)).alias("answer_key")


def _split_values(regions: pl.LazyFrame, types: tuple[str, ...] = ANSWER_TYPES) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Answer-type results of the task (task-level) and those that share their id with a region of the same
    annotation (per-region values)."""
    shapes = regions.filter(~pl.col("type").is_in(ANSWER_TYPES)).select(REGION).unique()
    values = regions.filter(pl.col("type").is_in(types))
    return values.join(shapes, on=REGION, how="anti"), values.join(shapes, on=REGION, how="semi")


def value_ranges(regions: pl.LazyFrame, label_config: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """The range of each numeric control (rating, number), that `similarity.scaled_difference` divides by.

    Parameters
    ----------
    regions : pl.LazyFrame
        core.regions.
    label_config : pl.LazyFrame, default=None
        core.label_config: the declared scales (min_value, max_value).

    Returns
    -------
    pl.LazyFrame
        project_id, control, value_range: one row per numeric control with a value.

    Notes
    -----
    The declared scale from the labeling config (Rating: 1..maxRating; Number: min..max) comes first, then
    Label Studio's default rating scale 1..5 (range 4), else the range of the values given in the project.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import LABEL_CONFIG, REGIONS
    >>> from pipeline.metrics.scores import value_ranges
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12", "13"],
    ...                      control=["stars", "stars", "weight", "weight"],
    ...                      type=["rating", "rating", "number", "number"],
    ...                      number=[2.0, 3.0, 10.0, 25.0])
    >>> value_ranges(regions).collect().sort("control").rows()
    [('p', 'stars', 4.0), ('p', 'weight', 15.0)]
    >>> config = LABEL_CONFIG.of(project_id="p", control=["stars"], type="rating", min_value=1.0, max_value=10.0)
    >>> value_ranges(regions, config).collect().sort("control").rows()
    [('p', 'stars', 9.0), ('p', 'weight', 15.0)]
    """
    numeric = regions.filter(pl.col("type").is_in(NUMERIC_TYPES))
    observed = numeric.group_by("project_id", "control").agg(
        (pl.col("number").max() - pl.col("number").min()).alias("observed"),
        pl.col("type").first(),
    )
    declared = (
        label_config.select("project_id", "control", (pl.col("max_value") - pl.col("min_value")).alias("declared"))
        if label_config is not None
        else pl.LazyFrame(schema={"project_id": pl.String, "control": pl.String, "declared": pl.Float64})
    )
    default_rating = DEFAULT_RATING_SCALE[1] - DEFAULT_RATING_SCALE[0]
    return observed.join(declared, on=["project_id", "control"], how="left").select(
        "project_id",
        "control",
        pl.coalesce("declared", pl.when(pl.col("type") == "rating").then(pl.lit(default_rating)), "observed").alias(
            "value_range"
        ),
    )


def answer_context(
    regions: pl.LazyFrame, label_config: pl.LazyFrame | None = None, types: tuple[str, ...] = ANSWER_TYPES
) -> pl.LazyFrame:
    """What a task's answers read beyond the task: the project's task-level answer controls, each with its
    type and the range of a numeric one (`value_ranges`).

    Parameters
    ----------
    regions : pl.LazyFrame
        core.regions, every task's.
    label_config : pl.LazyFrame, default=None
        core.label_config: the declared scales.
    types : tuple of str, default=ANSWER_TYPES
        The control types to read.

    Returns
    -------
    pl.LazyFrame
        project_id, control, type, value_range: one row per control.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import REGIONS
    >>> from pipeline.metrics.scores import answer_context
    >>> regions = REGIONS.of(project_id="p", task_id=["1", "2"], annotation_id=["10", "20"], region_id=["r1", "r2"],
    ...                      control=["label", "stars"], type=["choices", "rating"], labels=[["dog"], None],
    ...                      number=[None, 4.0])
    >>> answer_context(regions).collect().sort("control").rows()
    [('p', 'label', 'choices', None), ('p', 'stars', 'rating', 4.0)]
    """
    task_level, _ = _split_values(regions, types)
    controls = task_level.select("project_id", "control", "type").unique(["project_id", "control"], keep="first")
    return controls.join(value_ranges(regions, label_config), on=["project_id", "control"], how="left")


def answers(
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    label_config: pl.LazyFrame | None = None,
    types: tuple[str, ...] = ANSWER_TYPES,
) -> pl.LazyFrame:
    """One row per submitted annotation and task-level answer control of its project.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations; cancelled (skipped) ones are left out.
    regions : pl.LazyFrame
        core.regions: the results whose type is an answer type (choices, taxonomy, rating, number,
        datetime, textarea) and that are not attached to a region.
    label_config : pl.LazyFrame, default=None
        core.label_config, for the declared ranges (`value_ranges`).
    types : tuple of str, default=ANSWER_TYPES
        The control types to read.

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, annotation_id, annotator, origin, updated_at, control, type, answer_number,
        answer (sorted labels, or the value as text), value_range (numeric controls), answer_key (the
        labels joined by SEPARATOR).

    Notes
    -----
    An annotation that left a control of its project blank still has a row: answer empty, answer_key
    null ("chose nothing" is scored). A rating is its whole number of stars ("4", not "4.0"). The controls and
    their scales are the project's (`answer_context`).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> from pipeline.metrics.scores import answers
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11"],
    ...                              annotator=["ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "10", "10"],
    ...                      region_id=["r1", "r2", "r3"], control=["label", "label", "stars"],
    ...                      type=["choices", "choices", "rating"],
    ...                      labels=[["dog"], ["cat"], None], number=[None, None, 4.0])
    >>> found = answers(annotations, regions).collect().sort("annotation_id", "control")
    >>> found.select("annotation_id", "control", "answer", "answer_key", "answer_number", "value_range").rows()
    [('10', 'label', ['cat', 'dog'], 'cat\\x1fdog', None, None), ('10', 'stars', ['4'], '4', 4.0, 4.0),
     ('11', 'label', [], None, None, None), ('11', 'stars', [], None, None, 4.0)]
    """
    context = answer_context(regions, label_config, types)
    task_level, _ = _split_values(regions, types)
    submitted = annotations.filter(~pl.col("was_cancelled")).select(
        "project_id", "task_id", "annotation_id", "annotator", "origin", "updated_at"
    )
    return (
        submitted.join(context.select("project_id", "control", "type"), on="project_id")
        .join(_values(task_level, ANSWER).drop("type"), on=ANSWER, how="left")
        .join(context.select("project_id", "control", "value_range"), on=["project_id", "control"], how="left")
        .with_columns(pl.col("answer").fill_null(pl.lit([], pl.List(pl.String))))
        .with_columns(_answer_key())
    )


@dataclass(frozen=True)
class Side:
    """What one side of a comparison gave, keyed by (project_id, task_id, annotation_id).

    Attributes
    ----------
    answers : pl.LazyFrame
        Its answers, as `answers` returns them.
    regions : pl.LazyFrame
        Its regions: core.regions rows.
    """

    answers: pl.LazyFrame
    regions: pl.LazyFrame

    def filter(self, predicate: pl.Expr) -> Side:
        """The side restricted to the rows `predicate` keeps, in its answers and its regions alike.

        Parameters
        ----------
        predicate : pl.Expr
            A condition on columns both frames have (for example a task batch, `batches.task_batches`).

        Returns
        -------
        Side
            The filtered answers and regions.

        Examples
        --------
        >>> import polars as pl
        >>> from pipeline.metrics.scores import Side
        >>> side = Side(pl.LazyFrame({"task_id": ["1", "2"]}), pl.LazyFrame({"task_id": ["2", "2"]}))
        >>> kept = side.filter(pl.col("task_id") == "2")
        >>> kept.answers.collect().height, kept.regions.collect().height
        (1, 2)
        """
        return Side(self.answers.filter(predicate), self.regions.filter(predicate))


def _answer_pairs(comparisons: pl.LazyFrame, a: Side, b: Side) -> pl.LazyFrame:
    side = lambda s, name: s.answers.select(  # noqa: E731
        "project_id",
        "task_id",
        pl.col("annotation_id").alias(name),
        "control",
        "type",
        "value_range",
        pl.col("answer_key").alias(f"key_{name}"),
        pl.col("answer_number").alias(f"number_{name}"),
    )
    pairs = comparisons.join(side(a, "a"), on=[*TASK, "a"]).join(
        side(b, "b").drop("type", "value_range"), on=[*TASK, "b", "control"]
    )
    return answer_similarity(pairs).select(*COMPARISON, "control", "type", "score", "key_a", "key_b")


def _region_rows(side: Side, name: str) -> pl.LazyFrame:
    rows = side.regions.filter(pl.col("type").is_in(REGION_TYPES) & pl.col("scorable"))
    return rows.select(
        "project_id",
        "task_id",
        pl.col("annotation_id").alias(name),
        "control",
        box_label(),
        *(c for c in REGION_COLUMNS if c != "label"),
    )


def _attached_values(side: Side) -> pl.DataFrame:
    """Per-region answers of one side: project_id, task_id, annotation_id, region_id, control, type,
    answer_key, answer_number (collected: read once per project, then split by task batch)."""
    _, attached = _split_values(side.regions)
    keys = [*REGION, "control"]
    return (
        _values(attached, keys)
        .with_columns(_answer_key())
        .select(*keys, "type", "answer_key", "answer_number")
        .collect()
    )


def comparison_context(a: Side, b: Side) -> pl.LazyFrame:
    """What scoring a comparison of the sides reads beyond its own task (`compare`): per project and control,
    the range of a numeric control and the type of a region control, every comparison being scored on each.

    Returns
    -------
    pl.LazyFrame
        project_id, control, value_range, type (null for a control that is not a region control).
    """
    return _value_range(a).join(_region_controls(a, b), on=["project_id", "control"], how="full", coalesce=True)


def _value_range(a: Side) -> pl.LazyFrame:
    """The range of each numeric control: the one a's answers carry, else the range of a's values."""
    return pl.concat([a.answers.select("project_id", "control", "value_range"), value_ranges(a.regions)]).unique(
        ["project_id", "control"], keep="first", maintain_order=True
    )


def _region_controls(a: Side, b: Side) -> pl.LazyFrame:
    """The region controls of each project (project_id, control, type): every comparison is scored on each."""
    rows = [_region_rows(side, "a").select("project_id", "control", "type") for side in (a, b)]
    return pl.concat(rows).unique(["project_id", "control"], keep="first")


@dataclass(frozen=True)
class _Project:
    """What scoring a comparison reads beyond its own task: the project's numeric ranges and region controls,
    and each side's per-region values (read once, then split by task batch)."""

    value_range: pl.LazyFrame
    controls: pl.DataFrame
    attached_a: pl.DataFrame
    attached_b: pl.DataFrame

    @classmethod
    def of(cls, a: Side, b: Side) -> _Project:
        value_range, controls = pl.collect_all([_value_range(a), _region_controls(a, b)])  # one read of the regions
        attached_a = _attached_values(a)
        attached_b = attached_a if b is a else _attached_values(b)  # task agreement compares a side with itself
        return cls(value_range.lazy(), controls, attached_a, attached_b)

    def filter(self, predicate: pl.Expr) -> _Project:
        return replace(self, attached_a=self.attached_a.filter(predicate), attached_b=self.attached_b.filter(predicate))


def _matched(
    comparisons: pl.LazyFrame, a: Side, b: Side, project: _Project
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The one-to-one matching of each comparison's regions, per region control of its project (`matched_regions`):
    (matched pairs: COMPARISON, control, region_id, region_id_b, weight; counts: COMPARISON, control, n_a, n_b,
    repaired; the comparisons' region controls: COMPARISON, control, type)."""
    rows_a, rows_b = _region_rows(a, "a"), _region_rows(b, "b")
    on = [*COMPARISON, "control"]
    per_control = (
        comparisons.select(COMPARISON).join(project.controls.lazy(), on="project_id").collect()
    )  # read four times below
    matched, counts = matched_regions(
        per_control.lazy().select(on),
        per_control.lazy().join(rows_a.drop("type"), on=[*COMPARISON[:3], "control"]).select(*on, *REGION_COLUMNS),
        per_control.lazy().join(rows_b.drop("type"), on=[*TASK, "b", "control"]).select(*on, *REGION_COLUMNS),
        on,
    )
    return matched, counts, per_control


def _region_scores(comparisons: pl.LazyFrame, a: Side, b: Side, project: _Project) -> pl.LazyFrame:
    on = [*COMPARISON, "control"]
    matched, counts, per_control = _matched(comparisons, a, b, project)
    scores = region_similarity(matched, counts, on).join(per_control, on=on)
    return pl.concat(
        [
            scores.lazy().select(*COMPARISON, "control", "type", "score", "repaired"),
            _attached_scores(matched.lazy(), project),
        ],
        how="vertical_relaxed",
    )


def _side_values(values: pl.DataFrame, name: str, region: str) -> pl.LazyFrame:
    """One side's per-region values (`_attached_values`) named for a comparison: annotation_id as `name`, region_id
    as `region`, control as `attached`, type, answer key and number suffixed with `name`."""
    renamed = {"annotation_id": name, "region_id": region, "control": "attached", "type": f"type_{name}"}
    return values.lazy().rename(renamed | {"answer_key": f"key_{name}", "answer_number": f"number_{name}"})


def _paired_values(matched: pl.LazyFrame, project: _Project) -> pl.LazyFrame:
    """The per-region values of matched region pairs: per comparison, matched pair (region_id, region_id_b, weight)
    and attached control, each side's key and number (null on the side whose region carries none) and the type.
    A pair whose regions both carry none of a control has no row for it."""
    values_a, values_b = (
        _side_values(project.attached_a, "a", "region_id"),
        _side_values(project.attached_b, "b", "region_id_b"),
    )
    pairs = [*TASK, "a", "b", "control", "region_id", "region_id_b", "weight", "attached"]
    return (
        matched.join(values_a, on=[*TASK, "a", "region_id"])
        .join(matched.join(values_b, on=[*TASK, "b", "region_id_b"]), on=pairs, how="full", coalesce=True)
        .with_columns(type=pl.coalesce("type_a", "type_b"), weight=pl.col("weight").fill_null(0.0))
        .drop("type_a", "type_b")
    )


def _attached_scores(matched: pl.LazyFrame, project: _Project) -> pl.LazyFrame:
    """Per-region values (choices or text attached to a region), per comparison and attached control:
    sum over matched region pairs of the pair's similarity x the values' score, over max(n_a, n_b) regions
    carrying the control. A value only one region of a pair carries scores 0."""
    scored = answer_similarity(
        _paired_values(matched, project).join(
            project.value_range.rename({"control": "attached"}), on=["project_id", "attached"], how="left"
        )
    )
    carried = {
        name: _side_values(values, name, region)
        .group_by("project_id", "task_id", name, "attached")
        .agg(pl.col(region).n_unique().alias(f"n_{name}"))
        for name, values, region in (("a", project.attached_a, "region_id"), ("b", project.attached_b, "region_id_b"))
    }
    return (
        scored.group_by(*COMPARISON, "attached", "type")
        .agg(ordered_sum(pl.col("weight") * pl.col("score")).alias("total"))
        .join(carried["a"], on=[*TASK, "a", "attached"], how="left")
        .join(carried["b"], on=[*TASK, "b", "attached"], how="left")
        .select(
            *COMPARISON,
            pl.col("attached").alias("control"),
            "type",
            (pl.col("total") / pl.max_horizontal(pl.col("n_a").fill_null(0), pl.col("n_b").fill_null(0))).alias(
                "score"
            ),
            pl.lit(0, pl.Int64).alias("repaired"),
        )
    )


def _by_task_batch(
    step: Callable[[pl.LazyFrame, Side, Side, _Project], pl.LazyFrame],
    comparisons: pl.LazyFrame,
    a: Side,
    b: Side,
    project: _Project,
) -> pl.LazyFrame:
    """`step(comparisons, a, b, project)`, `TASKS_PER_BATCH` tasks at a time (a task's comparisons only read that
    task), so memory follows the batch and not the project; the controls and ranges are the project's."""
    batches = task_batches(comparisons.select(pl.col("task_id").n_unique()).collect().item(), TASKS_PER_BATCH)
    if len(batches) <= 1:
        return step(comparisons, a, b, project)
    done = [
        step(comparisons.filter(in_batch), a.filter(in_batch), b.filter(in_batch), project.filter(in_batch)).collect()
        for in_batch in batches
    ]
    return pl.concat(done).lazy()


def compare(comparisons: pl.LazyFrame, a: Side, b: Side) -> pl.LazyFrame:
    """Score each comparison (project_id, task_id, a, b) on every control of its project.

    Answer controls score as `similarity.answer_similarity`, region controls as
    `similarity.region_similarity`, values attached to regions as the sum over matched region pairs of the
    pair's weight x the values' similarity, over max(n_a, n_b) regions carrying the control.

    Parameters
    ----------
    comparisons : pl.LazyFrame
        project_id, task_id, a, b: the annotation ids of the two sides.
    a, b : Side
        What each side gave (they may be the same Side).

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, a, b, control, type, score, key_a, key_b (answer keys, for answer controls)
        and repaired (polygons repaired, region controls).

    Notes
    -----
    Numeric values are scaled by their control's range: the one the answers carry (declared in the
    labeling config), else `value_ranges` of the regions (per-region numbers included). Comparisons are
    scored task batch by task batch (`_by_task_batch`). A control neither side answered still scores
    (both empty = 1).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> from pipeline.metrics.scores import Side, answers, compare
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11"],
    ...                              annotator=["ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "10", "11"],
    ...                      region_id=["r1", "r2", "r3", "r4"], control=["label", "label", "stars", "stars"],
    ...                      type=["choices", "choices", "rating", "rating"], labels=[["cat"], ["dog"], None, None],
    ...                      number=[None, None, 4.0, 5.0])
    >>> side = Side(answers(annotations, regions), regions)
    >>> comparisons = pl.LazyFrame({"project_id": "p", "task_id": "1", "a": ["11"], "b": "10"})
    >>> scored = compare(comparisons, side, side).collect().sort("control")
    >>> scored.select("control", "score", "key_a", "key_b").rows()
    [('label', 0.0, 'dog', 'cat'), ('stars', 0.75, '5', '4')]
    """
    return _by_task_batch(_compare_batch, comparisons, a, b, _Project.of(a, b))


def _compare_batch(comparisons: pl.LazyFrame, a: Side, b: Side, project: _Project) -> pl.LazyFrame:
    answer_scores = _answer_pairs(comparisons, a, b).with_columns(repaired=pl.lit(None, pl.Int64))
    region_scores = _region_scores(comparisons, a, b, project).with_columns(
        key_a=pl.lit(None, pl.String), key_b=pl.lit(None, pl.String)
    )
    return pl.concat(
        [answer_scores, region_scores.select(answer_scores.collect_schema().names())], how="vertical_relaxed"
    )


def with_control_weights(scores: pl.LazyFrame, weights: pl.LazyFrame | None) -> pl.LazyFrame:
    """`scores` with each control's weight.

    Parameters
    ----------
    scores : pl.LazyFrame
        Control scores with project_id and control.
    weights : pl.LazyFrame or None
        project_id, control, weight: the project's control weights; None weighs every control 1.

    Returns
    -------
    pl.LazyFrame
        `scores` with a `weight` column: 1 where none is set.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.scores import with_control_weights
    >>> scores = pl.LazyFrame({"project_id": "p", "control": ["label", "stars"], "score": [1.0, 0.5]})
    >>> weights = pl.LazyFrame({"project_id": "p", "control": ["stars"], "weight": [3.0]})
    >>> with_control_weights(scores, weights).collect().sort("control")["weight"].to_list()
    [1.0, 3.0]
    """
    if weights is None:
        return scores.with_columns(weight=pl.lit(1.0))
    return scores.join(weights, on=["project_id", "control"], how="left").with_columns(pl.col("weight").fill_null(1.0))


def overall(scores: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """The weighted mean of the control scores of each `keys` group (a comparison): sum w_c s_c / sum w_c.

    Parameters
    ----------
    scores : pl.LazyFrame
        `keys`, score and weight (`with_control_weights`), one row per control.
    keys : list of str
        The columns naming a group.

    Returns
    -------
    pl.LazyFrame
        `keys`, score, n_controls (the controls counted).

    Notes
    -----
    Weight 0 leaves a control out; a group whose controls all weigh 0 has no row.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.scores import overall
    >>> scores = pl.LazyFrame({"a": ["11", "11", "11", "12"], "control": ["label", "stars", "notes", "label"],
    ...                        "score": [1.0, 0.75, 0.0, 0.0], "weight": [1.0, 3.0, 0.0, 0.0]})
    >>> overall(scores, ["a"]).collect().rows()
    [('11', 0.8125, 2)]
    """
    return (
        scores.filter(pl.col("weight") > 0)
        .group_by(keys)
        .agg(
            (ordered_sum(pl.col("score") * pl.col("weight")) / ordered_sum(pl.col("weight"))).alias("score"),
            pl.len().alias("n_controls"),
        )
    )


def gt_side(ground_truth: pl.LazyFrame, answers_: pl.LazyFrame, gt_regions: pl.LazyFrame) -> Side:
    """The GT as one side of a comparison, keyed by the task it applies to.

    Parameters
    ----------
    ground_truth : pl.LazyFrame
        core.ground_truth: project_id, task_id, source_task_id, annotation_id of each task's GT.
    answers_ : pl.LazyFrame
        Every annotation's answers (`answers`).
    gt_regions : pl.LazyFrame
        The GT's regions (`pipeline.groundtruth.ground_truth_regions`), consensus boxes included.

    Returns
    -------
    Side
        The GT annotation's answers under the task the GT applies to, and `gt_regions`.

    Notes
    -----
    The GT annotation may live in another task of the same item (Scout's `source_task_id`): its answers
    are read there and keyed by the task it applies to.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> gt_regions = regions.filter(pl.col("annotation_id") == "10")
    >>> from pipeline.metrics.scores import answers, gt_side
    >>> side = gt_side(ground_truth, answers(annotations, regions), gt_regions)
    >>> side.answers.collect().select("task_id", "annotation_id", "answer_key").rows()
    [('1', '10', 'cat')]
    """
    gt = ground_truth.select("project_id", "task_id", "source_task_id", "annotation_id")
    gt_answers = gt.join(
        answers_.rename({"task_id": "source_task_id"}), on=["project_id", "source_task_id", "annotation_id"]
    ).drop("source_task_id")
    return Side(gt_answers, gt_regions)


def _gt_comparisons(annotations: pl.LazyFrame, ground_truth: pl.LazyFrame) -> pl.LazyFrame:
    """Each submitted annotation and prediction of a task with GT beside the task's GT annotation: COMPARISON,
    annotator, origin. The GT annotation is not compared with itself (it would score 1 by construction)."""
    gt = ground_truth.select("project_id", "task_id", "source_task_id", pl.col("annotation_id").alias("b"))
    return (
        annotations.filter(~pl.col("was_cancelled"))
        .select("project_id", "task_id", pl.col("annotation_id").alias("a"), "annotator", "origin")
        .join(gt, on=TASK)
        .filter(~((pl.col("a") == pl.col("b")) & (pl.col("task_id") == pl.col("source_task_id"))))
        .drop("source_task_id")
    )


def _per_participant(
    compared: pl.LazyFrame, comparisons: pl.LazyFrame, annotations: pl.LazyFrame, regions: pl.LazyFrame
) -> pl.LazyFrame:
    """Rows of `compared` (COMPARISON, control, ...) with the annotator and origin of `a`, a model version's only on
    the controls it ever predicts in the project: a detector is not scored 0 on a rating it never gives."""
    predicted = (
        annotations.filter(pl.col("origin") == MODEL)
        .join(regions.select(*ANNOTATION, "control"), on=ANNOTATION)
        .select("project_id", "annotator", "control", pl.lit(True).alias("predicted"))
        .unique()
    )
    return (
        compared.join(comparisons, on=COMPARISON)
        .join(predicted, on=["project_id", "annotator", "control"], how="left")
        .filter((pl.col("origin") != MODEL) | pl.col("predicted").fill_null(False))
        .drop("predicted")
    )


# The leading columns of a row scored against GT: its task, the annotation (comparison side `a`), who made it, the
# control.
_SCORED_ROW = ("project_id", "task_id", pl.col("a").alias("annotation_id"), "annotator", "origin", "control", "type")


def scores_against_ground_truth(
    annotations: pl.LazyFrame,
    answers_: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    gt_regions: pl.LazyFrame,
) -> pl.LazyFrame:
    """Each submitted annotation and prediction of a task with GT, scored per control against the GT.

    Scores as `compare`, with the task's GT annotation as side b.

    Parameters
    ----------
    annotations : pl.LazyFrame
        core.annotations.
    answers_ : pl.LazyFrame
        Every annotation's answers (`answers`).
    regions : pl.LazyFrame
        core.regions.
    ground_truth : pl.LazyFrame
        core.ground_truth.
    gt_regions : pl.LazyFrame
        The GT's regions (`pipeline.groundtruth.ground_truth_regions`).

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, annotation_id, annotator, origin, control, type, score, gt_annotation_id,
        answer_key, gt_answer_key, repaired.

    Notes
    -----
    The GT annotation itself is not scored, and a model version only on the controls it ever predicts in
    the project (`_gt_comparisons`, `_per_participant`): a detector is not scored 0 on a rating it never
    gives. Cancelled annotations are never scored.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> gt_regions = regions.filter(pl.col("annotation_id") == "10")
    >>> from pipeline.metrics.scores import answers, scores_against_ground_truth
    >>> answers_ = answers(annotations, regions)
    >>> scored = scores_against_ground_truth(annotations, answers_, regions, ground_truth, gt_regions).collect()
    >>> scored.sort("annotation_id").select("annotator", "control", "score", "answer_key", "gt_answer_key").rows()
    [('ann', 'label', 1.0, 'cat', 'cat'), ('bob', 'label', 0.0, 'dog', 'cat')]
    """
    scored = _gt_comparisons(annotations, ground_truth)
    compared = compare(scored.select(COMPARISON), Side(answers_, regions), gt_side(ground_truth, answers_, gt_regions))
    return _per_participant(compared, scored, annotations, regions).select(
        *_SCORED_ROW,
        "score",
        pl.col("b").alias("gt_annotation_id"),
        pl.col("key_a").alias("answer_key"),
        pl.col("key_b").alias("gt_answer_key"),
        "repaired",
    )


def region_value_pairs(
    annotations: pl.LazyFrame,
    answers_: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    gt_regions: pl.LazyFrame,
    types: tuple[str, ...] = CATEGORICAL_TYPES,
) -> pl.LazyFrame:
    """Each per-region value (of `types`, by default the categorical ones) of a submitted annotation or prediction
    on a task with GT, beside the value of the GT region its region is matched with.

    The pairs are those `scores_against_ground_truth` scores a per-region control on: the same comparisons, the
    same one-to-one matching of the regions (`matched_regions`) and the same rule for models; its score is
    sum over the matched pairs of weight x the values' score / max(n_a, n_b). Here every region carrying a
    value of the control is a row:
    - matched: both region ids, the pair's `weight` (IoU or keypoint similarity), each side's key (null on the
      side whose region carries no value of the control);
    - unmatched: a region of the annotation no GT region is matched with has gt_region_id null (an extra region),
      a GT region no region of the annotation is matched with has region_id null (a missed region); weight null.
    Values on regions gtq does not match (brushes and other unscored results) are left out.

    Parameters
    ----------
    annotations, answers_, regions, ground_truth, gt_regions : pl.LazyFrame
        As `scores_against_ground_truth` takes them.
    types : tuple of str, default=CATEGORICAL_TYPES
        The types of per-region value to list.

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, annotation_id, annotator, origin, control (the per-region control), type,
        region_id, gt_annotation_id, gt_region_id, weight, answer_key, gt_answer_key.

    Examples
    --------
    The GT has one car, red; the annotator drew it (blue) and an extra car (red):

    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> from pipeline.metrics.scores import answers, region_value_pairs
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11"],
    ...                              annotator=["lead", "ann"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "10", "11", "11", "11", "11"],
    ...                      region_id=["g1", "g1", "b1", "b1", "b2", "b2"], control=["box", "color"] * 3,
    ...                      type=["rectanglelabels", "choices"] * 3, scorable=True, coordinate_unit="percent",
    ...                      labels=[["car"], ["red"], ["car"], ["blue"], ["car"], ["red"]],
    ...                      x=[0.0, None, 1.0, None, 50.0, None], y=0.0, width=10.0, height=10.0)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=["1"], annotation_id="10", source_task_id="1")
    >>> gt_regions = regions.filter(pl.col("annotation_id") == "10")
    >>> pairs = region_value_pairs(annotations, answers(annotations, regions), regions, ground_truth, gt_regions)
    >>> pairs = pairs.collect().sort("region_id").with_columns(pl.col("weight").round(4))
    >>> pairs.select("control", "region_id", "gt_region_id", "weight", "answer_key", "gt_answer_key").rows()
    [('color', 'b1', 'g1', 0.8182, 'blue', 'red'), ('color', 'b2', None, None, 'red', None)]
    """
    comparisons = _gt_comparisons(annotations, ground_truth)
    a, b = Side(answers_, regions), gt_side(ground_truth, answers_, gt_regions)
    project = _Project.of(a, b)
    project = replace(
        project,
        attached_a=project.attached_a.filter(pl.col("type").is_in(types)),
        attached_b=project.attached_b.filter(pl.col("type").is_in(types)),
    )
    carrying = [  # only comparisons with such values need their regions matched
        comparisons.join(
            values.lazy().select("project_id", "task_id", pl.col("annotation_id").alias(name)).unique(),
            on=[*TASK, name],
            how="semi",
        )
        for name, values in (("a", project.attached_a), ("b", project.attached_b))
    ]
    with_values = pl.concat(carrying).unique(COMPARISON)
    paired = _by_task_batch(_value_pairs_batch, with_values.select(COMPARISON), a, b, project)
    return _per_participant(paired.rename({"attached": "control"}), with_values, annotations, regions).select(
        *_SCORED_ROW,
        "region_id",
        pl.col("b").alias("gt_annotation_id"),
        pl.col("region_id_b").alias("gt_region_id"),
        "weight",
        pl.col("key_a").alias("answer_key"),
        pl.col("key_b").alias("gt_answer_key"),
    )


def _value_pairs_batch(comparisons: pl.LazyFrame, a: Side, b: Side, project: _Project) -> pl.LazyFrame:
    """`region_value_pairs` of one task batch, per comparison: COMPARISON, attached, type, region_id, region_id_b,
    weight, key_a, key_b."""
    matched, _, _ = _matched(comparisons, a, b, project)
    columns = [*COMPARISON, "attached", "type", "region_id", "region_id_b", "weight", "key_a", "key_b"]
    unmatched = [
        comparisons.join(_side_values(values, name, region), on=[*TASK, name])
        .join(
            _region_rows(side, name).select("project_id", "task_id", name, pl.col("region_id").alias(region)),
            on=[*TASK, name, region],
            how="semi",
        )
        .join(matched.lazy().select(*COMPARISON, region), on=[*COMPARISON, region], how="anti")
        .rename({f"type_{name}": "type"})
        for name, side, values, region in (
            ("a", a, project.attached_a, "region_id"),
            ("b", b, project.attached_b, "region_id_b"),
        )
    ]
    paired = _paired_values(matched.lazy(), project).select(columns)
    return pl.concat([paired, *unmatched], how="diagonal_relaxed").select(columns)


def pairwise_context(answers_: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """What a task's `pairwise_task_agreement` reads beyond the task (`comparison_context` of the human side)."""
    side = _human_side(answers_, regions)
    return comparison_context(side, side)


def _human_side(answers_: pl.LazyFrame, regions: pl.LazyFrame) -> Side:
    return Side(answers_.filter(pl.col("origin") == HUMAN), regions)


def pairwise_task_agreement(
    answers_: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    weights: pl.LazyFrame | None = None,
    threshold: float = 0.5,
    tasks: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """Label Studio's task agreement over submitted human annotations, two ways.

    Each unordered pair of a task's annotations scores `overall` over the project's controls (weighted by
    `weights`). agreement (Label Studio's "pairwise"): the mean of the pair scores over the n (n - 1) / 2
    pairs; consensus_agreement (its "consensus" variant): the share of pairs scoring >= `threshold`.

    Parameters
    ----------
    answers_ : pl.LazyFrame
        Every annotation's answers (`answers`).
    annotations : pl.LazyFrame
        core.annotations: only submitted human annotations count.
    regions : pl.LazyFrame
        core.regions.
    weights : pl.LazyFrame, default=None
        project_id, control, weight: the control weights (`with_control_weights`).
    threshold : float, default=0.5
        The pair score from which a pair agrees, for consensus_agreement.
    tasks : pl.DataFrame, default=None
        project_id, task_id: the tasks to compute, on the controls and scales of the whole project
        (`pairwise_context`), so that each task's row is the one of computing every task; None for all.

    Returns
    -------
    pl.LazyFrame
        project_id, task_id, n_annotations, agreement, consensus_agreement; one row per task with a
        submitted human annotation.

    Notes
    -----
    A task with fewer than two annotations has null agreement (no pair to compare; Label Studio shows
    100%).

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> from pipeline.metrics.scores import answers, pairwise_task_agreement
    >>> agreement = pairwise_task_agreement(answers(annotations, regions), annotations, regions).collect()
    >>> agreement.with_columns(pl.col("agreement", "consensus_agreement").round(4)).rows()
    [('p', '1', 3, 0.3333, 0.3333)]
    """
    human = annotations.filter(submitted_human()).select(ANNOTATION)
    if tasks is not None:
        human = human.join(tasks.lazy(), on=TASK, how="semi")
    pairs = (
        human.rename({"annotation_id": "a"})
        .join(human.rename({"annotation_id": "b"}), on=TASK)
        .filter(pl.col("a") < pl.col("b"))
    )
    side = _human_side(answers_, regions)  # every task's: what a comparison reads beyond its task
    per_pair = overall(with_control_weights(compare(pairs, side, side), weights), COMPARISON)
    per_task = per_pair.group_by(TASK).agg(
        ordered_mean(pl.col("score")).alias("agreement"),
        (pl.col("score") >= threshold).mean().alias("consensus_agreement"),
    )
    return (
        human.group_by(TASK)
        .agg(pl.col("annotation_id").n_unique().alias("n_annotations"))
        .join(per_task, on=TASK, how="left")
    )


def answer_ratings(
    answers_: pl.LazyFrame, origins: tuple[str, ...] = ORIGINS, types: tuple[str, ...] = CATEGORICAL_TYPES
) -> pl.LazyFrame:
    """Answers as ratings for chance-corrected agreement: item = task, rater = annotator, label = answer_key.

    Parameters
    ----------
    answers_ : pl.LazyFrame
        Every annotation's answers (`answers`).
    origins : tuple of str, default=("human", "model")
        The origins of the raters to keep.
    types : tuple of str, default=CATEGORICAL_TYPES
        The control types to keep (choices, taxonomy, rating).

    Returns
    -------
    pl.LazyFrame
        project_id, control, type, item, rater, origin, label, number (the value of a rating or number,
        for ordinal and interval statistics).

    Notes
    -----
    An empty answer is a missing rating (not a category). When a rater answered a task twice, the latest
    update counts.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                              annotator=["lead", "ann", "bob"], origin="human", was_cancelled=False)
    >>> regions = REGIONS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12"],
    ...                      region_id=["r1", "r2", "r3"], control="label", type="choices", scorable=True,
    ...                      labels=[["cat"], ["cat"], ["dog"]])
    >>> from pipeline.metrics.scores import answer_ratings, answers
    >>> ratings = answer_ratings(answers(annotations, regions)).collect().sort("rater")
    >>> ratings.select("control", "item", "rater", "label").rows()
    [('label', '1', 'ann', 'cat'), ('label', '1', 'bob', 'dog'), ('label', '1', 'lead', 'cat')]
    """
    return (
        answers_.filter(
            pl.col("answer_key").is_not_null() & pl.col("origin").is_in(origins) & pl.col("type").is_in(types)
        )
        .group_by("project_id", "control", "task_id", "annotator")
        .agg(pl.col("type", "answer_key", "answer_number", "origin").sort_by("updated_at", "annotation_id").last())
        .select(
            "project_id",
            "control",
            "type",
            pl.col("task_id").alias("item"),
            pl.col("annotator").alias("rater"),
            "origin",
            pl.col("answer_key").alias("label"),
            pl.col("answer_number").alias("number"),
        )
    )


def answer_votes(answers_: pl.LazyFrame) -> pl.LazyFrame:
    """Answers as votes for `aggregate.majority_vote`: every non-empty answer of a submitted annotation is one
    vote.

    Parameters
    ----------
    answers_ : pl.LazyFrame
        Every annotation's answers (`answers`), of the controls and origins to count.

    Returns
    -------
    pl.LazyFrame
        project_id, control, item (the task), rater (the annotator), label (the answer key); one row per vote.

    Notes
    -----
    Unlike `answer_ratings`, an annotator who answered a task twice votes twice (each annotation is a vote),
    and no control type or origin is filtered here. An empty answer (answer_key null) is no vote.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANSWERS
    >>> from pipeline.metrics.scores import answer_votes
    >>> answers = ANSWERS.of(project_id="p", task_id="1", annotation_id=["10", "11", "12", "13"],
    ...                      annotator=["ann", "ann", "bob", "cid"], origin="human", control="label", type="choices",
    ...                      answer_key=["cat", "cat", "dog", None])
    >>> answer_votes(answers).collect().rows()
    [('p', 'label', '1', 'ann', 'cat'), ('p', 'label', '1', 'ann', 'cat'), ('p', 'label', '1', 'bob', 'dog')]
    """
    return answers_.drop_nulls("answer_key").select(
        "project_id",
        "control",
        pl.col("task_id").alias("item"),
        pl.col("annotator").alias("rater"),
        pl.col("answer_key").alias("label"),
    )
