"""A GT version as files other tools read: Label Studio JSON, COCO, Scout CSV, Parquet, CVAT XML. No Dagster.

Every exporter reads only the version's own frozen content (`GroundTruthVersion`), so exporting a version
gives the same bytes whenever it is run, whatever the warehouse holds since.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.groundtruth.export_cvat import to_cvat
from pipeline.groundtruth.versioning import GroundTruthVersion
from pipeline.ingest.scout import ANNOTATION_COLUMNS, IMAGE_COLUMNS
from pipeline.vocabulary import BOX_TYPES, TASK

FORMATS = ("ls-json", "coco", "scout-csv", "parquet", "cvat")


def write(gt: GroundTruthVersion, fmt: str, out: Path, split: str | None = None) -> str:
    """Write `gt` (only the tasks of `split` when given) as `fmt` to `out`; returns what was written."""
    gt = gt if split is None else gt.only_split(split)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        return f"{to_parquet(gt, out)} GT region row(s)"
    if fmt == "ls-json":
        return f"{to_label_studio(gt, out)} task(s)"
    if fmt == "coco":
        return f"{to_coco(gt, out)} box(es)"
    if fmt == "cvat":
        return str(to_cvat(gt, out))
    return f"images CSV {to_scout_csv(gt, out)}"


def to_parquet(gt: GroundTruthVersion, out: Path) -> int:
    """One row per region of each task's GT (a task whose GT has no region keeps one row without region)."""
    gt.regions.write_parquet(out)
    return gt.regions.height


