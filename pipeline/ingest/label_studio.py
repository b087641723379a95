"""Label Studio JSON export -> tasks, annotations (and predictions), regions, reviews, quarantine.

The export is a JSON array of tasks. The array is split into raw task slices without decoding them
(msgspec.Raw over a memory-mapped file), then each task, each of its annotations and predictions, and
each result value is decoded on its own into a typed msgspec struct. A record that does not fit goes to
quarantine with its JSON path and msgspec's reason; the rest of the file is still read. Rows stream to
Parquet in batches, so memory stays bounded whatever the file size.

Rules (see docs/contract.md):
- annotator: `completed_by.email`, else the `completed_by` id, else `last_created_by` / `updated_by`;
  a prediction's annotator is its `model_version`, and a prediction is never ground truth;
- project_id: the task's (or its annotations') `project` field, else the file's stem;
- prediction ids are prefixed `prediction:` so they never collide with annotation ids;
- a task without `updated_at` takes its latest annotation's, so snapshots can be ordered;
- a task is known by the hash of its bytes (`task_hash`): one whose hash is the current snapshot's of the
  run's project (`KnownTasks`) is not decoded again. Label Studio exports the whole project every
  time, so a nightly export mostly repeats tasks byte for byte, and only the changed ones are read.
"""

from __future__ import annotations

import gc
import hashlib
import math
import mmap
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from pipeline.ingest.label_config import config_for, write_label_config
from pipeline.ingest.merge import CoreState
from pipeline.ingest.records import BadRecord, ExportWriter, Format, KnownTasks, without_bom
from pipeline.ingest.sink import TableSink
from pipeline.vocabulary import (
    BOX_TYPES,
    HUMAN,
    LABELLED_REGION_TYPES,
    MODEL,
    POLYGON_TYPES,
    TASK,
    UNSCORABLE_TYPES,
    VALUELESS_TYPES,
)

Id = int | str

LABEL_FIELDS = (
    "choices",
    "labels",
    "rectanglelabels",
    "polygonlabels",
    "keypointlabels",
    "ellipselabels",
    "brushlabels",
    "hypertextlabels",
    "paragraphlabels",
    "timeserieslabels",
)
_ITEM_KEY_FIELDS = ("image", "video", "audio", "pcd", "url")
_RELEASE_EVERY_TASKS = 20_000


class _User(msgspec.Struct, gc=False):
    id: Id | None = None
    email: str | None = None


class _Offsets(msgspec.Struct, gc=False):
    start: int
    end: int


class _Value(msgspec.Struct, gc=False):
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None
    rotation: float | None = None
    radiusX: float | None = None  # noqa: N815 - Label Studio's spelling
    radiusY: float | None = None  # noqa: N815
    points: list[list[float]] | None = None
    start: Id | None = None
    end: Id | None = None
    startOffset: int | None = None  # noqa: N815
    endOffset: int | None = None  # noqa: N815
    globalOffsets: _Offsets | None = None  # noqa: N815
    text: str | list[str] | None = None
    rating: float | None = None
    number: float | None = None
    datetime: str | None = None
    taxonomy: list[list[str]] | None = None
    choices: list[str] | None = None
    labels: list[str] | None = None
    rectanglelabels: list[str] | None = None
    polygonlabels: list[str] | None = None
    keypointlabels: list[str] | None = None
    ellipselabels: list[str] | None = None
    brushlabels: list[str] | None = None
    hypertextlabels: list[str] | None = None
    paragraphlabels: list[str] | None = None
    timeserieslabels: list[str] | None = None


class _Result(msgspec.Struct, gc=False):
    type: str
    value: msgspec.Raw = msgspec.Raw(b"null")  # absent or null: told apart from an empty object
    from_name: str | None = None
    to_name: str | None = None
    id: Id | None = None
    original_width: float | None = None
    original_height: float | None = None
    score: float | None = None
    parentID: str | None = None  # noqa: N815


class _Review(msgspec.Struct, gc=False):
    id: Id | None = None
    created_by: Id | _User | None = None
    accepted: bool | None = None
    created_at: datetime | None = None


