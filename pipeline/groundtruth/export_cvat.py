"""A GT version as CVAT for images 1.1 (`annotations.xml`), laid out as CVAT 2.32 writes a task export
(cvat/apps/dataset_manager/formats/cvat.py): what `gtq gt export --format cvat` writes. No Dagster."""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import XMLGenerator

import polars as pl

from pipeline.groundtruth.versioning import GroundTruthVersion
from pipeline.ingest.cvat import CUBOID_POINTS, box_extent
from pipeline.vocabulary import (
    ANSWER_TYPES,
    BOX_TYPES,
    BRUSH_TYPES,
    CVAT_SHAPE_TYPES,
    ELLIPSE_TYPES,
    KEYPOINT_TYPES,
    POLYGON_TYPES,
)

# The CVAT element each region type becomes (Label Studio's and CVAT's own); a choices row is a tag (see
# `_image_content`).
CVAT_SHAPES = {
    **dict.fromkeys(BOX_TYPES, "box"),
    **dict.fromkeys(POLYGON_TYPES, "polygon"),
    **dict.fromkeys(KEYPOINT_TYPES, "points"),
    **dict.fromkeys(ELLIPSE_TYPES, "ellipse"),
    **dict.fromkeys(BRUSH_TYPES, "mask"),
    **{kind: kind for kind in CVAT_SHAPE_TYPES},
}


class CvatWritten(NamedTuple):
    images: int
    shapes: int
    tags: int
    left_out: int  # GT rows CVAT has no place for: spans, relations, Label Studio's brushes, unlabelled shapes, ...

    def __str__(self) -> str:
        written = f"{self.images} image(s), {self.shapes} shape(s), {self.tags} tag(s)"
        return written + (f"; {self.left_out} GT row(s) CVAT cannot hold left out" if self.left_out else "")


@dataclass
class _Shape:
    """A shape, a skeleton's point or a tag as CVAT writes it."""

    kind: str  # the XML element
    label: str
    value: dict  # value_json: source, occluded, z_order, group_id, outside, ...
    geometry: dict[str, str] = field(default_factory=dict)  # CVAT's geometry attributes, formatted, in its order
    attributes: list[tuple[str, str]] = field(default_factory=list)
    answer_types: dict[str, str] = field(default_factory=dict)  # attribute -> the gtq type of its row, when one
    elements: list[_Shape] = field(default_factory=list)  # a skeleton's points
    points: list[list[float]] = field(default_factory=list)  # in pixels

    @property
    def z_order(self) -> int:
        return _integer(self.value.get("z_order"))


@dataclass
class _Image:
    key: tuple[str, str]  # the GT task: project_id, task_id
    name: str
    width: int | None
    height: int | None
    frame: int | None
    job: str | None  # the CVAT job the task came from (data_json's cvat_job), when it did
    cvat_task: str | None
    id: int = 0


class _Unfit(ValueError):
    """A region CVAT cannot hold as it is."""


def to_cvat(gt: GroundTruthVersion, out: Path) -> CvatWritten:
    """CVAT for images 1.1 `annotations.xml`, laid out as CVAT 2.32 writes a task export: CVAT imports it, and
    gtq reads it back as the same images, shapes, attributes and tags.

    One <image> per GT image, in frame order: id = the task's frame (data_json), else its position; a frame
    that several GT tasks hold (item-scoped GT spreads an image's GT to every job holding it) is written once.
    Its shapes, sorted by z_order as CVAT sorts them, then its tags. Geometry in pixels: percent scaled by the
    region's original size; a box's (x, y), its top-left corner once rotated (Label Studio's and gtq's), becomes
    CVAT's corners of the unrotated box about the same centre. value_json's source, occluded, z_order, group_id,
    attributes, RLE, skeleton elements and cuboid corners are written back; the answers sharing a region's id
    (`<label>.<name>` rows, Label Studio's per-region choices, numbers, texts) are its attributes; a choices row of
    its own is a tag per label. <meta> holds the labels the version uses or its labeling config declares, each with
    the shape type it is used with ("any" when several) and its attributes; its dates are the version's (tasks
    created, last decision, publication), never the clock's, so a version always gives the same bytes."""
    images = _cvat_images(gt)
    rows: dict[tuple, list[dict]] = {}
    for r in gt.regions.filter(pl.col("region_id").is_not_null()).iter_rows(named=True):
        rows.setdefault((r["project_id"], r["task_id"]), []).append(r)
    contents, left_out = [], 0
    for image in images:
        shapes, tags, unfit = _image_content(rows.get(image.key, []), image.width, image.height)
        contents.append((shapes, tags))
        left_out += unfit
    buffer = io.BytesIO()
    xml = _Xml(buffer, "annotations")
    xml.text("version", "1.1")
    xml.nested("meta", _cvat_meta(gt, images, contents))
    for image, (shapes, tags) in zip(images, contents, strict=True):
        size = {} if image.width is None or image.height is None else {"width": image.width, "height": image.height}
        xml.open("image", {"id": image.id, "name": image.name, **size})
        for shape in [*shapes, *tags]:
            _write_shape(xml, shape)
        xml.close("image")
    xml.finish()
    out.write_bytes(buffer.getvalue())
    return CvatWritten(len(images), sum(len(s) for s, _ in contents), sum(len(t) for _, t in contents), left_out)


