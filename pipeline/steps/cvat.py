"""CVAT's quality report on a project's CVAT jobs: the core tables as CVAT's shapes, each job compared with the
GT (`metrics.cvat_quality`), the result as gtq's rows (quality.region_conflicts, quality.job_quality).

A CVAT job's frame is a gtq task (`ingest.cvat`), whose annotation (and the model annotation of its `auto`
shapes) hold the job's shapes there. The GT of that task is the project's resolved GT: the Ground Truth job's
annotation of the image, whichever job's frame shows it (honeypots included). A task is compared the CVAT way
when its GT comes from another CVAT job's frame; the project's other annotations keep gtq's own comparison.
"""

from __future__ import annotations

import json

import polars as pl

from pipeline.contract import JOB_QUALITY, REGION_CONFLICTS, RUN_COLUMNS, Table
from pipeline.groundtruth import ground_truth_regions
from pipeline.ingest.cvat import REGION_TYPES, box_extent
from pipeline.metrics.cvat_quality import SHAPES, QualitySettings, compare_job, task_summary
from pipeline.vocabulary import ANNOTATION, HUMAN, TASK

GT_JOB = "gt"  # the GT side of each comparison: the project's GT, from whichever GT job's frame
# CVAT's error types are gtq's region kinds under other names; its warnings keep their own.
KINDS = {"missing_annotation": "missing", "extra_annotation": "extra", "mismatching_label": "wrong_label"}
SHAPE = pl.Schema({c: t for c, t in SHAPES.items() if c not in ("job", "frame")})  # a shape, wherever it is
KEY = pl.Schema({"task_id": pl.String, "annotation_id": pl.String, "item_index": pl.Int32})


def cvat_frames(tasks: pl.LazyFrame) -> pl.LazyFrame:
    """The tasks that are CVAT job frames: project_id, task_id, job, frame, width, height."""
    data = pl.col("data_json").str.json_path_match
    return (
        tasks.filter(pl.col("task_id").str.starts_with("job-"))
        .select(  # CVAT's task ids: no JSON read elsewhere
            *TASK,
            job=data("$.cvat_job"),
            frame=data("$.frame").cast(pl.Int64),
            width=data("$.width").cast(pl.Int64),
            height=data("$.height").cast(pl.Int64),
        )
        .filter(pl.col("job").is_not_null())
    )


def cvat_shapes(regions: pl.DataFrame) -> pl.DataFrame:
    """core.regions rows of CVAT shapes (by control) as `metrics.cvat_quality`'s shapes: the geometry as CVAT's
    XML gives it (a box's corners unrotated, `ingest.cvat.box_extent`), the rest from value_json; each row keeps
    the task, annotation and item_index it came from."""
    rows = []
    for r in regions.iter_rows(named=True):
        value = json.loads(r["value_json"] or "{}")
        kind, rle = r["control"], None
        if kind == "box":
            points = list(box_extent(r["x"], r["y"], r["width"], r["height"], r["rotation"] or 0.0))
        elif kind in ("ellipse", "mask"):  # centre and radii; a mask's box, its RLE beside
            points = [r["x"], r["y"], r["width"], r["height"]]
            rle = [int(v) for v in value.get("rle", "").split(",") if v.strip()] if kind == "mask" else None
        else:
            points = [c for point in r["points"] or [] for c in point] if kind != "skeleton" else []
        rows.append(
            (
                r["task_id"],
                r["annotation_id"],
                r["item_index"],
                int(r["region_id"]),
                kind,
                (r["labels"] or [None])[0],
                points,
                rle,
                r["rotation"] or 0.0,
                bool(value.get("occluded")),
                bool(value.get("outside")),
                int(value.get("z_order", 0)),
                int(value.get("group_id", 0)),
                [{"name": name, "value": str(v)} for name, v in value.get("attributes", {}).items()],
                [
                    {
                        "label": e["label"],
                        "points": [c for point in e["points"] for c in point],
                        "outside": bool(e.get("outside")),
                        "occluded": bool(e.get("occluded")),
                    }
                    for e in value.get("elements", [])
                ],
            )
        )
    return pl.DataFrame(rows, schema=KEY | SHAPE, orient="row")


