"""CVAT's native export, "CVAT for images 1.1" (`annotations.xml`, alone or in CVAT's zip) -> the core tables.

CVAT's unit of work is a job: a range of a task's frames (an annotation job), a set of them (the Ground Truth
job) or a copy of an annotation job given to another person (a consensus replica). One export file holds one
job (a job export) or a task's annotation jobs (a task export, its segments naming the jobs). So, as Scout's:
- a gtq project is a CVAT task: `cvat-task-<task id>`;
- a gtq task is one (job, frame) pair: task_id `job-<job id>/frame-<frame>`, item_key the image's name, so
  that an export of a job is the snapshot of that job's frames and replaces only them;
- GT belongs to the image (the project's GT scope is `item`, as for Scout): the Ground Truth job's
  annotation of an image is the GT of every job's task holding that image;
- an annotation is what one job holds on one frame (annotation_id as the task's; shapes whose source is `auto`
  form the annotation `<task_id>/auto` of the model `cvat-auto`); a frame without shapes is a job's empty answer;
- each shape or tag is a core.regions row in pixels, its control the XML element's name (box, polygon,
  polyline, points, ellipse, mask, skeleton, cuboid, tag); each of its attributes a row with the same
  region_id and the control `<label>.<attribute>`; what has no column (source, occluded, z_order, group_id,
  a mask's RLE, a skeleton's elements, the attributes) is in value_json;
- the labels and their attributes in `<meta>` are the project's labeling config.

What CVAT's files do not say, the user says in `cvat.yaml` beside the export (its content is part of the
export's hash, so editing it re-reads the export):

    tasks:
      "23": {project: "7"}          # CVAT task 23 is gtq project 7 (one GT with a Label Studio project)
    jobs:
      "32": {task: 23, type: ground_truth}                      # its shapes are flagged as GT
      "33": {task: 23, type: consensus_replica, annotator: bob}
      "29": {annotator: alice}

A job export names neither its task nor its type (CVAT 2.32's `JobData` meta), so a job export without its
task in `cvat.yaml` cannot be read (the file fails, saying what to write); a job without a type is an
annotation job. A frame of a task export in no annotation job's segment is a validation frame of the task's
Ground Truth job (CVAT's task export holds the GT job's shapes in honeypot mode). A job's annotator is the one
`cvat.yaml` names, else the job's assignee in the export, else `cvat-job-<job id>`. Every image element and
every shape is a record: accepted, or quarantined naming the image and the shape's position.
"""

from __future__ import annotations

import io
import math
import mmap
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec
import yaml

from pipeline.ingest.records import BadRecord, ExportWriter, Format
from pipeline.vocabulary import HUMAN, MODEL

_JSON = msgspec.json.Encoder(order="sorted")  # value_json and data_json: compact, keys sorted
COMPANION = "cvat.yaml"
MEMBER = "annotations.xml"  # the annotations in CVAT's export zip
AUTO_MODEL = "cvat-auto"  # the model of shapes whose source is `auto`
JOB_TYPES = ("annotation", "ground_truth", "consensus_replica")
# The XML element of each shape kind, and the gtq region type it becomes.
REGION_TYPES = {
    "box": "rectanglelabels",
    "polygon": "polygonlabels",
    "polyline": "polyline",
    "points": "points",
    "ellipse": "ellipselabels",
    "mask": "brushlabels",
    "skeleton": "skeleton",
    "cuboid": "cuboid",
    "tag": "choices",
}
# The label types of CVAT's meta that a shape kind accepts ("any" accepts every kind).
LABEL_TYPES = {"box": "rectangle"}
CUBOID_POINTS = tuple(f"{c}{corner}{face}" for face in "12" for corner in ("tl", "bl", "tr", "br") for c in "xy")
ATTRIBUTE_TYPES = {
    "select": "choices",
    "radio": "choices",
    "checkbox": "choices",
    "number": "number",
    "text": "textarea",
}


@dataclass(frozen=True)
class Job:
    """One job as a CVAT export and `cvat.yaml` describe it."""

    id: str
    task: str
    type: str = "annotation"
    annotator: str | None = None
    start: int = 0
    stop: int = 1 << 62


@dataclass(frozen=True)
class Companion:
    """`cvat.yaml`: the gtq project of CVAT tasks, and the task, type and annotator of jobs."""

    projects: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)


def companion_for(export: Path) -> Path | None:
    candidate = export.with_name(COMPANION)
    return candidate if candidate.is_file() else None