def _cvat_images(gt: GroundTruthVersion) -> list[_Image]:
    """The images to write, ordered, with their ids: one per frame (the task spread to, rather than the GT job's
    own, when several hold it; then the lowest task id), one per task when the tasks name no frame."""
    source = {(g["project_id"], g["task_id"]): g["source_task_id"] for g in gt.ground_truth.iter_rows(named=True)}
    holders: dict[tuple, list[tuple]] = {}
    for t in gt.tasks.iter_rows(named=True):
        key = (t["project_id"], t["task_id"])
        data = _json_object(t["data_json"])
        frame = _frame(data.get("frame"))
        image = _Image(
            key,
            t["item_key"] or t["task_id"],
            _pixels(data.get("width"), t["image_width"]),
            _pixels(data.get("height"), t["image_height"]),
            frame,
            _text(data.get("cvat_job")),
            _text(data.get("cvat_task")),
        )
        spread = source.get(key) not in (None, t["task_id"])
        same = (t["project_id"], image.cvat_task, frame) if frame is not None else key
        holders.setdefault(same, []).append((not spread, _natural(t["task_id"]), image))
    images = [min(candidates, key=lambda c: c[:2])[2] for candidates in holders.values()]
    frames = [image.frame for image in images]
    by_frame = None not in frames and len(set(frames)) == len(frames)
    images.sort(key=lambda i: (i.frame is None, i.frame or 0, _natural(i.key[1])))
    for position, image in enumerate(images):
        image.id = image.frame if by_frame else position
    return images


