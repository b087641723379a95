"""Wild Me Scout exports (annotations CSV, images CSV) -> the core tables, column-wise in Polars.

Scout's unit of work is an image inside a task, and an image can appear in several tasks, so:
- a gtq task is one (Scout task, image) pair: task_id `<Task ID>/<Image Filename>`, item_key the image;
- an annotation is everything one assignee drew on that image in that task; rows with a
  `Box Confidence` come from an ML model (origin `model`, the assignee is the model version);
- rows marked `Is Ground Truth` form the GT annotation `<task>/<image>/gt` (flagged as GT, annotator the
  GT reviewer), and an image whose `Ground Truth Status` is done gets that GT annotation even with no box
  (annotator `scout-ground-truth`): a confirmed empty image;
- boxes are in pixels (`coordinate_unit = 'pixel'`); a box excluded by a division line is kept but not
  scorable.
The images CSV is read together with the annotations CSV beside it (`...annotations...csv` ->
`...images...csv`), so one export is one snapshot of its tasks. Every CSV data row is a record; a row
that does not parse goes to quarantine with its line number and the fields at fault.
"""

from __future__ import annotations

import io
import mmap
from pathlib import Path

import polars as pl

from pipeline.contract import ANNOTATIONS, REGIONS, TASKS
from pipeline.ingest.records import BadRecord, ExportWriter, Format, parsed_columns
from pipeline.vocabulary import ANNOTATION, HUMAN, MODEL, TASK

ANNOTATION_COLUMNS = (
    "Task Name",
    "Task ID",
    "Image Filename",
    "Image ID",
    "Box X",
    "Box Y",
    "Box W",
    "Box H",
    "Box Confidence",
    "Classification",
    "Classification Confidence",
    "Assignee",
    "Timestamp",
    "Is Ground Truth",
    "Excluded By Line",
)
IMAGE_COLUMNS = ("Task Name", "Task ID", "Image Filename", "WIC Confidence", "Ground Truth Status")
NUMBERS = ("Box X", "Box Y", "Box W", "Box H", "Box Confidence", "Classification Confidence")
TRUE = ("true", "yes", "1", "y", "t")
FALSE = ("false", "no", "0", "n", "f", "")
DONE = ("done", "complete", "completed", "true", "yes")
GT_ANNOTATOR = "scout-ground-truth"


def images_csv_for(annotations_csv: Path) -> Path | None:
    """The images CSV exported with an annotations CSV, by Scout's naming, when it is there."""
    name = annotations_csv.name
    if "annotations" not in name.lower():
        return None
    start = name.lower().index("annotations")
    candidate = annotations_csv.with_name(name[:start] + "images" + name[start + len("annotations") :])
    return candidate if candidate.exists() else None


def project_id_for(path: Path) -> str:
    """The file's stem without Scout's `annotations`/`images` suffix, else the folder's name."""
    stem = path.stem
    for word in ("annotations", "images"):
        stem = stem.replace(word, "").replace(word.capitalize(), "")
    stem = stem.strip(" -_.")
    return stem or path.resolve().parent.name


def read_csv(buffer: bytes | mmap.mmap, required: tuple[str, ...], name: str) -> pl.DataFrame:
    """All columns as strings, with the file line of each row; BadRecord when the header is wrong."""
    try:
        frame = pl.read_csv(io.BytesIO(buffer), infer_schema=False, empty_string_is_null=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise BadRecord("$", f"{name} is not a readable CSV: {exc}") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadRecord("line 1", f"{name} lacks the columns {missing}")
    return frame.with_row_index("line", offset=2).with_columns(pl.col(pl.String).fill_null("").str.strip_chars())


def _bool(column: str) -> pl.Expr:
    lowered = pl.col(column).str.to_lowercase()
    return pl.when(lowered.is_in(TRUE)).then(True).when(lowered.is_in(FALSE)).then(False)


def _problems(checks: dict[str, pl.Expr]) -> pl.Expr:
    """A `; `-joined description of the failed checks of a row, null when every check passed."""
    parts = [pl.when(failed).then(pl.lit(text)) for text, failed in checks.items()]
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).replace("", None)