class _HistoryItem(msgspec.Struct, gc=False):
    action: str | None = None
    created_by: Id | _User | None = None
    created_at: datetime | None = None


class _Annotation(msgspec.Struct, gc=False):
    id: Id
    result: list[_Result] = []
    completed_by: Id | _User | None = None
    last_created_by: Id | None = None
    updated_by: Id | None = None
    was_cancelled: bool | None = False
    ground_truth: bool | None = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    lead_time: float | None = None
    last_action: str | None = None
    project: Id | None = None
    reviews: list[_Review] = []
    history: list[_HistoryItem] = []


class _Prediction(msgspec.Struct, gc=False):
    id: Id | None = None
    model_version: str | None = None
    score: float | None = None
    result: list[_Result] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class _Task(msgspec.Struct, gc=False):
    id: Id
    data: dict[str, Any] = {}
    annotations: list[msgspec.Raw] = []
    predictions: list[msgspec.Raw] = []
    project: Id | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


_task_decoder = msgspec.json.Decoder(_Task)
_annotation_decoder = msgspec.json.Decoder(_Annotation)
_prediction_decoder = msgspec.json.Decoder(_Prediction)
_value_decoder = msgspec.json.Decoder(_Value)
_tasks_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_json_encoder = msgspec.json.Encoder(order="sorted")