def read_companion(export: Path) -> Companion:
    """The `cvat.yaml` beside `export` (an empty one when there is none); BadRecord naming the entry at fault."""
    path = companion_for(export)
    if path is None:
        return Companion()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadRecord("$", f"{path}: not readable YAML: {exc}") from exc
    if not isinstance(document, dict) or set(document) - {"tasks", "jobs"}:
        raise BadRecord("$", f"{path}: expected a mapping with `tasks` and `jobs`")
    projects, jobs = {}, {}
    for task, entry in (document.get("tasks") or {}).items():
        if not isinstance(entry, dict) or set(entry) - {"project"}:
            raise BadRecord("$", f"{path}: tasks.{task}: expected {{project: <gtq project>}}")
        projects[str(task)] = str(entry["project"])
    for job, entry in (document.get("jobs") or {}).items():
        if not isinstance(entry, dict) or set(entry) - {"task", "type", "annotator"}:
            raise BadRecord("$", f"{path}: jobs.{job}: expected task, type and annotator, found {entry!r}")
        if entry.get("type", "annotation") not in JOB_TYPES:
            raise BadRecord("$", f"{path}: jobs.{job}.type must be one of {list(JOB_TYPES)}, not {entry['type']!r}")
        jobs[str(job)] = {k: str(v) for k, v in entry.items()}
    return Companion(projects, jobs)


def project_of(task: str, companion: Companion) -> str:
    return companion.projects.get(task, f"cvat-task-{task}")


def task_id(job: str, frame: int | str) -> str:
    return f"job-{job}/frame-{frame}"


@contextmanager
def annotations_xml(stream) -> Iterator:
    """The export's XML from a seekable binary stream: the file itself, or `annotations.xml` in CVAT's zip."""
    stream.seek(0)
    is_zip = stream.read(4) == b"PK\x03\x04"
    stream.seek(0)
    if not is_zip:
        yield stream
        return
    with zipfile.ZipFile(stream) as archive:
        if MEMBER not in archive.namelist():
            raise BadRecord("$", f"a zip without {MEMBER}: not a CVAT for images 1.1 export")
        with archive.open(MEMBER) as member:
            yield member


def _meta_jobs(meta: ET.Element, companion: Companion) -> tuple[str, list[Job], dict[str, str]]:
    """The export's CVAT task, its jobs, and its dates (created, updated)."""
    dates = {}
    if (task := meta.find("task")) is not None:
        task_number = task.findtext("id", "").strip()
        segments = task.findall("segments/segment")
        jobs = [
            _job(
                segment.findtext("url", "").rstrip("/").rsplit("/", 1)[-1],
                task_number,
                companion,
                None,
                int(segment.findtext("start", "0")),
                int(segment.findtext("stop", "0")),
            )
            for segment in segments
        ]
        # In a task with a validation pool (honeypots) CVAT's task export holds the GT job's shapes on the
        # validation frames, which no annotation segment lists: they are the GT job's that cvat.yaml names.
        jobs += [
            _job(number, task_number, companion, None)
            for number, said in companion.jobs.items()
            if said.get("task") == task_number and said.get("type") == "ground_truth"
        ]
        described = task
    elif (job := meta.find("job")) is not None:
        job_number = job.findtext("id", "").strip()
        task_number = companion.jobs.get(job_number, {}).get("task")
        if task_number is None:
            raise BadRecord(
                "$",
                f"a CVAT job export (job {job_number}) does not name its task: say it in {COMPANION} beside the"
                f' export, as jobs: {{"{job_number}": {{task: <CVAT task id>, type: annotation | ground_truth |'
                " consensus_replica}}",
            )
        assignee = job.findtext("assignee/username") or None
        jobs = [_job(job_number, task_number, companion, assignee)]
        described = job
    else:
        raise BadRecord("$", "<meta> holds neither <task> nor <job>: only task and job exports are read")
    if not task_number or any(not j.id for j in jobs):
        raise BadRecord("$", "<meta> names no task id, or a segment without its job's url")
    for key in ("created", "updated"):
        dates[key] = _timestamp(described.findtext(key))
    return task_number, jobs, dates


def _job(number: str, task: str, companion: Companion, assignee: str | None, start=0, stop=1 << 62) -> Job:
    said = companion.jobs.get(number, {})
    if said.get("task", task) != task:
        raise BadRecord("$", f"{COMPANION} says job {number} is of task {said['task']}, the export says {task}")
    annotator = said.get("annotator") or assignee or f"cvat-job-{number}"
    return Job(number, task, said.get("type", "annotation"), annotator, start, stop)