def _image_content(rows: list[dict], width: int | None, height: int | None) -> tuple[list[_Shape], list[_Shape], int]:
    """An image's shapes (by z_order, else in region order) and tags from its GT rows, and how many rows CVAT cannot
    hold. Rows sharing an annotation and region id are one region: its shape, the answers beside it its attributes."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["annotation_id"], r["region_id"]), []).append(r)
    numbered = all(region.isdigit() for _, region in groups)  # CVAT's: the position in its <image>

    def place(key: tuple) -> tuple:
        return key[0], int(key[1]) if numbered else min(r["item_index"] or 0 for r in groups[key])

    shapes, tags, unfit = [], [], 0
    for key in sorted(groups, key=place):
        group = sorted(groups[key], key=lambda r: r["item_index"] or 0)
        named_tags = [r for r in group if r["control"] == "tag"]
        drawn = [r for r in group if r["type"] in CVAT_SHAPES and r["control"] != "tag"]
        answers = [r for r in group if r["type"] in ANSWER_TYPES and r["control"] != "tag"]
        labelling = [r for r in group if r["type"] == "labels"] if drawn else []  # <Rectangle> with <Labels>
        unfit += len(group) - len(named_tags) - len(drawn) - len(answers) - len(labelling)
        if drawn:
            unfit += len(named_tags)
            for r, attributes in [(drawn[0], answers), *((r, []) for r in drawn[1:])]:
                try:
                    shapes.append(_cvat_shape(r, attributes, width, height, labelling))
                except _Unfit:
                    unfit += 1 + len(attributes)
        elif named_tags:
            tags += _cvat_tags(named_tags[0], answers)
            tags += [tag for r in named_tags[1:] for tag in _cvat_tags(r, [])]
        else:  # Label Studio's classifications: each label chosen a tag; other answers have no place
            tags += [tag for r in answers if r["type"] in ("choices", "taxonomy") for tag in _cvat_tags(r, [])]
            unfit += sum(r["type"] not in ("choices", "taxonomy") for r in answers)
    shapes.sort(key=lambda s: s.z_order)  # stable: CVAT's order, as CVAT sorts before writing
    return shapes, tags, unfit


def _cvat_shape(r: dict, answers: list[dict], width, height, labelling: list[dict]) -> _Shape:
    """One region row (and the answers beside it) as a CVAT shape; _Unfit when CVAT cannot hold it."""
    value = _json_object(r["value_json"])
    kind = CVAT_SHAPES[r["type"]]
    label = next((labels[0] for labels in [r["labels"], *(x["labels"] for x in labelling)] if labels), None)
    if label is None:
        raise _Unfit("a shape without a label")
    sx, sy = _scale(r, width, height)
    shape = _Shape(kind, label, value)
    shape.attributes, shape.answer_types = _attributes(value, answers, label)
    if kind == "box":
        x, y, w, h = (_need(r, c) * s for c, s in (("x", sx), ("y", sy), ("width", sx), ("height", sy)))
        rotation = (r["rotation"] or 0.0) % 360
        xtl, ytl, xbr, ybr = box_extent(x, y, w, h, rotation)
        shape.geometry = {"xtl": _f(xtl), "ytl": _f(ytl), "xbr": _f(xbr), "ybr": _f(ybr)}
        shape.geometry |= {"rotation": _f(rotation)} if rotation else {}
    elif kind == "ellipse":
        cx, cy, rx, ry = (_need(r, c) * s for c, s in (("x", sx), ("y", sy), ("width", sx), ("height", sy)))
        rotation = (r["rotation"] or 0.0) % 360
        shape.geometry = {"cx": _f(cx), "cy": _f(cy), "rx": _f(rx), "ry": _f(ry)}
        shape.geometry |= {"rotation": _f(rotation)} if rotation else {}
    elif kind in ("polygon", "polyline", "points"):
        points = r["points"] or ([[r["x"], r["y"]]] if r["x"] is not None and r["y"] is not None else [])
        if not points:
            raise _Unfit("no points")
        shape.points = [[px * sx, py * sy] for px, py in points]
        shape.geometry = {"points": _point_text(shape.points)}
    elif kind == "mask":
        rle = value.get("rle")
        if not isinstance(rle, str) or not rle.strip():  # Label Studio's brush RLE is no CVAT RLE
            raise _Unfit("no CVAT RLE")
        runs = ", ".join(run.strip() for run in rle.split(","))
        box = [round(_need(r, c)) for c in ("x", "y", "width", "height")]
        shape.geometry = {"rle": runs, **dict(zip(("left", "top", "width", "height"), map(str, box), strict=True))}
    elif kind == "cuboid":
        corners = value.get("cuboid")
        if not isinstance(corners, dict) or any(not isinstance(corners.get(c), int | float) for c in CUBOID_POINTS):
            raise _Unfit("no cuboid corners")
        shape.geometry = {c: _f(corners[c] * (sx if c[0] == "x" else sy)) for c in CUBOID_POINTS}
    else:  # skeleton: its points are the elements of value_json
        elements = value.get("elements")
        if not isinstance(elements, list) or not elements:
            raise _Unfit("a skeleton without elements")
        shape.elements = [_skeleton_point(e, value, sx, sy) for e in elements]
    return shape


def _skeleton_point(element: dict, skeleton: dict, sx: float, sy: float) -> _Shape:
    if not isinstance(element, dict) or not element.get("label") or not element.get("points"):
        raise _Unfit("a skeleton element without label or point")
    points = [[px * sx, py * sy] for px, py in element["points"]]
    value = {k: element.get(k) for k in ("outside", "occluded")} | {
        "source": element.get("source") or skeleton.get("source")
    }
    stored = element.get("attributes") if isinstance(element.get("attributes"), dict) else {}
    attributes = [(str(name), _attribute_text(v)) for name, v in stored.items()]
    return _Shape("points", element["label"], value, {"points": _point_text(points)}, attributes, points=points)


def _cvat_tags(r: dict, answers: list[dict]) -> list[_Shape]:
    value = _json_object(r["value_json"])
    tags = []
    for label in r["labels"] or []:
        attributes, types = _attributes(value, answers, label)
        tags.append(_Shape("tag", label, value, attributes=attributes, answer_types=types))
    return tags


def _attributes(value: dict, answers: list[dict], label: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """A shape's attributes, in the order of its answer rows: the values value_json keeps (CVAT's, as written),
    else the rows' (a `<label>.<name>` row is the attribute `name`; Label Studio's per-region control, its name)."""
    stored = value.get("attributes") if isinstance(value.get("attributes"), dict) else {}
    found = {_attribute_name(r["control"], label): r for r in answers}
    names = list(dict.fromkeys([*found, *map(str, stored)]))
    attributes = [(n, _attribute_text(stored[n]) if n in stored else _answer_text(found[n])) for n in names]
    return attributes, {n: r["type"] for n, r in found.items()}


def _attribute_name(control: str, label: str) -> str:
    return control[len(label) + 1 :] if control.startswith(f"{label}.") else control


def _answer_text(r: dict) -> str:
    if r["type"] in ("choices", "taxonomy"):
        return ",".join(r["labels"] or [])
    if r["type"] in ("number", "rating"):
        return "" if r["number"] is None else _number_text(r["number"])
    return r["text"] or ""


def _attribute_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    return "" if value is None else str(value)


def _write_shape(xml: _Xml, shape: _Shape, element: bool = False) -> None:
    """A shape as CVAT writes it: label, source, (outside), occluded, geometry, z_order, group_id when not 0, then
    a skeleton's points, then the attributes; a tag: label, source, group_id."""
    value = shape.value
    attributes = {"label": shape.label, "source": _text(value.get("source")) or "manual"}
    if element:
        attributes["outside"] = _bit(value.get("outside"))
    if shape.kind not in ("skeleton", "tag"):
        attributes["occluded"] = _bit(value.get("occluded"))
    attributes |= shape.geometry
    if not element and shape.kind != "tag":
        attributes["z_order"] = shape.z_order
    if group := _integer(value.get("group_id")):
        attributes["group_id"] = group
    xml.open(shape.kind, attributes)
    for point in shape.elements:
        _write_shape(xml, point, element=True)
    for name, text in shape.attributes:
        xml.text("attribute", text, {"name": name})
    xml.close(shape.kind)


