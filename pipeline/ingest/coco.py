"""COCO files -> the core tables, so a model that never went through a labeling tool can be scored.

- A ground-truth file (`images`, `annotations`, `categories`): one gtq task per image (task_id the
  image id, item_key its file name), one GT annotation per image (`coco-gt:<image id>`, flagged as GT)
  holding its boxes; an image without annotations is a confirmed empty image. project_id: the file stem.
- A detection results file (a list of `image_id`, `category_id`, `bbox`, `score`): one model annotation
  per image of the ground-truth file, detections or not (`prediction:<model>:<image id>`), the model
  version being the file's stem. Category ids and
  the project come from the ground-truth file in the same folder, which must be there.
Boxes stay in COCO's pixel `[x, y, width, height]` (`coordinate_unit = 'pixel'`).
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import msgspec

from pipeline.ingest.records import BadRecord, ExportWriter, Format
from pipeline.vocabulary import HUMAN, MODEL

GT_ANNOTATOR = "coco-ground-truth"


class _Image(msgspec.Struct, gc=False):
    id: int | str
    file_name: str | None = None
    width: int | None = None
    height: int | None = None


class _Category(msgspec.Struct, gc=False):
    id: int | str
    name: str


class _Box(msgspec.Struct, gc=False):
    image_id: int | str
    category_id: int | str
    bbox: tuple[float, float, float, float]
    id: int | str | None = None
    score: float | None = None
    iscrowd: int = 0
    area: float | None = None
    segmentation: Any = None


class _GroundTruthFile(msgspec.Struct):
    images: list[msgspec.Raw]
    categories: list[_Category]
    annotations: list[msgspec.Raw] = []


def ground_truth_file_for(results_file: Path) -> Path | None:
    """The COCO ground-truth file beside a results file (the only JSON there with images and categories)."""
    from pipeline.ingest import format_of  # the one format detection, by structure when the head does not tell

    candidates = []
    for path in sorted(results_file.parent.glob("*.json")):
        if path != results_file and path.is_file():
            try:
                if format_of(path) == "coco-ground-truth":
                    candidates.append(path)
            except BadRecord:
                continue
    return candidates[0] if len(candidates) == 1 else None


def _region(owner: tuple[str, str, str], index: int, box: _Box, category: str, image: _Image | None) -> tuple:
    x, y, width, height = box.bbox
    return (
        *owner,
        None if box.id is None else str(box.id),
        index,
        "bbox",
        "image",
        "rectanglelabels",
        [category],
        x,
        y,
        width,
        height,
        None,
        None,
        None,
        None,
        None,
        None,
        box.score,
        image.width if image else None,
        image.height if image else None,
        None,
        "pixel",
        not box.iscrowd,
        msgspec.json.encode(
            {"bbox": box.bbox, "category_id": box.category_id, "iscrowd": box.iscrowd, "area": box.area}
        ).decode(),
    )


def _decode_boxes(raws, where: str, writer: ExportWriter, categories: dict[str, str]) -> list[_Box]:
    boxes = []
    for index, raw in enumerate(raws):
        try:
            box = msgspec.json.decode(raw, type=_Box)
        except msgspec.ValidationError as exc:
            writer.quarantine(f"{where}[{index}]", f"not a COCO box: {exc}")
            continue
        if str(box.category_id) not in categories:
            writer.quarantine(
                f"{where}[{index}] (image {box.image_id})", f"category_id {box.category_id} is not among the categories"
            )
        elif box.bbox[2] < 0 or box.bbox[3] < 0:
            writer.quarantine(
                f"{where}[{index}] (image {box.image_id})", f"bbox {list(box.bbox)} has a negative width or height"
            )
        else:
            boxes.append(box)
    return boxes


def _read_ground_truth(
    data: bytes | mmap.mmap, writer: ExportWriter | None
) -> tuple[dict[str, _Image], dict[str, str], list]:
    """Images by id, category names by id and the raw boxes; bad images are quarantined when `writer`."""
    try:
        file = msgspec.json.decode(data, type=_GroundTruthFile)
    except msgspec.DecodeError as exc:
        raise BadRecord("$", f"not a COCO ground-truth file: {exc}") from exc
    images: dict[str, _Image] = {}
    first_at: dict[str, int] = {}
    for index, raw in enumerate(file.images):
        try:
            image = msgspec.json.decode(raw, type=_Image)
        except msgspec.ValidationError as exc:
            if writer:
                writer.quarantine(f"$.images[{index}]", f"not a COCO image: {exc}")
            continue
        if str(image.id) in images:  # a second image with one id would silently replace the first
            if writer:
                writer.quarantine(
                    f"$.images[{index}]",
                    f"duplicate image id {image.id} (first at $.images[{first_at[str(image.id)]}], which is kept)",
                )
            continue
        images[str(image.id)], first_at[str(image.id)] = image, index
    categories: dict[str, str] = {}
    for index, category in enumerate(file.categories):
        if str(category.id) in categories:  # would relabel every box of the first category
            if writer:
                writer.quarantine(
                    f"$.categories[{index}]",
                    f"duplicate category id {category.id}: {category.name!r}; its boxes keep the first,"
                    f" {categories[str(category.id)]!r}",
                )
            continue
        categories[str(category.id)] = category.name
    return images, categories, file.annotations


def parse_coco_ground_truth(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    project_id = Path(source_file).stem
    images, categories, raw_boxes = _read_ground_truth(buffer, writer)
    for image_id, image in images.items():
        writer.tasks.append(
            (project_id, image_id, image.file_name or image_id, msgspec.json.encode(image).decode(), None, None, None)
        )
        writer.annotations.append(
            (
                project_id,
                image_id,
                f"coco-gt:{image_id}",
                GT_ANNOTATOR,
                HUMAN,
                None,
                None,
                None,
                None,
                False,
                True,
                None,
                None,
            )
        )
        writer.accepted += 1
    per_image: dict[str, int] = {}
    for box in _decode_boxes(raw_boxes, "$.annotations", writer, categories):
        image_id = str(box.image_id)
        if image_id not in images:
            writer.quarantine(
                f"$.annotations (box {box.id}, image {image_id})", f"image_id {image_id} is not among the images"
            )
            continue
        index = per_image[image_id] = per_image.get(image_id, -1) + 1
        owner = (project_id, image_id, f"coco-gt:{image_id}")
        writer.regions.append(_region(owner, index, box, categories[str(box.category_id)], images[image_id]))
        writer.accepted += 1
    writer.projects.add(project_id)


def parse_coco_results(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    path = Path(source_file)
    reference = ground_truth_file_for(path)
    if reference is None:
        raise BadRecord("$", "a COCO results file needs its ground-truth file (images, categories) in the same folder")
    images, categories, _ = _read_ground_truth(reference.read_bytes(), None)
    project_id, model = reference.stem, path.stem
    try:
        raws = msgspec.json.decode(buffer, type=list[msgspec.Raw])
    except msgspec.DecodeError as exc:
        raise BadRecord("$", f"not a COCO results file (a JSON list of detections): {exc}") from exc
    per_image: dict[str, list[_Box]] = {}
    for box in _decode_boxes(raws, "$", writer, categories):
        if str(box.image_id) not in images:
            writer.quarantine(f"$ (image {box.image_id})", f"image_id {box.image_id} is not in {reference.name}")
            continue
        per_image.setdefault(str(box.image_id), []).append(box)
    # Every image of the ground-truth file was shown to the model, as pycocotools evaluates them (`imgIds`):
    # an image without detections is the model saying "nothing here", which misses any GT box on it.
    for image_id in images:
        boxes = per_image.get(image_id, [])
        annotation_id = f"prediction:{model}:{image_id}"
        scores = [b.score for b in boxes if b.score is not None]
        writer.annotations.append(
            (
                project_id,
                image_id,
                annotation_id,
                model,
                MODEL,
                model,
                None,
                None,
                None,
                False,
                False,
                max(scores) if scores else None,
                None,
            )
        )
        for index, box in enumerate(boxes):
            writer.regions.append(
                _region(
                    (project_id, image_id, annotation_id),
                    index,
                    box,
                    categories[str(box.category_id)],
                    images[image_id],
                )
            )
        writer.accepted += len(boxes)
    writer.projects.add(project_id)


def sniff_ground_truth(head: bytes) -> bool:
    """A JSON object whose first bytes name images and categories."""
    return head.lstrip()[:1] == b"{" and b'"images"' in head and b'"categories"' in head


def ground_truth_keys(is_object: bool, keys: frozenset[str]) -> bool:
    """An object with images and categories."""
    return is_object and {"images", "categories"} <= keys


def sniff_results(head: bytes) -> bool:
    """A JSON array whose first bytes name image_id and bbox."""
    return head.lstrip()[:1] == b"[" and b'"image_id"' in head and b'"bbox"' in head


def results_keys(is_object: bool, keys: frozenset[str]) -> bool:
    """An array of detections: its first has image_id, category_id and bbox."""
    return not is_object and {"image_id", "category_id", "bbox"} <= keys


COCO_GROUND_TRUTH = Format(
    "coco-ground-truth",
    parse_coco_ground_truth,
    projects=lambda p: [p.stem],
    sniff=sniff_ground_truth,
    keys=ground_truth_keys,
)
COCO_RESULTS = Format(
    "coco-results",
    parse_coco_results,
    projects=lambda p: [(ground_truth_file_for(p) or p).stem],
    sniff=sniff_results,
    keys=results_keys,
)