def cvat_quality(
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    ground_truth: pl.LazyFrame,
    tasks: pl.LazyFrame,
    settings: QualitySettings | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """CVAT's quality report of every CVAT job of a project against the project's GT.

    Parameters
    ----------
    annotations, regions, ground_truth, tasks : pl.LazyFrame
        core.annotations, core.regions, core.ground_truth and core.tasks of one project.
    settings : QualitySettings, optional
        The project's CVAT quality settings (the policy's `cvat_quality`); CVAT's defaults when None.

    Returns
    -------
    conflicts : pl.DataFrame
        quality.region_conflicts rows (without the run stamp) of the frames compared: each valid pair
        (`matched`) and each conflict of CVAT's list, its error types under gtq's names (missing, extra,
        wrong_label) and its warnings under CVAT's, with CVAT's `severity` and similarity (`iou`).
    jobs : pl.DataFrame
        quality.job_quality rows (without the run stamp): CVAT's counts, accuracy, precision and recall per
        job, per annotator (their jobs' counts summed, as CVAT sums a task's) and for the project.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, REGIONS, TASKS
    >>> from pipeline.steps.cvat import cvat_quality
    >>> frames = ["job-29/frame-4", "job-32/frame-4"]  # annotation job 29 and GT job 32 show image 4.png
    >>> data = '{{"cvat_job": "{}", "frame": 4, "width": 100, "height": 100}}'
    >>> tasks = TASKS.of(project_id="p", task_id=frames, data_json=[data.format(29), data.format(32)])
    >>> annotations = ANNOTATIONS.of(project_id="p", task_id=frames, annotation_id=frames, annotator=["ann", "lead"],
    ...                              origin="human", was_cancelled=False)
    >>> ground_truth = GROUND_TRUTH.of(project_id="p", task_id=frames, annotation_id=frames[1],
    ...                                source_task_id=frames[1])
    >>> regions = REGIONS.of(project_id="p", task_id=frames, annotation_id=frames, region_id="0", item_index=0,
    ...                      control="box", labels=[["cat"]] * 2, x=[10.0, 12.0], y=10.0, width=40.0, height=40.0)
    >>> conflicts, jobs = cvat_quality(annotations.lazy(), regions.lazy(), ground_truth.lazy(), tasks.lazy())
    >>> conflicts.select("annotator", "kind", "severity", pl.col("iou").round(3)).rows()
    [('ann', 'matched', None, 0.905)]
    >>> jobs.select("scope", "job_id", "annotator", "valid_count", "accuracy").rows()
    [('job', '29', 'ann', 1, 1.0), ('annotator', None, 'ann', 1, 1.0), ('project', None, None, 1, 1.0)]
    """
    settings = settings or QualitySettings()
    frames = cvat_frames(tasks).collect()
    # The frames compared: a CVAT job's frame whose GT is another CVAT job's frame (the GT job's own are not).
    gt = (
        ground_truth.select(*TASK, "source_task_id")
        .collect()
        .join(frames.select("project_id", source_task_id="task_id"), on=["project_id", "source_task_id"])
        .filter(pl.col("task_id") != pl.col("source_task_id"))
    )
    compared = frames.join(gt.select(TASK), on=TASK).sort("job", "frame")
    if compared.is_empty():
        return _empty(REGION_CONFLICTS), _empty(JOB_QUALITY)
    on_frames = compared.select(*TASK, "job", "frame")
    # The shapes of the frames compared and of the GT's frames, read once.
    read = pl.concat([compared.select(TASK), gt.select("project_id", task_id="source_task_id")]).unique()
    shapes = (
        regions.filter(pl.col("control").is_in(list(REGION_TYPES))).join(read.lazy(), on=TASK, how="semi").collect()
    )
    people = annotations.select(*ANNOTATION, "annotator", "origin").collect().join(on_frames, on=TASK)
    ds = cvat_shapes(shapes.join(people.select(ANNOTATION), on=ANNOTATION)).join(
        people.drop("project_id"), on=["task_id", "annotation_id"]
    )
    gt_regions = ground_truth_regions(ground_truth.join(gt.lazy().select(TASK), on=TASK), shapes.lazy())
    truth = cvat_shapes(gt_regions.filter(pl.col("region_id").is_not_null()).collect())  # an empty GT: no row
    truth = truth.join(on_frames.drop("project_id"), on="task_id")
    reports = {}
    for (job,), images in compared.partition_by("job", as_dict=True, maintain_order=True).items():
        sizes = images.select("job", "frame", "width", "height")
        reports[job] = compare_job(
            ds.filter(pl.col("job") == job).select("job", "frame", *SHAPE),
            truth.filter(pl.col("job") == job).select(pl.lit(GT_JOB).alias("job"), "frame", *SHAPE),
            sizes,
            sizes.with_columns(job=pl.lit(GT_JOB)),
            settings,
        )
    project = frames["project_id"][0]
    return _conflict_rows(project, reports, ds, truth, people), _job_rows(project, reports, people)


def _empty(table: Table) -> pl.DataFrame:
    return _rows(table, table.empty())


def _rows(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as the table's rows without the run stamp (`steps.quality.stamped` adds it)."""
    return frame.select(pl.col(c).cast(t) for c, t in table.columns.items() if c not in RUN_COLUMNS)


def _conflict_rows(project: str, reports: dict, ds: pl.DataFrame, truth: pl.DataFrame, people: pl.DataFrame):
    """Every job's valid pairs and conflicts as region_conflicts rows, each shape named by its annotation and
    item_index; a missing GT shape is charged to the job's own annotation of the frame."""
    listed = pl.concat(
        [pl.concat([r.matches, r.conflicts]).with_columns(job=pl.lit(job)) for job, r in reports.items()]
    )
    theirs = ds.select("job", "frame", "shape", "task_id", "annotation_id", "item_index", "annotator", "origin")
    gt_side = truth.select(
        "job", "frame", gt_shape="shape", gt_annotation_id="annotation_id", gt_item_index="item_index"
    )
    owner = people.filter(pl.col("origin") == HUMAN).select(
        "job", "frame", "task_id", "annotator", "origin", _owner="annotation_id"
    )
    rows = (
        listed.join(theirs, on=["job", "frame", "shape"], how="left")
        .join(gt_side, on=["job", "frame", "gt_shape"], how="left")
        .join(owner, on=["job", "frame"], how="left", suffix="_owner")
        .with_columns(pl.col(c).fill_null(pl.col(f"{c}_owner")) for c in ("task_id", "annotator", "origin"))
    )
    return rows.select(
        project_id=pl.lit(project),
        task_id="task_id",
        annotator="annotator",
        origin="origin",
        control=pl.coalesce("kind", "gt_kind"),
        kind=pl.col("type").replace(KINDS),
        annotation_id=pl.coalesce("annotation_id", "_owner"),
        item_index="item_index",
        label="label",
        gt_annotation_id="gt_annotation_id",
        gt_item_index="gt_item_index",
        gt_label="gt_label",
        iou="similarity",
        severity="severity",
    ).pipe(lambda frame: _rows(REGION_CONFLICTS, frame))


def _job_rows(project: str, reports: dict, people: pl.DataFrame) -> pl.DataFrame:
    """CVAT's figures per job, per annotator (the sum of their jobs, as CVAT sums a task's) and per project."""
    annotator_of = dict(people.filter(pl.col("origin") == HUMAN).select("job", "annotator").unique("job").iter_rows())
    by_annotator: dict[str, list] = {}
    for job, report in reports.items():
        by_annotator.setdefault(annotator_of.get(job), []).append(report)
    rows = [
        r.summary.with_columns(scope=pl.lit("job"), job_id=pl.lit(job), annotator=pl.lit(annotator_of.get(job)))
        for job, r in reports.items()
    ]
    rows += [
        task_summary(jobs).with_columns(scope=pl.lit("annotator"), job_id=pl.lit(None), annotator=pl.lit(annotator))
        for annotator, jobs in by_annotator.items()
    ]
    rows.append(task_summary(list(reports.values())).with_columns(scope=pl.lit("project")))
    return _rows(JOB_QUALITY, pl.concat(rows, how="diagonal_relaxed").with_columns(project_id=pl.lit(project)))