@dataclass
class _LabelSpec:
    name: str
    parent: str | None = None
    kinds: list[str] = field(default_factory=list)
    attributes: dict[str, dict] = field(default_factory=dict)  # name -> type, values seen, allowed, min, max
    nodes: dict[str, list[float]] = field(default_factory=dict)  # a skeleton's element labels: a point of each


def _cvat_meta(gt: GroundTruthVersion, images: list[_Image], contents: list) -> list:
    """<meta> as CVAT writes a task's: the task (its jobs the segments), its labels, and when it was dumped."""
    project = gt.ground_truth["project_id"][0] if gt.ground_truth.height else ""
    tasks = {i.cvat_task for i in images}
    numbered = re.fullmatch(r"cvat-task-(\d+)", project)
    task_id = next(iter(tasks)) if len(tasks) == 1 and None not in tasks else numbered[1] if numbered else project
    splits = gt.ground_truth["split"].drop_nulls().unique().to_list()
    updated = gt.ground_truth["decided_at"].max() if gt.ground_truth.height else None
    published = gt.changes["valid_from"].max() if gt.changes.height else None
    jobs: dict[str, list[int]] = {}
    for image in images:
        jobs.setdefault(image.job or "0", []).append(image.id)
    segments = [
        ("segment", [("id", job), ("start", str(min(ids))), ("stop", str(max(ids))), ("url", f"/api/jobs/{job}")])
        for job, ids in sorted(jobs.items(), key=lambda j: (min(j[1]), _natural(j[0])))
    ]
    task = [
        ("id", task_id),
        ("name", f"gtq project {project} GT version {gt.version}"),
        ("size", str(len(images))),
        ("mode", "annotation"),
        ("overlap", "0"),
        ("bugtracker", ""),
        ("created", _cvat_time(gt.tasks["created_at"].min() if gt.tasks.height else None)),
        ("updated", _cvat_time(updated)),
        ("subset", splits[0] if len(splits) == 1 else "default"),
        ("start_frame", str(images[0].id if images else 0)),
        ("stop_frame", str(images[-1].id if images else 0)),
        ("frame_filter", ""),
        ("segments", segments),
        ("owner", ""),
        ("assignee", ""),
        ("labels", _cvat_labels(gt, contents)),
    ]
    return [("task", task), ("dumped", _cvat_time(published or updated))]