def to_label_studio(gt: GroundTruthVersion, out: Path) -> int:
    """Label Studio JSON: every GT task with its GT annotation, flagged `ground_truth`.

    Importing the file back into gtq gives the same GT (by flag); ids, annotators and result items are
    the version's, values exactly as they were exported."""
    results: dict[tuple, list[dict]] = {}
    for r in gt.regions.filter(pl.col("region_id").is_not_null()).iter_rows(named=True):
        item = {
            "id": r["region_id"],
            "type": r["type"],
            "from_name": r["control"],
            "to_name": r["to_name"],
            "value": json.loads(r["value_json"]),
        }
        item |= {k: r[k] for k in ("original_width", "original_height", "score") if r[k] is not None}
        results.setdefault((r["project_id"], r["task_id"]), []).append(item)
    annotations = {(a["project_id"], a["task_id"], a["annotation_id"]): a for a in gt.annotations.iter_rows(named=True)}
    decided = {(g["project_id"], g["task_id"]): g for g in gt.ground_truth.iter_rows(named=True)}
    split = {key: g["split"] for key, g in decided.items()}
    exported = []
    for t in gt.tasks.iter_rows(named=True):
        key = (t["project_id"], t["task_id"])
        g = decided[key]
        a = annotations.get((g["project_id"], g["source_task_id"], g["annotation_id"]), {})
        annotator = a.get("annotator") or g["annotator"] or ""
        annotation = {
            "id": _id(g["annotation_id"]),
            "completed_by": {"email": annotator} if "@" in annotator else _id(annotator),
            "result": results.get(key, []),
            "was_cancelled": False,
            "ground_truth": True,
            "created_at": _iso(a.get("created_at")),
            "updated_at": _iso(a.get("updated_at")),
            "lead_time": a.get("lead_time_s"),
            "last_action": a.get("last_action"),
            "project": _id(t["project_id"]),
        }
        exported.append(
            {
                "id": _id(t["task_id"]),
                "data": json.loads(t["data_json"]),
                "meta": {"gtq_split": split[key], "gtq_gt_version": gt.version},
                "annotations": [annotation],
                "predictions": [],
                "project": _id(t["project_id"]),
                "created_at": _iso(t["created_at"]),
                "updated_at": _iso(t["updated_at"]),
            }
        )
    out.write_text(json.dumps(exported, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(exported)


def to_coco(gt: GroundTruthVersion, out: Path) -> int:
    """A COCO ground-truth file: one image per GT item (confirmed empties included, with no box), one
    annotation per GT box in pixels ([x, y, width, height]). Category ids are the version's, which never
    move from one version to the next. An image's width and height come from its task's regions; they are
    null when no region carries them."""
    scale = pl.col("coordinate_unit") == "percent"
    boxes = (
        gt.regions.filter(pl.col("type").is_in(BOX_TYPES) & pl.col("scorable"))
        .with_columns(
            label=pl.col("labels").list.first(),
            px=pl.when(scale).then(pl.col("x") * pl.col("original_width") / 100).otherwise(pl.col("x")),
            py=pl.when(scale).then(pl.col("y") * pl.col("original_height") / 100).otherwise(pl.col("y")),
            pw=pl.when(scale).then(pl.col("width") * pl.col("original_width") / 100).otherwise(pl.col("width")),
            ph=pl.when(scale).then(pl.col("height") * pl.col("original_height") / 100).otherwise(pl.col("height")),
        )
        .filter(pl.col("px").is_not_null() & pl.col("label").is_not_null())
    )
    categories = dict(gt.categories.iter_rows())
    images, image_ids = [], {}
    tasks = gt.tasks.join(gt.ground_truth.select(*TASK, "item_key", "split"), on=TASK)
    for i, image in enumerate(tasks.iter_rows(named=True), start=1):
        image_ids[(image["project_id"], image["task_id"])] = i
        images.append(
            {
                "id": i,
                "file_name": image["item_key"],
                "width": image["image_width"],
                "height": image["image_height"],
                "gtq_project_id": image["project_id"],
                "gtq_task_id": image["task_id"],
                "gtq_split": image["split"],
            }
        )
    annotations = [
        {
            "id": i,
            "image_id": image_ids[(b["project_id"], b["task_id"])],
            "category_id": categories[b["label"]],
            "bbox": [b["px"], b["py"], b["pw"], b["ph"]],
            "area": b["pw"] * b["ph"],
            "iscrowd": 0,
        }
        for i, b in enumerate(boxes.iter_rows(named=True), start=1)
    ]
    document = {
        "info": {"description": "gtq ground truth", "version": str(gt.version)},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "gtq"} for name, i in categories.items()],
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return len(annotations)


def to_scout_csv(gt: GroundTruthVersion, out: Path) -> Path:
    """Scout's two CSVs: GT boxes as `Is Ground Truth` rows (pixels), and every GT image as done. The
    images CSV is written beside `out` with `annotations` replaced by `images` in its name."""
    rows = gt.regions.join(gt.tasks.select(*TASK, "data_json"), on=TASK)
    info = pl.col("data_json").str.json_decode(
        pl.Struct({"Task Name": pl.String, "Task ID": pl.String, "Image ID": pl.String})
    )
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
            for c, size, name in (
                ("x", "original_width", "Box X"),
                ("y", "original_height", "Box Y"),
                ("width", "original_width", "Box W"),
                ("height", "original_height", "Box H"),
            )
        ],
        pl.lit("").alias("Box Confidence"),
        pl.col("labels").list.first().alias("Classification"),
        pl.lit("").alias("Classification Confidence"),
        pl.col("annotator").alias("Assignee"),
        pl.col("decided_at").dt.to_string("%Y-%m-%dT%H:%M:%SZ").alias("Timestamp"),
        pl.lit("true").alias("Is Ground Truth"),
        (~pl.col("scorable")).cast(pl.String).alias("Excluded By Line"),
    )
    annotations_csv.select(ANNOTATION_COLUMNS).sort(
        "Task ID", "Image Filename", "Box X", "Box Y", maintain_order=True
    ).write_csv(out)
    images_csv = rows.unique(TASK, maintain_order=True).select(
        pl.col("_info").struct.field("Task Name").fill_null(pl.col("project_id")).alias("Task Name"),
        pl.col("_info").struct.field("Task ID").fill_null(pl.col("task_id")).alias("Task ID"),
        pl.col("item_key").alias("Image Filename"),
        pl.lit("").alias("WIC Confidence"),
        pl.lit("done").alias("Ground Truth Status"),
    )
    images_path = out.with_name(
        out.name.replace("annotations", "images") if "annotations" in out.name else f"{out.stem}-images.csv"
    )
    images_csv.select(IMAGE_COLUMNS).sort("Task ID", "Image Filename").write_csv(images_path)
    return images_path


def _id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
