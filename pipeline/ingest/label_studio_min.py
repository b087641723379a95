"""Label Studio JSON-MIN and CSV exports -> the same core tables as the full JSON export.

Both hold one record per annotation: the task's data fields and `id`, the annotation's `annotation_id`,
`annotator`, `created_at`, `updated_at`, `lead_time`, and one field per control with a simplified value
(a list of region values, `{"choices": [...]}`, or a plain value such as a single choice). A plain value
cannot say whether it is a control or task data: the labeling config beside the export (see
`label_config`) names the controls; without it, only region lists and labelled values are recognised as
controls, and plain values stay task data. These exports carry no predictions, reviews or GT flags.
Each control value becomes result items that go through the full export's region code.
"""

from __future__ import annotations

import io
import mmap
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from pipeline.ingest.label_config import Control, config_for, parse_label_config, write_label_config
from pipeline.ingest.label_studio import ANSWER_FIELD, LABEL_FIELDS, _add_regions, _Result, item_key, region_columns
from pipeline.ingest.records import BadRecord, ExportWriter, Format
from pipeline.vocabulary import HUMAN

META_FIELDS = frozenset(
    {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement", "history", "drafts"}
)
_VALUE_KEYS = (*LABEL_FIELDS, *(f for f in ANSWER_FIELD.values() if f not in LABEL_FIELDS))
# The answer types whose value a plain cell can hold (a taxonomy's paths cannot be one), with their value field.
_PLAIN = {kind: field for kind, field in ANSWER_FIELD.items() if kind != "taxonomy"}
_encoder = msgspec.json.Encoder()


class _MinParser:
    def __init__(self, writer: ExportWriter, source_file: str) -> None:
        path = Path(source_file)
        config = config_for(path)
        self.controls: dict[str, Control] = {c.name: c for c in parse_label_config(config)} if config else {}
        self.out = writer
        self.project_id = path.name.split(".")[0]
        self.tasks: dict[str, tuple] = {}
        self.seen: set[str] = set()

    def add(self, locator: str, record: dict[str, Any]) -> None:
        task_id, annotation_id = record.get("id"), record.get("annotation_id")
        where = (
            f"{locator} (task {task_id if task_id is not None else '?'}, annotation"
            f" {annotation_id if annotation_id is not None else '?'})"
        )
        if task_id in (None, "") or annotation_id in (None, ""):
            self.out.quarantine(where, "record lacks its task `id` or its `annotation_id`")
            return
        task_id, annotation_id = str(task_id), str(annotation_id)
        if annotation_id in self.seen:
            self.out.quarantine(where, f"duplicate annotation_id {annotation_id}")
            return
        try:
            created_at, updated_at = (_timestamp(record.get(k), k) for k in ("created_at", "updated_at"))
            lead_time = None if record.get("lead_time") in (None, "") else float(record["lead_time"])
            results = [r for name, value in record.items() if (r := self._results(name, value)) is not None]
            _add_regions(
                self.out.regions, self.project_id, task_id, annotation_id, [item for r in results for item in r]
            )
        except (BadRecord, ValueError) as exc:
            self.out.quarantine(where, exc.reason if isinstance(exc, BadRecord) else str(exc))
            return
        self.seen.add(annotation_id)
        annotator = None if record.get("annotator") in (None, "") else str(record["annotator"])
        self.out.annotations.append(
            (
                self.project_id,
                task_id,
                annotation_id,
                annotator,
                HUMAN,
                None,
                created_at,
                updated_at,
                lead_time,
                False,
                False,
                None,
                None,
            )
        )
        self.out.accepted += 1
        data = {k: v for k, v in record.items() if k not in META_FIELDS and not self._is_control(k, v)}
        previous = self.tasks.get(task_id)
        latest = max((t for t in (updated_at, previous and previous[5]) if t), default=None)
        self.tasks[task_id] = (
            self.project_id,
            task_id,
            item_key(data, self.project_id, task_id),
            _encoder.encode(data).decode(),
            None,
            latest,
            None,  # raw_hash: only a Label Studio JSON task is recognised by its bytes
        )

    def _is_control(self, name: str, value: Any) -> bool:
        if name in self.controls:
            return True
        if isinstance(value, dict):
            return any(k in value for k in _VALUE_KEYS)
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    def _results(self, name: str, value: Any) -> list[_Result] | None:
        """The control's value as full-export result items; None when the field is not a control."""
        if name in META_FIELDS or not self._is_control(name, value) or value in (None, ""):
            return None
        control = self.controls.get(name)
        to_name = control.to_name if control else None
        if isinstance(value, dict):
            values = [value]
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            values = value
        elif control and control.type in _PLAIN:
            key = _PLAIN[control.type]
            values = [{key: value if isinstance(value, list) or key in ("rating", "number", "datetime") else [value]}]
        else:
            raise BadRecord("", f"control {name!r}: cannot read the value {value!r}")
        results = []
        for item in values:
            kind = next((k for k in (*LABEL_FIELDS, "taxonomy") if k in item), None) or (
                control.type if control else "unknown"
            )
            item = dict(item)
            width, height = item.pop("original_width", None), item.pop("original_height", None)
            results.append(
                _Result(
                    type=kind,
                    value=msgspec.Raw(_encoder.encode(item)),
                    from_name=name,
                    to_name=to_name,
                    original_width=width,
                    original_height=height,
                )
            )
        return results

    def finish(self) -> None:
        for row in self.tasks.values():
            self.out.tasks.append(row)
        self.out.projects.add(self.project_id)


def _timestamp(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return msgspec.convert(value, datetime)
    except msgspec.ValidationError as exc:
        raise BadRecord("", f"{name} is not a date and time: {value!r}") from exc


def parse_json_min(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    try:
        records = msgspec.json.decode(buffer, type=list[msgspec.Raw])
    except msgspec.DecodeError as exc:
        raise BadRecord("$", f"not a Label Studio JSON-MIN export (a JSON array of records): {exc}") from exc
    parser = _MinParser(writer, source_file)
    for index, raw in enumerate(records):
        try:
            record = msgspec.json.decode(raw, type=dict[str, Any])
        except msgspec.ValidationError as exc:
            writer.quarantine(f"$[{index}]", f"record is not a JSON object: {exc}")
            continue
        parser.add(f"$[{index}]", record)
    del records
    parser.finish()
    write_label_config(writer, Path(source_file))


def parse_csv(buffer: bytes | mmap.mmap, source_file: str, writer: ExportWriter) -> None:
    try:
        rows = pl.read_csv(io.BytesIO(buffer), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise BadRecord("$", f"not a readable CSV: {exc}") from exc
    missing = [c for c in ("id", "annotation_id", "annotator") if c not in rows.columns]
    if missing:
        raise BadRecord("line 1", f"a Label Studio CSV export needs the columns {missing}")
    parser = _MinParser(writer, source_file)
    for line, row in enumerate(rows.iter_rows(named=True), start=2):
        try:
            record = {k: _cell(v) for k, v in row.items()}
        except msgspec.DecodeError as exc:
            writer.quarantine(
                f"line {line} (task {row.get('id')}, annotation {row.get('annotation_id')})",
                f"a JSON cell is malformed: {exc}",
            )
            continue
        parser.add(f"line {line}", record)
    parser.finish()
    write_label_config(writer, Path(source_file))


def _cell(value: str | None) -> Any:
    """CSV cells holding JSON (region lists, objects) are decoded; others stay strings."""
    if value is None or value == "":
        return None
    return msgspec.json.decode(value) if value[:1] in "[{" else value


def sniff_json_min(head: bytes) -> bool:
    """A JSON array of records with an annotation_id and an annotator (and no nested annotations)."""
    return head[:1] == b"[" and b'"annotation_id"' in head and b'"annotator"' in head and b'"annotations"' not in head


def json_min_keys(is_object: bool, keys: frozenset[str]) -> bool:
    """An array of records whose first has an annotation_id and an annotator."""
    return not is_object and {"annotation_id", "annotator"} <= keys


def sniff_csv(head: bytes) -> bool:
    """Not JSON, with a header line naming annotation_id and annotator."""
    header = head.split(b"\n", 1)[0]
    return b"annotation_id" in header and b"annotator" in header and head[:1] not in b"[{"


LABEL_STUDIO_JSON_MIN = Format(
    "label-studio-json-min",
    parse_json_min,
    region_columns,
    companion=config_for,
    sniff=sniff_json_min,
    keys=json_min_keys,
)
LABEL_STUDIO_CSV = Format("label-studio-csv", parse_csv, region_columns, companion=config_for, sniff=sniff_csv)