def parse_label_studio_json(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    """Stream a Label Studio JSON export into `writer`.

    Records counted: tasks, annotations and predictions. A quarantined task counts once (its nested
    records are not read). Raises BadRecord when the file as a whole is not a JSON array of tasks.
    """
    try:
        raw_tasks = _tasks_decoder.decode(buffer)
    except msgspec.DecodeError as exc:
        buffer, replaced = standard_json(bytes(buffer))  # Python's json.dumps writes NaN and Infinity by default
        try:
            raw_tasks = _tasks_decoder.decode(buffer) if replaced else None
        except msgspec.DecodeError:
            raw_tasks = None
        if raw_tasks is None:
            raise BadRecord("$", f"not a Label Studio JSON export (a JSON array of tasks): {exc}") from exc
        writer.notices.append(f"{replaced} NaN or Infinity literal(s), which JSON does not allow, read as null")

    if isinstance(buffer, mmap.mmap):
        buffer.madvise(mmap.MADV_DONTNEED)  # splitting touched every page; re-read them task by task
    helpers = (
        _helpers(len(raw_tasks)) if isinstance(buffer, mmap.mmap) else 0
    )  # a copy (BOM, NaN) is this process's alone
    bounds = [len(raw_tasks) * k // (helpers + 1) for k in range(helpers + 2)]
    if helpers:
        # Task slices are independent: other processes parse the later ones from the same file meanwhile.
        with ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn")) as pool:
            slices = [
                pool.submit(
                    _parse_slice,
                    source_file,
                    str(writer.staging / f"slice-{k}"),
                    bounds[k],
                    bounds[k + 1],
                    writer.known,
                    writer.namespace,
                )
                for k in range(1, helpers + 1)
            ]
            seen = _parse_tasks(raw_tasks, range(bounds[0], bounds[1]), buffer, writer, Path(source_file).stem)
            for k, done in enumerate(slices, start=1):
                try:
                    _adopt(writer, done.result(), seen)
                except BrokenProcessPool:  # no helper could start (a script without a main guard, say): read it here
                    _parse_tasks(
                        raw_tasks, range(bounds[k], bounds[k + 1]), buffer, writer, Path(source_file).stem, seen
                    )
    else:
        _parse_tasks(raw_tasks, range(len(raw_tasks)), buffer, writer, Path(source_file).stem)
    del raw_tasks  # the raw slices point into the buffer, which the caller closes next
    write_label_config(writer, Path(source_file))


PARALLEL_TASKS = 20_000  # a smaller export is read before a helper process would have started


def _helpers(n_tasks: int) -> int:
    """Processes to parse beside this one: one per other core, for a large export."""
    return len(os.sched_getaffinity(0)) - 1 if n_tasks >= PARALLEL_TASKS else 0


def _parse_tasks(
    raw_tasks: list[msgspec.Raw],
    indices: range,
    buffer,
    writer: ExportWriter,
    fallback_project: str,
    seen: dict | None = None,
) -> dict:
    """Parse the tasks at `indices` into `writer`; returns the (project, task) ids seen (after those already
    `seen`), with their JSON path."""
    parser = _TaskParser(writer, fallback_project, {} if seen is None else seen)
    for index in indices:
        parser.add(index, raw_tasks[index])
        if isinstance(buffer, mmap.mmap) and index % _RELEASE_EVERY_TASKS == _RELEASE_EVERY_TASKS - 1:
            # Pages already parsed are in the page cache; drop them from this process's resident set.
            buffer.madvise(mmap.MADV_DONTNEED)
    return parser.seen_tasks


@dataclass(frozen=True)
class _Slice:
    """What a helper process parsed: its Parquet files per table, quarantine, counts and the tasks it saw."""

    files: dict[str, str]
    locators: list[str]
    reasons: list[str]
    accepted: int
    projects: set[str]
    seen: dict[tuple[str, str], str]
    unchanged: list[str]


def _parse_slice(
    source_file: str, staging: str, start: int, stop: int, known: KnownTasks | None, namespace: str | None
) -> _Slice:
    """In a helper process: parse tasks start..stop of the export into Parquet under `staging`."""
    gc.disable()  # as in the main process: millions of short-lived tuples, no cycles
    writer = ExportWriter(Path(staging), LABEL_STUDIO_JSON.name, region_columns, known, namespace)
    with open(source_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
        raw_tasks = _tasks_decoder.decode(buffer)
        seen = _parse_tasks(raw_tasks, range(start, stop), buffer, writer, Path(source_file).stem)
        del raw_tasks
        writer.finish()  # rows may point into the mapped file: write them before unmapping
    files = {name: str(getattr(writer, name).path) for name in CoreState.TABLES}
    return _Slice(files, writer.locators, writer.reasons, writer.accepted, writer.projects, seen, writer.unchanged)


def _adopt(writer: ExportWriter, part: _Slice, seen: dict[tuple[str, str], str]) -> None:
    """Add a helper's slice to `writer`, as if this process had parsed it: a task whose ids an earlier
    slice already had is quarantined as a duplicate, with its annotations and predictions."""
    frames = CoreState(**{name: pl.scan_parquet(path) for name, path in part.files.items()})
    repeated = {key: path for key, path in part.seen.items() if key in seen}
    accepted = part.accepted
    if repeated:
        gone = pl.DataFrame(list(repeated), schema=TASK, orient="row").lazy()
        accepted -= len(repeated) + frames.annotations.join(gone, on=TASK, how="semi").select(pl.len()).collect().item()
        frames = frames.map(
            lambda table, frame: frame.join(gone, on=TASK, how="anti") if "task_id" in table.columns else frame
        )
        for (project_id, task_id), path in repeated.items():
            writer.quarantine(
                f"{path} (task {task_id})",
                f"duplicate task id {task_id} in project {project_id} (first at {seen[(project_id, task_id)]})",
            )
    seen.update((key, path) for key, path in part.seen.items() if key not in seen)
    writer.parts.append(frames)
    writer.locators += part.locators
    writer.reasons += part.reasons
    writer.accepted += accepted
    writer.projects |= part.projects
    writer.unchanged += part.unchanged


def task_hash(raw: bytes | msgspec.Raw, namespace: str | None = None) -> str:
    """The hash of a task's bytes in an export given in `namespace` (core.tasks `raw_hash`): BLAKE2b-128, hex.

    The namespace counts, so the same bytes given as NAME=PATH are another project's task. A changed task
    changes its bytes (its annotations, results and `updated_at` are inside it), so the same hash means the
    same rows. Export settings that reorder or reformat the JSON make every hash new: the tasks are then
    read again, which is only slower.

    Examples
    --------
    >>> from pipeline.ingest.label_studio import task_hash
    >>> task_hash(b'{"id": 1, "data": {}}')
    '28ab46c49a768b54186872f03885f939'
    >>> task_hash(b'{"id": 1, "data": {}}', "other") != task_hash(b'{"id": 1, "data": {}}')
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    if namespace is not None:
        digest.update(namespace.encode() + b"=")
    digest.update(raw)
    return digest.hexdigest()


class _TaskParser:
    def __init__(self, writer: ExportWriter, fallback_project: str, seen_tasks: dict[tuple[str, str], str]) -> None:
        self.out = writer
        self.fallback_project = fallback_project
        self.seen_tasks = seen_tasks  # (project, task) -> JSON path, shared by the slices read in this process

    def add(self, index: int, raw: msgspec.Raw) -> None:
        path = f"$[{index}]"
        raw_hash = task_hash(raw, self.out.namespace)
        if self.out.known is not None and raw_hash in self.out.known.hashes:
            self.out.unchanged.append(raw_hash)
            self.out.projects.add(self.out.known.project_id)
            return
        try:
            task = _task_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            self.out.quarantine(f"{path} (task {_peek_id(raw)})", f"task does not match the export format: {exc}")
            return
        except RecursionError:
            self.out.quarantine(f"{path} (task ?)", "task nested too deeply to read")
            return
        task_id = str(task.id)

        annotations: list[tuple[str, _Annotation]] = []
        for a_index, a_raw in enumerate(task.annotations):
            a_path = f"{path}.annotations[{a_index}]"
            try:
                annotations.append((a_path, _annotation_decoder.decode(a_raw)))
            except msgspec.ValidationError as exc:
                self.out.quarantine(
                    f"{a_path} (task {task_id}, annotation {_peek_id(a_raw)})",
                    f"annotation does not match the export format: {exc}",
                )
        project_id = _project_id(task, [a for _, a in annotations], self.fallback_project)
        if not project_id:
            self.out.quarantine(f"{path} (task {task_id})", "empty project id: the task names no project it belongs to")
            return
        key = (project_id, task_id)
        if key in self.seen_tasks:
            self.out.quarantine(
                f"{path} (task {task_id})",
                f"duplicate task id {task_id} in project {project_id} (first at {self.seen_tasks[key]})",
            )
            return
        self.seen_tasks[key] = path
        updated_at = task.updated_at or max((a.updated_at for _, a in annotations if a.updated_at), default=None)
        self.out.tasks.append(
            (
                project_id,
                task_id,
                item_key(task.data, project_id, task_id),
                _json_encoder.encode(task.data).decode(),
                task.created_at,
                updated_at,
                raw_hash,
            )
        )
        self.out.projects.add(project_id)
        self.out.accepted += 1

        seen_annotations: set[str] = set()
        for a_path, annotation in annotations:
            locator = f"{a_path} (task {task_id}, annotation {annotation.id})"
            if str(annotation.id) in seen_annotations:
                self.out.quarantine(locator, f"duplicate annotation id {annotation.id} in task {task_id}")
                continue
            try:
                self._add_annotation(project_id, task_id, annotation)
            except BadRecord as exc:
                self.out.quarantine(locator, exc.reason)
                continue
            seen_annotations.add(str(annotation.id))

        seen_predictions: set[str] = set()
        for p_index, p_raw in enumerate(task.predictions):
            locator = f"{path}.predictions[{p_index}] (task {task_id})"
            try:
                prediction = _prediction_decoder.decode(p_raw)
                if prediction.id is not None and str(prediction.id) in seen_predictions:
                    raise BadRecord("", f"duplicate prediction id {prediction.id} in task {task_id}")
                self._add_prediction(project_id, task_id, p_index, prediction)
                seen_predictions.add(str(prediction.id))
            except msgspec.ValidationError as exc:
                self.out.quarantine(locator, f"prediction does not match the export format: {exc}")
            except BadRecord as exc:
                self.out.quarantine(locator, exc.reason)

    def _add_annotation(self, project_id: str, task_id: str, annotation: _Annotation) -> None:
        annotator = _user(annotation.completed_by) or _user(annotation.last_created_by) or _user(annotation.updated_by)
        if annotator is None:
            raise BadRecord(
                "", "annotation has no annotator (completed_by, last_created_by and updated_by are all empty)"
            )
        annotation_id = str(annotation.id)
        _add_regions(self.out.regions, project_id, task_id, annotation_id, annotation.result)
        reviews = [
            (
                project_id,
                task_id,
                annotation_id,
                None if r.id is None else str(r.id),
                _user(r.created_by),
                r.accepted,
                r.created_at,
            )
            for r in annotation.reviews
        ]
        self.out.annotations.append(
            (
                project_id,
                task_id,
                annotation_id,
                annotator,
                HUMAN,
                None,
                annotation.created_at,
                annotation.updated_at,
                annotation.lead_time,
                bool(annotation.was_cancelled),
                bool(annotation.ground_truth),
                None,
                annotation.last_action,
            )
        )
        self.out.reviews.extend(reviews)
        self.out.history.extend(
            [
                (project_id, task_id, annotation_id, h.action, _user(h.created_by), h.created_at)
                for h in annotation.history
            ]
        )
        self.out.accepted += 1

    def _add_prediction(self, project_id: str, task_id: str, index: int, prediction: _Prediction) -> None:
        annotation_id = f"prediction:{prediction.id if prediction.id is not None else f'{task_id}.{index}'}"
        _add_regions(self.out.regions, project_id, task_id, annotation_id, prediction.result)
        self.out.annotations.append(
            (
                project_id,
                task_id,
                annotation_id,
                prediction.model_version or "unversioned-model",
                MODEL,
                prediction.model_version,
                prediction.created_at,
                prediction.updated_at,
                None,
                False,
                False,
                prediction.score,
                None,
            )
        )
        self.out.accepted += 1


def _add_regions(sink: TableSink, project_id: str, task_id: str, annotation_id: str, results: list[_Result]) -> None:
    """Queue one region row per result item; `region_columns` lays them out when the batch is written.

    Raises BadRecord before queueing anything when a result's value does not fit, so a bad annotation
    leaves no partial rows behind.
    """
    owner = (project_id, task_id, annotation_id)
    rows = []
    for index, result in enumerate(results):
        if bytes(result.value) == b"null":
            if result.type not in VALUELESS_TYPES:
                raise BadRecord("", f"$.result[{index}] ({result.type}): result has no value")
            result.value = msgspec.Raw(b"{}")
        try:
            value = _value_decoder.decode(result.value)
        except msgspec.ValidationError as exc:
            located = str(exc).replace("`$", f"`$.result[{index}].value")  # msgspec locates within the value
            raise BadRecord("", f"{result.type} result does not match the export format: {located}") from exc
        if problem := region_problem(result, value):
            raise BadRecord("", f"$.result[{index}] ({result.type}): {problem}")
        rows.append((owner, index, result, value))
    sink.extend(rows)


_MAX_OFFSET = 2**62  # character offsets and image sizes fit in 64-bit integers with room to spare
_NO_OFFSETS = (None,) * 5


# The value field a result of each answer type must have: without it the answer would read as empty.
ANSWER_FIELD = {
    "choices": "choices",
    "rating": "rating",
    "number": "number",
    "textarea": "text",
    "taxonomy": "taxonomy",
    "datetime": "datetime",
}


def region_problem(result: _Result, value: _Value) -> str | None:
    """Why a result item cannot be a region gtq scores (None when it can): sizes and offsets out of range,
    a labelled region without a label, an answer without its field (`choices` without choices), a box with
    no area or lying wholly outside the image, a polygon with fewer than 3 points, coordinates that are not
    finite numbers.

    A box that overlaps the image but reaches past its edge is kept: real Label Studio exports have them
    (1.6 points past the edge in the shared samples); the GT publication check keeps them out of the GT."""
    for name in ("original_width", "original_height"):
        size = getattr(result, name)
        if size is not None and not (
            isinstance(size, int | float) and not isinstance(size, bool) and 0 < size < _MAX_OFFSET
        ):
            return f"{name} {size} is not an image size"  # NaN and infinities fail the comparison too
    if (value.start, value.end, value.startOffset, value.endOffset, value.globalOffsets) != _NO_OFFSETS:
        start, end = _offsets(value)
        if any(isinstance(o, int) and not 0 <= o < _MAX_OFFSET for o in (start, end)):
            return f"span offsets {start}..{end} out of range"
    numbers = [v for v in (value.x, value.y, value.width, value.height, value.rotation) if v is not None]
    if value.points:
        numbers += chain.from_iterable(value.points)
    # A finite sum is the quick answer; it is not finite when one of them is not, or when they overflow.
    if not math.isfinite(sum(numbers)) and not all(map(math.isfinite, numbers)):
        return "a coordinate is not a finite number"
    if result.type in LABELLED_REGION_TYPES and not _labels(result.type, value):
        return "region has no label"
    if (field := ANSWER_FIELD.get(result.type)) and getattr(value, field) is None:
        return f"a {result.type} result without `{field}` in its value"
    if result.type in BOX_TYPES and None not in (value.x, value.y, value.width, value.height):
        if value.width <= 0 or value.height <= 0:
            return f"box has no area (width {value.width}, height {value.height})"
        if not value.rotation and (
            value.x >= 100 or value.y >= 100 or value.x + value.width <= 0 or value.y + value.height <= 0
        ):
            return (
                f"box lies outside the image (x {value.x} + width {value.width}, y {value.y} + height"
                f" {value.height}, in percent)"
            )
    if result.type in POLYGON_TYPES and len(value.points or []) < 3:
        return f"polygon needs at least 3 points, has {len(value.points or [])}"
    return None


_NON_STANDARD = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


def standard_json(text: bytes) -> tuple[bytes, int]:
    """`text` with the NaN, Infinity and -Infinity literals outside strings replaced by null, and how many."""
    replaced = 0

    def null(match: re.Match) -> bytes:
        nonlocal replaced
        if match.group(1) is None:
            return match.group(0)
        replaced += 1
        return b"null"

    return _NON_STANDARD.sub(null, text), replaced


def region_columns(rows: list[tuple[tuple[str, str, str], int, _Result, _Value]]) -> list[list]:
    """core.regions columns (parsed part) of a batch of queued result items, one comprehension each."""
    owners = [r[0] for r in rows]
    results = [r[2] for r in rows]
    values = [r[3] for r in rows]
    ellipse = [v.radiusX is not None for v in values]  # x, y is the centre; width and height are the radii
    spans = [_offsets(v) for v in values]
    return [
        [o[0] for o in owners],
        [o[1] for o in owners],
        [o[2] for o in owners],
        [None if r.id is None else str(r.id) for r in results],
        [r[1] for r in rows],
        [r.from_name or r.type for r in results],  # relations carry no control
        [r.to_name for r in results],
        [r.type for r in results],
        [_labels(r.type, v) for r, v in zip(results, values, strict=True)],
        [v.x for v in values],
        [v.y for v in values],
        [v.radiusX if e else v.width for v, e in zip(values, ellipse, strict=True)],
        [v.radiusY if e else v.height for v, e in zip(values, ellipse, strict=True)],
        [v.rotation for v in values],
        [v.points for v in values],
        [s[0] for s in spans],
        [s[1] for s in spans],
        ["\n".join(v.text) if isinstance(v.text, list) else (v.text or v.datetime) for v in values],
        [v.number if v.rating is None else v.rating for v in values],
        [r.score for r in results],
        [None if r.original_width is None else int(r.original_width) for r in results],
        [None if r.original_height is None else int(r.original_height) for r in results],
        [r.parentID for r in results],
        ["percent"] * len(rows),
        [r.type not in UNSCORABLE_TYPES for r in results],
        [bytes(r.value).decode() for r in results],
    ]


def _labels(result_type: str, value: _Value) -> list[str] | None:
    if value.taxonomy is not None:  # a list of paths, each a list of levels
        return ["/".join(path) for path in value.taxonomy]
    if result_type in LABEL_FIELDS:
        return getattr(value, result_type)
    return next((labels for field in LABEL_FIELDS if (labels := getattr(value, field)) is not None), None)


def _offsets(value: _Value) -> tuple[int | None, int | None]:
    """Character offsets of a span: `start`/`end` for text, `globalOffsets` (or the offsets) for hypertext."""
    if value.globalOffsets is not None:
        return value.globalOffsets.start, value.globalOffsets.end
    if isinstance(value.start, int) and isinstance(value.end, int):
        return value.start, value.end
    return value.startOffset, value.endOffset


def _user(user: Id | _User | None) -> str | None:
    if isinstance(user, _User):
        user = user.email or user.id
    return None if user is None or user == "" else str(user)


def _project_id(task: _Task, annotations: list[_Annotation], fallback: str) -> str:
    for candidate in [task.project, *(a.project for a in annotations)]:
        if candidate is not None:
            return str(candidate)
    return fallback


def item_key(data: dict[str, Any], project_id: str, task_id: str) -> str:
    """The item a task is about: its media (image, video, audio, point cloud, URL), else `<project>/<task>`."""
    for field in _ITEM_KEY_FIELDS:
        if isinstance(data.get(field), str):
            return data[field]
    return f"{project_id}/{task_id}"


def _peek_id(raw: msgspec.Raw) -> str:
    """Best-effort id of a record that failed to decode, for the quarantine locator."""
    try:
        record = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return "?"
    return str(record.get("id", "?")) if isinstance(record, dict) else "?"


class _AnnotationProject(msgspec.Struct, gc=False):
    project: Id | None = None


class _TaskProject(msgspec.Struct, gc=False):
    id: Id
    project: Id | None = None
    annotations: list[_AnnotationProject] = []


_task_project_decoder = msgspec.json.Decoder(_TaskProject)
_task_projects_decoder = msgspec.json.Decoder(list[_TaskProject])


def export_projects(path: Path) -> list[str]:
    """The projects of an export's readable tasks, as the parser will assign them, decoding only the
    `id` and `project` fields (the rest is skipped unread); the file's stem when no task names one (the
    parser's rule). BadRecord when the file is no JSON array of tasks (truncated, say): no project is
    invented for a file nothing can be read from."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        buffer = without_bom(mapped)
        try:
            found = _projects_in(buffer, path.stem)
        except msgspec.DecodeError as exc:
            text, replaced = standard_json(bytes(buffer))  # NaN and Infinity, as the parser reads them
            try:
                found = _projects_in(text, path.stem) if replaced else None
            except msgspec.DecodeError:
                found = None
            if found is None:
                raise BadRecord("$", f"not a Label Studio JSON export (a JSON array of tasks): {exc}") from exc
        except RecursionError as exc:
            raise BadRecord("$", "JSON nested too deeply to read") from exc
    return sorted(found) or [path.stem]


def _projects_in(buffer: bytes | mmap.mmap, fallback: str) -> set[str]:
    try:
        tasks = _task_projects_decoder.decode(buffer)  # one pass when every task is readable, the usual case
    except msgspec.ValidationError:
        tasks = []
        for raw in _tasks_decoder.decode(buffer):
            try:
                tasks.append(_task_project_decoder.decode(raw))
            except msgspec.ValidationError:
                continue  # quarantined by the parser: it belongs to no project
    found = {str(task.project) for task in tasks if task.project is not None}  # the usual case, at C speed
    found |= {
        str(next((a.project for a in task.annotations if a.project is not None), fallback))
        for task in tasks
        if task.project is None
    }
    return found - {""}  # a task with an empty project id is quarantined by the file's first project


def sniff_json(head: bytes) -> bool:
    """A JSON array whose first bytes name annotations or predictions, or an empty one."""
    return head[:1] == b"[" and (b'"annotations"' in head or b'"predictions"' in head or head[1:].strip() == b"]")


def json_keys(is_object: bool, keys: frozenset[str]) -> bool:
    """An array of tasks: its first element has annotations or predictions."""
    return not is_object and bool(keys & {"annotations", "predictions"})


LABEL_STUDIO_JSON = Format(
    "label-studio-json",
    parse_label_studio_json,
    region_columns,
    companion=config_for,
    projects=export_projects,
    sniff=sniff_json,
    keys=json_keys,
)
