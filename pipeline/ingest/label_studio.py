"""Label Studio JSON export -> tasks, annotations, regions and quarantine frames.

The export is a JSON array of tasks. Each task is decoded on its own, and each of its annotations and
predictions on its own too, into typed msgspec structs: a record that does not fit goes to quarantine
with its JSON path and msgspec's reason, and the rest of the file is still read.

Rules (see docs/contract.md):
- annotator: `completed_by.email`, else the `completed_by` id, else `last_created_by` / `updated_by`;
  a prediction's annotator is its `model_version`, and a prediction is never ground truth;
- project_id: the task's (or its annotations') `project` field, else the file's stem;
- prediction ids are prefixed `prediction:` so they never collide with annotation ids.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from pipeline.contract import ANNOTATIONS, QUARANTINE, REGIONS, TASKS
from pipeline.ingest.records import BadRecord, ParsedExport, QuarantineRows

Id = int | str

# Result types whose `value[type]` holds the chosen labels.
_LABEL_KEYS = (
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
    "videorectangle",
)
_ITEM_KEY_FIELDS = ("image", "video", "audio", "pcd", "url")


class _User(msgspec.Struct):
    id: Id | None = None
    email: str | None = None


class _Result(msgspec.Struct):
    type: str
    value: dict[str, Any]
    from_name: str | None = None
    to_name: str | None = None
    id: Id | None = None
    original_width: float | None = None
    original_height: float | None = None
    score: float | None = None
    parentID: str | None = None  # noqa: N815 - Label Studio's spelling


class _Annotation(msgspec.Struct):
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


class _Prediction(msgspec.Struct):
    id: Id | None = None
    model_version: str | None = None
    score: float | None = None
    result: list[_Result] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class _Task(msgspec.Struct):
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
_tasks_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def parse_label_studio_json(data: bytes, source_file: str) -> ParsedExport:
    """Parse the bytes of a Label Studio JSON export.

    Records counted: tasks, annotations and predictions. A quarantined task counts once (its nested
    records are not read). Raises BadRecord when the file as a whole is not a JSON array of tasks.
    """
    try:
        raw_tasks = _tasks_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise BadRecord("$", f"not a Label Studio JSON export (a JSON array of tasks): {exc}") from exc

    parser = _ExportParser(Path(source_file).stem)
    for index, raw in enumerate(raw_tasks):
        parser.add_task(index, raw)
    return parser.finish()


class _ExportParser:
    """Accumulates rows of one export file; a record either lands in the rows or in quarantine."""

    def __init__(self, fallback_project: str) -> None:
        self.fallback_project = fallback_project
        self.tasks: list[tuple] = []
        self.annotations: list[tuple] = []
        self.regions: list[tuple] = []
        self.quarantine = QuarantineRows()
        self.accepted = 0
        self.seen_tasks: dict[tuple[str, str], str] = {}

    def add_task(self, index: int, raw: msgspec.Raw) -> None:
        path = f"$[{index}]"
        try:
            task = _task_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            self.quarantine.add(f"{path} (task {_peek_id(raw)})", f"task does not match the export format: {exc}")
            return
        task_id = str(task.id)
        locator = f"{path} (task {task_id})"

        annotations: list[tuple[str, _Annotation]] = []
        for a_index, a_raw in enumerate(task.annotations):
            a_path = f"{path}.annotations[{a_index}]"
            try:
                annotations.append((a_path, _annotation_decoder.decode(a_raw)))
            except msgspec.ValidationError as exc:
                self.quarantine.add(
                    f"{a_path} (task {task_id}, annotation {_peek_id(a_raw)})",
                    f"annotation does not match the export format: {exc}",
                )
        project_id = _project_id(task, [a for _, a in annotations], self.fallback_project)
        key = (project_id, task_id)
        if key in self.seen_tasks:
            self.quarantine.add(locator, f"duplicate task id {task_id} in project {project_id} (first at {self.seen_tasks[key]})")
            return
        self.seen_tasks[key] = path
        self.tasks.append(
            (project_id, task_id, _item_key(task, project_id), _json(task.data), task.created_at, task.updated_at)
        )
        self.accepted += 1

        seen_annotations: set[str] = set()
        for a_path, annotation in annotations:
            a_locator = f"{a_path} (task {task_id}, annotation {annotation.id})"
            if str(annotation.id) in seen_annotations:
                self.quarantine.add(a_locator, f"duplicate annotation id {annotation.id} in task {task_id}")
                continue
            try:
                self._add_annotation(project_id, task_id, annotation)
            except BadRecord as exc:
                self.quarantine.add(a_locator, exc.reason)
                continue
            seen_annotations.add(str(annotation.id))

        for p_index, p_raw in enumerate(task.predictions):
            p_path = f"{path}.predictions[{p_index}]"
            try:
                prediction = _prediction_decoder.decode(p_raw)
                self._add_prediction(project_id, task_id, p_index, prediction)
            except msgspec.ValidationError as exc:
                self.quarantine.add(f"{p_path} (task {task_id})", f"prediction does not match the export format: {exc}")
            except BadRecord as exc:
                self.quarantine.add(f"{p_path} (task {task_id})", exc.reason)

    def _add_annotation(self, project_id: str, task_id: str, annotation: _Annotation) -> None:
        annotator = _annotator(annotation)
        if annotator is None:
            raise BadRecord("", "annotation has no annotator (completed_by, last_created_by and updated_by are all empty)")
        annotation_id = str(annotation.id)
        regions = _region_rows(project_id, task_id, annotation_id, annotation.result)
        self.annotations.append(
            (
                project_id,
                task_id,
                annotation_id,
                annotator,
                "human",
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
        self.regions.extend(regions)
        self.accepted += 1

    def _add_prediction(self, project_id: str, task_id: str, index: int, prediction: _Prediction) -> None:
        annotation_id = f"prediction:{prediction.id if prediction.id is not None else f'{task_id}.{index}'}"
        model = prediction.model_version or "unversioned-model"
        regions = _region_rows(project_id, task_id, annotation_id, prediction.result)
        self.annotations.append(
            (
                project_id,
                task_id,
                annotation_id,
                model,
                "model",
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
        self.regions.extend(regions)
        self.accepted += 1

    def finish(self) -> ParsedExport:
        tasks = _frame(TASKS, self.tasks)
        annotations = _frame(ANNOTATIONS, self.annotations)
        regions = _frame(REGIONS, self.regions)
        return ParsedExport(
            format="label-studio-json",
            tasks=tasks,
            annotations=annotations,
            regions=regions,
            quarantine=self.quarantine.frame(),
            records_accepted=self.accepted,
        )


def _frame(table, rows: list[tuple]) -> pl.DataFrame:
    """Rows carry the contract columns up to (not including) the provenance columns the caller adds."""
    provenance = {"source_file", "content_hash"}
    columns = {c: t for c, t in table.columns.items() if c not in provenance}
    return pl.DataFrame(rows, schema=columns, orient="row")


def _region_rows(project_id: str, task_id: str, annotation_id: str, results: list[_Result]) -> list[tuple]:
    rows = []
    for index, result in enumerate(results):
        value = result.value
        where = f"result[{index}] ({result.type})"
        if not result.from_name:
            raise BadRecord("", f"{where} has no from_name (control)")
        start, end = _offsets(value, where)
        rows.append(
            (
                project_id,
                task_id,
                annotation_id,
                None if result.id is None else str(result.id),
                index,
                result.from_name,
                result.to_name,
                result.type,
                _labels(result.type, value, where),
                _number(value, "x", where),
                _number(value, "y", where),
                _number(value, "width", where),
                _number(value, "height", where),
                _number(value, "rotation", where),
                _points(value, where),
                start,
                end,
                _text(value, where),
                _number(value, "rating", where) if "rating" in value else _number(value, "number", where),
                result.score,
                None if result.original_width is None else int(result.original_width),
                None if result.original_height is None else int(result.original_height),
                result.parentID,
                _json(value),
            )
        )
    return rows


def _labels(result_type: str, value: dict[str, Any], where: str) -> list[str] | None:
    if "taxonomy" in value:  # a list of paths, each a list of levels
        return ["/".join(map(str, path)) for path in _list(value["taxonomy"], where, "taxonomy")]
    keys = [result_type] if result_type in value else [k for k in _LABEL_KEYS if k in value]
    if not keys:
        return None
    return [str(label) for label in _list(value[keys[0]], where, keys[0])]


def _points(value: dict[str, Any], where: str) -> list[list[float]] | None:
    if "points" not in value:
        return None
    points = _list(value["points"], where, "points")
    try:
        return [[float(x), float(y)] for x, y in points]
    except (TypeError, ValueError) as exc:
        raise BadRecord("", f"{where}: value.points must be [x, y] pairs of numbers ({exc})") from exc


def _offsets(value: dict[str, Any], where: str) -> tuple[int | None, int | None]:
    """Character offsets of a span: `start`/`end` for text, `globalOffsets` for hypertext."""
    source = value.get("globalOffsets", value)
    start, end = source.get("start"), source.get("end")
    if start is None and end is None:
        return None, None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        if "globalOffsets" not in value and "startOffset" in value:
            return value.get("startOffset"), value.get("endOffset")
        raise BadRecord("", f"{where}: span offsets start={start!r} end={end!r} are not integers")
    return start, end


def _text(value: dict[str, Any], where: str) -> str | None:
    text = value.get("text", value.get("datetime"))
    if text is None or isinstance(text, str):
        return text
    if isinstance(text, list):  # textarea: one string per line
        return "\n".join(map(str, text))
    raise BadRecord("", f"{where}: value.text must be a string or a list of strings, got {text!r}")


def _number(value: dict[str, Any], key: str, where: str) -> float | None:
    v = value.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BadRecord("", f"{where}: value.{key} must be a number, got {v!r}")
    return float(v)


def _list(v: Any, where: str, key: str) -> list:
    if not isinstance(v, list):
        raise BadRecord("", f"{where}: value.{key} must be a list, got {v!r}")
    return v


def _annotator(annotation: _Annotation) -> str | None:
    user = annotation.completed_by
    if isinstance(user, _User):
        if user.email:
            return user.email
        user = user.id
    for candidate in (user, annotation.last_created_by, annotation.updated_by):
        if candidate is not None and candidate != "":
            return str(candidate)
    return None


def _project_id(task: _Task, annotations: list[_Annotation], fallback: str) -> str:
    for candidate in [task.project, *(a.project for a in annotations)]:
        if candidate is not None:
            return str(candidate)
    return fallback


def _item_key(task: _Task, project_id: str) -> str:
    for field in _ITEM_KEY_FIELDS:
        if isinstance(task.data.get(field), str):
            return task.data[field]
    return f"{project_id}/{task.id}"


def _peek_id(raw: msgspec.Raw) -> str:
    """Best-effort id of a record that failed to decode, for the quarantine locator."""
    try:
        record = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return "?"
    return str(record.get("id", "?")) if isinstance(record, dict) else "?"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
