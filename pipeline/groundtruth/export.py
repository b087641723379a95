"""A GT version as files other tools read: Label Studio JSON, COCO, Scout CSV, Parquet. No Dagster.

Every exporter takes the GT snapshot of the version (from Delta) and the current core tables (tasks,
annotations, regions), so the annotations a version names must still be in the warehouse (they stay
there: a newer GT never deletes an annotation).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.groundtruth import ground_truth_regions
from pipeline.ingest.scout import ANNOTATION_COLUMNS, IMAGE_COLUMNS
from pipeline.metrics.matching import BOX_TYPES

FORMATS = ("ls-json", "coco", "scout-csv", "parquet")


def gt_regions(ground_truth: pl.DataFrame, regions: pl.DataFrame) -> pl.DataFrame:
    """One row per region of each task's GT (tasks whose GT has no region keep one null row)."""
    return ground_truth_regions(ground_truth.lazy(), regions.lazy()).collect()


def to_parquet(ground_truth: pl.DataFrame, regions: pl.DataFrame, out: Path) -> int:
    frame = gt_regions(ground_truth, regions)
    frame.write_parquet(out)
    return frame.height


def to_label_studio(ground_truth: pl.DataFrame, tasks: pl.DataFrame, annotations: pl.DataFrame, regions: pl.DataFrame, out: Path) -> int:
    """Label Studio JSON: every GT task with its submitted human annotations, the GT one flagged.

    Importing the file back into gtq gives the same GT (by flag); ids, annotators and result items are
    the warehouse's, values exactly as they were exported.
    """
    gt_tasks = ground_truth.select("project_id", "task_id", pl.col("annotation_id").alias("gt_annotation_id"))
    human = annotations.filter((pl.col("origin") == "human") & ~pl.col("was_cancelled")).join(gt_tasks, on=["project_id", "task_id"])
    results = regions.join(human.select("project_id", "task_id", "annotation_id"), on=["project_id", "task_id", "annotation_id"])
    by_annotation: dict[tuple, list[dict]] = {}
    for r in results.sort("item_index").iter_rows(named=True):
        item = {"id": r["region_id"], "type": r["type"], "from_name": r["control"], "to_name": r["to_name"], "value": json.loads(r["value_json"])}
        item |= {k: r[k] for k in ("original_width", "original_height", "score") if r[k] is not None}
        by_annotation.setdefault((r["project_id"], r["task_id"], r["annotation_id"]), []).append(item)
    by_task: dict[tuple, list[dict]] = {}
    for a in human.sort("annotation_id").iter_rows(named=True):
        key = (a["project_id"], a["task_id"])
        by_task.setdefault(key, []).append(
            {
                "id": _id(a["annotation_id"]),
                "completed_by": {"email": a["annotator"]} if "@" in a["annotator"] else _id(a["annotator"]),
                "result": by_annotation.get((*key, a["annotation_id"]), []),
                "was_cancelled": False,
                "ground_truth": a["annotation_id"] == a["gt_annotation_id"],
                "created_at": _iso(a["created_at"]),
                "updated_at": _iso(a["updated_at"]),
                "lead_time": a["lead_time_s"],
                "last_action": a["last_action"],
                "project": _id(a["project_id"]),
            }
        )
    exported = []
    for t in tasks.join(gt_tasks, on=["project_id", "task_id"], how="semi").sort("project_id", "task_id").iter_rows(named=True):
        exported.append(
            {
                "id": _id(t["task_id"]),
                "data": json.loads(t["data_json"]),
                "annotations": by_task.get((t["project_id"], t["task_id"]), []),
                "predictions": [],
                "project": _id(t["project_id"]),
                "created_at": _iso(t["created_at"]),
                "updated_at": _iso(t["updated_at"]),
            }
        )
    out.write_text(json.dumps(exported, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(exported)


def to_coco(ground_truth: pl.DataFrame, regions: pl.DataFrame, out: Path) -> int:
    """A COCO ground-truth file: one image per GT item (confirmed empties included, with no box), one
    annotation per GT box in pixels ([x, y, width, height]), categories sorted by name. An image's width
    and height come from its task's regions; they are null when no region carries them."""
    rows = gt_regions(ground_truth, regions)
    boxes = rows.filter(pl.col("type").is_in(BOX_TYPES) & pl.col("scorable"))
    scale = pl.col("coordinate_unit") == "percent"
    boxes = boxes.with_columns(
        label=pl.col("labels").list.first(),
        px=pl.when(scale).then(pl.col("x") * pl.col("original_width") / 100).otherwise(pl.col("x")),
        py=pl.when(scale).then(pl.col("y") * pl.col("original_height") / 100).otherwise(pl.col("y")),
        pw=pl.when(scale).then(pl.col("width") * pl.col("original_width") / 100).otherwise(pl.col("width")),
        ph=pl.when(scale).then(pl.col("height") * pl.col("original_height") / 100).otherwise(pl.col("height")),
    ).filter(pl.col("px").is_not_null())
    categories = {name: i + 1 for i, name in enumerate(sorted(boxes["label"].drop_nulls().unique()))}
    # An image's size is on any region of its task, not only on the GT's (a confirmed empty has none).
    sizes = (
        ground_truth.select("project_id", "task_id", "item_key", "source_task_id")
        .join(
            regions.group_by("project_id", pl.col("task_id").alias("source_task_id")).agg(pl.col("original_width").max(), pl.col("original_height").max()),
            on=["project_id", "source_task_id"],
            how="left",
        )
    )
    images, image_ids = [], {}
    for i, image in enumerate(sizes.sort("project_id", "task_id").iter_rows(named=True), start=1):
        image_ids[(image["project_id"], image["task_id"])] = i
        images.append({"id": i, "file_name": image["item_key"], "width": image["original_width"], "height": image["original_height"],
                       "gtq_project_id": image["project_id"], "gtq_task_id": image["task_id"]})  # fmt: skip
    annotations = [
        {"id": i, "image_id": image_ids[(b["project_id"], b["task_id"])], "category_id": categories[b["label"]],
         "bbox": [b["px"], b["py"], b["pw"], b["ph"]], "area": b["pw"] * b["ph"], "iscrowd": 0}
        for i, b in enumerate(boxes.filter(pl.col("label").is_not_null()).iter_rows(named=True), start=1)
    ]  # fmt: skip
    version = int(ground_truth["version"].max()) if ground_truth.height else None
    document = {
        "info": {"description": "gtq ground truth", "version": str(version)},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "gtq"} for name, i in categories.items()],
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return len(annotations)


def to_scout_csv(ground_truth: pl.DataFrame, tasks: pl.DataFrame, regions: pl.DataFrame, out: Path) -> Path:
    """Scout's two CSVs: GT boxes as `Is Ground Truth` rows (pixels), and every GT image as done. The
    images CSV is written beside `out` with `annotations` replaced by `images` in its name."""
    rows = gt_regions(ground_truth, regions).join(tasks.select("project_id", "task_id", "data_json"), on=["project_id", "task_id"])
    info = pl.col("data_json").str.json_decode(pl.Struct({"Task Name": pl.String, "Task ID": pl.String, "Image ID": pl.String}))
    rows = rows.with_columns(_info=info)
    scale = pl.col("coordinate_unit") == "percent"
    boxes = rows.filter(pl.col("type").is_in(BOX_TYPES))
    annotations_csv = boxes.select(
        pl.col("_info").struct.field("Task Name").fill_null(pl.col("project_id")).alias("Task Name"),
        pl.col("_info").struct.field("Task ID").fill_null(pl.col("task_id")).alias("Task ID"),
        pl.col("item_key").alias("Image Filename"),
        pl.col("_info").struct.field("Image ID").fill_null(pl.col("item_key")).alias("Image ID"),
        *[
            pl.when(scale).then(pl.col(c) * pl.col(size) / 100).otherwise(pl.col(c)).alias(name)
            for c, size, name in (("x", "original_width", "Box X"), ("y", "original_height", "Box Y"),
                                  ("width", "original_width", "Box W"), ("height", "original_height", "Box H"))
        ],  # fmt: skip
        pl.lit("").alias("Box Confidence"),
        pl.col("labels").list.first().alias("Classification"),
        pl.lit("").alias("Classification Confidence"),
        pl.col("annotator").alias("Assignee"),
        pl.col("decided_at").dt.to_string("%Y-%m-%dT%H:%M:%SZ").alias("Timestamp"),
        pl.lit("true").alias("Is Ground Truth"),
        (~pl.col("scorable")).cast(pl.String).alias("Excluded By Line"),
    )
    annotations_csv.select(ANNOTATION_COLUMNS).sort("Task ID", "Image Filename", "Box X", "Box Y").write_csv(out)
    images_csv = rows.unique(["project_id", "task_id"]).select(
        pl.col("_info").struct.field("Task Name").fill_null(pl.col("project_id")).alias("Task Name"),
        pl.col("_info").struct.field("Task ID").fill_null(pl.col("task_id")).alias("Task ID"),
        pl.col("item_key").alias("Image Filename"),
        pl.lit("").alias("WIC Confidence"),
        pl.lit("done").alias("Ground Truth Status"),
    )
    images_path = out.with_name(out.name.replace("annotations", "images") if "annotations" in out.name else f"{out.stem}-images.csv")
    images_csv.select(IMAGE_COLUMNS).sort("Task ID", "Image Filename").write_csv(images_path)
    return images_path


def _id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
