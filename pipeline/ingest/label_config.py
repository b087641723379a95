"""Label Studio labeling configs (the project's XML): which controls exist, their type and allowed labels.

A config is read with the export beside it: `<export stem>.xml`, else `label_config.xml` in the same
folder. It names the controls of JSON-MIN and CSV exports (whose plain values cannot tell a choice from
task data) and lets gtq check that every label used is one the project allows.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.records import BadRecord
from pipeline.vocabulary import CONTROL_TYPES


@dataclass(frozen=True)
class Control:
    name: str
    type: str
    to_name: str | None
    labels: tuple[str, ...]
    min_value: float | None = None  # the declared scale of a Rating (1..maxRating) or Number (min..max)
    max_value: float | None = None
    # A conditional control (`visibleWhen`): answered only on a region labelled one of `when_values`
    # ("region-selected", `whenLabelValue`) or when `when_control` has one of them chosen ("choice-selected").
    visible_when: str | None = None
    when_control: str | None = None
    when_values: tuple[str, ...] = ()


def config_for(export: Path) -> Path | None:
    for candidate in (
        export.with_suffix(".xml"),
        export.with_name(export.name.split(".")[0] + ".xml"),
        export.with_name("label_config.xml"),
    ):
        if candidate.is_file():
            return candidate
    return None


def parse_label_config(path: Path) -> list[Control]:
    """The controls of a labeling config; BadRecord naming the file when it is not one."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise BadRecord("$", f"the labeling config {path.name} is not valid XML: {exc}") from exc
    controls = []
    for element in root.iter():
        kind = element.tag.lower()  # a control's type is its tag in lower case
        if kind in CONTROL_TYPES and element.get("name"):
            labels = (
                tuple(_taxonomy_paths(element))
                if kind == "taxonomy"
                else tuple(
                    child.get("value")
                    for child in element.iter()
                    if child is not element and child.get("value") is not None
                )
            )
            when = element.get("whenLabelValue") or element.get("whenChoiceValue") or ""
            controls.append(
                Control(
                    element.get("name"),
                    kind,
                    element.get("toName"),
                    labels,
                    *_scale(kind, element, path),
                    visible_when=element.get("visibleWhen"),
                    when_control=element.get("whenTagName"),
                    when_values=tuple(v.strip() for v in when.split(",") if v.strip()),
                )
            )
    if not controls:
        raise BadRecord(
            "$", f"the labeling config {path.name} defines no control (no element with a name and a known tag)"
        )
    return controls


def _taxonomy_paths(element: ET.Element, prefix: str = ""):
    """Every path of a Taxonomy's tree, joined by '/' as regions store them: 'Animal', 'Animal/Zebra', ..."""
    for choice in element:
        if choice.get("value") is not None:
            path = f"{prefix}{choice.get('value')}"
            yield path
            yield from _taxonomy_paths(choice, f"{path}/")


def _scale(kind: str, element: ET.Element, path: Path) -> tuple[float | None, float | None]:
    try:
        if kind == "rating":
            return 1.0, float(element.get("maxRating", "5"))
        if kind == "number":
            return tuple(None if element.get(bound) is None else float(element.get(bound)) for bound in ("min", "max"))
    except ValueError as exc:
        raise BadRecord(
            "$",
            f"the labeling config {path.name}: control {element.get('name')!r} has a scale that is not a number: {exc}",
        ) from exc
    return None, None


def write_label_config(writer, export: Path) -> None:
    """Rows of core.label_config for every project of the export, from the config beside it (if any)."""
    path = config_for(export)
    if path is None:
        return
    for project_id in sorted(writer.projects):
        for control in parse_label_config(path):
            writer.label_config.append(
                (
                    project_id,
                    control.name,
                    control.type,
                    control.to_name,
                    list(control.labels),
                    control.min_value,
                    control.max_value,
                    control.visible_when,
                    control.when_control,
                    list(control.when_values),
                )
            )