def _cvat_labels(gt: GroundTruthVersion, contents: list) -> list:
    """Every label the version uses (in the order first used) or its labeling config declares, a skeleton's
    points right after it: its type (the one shape kind it is used or declared with, else "any") and attributes
    (their values: the config's, else the ones seen)."""
    specs: dict[tuple, _LabelSpec] = {}

    def spec(name: str, kind: str, parent: str | None = None) -> _LabelSpec:
        found = specs.setdefault((parent, name), _LabelSpec(name, parent))
        found.kinds += [] if kind in found.kinds else [kind]
        return found

    def seen(label: _LabelSpec, shape: _Shape) -> None:
        for name, text in shape.attributes:
            attribute = label.attributes.setdefault(name, {"type": shape.answer_types.get(name), "values": []})
            attribute["values"] += [] if text in attribute["values"] else [text]

    for shapes, tags in contents:
        for shape in [*shapes, *tags]:
            seen(label := spec(shape.label, shape.kind), shape)
            for point in shape.elements:
                seen(spec(point.label, "points", shape.label), point)
                label.nodes.setdefault(point.label, point.points[0])
    controls = list(gt.label_config.iter_rows(named=True))
    for c in controls:
        kind = "tag" if c["control"] == "tag" else CVAT_SHAPES.get(c["type"])
        for name in (c["allowed_labels"] or []) if kind else []:
            spec(name, kind)
    names = sorted({s.name for s in specs.values()}, key=len, reverse=True)
    for c in controls:  # `<label>.<attribute>`: what the attribute allows
        name = next((n for n in names if c["control"].startswith(f"{n}.")), None)
        if name is None or c["type"] not in ANSWER_TYPES:
            continue
        for label in (s for s in specs.values() if s.name == name):
            attribute = label.attributes.setdefault(c["control"][len(name) + 1 :], {"values": []})
            attribute |= {"type": c["type"], "allowed": c["allowed_labels"]}
            attribute |= {"min": c["min_value"], "max": c["max_value"]}
    written = []
    for label in (s for s in specs.values() if s.parent is None):
        written.append(_label_entry(label))
        written += [_label_entry(s) for s in specs.values() if s.parent == label.name]
    return written


def _label_entry(label: _LabelSpec) -> tuple[str, list]:
    kind = "points" if label.parent else label.kinds[0] if len(label.kinds) == 1 else "any"
    entry = [
        ("name", label.name),
        ("color", "#" + hashlib.sha256(label.name.encode()).hexdigest()[:6]),
        ("type", "rectangle" if kind == "box" else kind),
        ("attributes", [("attribute", _attribute_spec(n, a)) for n, a in label.attributes.items()]),
    ]
    entry += [("parent", label.parent)] if label.parent else []
    entry += [("svg", _skeleton_svg(label.nodes))] if kind == "skeleton" else []
    return "label", entry


def _attribute_spec(name: str, attribute: dict) -> list:
    """CVAT's attribute spec: a number's "min\nmax\nstep", a choice's values one a line, a checkbox's default."""
    kind, values = attribute.get("type"), attribute["values"]
    if kind in ("number", "rating"):
        numbers = [float(v) for v in values if re.fullmatch(r"-?\d+(\.\d+)?", v)]
        low = attribute.get("min") if attribute.get("min") is not None else min(numbers, default=0.0)
        high = attribute.get("max") if attribute.get("max") is not None else max(numbers, default=low)
        input_type, default, allowed = "number", _number_text(low), f"{_number_text(low)}\n{_number_text(high)}\n1"
    elif kind in ("textarea", "datetime"):
        input_type, default = "text", values[0] if values else ""
        allowed = default
    else:
        choices = attribute.get("allowed") or values
        if choices and set(choices) <= {"true", "false"}:
            input_type, default, allowed = "checkbox", "false", "false"
        else:
            input_type, default, allowed = "select", choices[0] if choices else "", "\n".join(choices)
    return [
        ("name", name),
        ("mutable", "False"),
        ("input_type", input_type),
        ("default_value", default),
        ("values", allowed),
    ]