def parse_scout_annotations(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    path = Path(source_file)
    project_id = project_id_for(path)
    rows = read_csv(buffer, ANNOTATION_COLUMNS, "the Scout annotations CSV")
    numbers = {c: pl.col(c).replace("", None).cast(pl.Float64, strict=False) for c in NUMBERS}
    rows = rows.with_columns(
        **{f"_{c}": e for c, e in numbers.items()},
        _timestamp=pl.col("Timestamp").replace("", None).str.to_datetime(time_zone="UTC", strict=False),
        _is_gt=_bool("Is Ground Truth"),
        _excluded=_bool("Excluded By Line"),
    )
    checks = {f"{c} is not a number": pl.col(c).ne("") & pl.col(f"_{c}").is_null() for c in NUMBERS}
    checks |= {f"{c} is not a finite number": pl.col(f"_{c}").is_nan() | pl.col(f"_{c}").is_infinite() for c in NUMBERS}
    checks |= {
        "Task ID is empty": pl.col("Task ID") == "",
        "Image Filename is empty": pl.col("Image Filename") == "",
        "Assignee is empty": pl.col("Assignee") == "",
        "box has a negative width or height": (pl.col("_Box W") < 0) | (pl.col("_Box H") < 0),
        "box is incomplete (X, Y, W and H go together)": pl.sum_horizontal(
            pl.col(f"_{c}").is_null() for c in NUMBERS[:4]
        ).is_between(1, 3),
        "Timestamp is not a date and time": pl.col("Timestamp").ne("") & pl.col("_timestamp").is_null(),
        "Is Ground Truth is not true/false": pl.col("_is_gt").is_null(),
        "Excluded By Line is not true/false": pl.col("_excluded").is_null(),
    }
    rows = rows.with_columns(_problem=_problems(checks))
    _quarantine(writer, rows.filter(pl.col("_problem").is_not_null()))
    rows = rows.filter(pl.col("_problem").is_null())

    companion = images_csv_for(path)
    images = (
        _valid_images(
            writer, companion.read_bytes(), f"the Scout images CSV {companion.name}", prefix=f"{companion.name} "
        )
        if companion
        else pl.DataFrame(schema=dict.fromkeys(IMAGE_COLUMNS, pl.String))
    )
    writer.accepted += rows.height
    _write(writer, project_id, rows, images)
    writer.projects.add(project_id)


def _valid_images(writer: ExportWriter, buffer: bytes | mmap.mmap, name: str, prefix: str = "") -> pl.DataFrame:
    """The rows of an images CSV that name their task and image; the others are quarantined."""
    rows = read_csv(buffer, IMAGE_COLUMNS, name)
    checks = {"Task ID is empty": pl.col("Task ID") == "", "Image Filename is empty": pl.col("Image Filename") == ""}
    rows = rows.with_columns(_problem=_problems(checks))
    _quarantine(writer, rows.filter(pl.col("_problem").is_not_null()), prefix)
    valid = rows.filter(pl.col("_problem").is_null())
    writer.accepted += valid.height
    return valid


def _quarantine(writer: ExportWriter, bad: pl.DataFrame, prefix: str = "") -> None:
    for line, task, image, problem in bad.select("line", "Task ID", "Image Filename", "_problem").iter_rows():
        writer.quarantine(f"{prefix}line {line} (task {task or '?'}, image {image or '?'})", problem)


def _write(writer: ExportWriter, project_id: str, rows: pl.DataFrame, images: pl.DataFrame) -> None:
    task_id = pl.concat_str("Task ID", "Image Filename", separator="/").alias("task_id")
    is_model = pl.col("_Box Confidence").is_not_null()
    annotation_id = (
        pl.when(pl.col("_is_gt"))
        .then(pl.concat_str(task_id, pl.lit("/gt")))
        .otherwise(pl.concat_str(task_id, pl.lit("/"), pl.col("Assignee")))
    )
    rows = rows.with_columns(
        project_id=pl.lit(project_id),
        task_id=task_id,
        annotation_id=annotation_id,
        _is_model=is_model & ~pl.col("_is_gt"),
    )
    done = images.filter(pl.col("Ground Truth Status").str.to_lowercase().is_in(DONE)).select(
        project_id=pl.lit(project_id), task_id=task_id
    )

    annotations = pl.concat(
        [
            rows.group_by(ANNOTATION).agg(
                pl.col("Assignee").first().alias("annotator"),
                pl.when(pl.col("_is_model").first()).then(pl.lit(MODEL)).otherwise(pl.lit(HUMAN)).alias("origin"),
                pl.when(pl.col("_is_model").first()).then(pl.col("Assignee").first()).alias("model_version"),
                pl.col("_timestamp").min().alias("created_at"),
                pl.col("_timestamp").max().alias("updated_at"),
                pl.lit(None, pl.Float64).alias("lead_time_s"),
                pl.lit(False).alias("was_cancelled"),
                pl.col("_is_gt").first().alias("gt_flag"),
                pl.col("_Box Confidence").mean().alias("score"),
                pl.lit(None, pl.String).alias("last_action"),
            ),
            # An image done in GT review with no GT box still has a (empty) GT annotation: a confirmed empty.
            done.join(rows.filter("_is_gt").select(TASK).unique(), on=TASK, how="anti").select(
                "project_id",
                "task_id",
                pl.concat_str("task_id", pl.lit("/gt")).alias("annotation_id"),
                pl.lit(GT_ANNOTATOR).alias("annotator"),
                pl.lit(HUMAN).alias("origin"),
                pl.lit(None, pl.String).alias("model_version"),
                pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at"),
                pl.lit(None, pl.Datetime("us", "UTC")).alias("updated_at"),
                pl.lit(None, pl.Float64).alias("lead_time_s"),
                pl.lit(False).alias("was_cancelled"),
                pl.lit(True).alias("gt_flag"),
                pl.lit(None, pl.Float64).alias("score"),
                pl.lit(None, pl.String).alias("last_action"),
            ),
        ],
        how="vertical_relaxed",
    )
    boxes = rows.filter(pl.col("_Box X").is_not_null())
    regions = boxes.with_columns(
        region_id=pl.format("line{}", "line"),
        item_index=pl.int_range(pl.len()).over("annotation_id").cast(pl.Int32),
        control=pl.lit("bbox"),
        to_name=pl.lit("image"),
        type=pl.lit("rectanglelabels"),
        labels=pl.when(pl.col("Classification") != "").then(pl.concat_list(pl.col("Classification"))),
        x=pl.col("_Box X"),
        y=pl.col("_Box Y"),
        width=pl.col("_Box W"),
        height=pl.col("_Box H"),
        rotation=pl.lit(None, pl.Float64),
        points=pl.lit(None, pl.List(pl.List(pl.Float64))),
        start=pl.lit(None, pl.Int64),
        end=pl.lit(None, pl.Int64),
        text=pl.lit(None, pl.String),
        number=pl.col("_Classification Confidence"),
        score=pl.col("_Box Confidence"),
        original_width=pl.lit(None, pl.Int64),
        original_height=pl.lit(None, pl.Int64),
        parent_id=pl.lit(None, pl.String),
        coordinate_unit=pl.lit("pixel"),
        scorable=~pl.col("_excluded"),
        value_json=pl.struct(*ANNOTATION_COLUMNS).struct.json_encode(),
    )
    image_info = (
        pl.concat(
            [
                rows.select("Task ID", "Image Filename", "Task Name", "Image ID"),
                images.select("Task ID", "Image Filename", "Task Name", pl.lit(None, pl.String).alias("Image ID")),
            ]
        )
        .group_by("Task ID", "Image Filename")
        .agg(pl.col("Task Name", "Image ID").drop_nulls().first())
    )
    status = images.select("Task ID", "Image Filename", "WIC Confidence", "Ground Truth Status").unique(
        ["Task ID", "Image Filename"]
    )
    tasks = (
        image_info.join(status, on=["Task ID", "Image Filename"], how="left")
        .join(
            rows.group_by("Task ID", "Image Filename").agg(pl.col("_timestamp").max().alias("updated_at")),
            on=["Task ID", "Image Filename"],
            how="left",
        )
        .select(
            pl.lit(project_id).alias("project_id"),
            task_id,
            pl.col("Image Filename").alias("item_key"),
            pl.struct("Task Name", "Task ID", "Image Filename", "Image ID", "WIC Confidence", "Ground Truth Status")
            .struct.json_encode()
            .alias("data_json"),
            pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at"),
            "updated_at",
            pl.lit(None, pl.String).alias("raw_hash"),
        )
    )
    writer.tasks.write_frame(tasks.select(parsed_columns(TASKS).names()))
    writer.annotations.write_frame(annotations.select(parsed_columns(ANNOTATIONS).names()))
    writer.regions.write_frame(regions.select(parsed_columns(REGIONS).names()))


def parse_scout_images(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    """An images CSV read alone (no annotations CSV beside it): image rows and confirmed-done GT only."""
    images = _valid_images(writer, buffer, "the Scout images CSV")
    empty = pl.DataFrame(schema=dict.fromkeys(ANNOTATION_COLUMNS, pl.String) | {"line": pl.UInt32})
    empty = empty.with_columns(
        **{f"_{c}": pl.lit(None, pl.Float64) for c in NUMBERS},
        _timestamp=pl.lit(None, pl.Datetime("us", "UTC")),
        _is_gt=pl.lit(None, pl.Boolean),
        _excluded=pl.lit(None, pl.Boolean),
    )
    project_id = project_id_for(Path(source_file))
    _write(writer, project_id, empty, images)
    writer.projects.add(project_id)


def _header(head: bytes) -> str:
    return head.split(b"\n", 1)[0].decode("utf-8", "replace")


def sniff_annotations(head: bytes) -> bool:
    """A header line naming Task ID, Image Filename, Box X and Assignee."""
    return all(c in _header(head) for c in ("Task ID", "Image Filename", "Box X", "Assignee"))


def sniff_images(head: bytes) -> bool:
    """A header line naming Task ID, Image Filename and Ground Truth Status."""
    return all(c in _header(head) for c in ("Task ID", "Image Filename", "Ground Truth Status"))


SCOUT_ANNOTATIONS = Format(
    "scout-annotations-csv",
    parse_scout_annotations,
    companion=images_csv_for,
    projects=lambda p: [project_id_for(p)],
    sniff=sniff_annotations,
)
SCOUT_IMAGES = Format(
    "scout-images-csv", parse_scout_images, projects=lambda p: [project_id_for(p)], sniff=sniff_images
)


def image_confidence(tasks: pl.LazyFrame) -> pl.LazyFrame:
    """The whole-image classifier's confidence that each Scout image holds an animal (the images CSV's `WIC
    Confidence`, kept in the task's data): project_id, task_id, confidence, for the tasks that have one."""
    confidence = pl.col("data_json").str.json_path_match("$['WIC Confidence']").cast(pl.Float64, strict=False)
    return tasks.select("project_id", "task_id", confidence.alias("confidence")).drop_nulls("confidence")