def _timestamp(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def _label_config(meta: ET.Element, project_id: str, writer: ExportWriter) -> dict[str, str]:
    """The labels of `<meta>` as controls: each shape kind with the labels it may carry, and each attribute
    `<label>.<attribute>` with the values it allows. Returns each attribute control's type."""
    kinds = {}
    labels = meta.findall("*/labels/label")
    for kind, region_type in REGION_TYPES.items():
        allowed = [
            label.findtext("name", "")
            for label in labels
            if label.findtext("type", "any") in ("any", LABEL_TYPES.get(kind, kind)) and not label.findtext("parent")
        ]
        writer.label_config.append(
            (project_id, kind, region_type, "image", sorted(set(allowed)), None, None, None, None, None)
        )
    for label in labels:
        for attribute in label.findall("attributes/attribute"):
            input_type = attribute.findtext("input_type", "text")
            values = [v for v in (attribute.findtext("values") or "").split("\n") if v != ""]
            low = high = None
            if input_type == "number" and len(values) >= 2:
                low, high, values = float(values[0]), float(values[1]), []
            elif input_type == "checkbox":
                values = ["false", "true"]
            control = f"{label.findtext('name', '')}.{attribute.findtext('name', '')}"
            kind = ATTRIBUTE_TYPES.get(input_type, "textarea")
            allowed = sorted(set(values)) if kind == "choices" else []
            writer.label_config.append((project_id, control, kind, "image", allowed, low, high, None, None, None))
            kinds[control] = kind
    return kinds


def _floats(element: ET.Element, names: tuple[str, ...]) -> list[float]:
    values = []
    for name in names:
        text = element.get(name)
        if text is None:
            raise ValueError(f"no {name}")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{name}={text!r} is not a finite number")
        values.append(value)
    return values


def _point_list(element: ET.Element) -> list[list[float]]:
    text = element.get("points")
    if not text:
        raise ValueError("no points")
    points = [[float(v) for v in pair.split(",")] for pair in text.split(";")]
    if any(len(p) != 2 or not all(map(math.isfinite, p)) for p in points):
        raise ValueError(f"points {text[:80]!r} are not x,y;x,y pairs of numbers")
    return points


def _attributes(element: ET.Element) -> dict[str, str]:
    return {a.get("name", ""): a.text or "" for a in element.findall("attribute")}


def box_corner(xtl: float, ytl: float, xbr: float, ybr: float, rotation: float) -> tuple[float, float]:
    """Label Studio's (x, y) of a CVAT box: its top-left corner once the box is rotated by `rotation` degrees
    (clockwise, y pointing down) about its centre, as CVAT rotates it."""
    if not rotation:
        return xtl, ytl
    theta = math.radians(rotation)
    cx, cy, half_w, half_h = (xtl + xbr) / 2, (ytl + ybr) / 2, (xbr - xtl) / 2, (ybr - ytl) / 2
    return cx - half_w * math.cos(theta) + half_h * math.sin(theta), cy - half_w * math.sin(theta) - half_h * math.cos(
        theta
    )


def box_extent(x: float, y: float, width: float, height: float, rotation: float) -> tuple[float, float, float, float]:
    """CVAT's xtl, ytl, xbr, ybr of a box whose top-left corner, once rotated by `rotation` degrees about its
    centre, is at (x, y) (Label Studio's convention): the inverse of `box_corner`."""
    if not rotation:
        return x, y, x + width, y + height
    theta = math.radians(rotation)
    cx = x + width / 2 * math.cos(theta) - height / 2 * math.sin(theta)
    cy = y + width / 2 * math.sin(theta) + height / 2 * math.cos(theta)
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _shape(element: ET.Element) -> tuple[dict, dict]:
    """A shape's geometry columns and its value_json extras; ValueError saying what is wrong."""
    kind = element.tag
    extra: dict = {}
    geometry: dict = {"x": None, "y": None, "width": None, "height": None, "rotation": None, "points": None}
    rotation = float(element.get("rotation", "0") or 0)
    if kind == "box":
        xtl, ytl, xbr, ybr = _floats(element, ("xtl", "ytl", "xbr", "ybr"))
        x, y = box_corner(xtl, ytl, xbr, ybr, rotation)
        geometry.update(x=x, y=y, width=xbr - xtl, height=ybr - ytl, rotation=rotation)
    elif kind in ("polygon", "polyline", "points"):
        geometry["points"] = _point_list(element)
    elif kind == "ellipse":
        cx, cy, rx, ry = _floats(element, ("cx", "cy", "rx", "ry"))
        geometry.update(x=cx, y=cy, width=rx, height=ry, rotation=rotation)
    elif kind == "mask":
        left, top, width, height = _floats(element, ("left", "top", "width", "height"))
        rle = element.get("rle") or ""
        runs = [int(v) for v in rle.split(",")] if rle.strip() else []
        if sum(runs) != width * height:
            raise ValueError(f"its RLE covers {sum(runs)} pixels, not width x height = {width * height:.0f}")
        geometry.update(x=left, y=top, width=width, height=height)
        extra["rle"] = rle
    elif kind == "skeleton":
        elements = [
            {
                "label": point.get("label"),
                "points": _point_list(point),
                "outside": point.get("outside") == "1",
                "occluded": point.get("occluded") == "1",
                "source": point.get("source"),
                "attributes": _attributes(point),
            }
            for point in element.findall("points")
        ]
        geometry["points"] = [p for e in elements for p in e["points"]]
        extra["elements"] = elements
    elif kind == "cuboid":
        extra["cuboid"] = dict(zip(CUBOID_POINTS, _floats(element, CUBOID_POINTS), strict=True))
    return geometry, extra


def _value_json(element: ET.Element, extra: dict, attributes: dict[str, str]) -> str:
    value = {
        "source": element.get("source", "manual"),
        "occluded": element.get("occluded") == "1",
        "z_order": int(element.get("z_order", "0") or 0),
        "group_id": int(element.get("group_id", "0") or 0),
        "attributes": attributes,
        **extra,
    }
    if element.get("outside") == "1":
        value["outside"] = True
    return _JSON.encode(value).decode()


def _attribute_row(owner: tuple, region_id: str, index: int, label: str, name: str, value: str, kinds, size) -> tuple:
    """A shape's attribute as a per-region value: control `<label>.<attribute>`, typed as the label says."""
    control = f"{label}.{name}"
    kind, labels, text, number = kinds.get(control, "textarea"), None, None, None
    if kind == "choices":
        labels = [value]
    elif kind == "number":
        try:
            number = float(value)
        except ValueError:
            kind, text = "textarea", value  # not a number: kept as written, for the suites to judge
    else:
        text = value
    geometry = (None,) * 6
    return (
        *owner,
        region_id,
        index,
        control,
        "image",
        kind,
        labels,
        *geometry,
        None,
        None,
        text,
        number,
        None,
        *size,
        None,
        "pixel",
        True,
        None,
    )


def _unread(element: ET.Element, where: str, reason: str, writer: ExportWriter) -> None:
    """An image that cannot be read: it and each of its shapes are quarantined records."""
    writer.quarantine(where, reason)
    for position, shape in enumerate(child for child in element if child.tag in REGION_TYPES):
        writer.quarantine(f"{where} <{shape.tag}> {position}", "its image element cannot be read")


def _image(element: ET.Element, task: str, jobs: list[Job], project_id: str, dates: dict, kinds, writer) -> None:
    where = f"image id={element.get('id')!r} name={element.get('name')!r}"
    try:
        frame = int(element.get("id", ""))
        name = element.get("name") or ""
        width, height = int(element.get("width", "")), int(element.get("height", ""))
        if not name:
            raise ValueError("no name")
    except ValueError as exc:
        _unread(element, where, f"not a CVAT image element ({exc})", writer)
        return
    job = next((j for j in jobs if j.start <= frame <= j.stop), None)
    if job is None:
        reason = f"frame {frame} is in none of the task's segments (jobs), and {COMPANION} names no ground_truth job"
        _unread(element, where, f"{reason} of task {task} (a validation frame's GT)", writer)
        return
    task_key = task_id(job.id, frame)
    data = {"image": name, "frame": frame, "width": width, "height": height, "cvat_task": task, "cvat_job": job.id}
    writer.tasks.append(
        (project_id, task_key, name, _JSON.encode(data).decode(), dates["created"], dates["updated"], None)
    )
    human = task_key  # annotation ids are unique in a project: the job's annotation of the frame
    annotation = (dates["created"], dates["updated"], None, False)
    writer.annotations.append(
        (project_id, task_key, human, job.annotator, HUMAN, None, *annotation, job.type == "ground_truth", None, None)
    )
    writer.accepted += 1
    rows = {}  # annotation -> rows written: a row's item_index is its position in its annotation, as Label Studio's
    for position, shape in enumerate(child for child in element if child.tag in REGION_TYPES):
        try:
            label = shape.get("label")
            if not label:
                raise ValueError("no label")
            geometry, extra = _shape(shape)
        except ValueError as exc:
            writer.quarantine(f"{where} <{shape.tag}> {position}", f"not a CVAT {shape.tag} ({exc})")
            continue
        annotation_id = f"{human}/auto" if shape.get("source") == "auto" else human
        if annotation_id not in rows and annotation_id != human:
            writer.annotations.append(
                (project_id, task_key, annotation_id, AUTO_MODEL, MODEL, AUTO_MODEL, *annotation, False, None, None)
            )
        index = rows.get(annotation_id, 0)
        attributes = _attributes(shape)
        rows[annotation_id] = index + 1 + len(attributes)
        owner = (project_id, task_key, annotation_id)
        region_id = str(position)
        writer.regions.append(
            (
                *owner,
                region_id,
                index,
                shape.tag,
                "image",
                REGION_TYPES[shape.tag],
                [label],
                geometry["x"],
                geometry["y"],
                geometry["width"],
                geometry["height"],
                geometry["rotation"],
                geometry["points"],
                None,
                None,
                None,
                None,
                None,
                width,
                height,
                None,
                "pixel",
                shape.tag not in ("cuboid",),
                _value_json(shape, extra, attributes),
            )
        )
        for offset, (attribute, value) in enumerate(attributes.items(), start=1):
            writer.regions.append(
                _attribute_row(owner, region_id, index + offset, label, attribute, value, kinds, (width, height))
            )
        writer.accepted += 1


def parse_cvat(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    companion = read_companion(Path(source_file))
    zipped = buffer[:4] == b"PK\x03\x04"  # zipfile wants a file object, which a memory map is not quite
    file = buffer if isinstance(buffer, mmap.mmap) and not zipped else io.BytesIO(buffer)
    with annotations_xml(file) as stream:
        events = ET.iterparse(stream, events=("start", "end"))
        try:
            _, root = next(events)
            if root.tag != "annotations":
                raise BadRecord("$", f"the root element is <{root.tag}>, not <annotations>")
            jobs: list[Job] | None = None
            for event, element in events:
                if event != "end":
                    continue
                if element.tag == "meta":
                    task, jobs, dates = _meta_jobs(element, companion)
                    project_id = project_of(task, companion)
                    kinds = _label_config(element, project_id, writer)
                    writer.projects.add(project_id)
                    root.clear()
                elif element.tag == "image":
                    if jobs is None:
                        raise BadRecord("$", "an <image> before <meta>: CVAT writes the meta first")
                    _image(element, task, jobs, project_id, dates, kinds, writer)
                    root.clear()
                elif element.tag == "track":
                    writer.quarantine(
                        f"track id={element.get('id')!r}",
                        "a track (video annotation) in an export read as CVAT for images: export the task as"
                        " 'CVAT for images 1.1'",
                    )
                    root.clear()
        except ET.ParseError as exc:
            raise BadRecord(f"line {exc.position[0]}, column {exc.position[1]}", f"not well-formed XML: {exc}") from exc
    if jobs is None:
        raise BadRecord("$", "no <meta>: not a CVAT for images 1.1 export")


def projects_of(path: Path) -> list[str]:
    """The export's project from its `<meta>`, without reading its images."""
    companion = read_companion(path)
    with open(path, "rb") as file, annotations_xml(file) as stream:
        try:
            for _, element in ET.iterparse(stream, events=("end",)):
                if element.tag == "meta":
                    return [project_of(_meta_jobs(element, companion)[0], companion)]
        except ET.ParseError as exc:
            raise BadRecord("$", f"not well-formed XML: {exc}") from exc
    raise BadRecord("$", "no <meta>: not a CVAT for images 1.1 export")


def sniff(head: bytes) -> bool:
    """An XML document whose root is <annotations> with CVAT's <version>."""
    return head.lstrip()[:5] == b"<?xml" and b"<annotations>" in head and b"<version>1.1</version>" in head


CVAT_FOR_IMAGES = Format("cvat-for-images", parse_cvat, companion=companion_for, projects=projects_of, sniff=sniff)