def _skeleton_svg(nodes: dict[str, list[float]]) -> str:
    """A skeleton's template as CVAT's meta gives it: a node per point label, where the first skeleton drew it
    (scaled into CVAT's 100 x 100 box); no edges (gtq does not know them)."""
    xs, ys = [p[0] for p in nodes.values()], [p[1] for p in nodes.values()]
    span = max(max(xs, default=0) - min(xs, default=0), max(ys, default=0) - min(ys, default=0)) or 1.0
    return "".join(
        f'<circle r="1.5" stroke="black" fill="#b3b3b3" cx="{10 + 80 * (x - min(xs)) / span:.2f}"'
        f' cy="{10 + 80 * (y - min(ys)) / span:.2f}" stroke-width="0.1" data-type="element node"'
        f' data-element-id="{i}" data-node-id="{i}" data-label-name="{escape(name)}"></circle>'
        for i, (name, (x, y)) in enumerate(nodes.items(), start=1)
    )


class _Xml:
    """CVAT's XML layout: the declaration, each element on its own line indented two spaces a level, attributes
    in the order given, a newline after the root's end."""

    def __init__(self, stream, root: str):
        self._out = XMLGenerator(stream, "utf-8")
        self._out.startDocument()
        self._out.startElement(root, {})
        self._open = [root]

    def _line(self) -> None:
        self._out.ignorableWhitespace("\n" + "  " * len(self._open))

    def open(self, tag: str, attributes: dict | None = None) -> None:
        self._line()
        self._out.startElement(tag, {k: str(v) for k, v in (attributes or {}).items()})
        self._open.append(tag)

    def close(self, tag: str) -> None:
        assert self._open.pop() == tag
        self._line()
        self._out.endElement(tag)

    def text(self, tag: str, text: str, attributes: dict | None = None) -> None:
        self._line()
        self._out.startElement(tag, attributes or {})
        self._out.characters(text)
        self._out.endElement(tag)

    def nested(self, tag: str, children: list) -> None:
        self.open(tag)
        for name, value in children:
            self.text(name, value) if isinstance(value, str) else self.nested(name, value)
        self.close(tag)

    def finish(self) -> None:
        self.close(self._open[0])
        self._out.ignorableWhitespace("\n")
        self._out.endDocument()


def _scale(r: dict, width: int | None, height: int | None) -> tuple[float, float]:
    """Pixels per unit of a row's geometry: 1, or for percent the region's (else the image's) size / 100."""
    if r["coordinate_unit"] != "percent":
        return 1.0, 1.0
    w, h = r["original_width"] or width, r["original_height"] or height
    if not w or not h:
        raise _Unfit("percent, and no image size to make pixels of it")
    return w / 100, h / 100


def _need(r: dict, column: str) -> float:
    if r[column] is None:
        raise _Unfit(f"no {column}")
    return r[column]


def _f(number: float) -> str:
    return f"{number:.2f}"


def _point_text(points: list[list[float]]) -> str:
    return ";".join(f"{_f(x)},{_f(y)}" for x, y in points)


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _bit(flag) -> str:
    return "1" if flag else "0"


def _integer(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _text(value) -> str | None:
    return None if value is None or value == "" else str(value)


def _frame(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _pixels(*candidates) -> int | None:
    return next((int(c) for c in candidates if isinstance(c, int | float) and not isinstance(c, bool) and c > 0), None)


def _json_object(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _natural(text: str) -> list:
    """`text` split into its runs of digits (as numbers) and the rest: "job-9" before "job-10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _cvat_time(moment: datetime | None) -> str:
    """A time as CVAT writes one (Python's str of an aware datetime, in UTC)."""
    return "" if moment is None else str(moment.astimezone(UTC))
