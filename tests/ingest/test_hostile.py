"""Hostile and odd input: a corpus of broken and unusual-but-valid exports, each with what must happen.

Every entry is generated here (no fixture files). For each: the records accepted and the quarantine
reason expected when the file is read alone. All of them beside a good file, through the ingest step of
each project (tests/steps/test_ingest.py): every file's books balance; and `gtq run` on the good file and
the files no project can read exits 1 naming them, with the good file's rows in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ls_annotation, ls_task, parse


def box(x=10.0, y=10.0, width=20.0, height=20.0, labels=("zebra",), **extra) -> dict:
    value = {"x": x, "y": y, "width": width, "height": height, "rotation": 0, "rectanglelabels": list(labels)}
    return {
        "id": "b1",
        "type": "rectanglelabels",
        "from_name": "box",
        "to_name": "image",
        "original_width": 800,
        "original_height": 600,
        "value": value,
    } | extra


def with_result(result: dict, annotation_id: int = 1, **kw) -> dict:
    annotation = ls_annotation(annotation_id, choice=None, **kw)
    annotation["result"] = [result]
    return annotation


def ls_file(*tasks: dict) -> bytes:
    return json.dumps(list(tasks)).encode()


@dataclass(frozen=True)
class Case:
    name: str
    content: Callable[[], bytes]
    accepted: int  # records accepted when the file is read alone
    reason: str | None  # a fragment of the quarantine reason; None: nothing quarantined
    suffix: str = ".json"


good_task = ls_task(2, [ls_annotation(3, ground_truth=True)])
SCOUT_HEADER = (
    b"Task Name,Task ID,Image Filename,Image ID,Box X,Box Y,Box W,Box H,Box Confidence,Classification,"
    b"Classification Confidence,Assignee,Timestamp,Is Ground Truth,Excluded By Line"
)
CORPUS = [
    Case(
        "huge-original-width",
        lambda: ls_file(ls_task(1, [with_result(box(original_width=1e300))]), good_task),
        3,
        "original_width",
    ),
    Case(
        "span-offset-above-2^63",
        lambda: ls_file(
            ls_task(
                1,
                [
                    with_result(
                        {
                            "id": "s",
                            "type": "labels",
                            "from_name": "ner",
                            "to_name": "text",
                            "value": {"start": 2**64, "end": 2**64 + 5, "labels": ["PER"]},
                        }
                    )
                ],
            ),
            good_task,
        ),
        3,
        "offset",
    ),
    Case(
        "empty-project-id",
        lambda: ls_file({**ls_task(1, [ls_annotation(1)]), "project": ""}, good_task),
        2,
        "empty project id",
    ),
    Case(
        "two-point-polygon",
        lambda: ls_file(
            ls_task(
                1,
                [
                    with_result(
                        {
                            "id": "p",
                            "type": "polygonlabels",
                            "from_name": "poly",
                            "to_name": "image",
                            "value": {"points": [[1, 1], [5, 5]], "polygonlabels": ["zebra"]},
                        }
                    )
                ],
            ),
            good_task,
        ),
        3,
        "at least 3 points",
    ),
    Case("negative-box-width", lambda: ls_file(ls_task(1, [with_result(box(width=-5.0))]), good_task), 3, "no area"),
    Case(
        "box-outside-the-image",
        lambda: ls_file(ls_task(1, [with_result(box(x=120.0, width=20.0))]), good_task),
        3,
        "outside the image",
    ),
    Case("box-without-label", lambda: ls_file(ls_task(1, [with_result(box(labels=()))]), good_task), 3, "no label"),
    Case(
        "result-without-value",
        lambda: ls_file(
            ls_task(1, [with_result({"id": "c", "type": "choices", "from_name": "label", "to_name": "image"})]),
            good_task,
        ),
        3,
        "result has no value",
    ),
    Case(
        "choices-value-without-choices",
        lambda: ls_file(
            ls_task(
                1,
                [
                    with_result(
                        {
                            "id": "c",
                            "type": "choices",
                            "from_name": "label",
                            "to_name": "image",
                            "value": {"labels": ["cat"]},
                        }
                    )
                ],
            ),
            good_task,
        ),
        3,
        "without `choices`",
    ),
    Case(
        "prediction-id-twice",
        lambda: ls_file(
            {
                **ls_task(1, [ls_annotation(1)]),
                "predictions": [
                    {"id": 5, "model_version": "m", "result": []},
                    {"id": 5, "model_version": "m", "result": []},
                ],
            },
            good_task,
        ),
        5,
        "duplicate prediction id",
    ),
    Case("utf-8-bom", lambda: b"\xef\xbb\xbf" + ls_file(ls_task(1, [ls_annotation(1)]), good_task), 4, None),
    Case(
        "nan-literal",
        lambda: ls_file(ls_task(1, [ls_annotation(1)]), good_task).replace(
            b'"lead_time": 12.5', b'"lead_time": NaN', 1
        ),
        4,
        None,
    ),
    Case(
        "large-first-task",
        lambda: ls_file(
            {**ls_task(1, [ls_annotation(1)]), "data": {"image": "a.jpg", "text": "x" * 100_000}}, good_task
        ),
        4,
        None,
    ),
    Case(
        "nested-10k-deep",
        lambda: (
            b'[{"id": 1, "annotations": [], "data": {"x": '
            + b"[" * 10_000
            + b"]" * 10_000
            + b"}}, "
            + ls_file(good_task)[1:]
        ),
        0,
        "nested too deeply",
    ),
    Case(
        "json-min-original-width-abc",
        lambda: json.dumps(
            [
                {
                    "id": 1,
                    "annotation_id": 1,
                    "annotator": 1,
                    "image": "a.jpg",
                    "box": [
                        {
                            "x": 1,
                            "y": 1,
                            "width": 5,
                            "height": 5,
                            "rectanglelabels": ["zebra"],
                            "original_width": "abc",
                            "original_height": 600,
                        }
                    ],
                },
                {"id": 2, "annotation_id": 2, "annotator": 1, "image": "b.jpg", "label": "cat"},
            ]
        ).encode(),
        1,
        "original_width",
    ),
    Case(
        "scout-box-x-nan",
        lambda: (
            SCOUT_HEADER + b"\nF,t1,IMG_1.JPG,i1,NaN,2,3,4,,zebra,,alice,2026-03-01T10:00:00Z,true,false"
            b"\nF,t1,IMG_1.JPG,i1,1,2,3,4,,zebra,,alice,2026-03-01T10:00:00Z,true,false\n"
        ),
        1,
        "Box X is not a finite number",
        "-annotations.csv",
    ),
    Case(
        "coco-duplicate-image-id",
        lambda: json.dumps(
            {
                "images": [
                    {"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                    {"id": 1, "file_name": "b.jpg", "width": 100, "height": 100},
                ],
                "annotations": [
                    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}
                ],
                "categories": [{"id": 1, "name": "zebra"}],
            }
        ).encode(),
        2,
        "duplicate image id",
    ),
    Case(
        "coco-duplicate-category-id",
        lambda: json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
                "annotations": [
                    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}
                ],
                "categories": [{"id": 1, "name": "zebra"}, {"id": 1, "name": "lion"}],
            }
        ).encode(),
        2,
        "duplicate category id",
    ),
]


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_each_hostile_file_alone(tmp_path, case):
    path = tmp_path / f"{case.name}{case.suffix}"
    path.write_bytes(case.content())
    parsed = parse(path, tmp_path)
    reasons = parsed.quarantine["reason"].to_list()
    assert parsed.records_accepted == case.accepted, reasons
    if case.reason is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and case.reason in reasons[0], reasons
        assert parsed.quarantine["locator"].item()  # it says where


def test_a_bom_or_nan_changes_no_value(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_bytes(ls_file(ls_task(1, [ls_annotation(1)])))
    for name, content in (
        ("bom.json", b"\xef\xbb\xbf" + plain.read_bytes()),
        ("nan.json", plain.read_bytes().replace(b"12.5", b"NaN")),
    ):
        (tmp_path / name).write_bytes(content)
        parsed = parse(tmp_path / name, tmp_path)
        provenance = ["source_file", "content_hash", "raw_hash"]  # raw_hash: of the task's bytes (NaN is not 12.5)
        assert parsed.tasks.drop(provenance).rows() == parse(plain, tmp_path).tasks.drop(provenance).rows()
        lead_time = parsed.annotations["lead_time_s"].item()
        assert lead_time == (None if name == "nan.json" else 12.5)


def corpus_folder(folder: Path, cases: list[Case] = CORPUS) -> Path:
    """`folder` holding the `cases`, each as its file, and a good file of five tasks of project 42, each with
    its GT (zz-good.json)."""
    folder.mkdir(parents=True)
    for case in cases:
        (folder / f"{case.name}{case.suffix}").write_bytes(case.content())
    good = [ls_task(i, [ls_annotation(100 + i, ground_truth=True)], project=42) for i in range(5)]
    (folder / "zz-good.json").write_text(json.dumps(good))
    return folder


def test_gtq_run_fails_naming_the_files_it_cannot_read_and_ingests_the_rest(tmp_path, capsys, runs_in_memory):
    """`gtq run` (as `main` runs it) on the good file beside two files no project can read, the corpus's JSON
    nested too deeply and a Label Studio export cut off halfway: the run exits 1 naming both, once the good
    file is ingested. One run (project 42's); the books of every file of the corpus, through the ingest step,
    are tests/steps/test_ingest.py's."""
    from pipeline.cli import main

    folder = corpus_folder(tmp_path / "exports", [c for c in CORPUS if c.name == "nested-10k-deep"])
    cut_off = folder / "cut-off.json"
    cut_off.write_bytes(b'[{"id": 1, "annotations": [{"id": 2')
    (tmp_path / "gt").mkdir()
    warehouse = tmp_path / "wh"
    assert (
        main(["run", "--source", str(folder), "--warehouse", str(warehouse), "--groundtruth", str(tmp_path / "gt")])
        == 1
    )
    err = capsys.readouterr().err.splitlines()
    failed = {line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in err if line.startswith("  - ")}
    assert failed == {"nested-10k-deep.json", "cut-off.json"}
    assert (
        f"  - {cut_off}: not an export gtq can read: not a Label Studio JSON export (a JSON array of tasks): Input"
        " data was truncated"
    ) in err
    with duckdb.connect(str(warehouse / "gtq.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT project_id FROM core.source_files").fetchall() == [("42",)]
        assert con.execute("SELECT count(*) FROM core.ground_truth WHERE project_id = '42'").fetchone() == (5,)
