"""Label Studio JSON ingest: real exports, every completed_by shape, and bad records in quarantine."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import ANNOTATIONS, QUARANTINE, REGIONS, TASKS
from pipeline.ingest import read_export
from pipeline.ingest.merge import CoreState
from pipeline.sample import generate, write_sample
from tests.conftest import ls_annotation, ls_task, parse, write_export


def test_every_shared_sample_ingests_without_loss(label_studio_samples, tmp_path):
    for path in label_studio_samples:
        export = parse(path, tmp_path)
        assert export.format == "label-studio-json", path
        assert export.quarantine.is_empty(), (path, export.quarantine.to_dicts())
        assert export.records_read == export.tasks.height + export.annotations.height
        TASKS.conform(export.tasks), ANNOTATIONS.conform(export.annotations), REGIONS.conform(export.regions)
        assert export.regions.height > 0


def test_shared_samples_annotator_rules(label_studio_samples, tmp_path):
    by_name = {p.name: parse(p, tmp_path) for p in label_studio_samples}
    email = by_name["ls_text_choices_with_history.json"].annotations
    assert email["annotator"].to_list() == ["sergei@heartex.test"]  # completed_by object: the email
    ids = by_name["ls_bbox_two_annotators.json"].annotations.sort("annotation_id")
    assert ids["annotator"].to_list() == ["2", "1", "1"]  # completed_by int: the id
    no_completed_by = by_name["ls_rect_polygon_keypoint.json"].annotations
    assert no_completed_by["annotator"].to_list() == ["308"]  # falls back to last_created_by
    with_predictions = by_name["ls_text_csv_source.json"].annotations.filter(pl.col("origin") == "model")
    assert with_predictions["annotator"].to_list() == ["model 0", "model 0"]
    assert with_predictions["annotation_id"].to_list() == ["prediction:1", "prediction:2"]
    assert not with_predictions["gt_flag"].any()
    assert with_predictions["score"].to_list() == pytest.approx([0.7212843313260696, 0.36088106914938645])


def test_regions_keep_geometry_in_percent(label_studio_samples, tmp_path):
    export = parse(next(p for p in label_studio_samples if p.name == "ls_rect_polygon_keypoint.json"), tmp_path)
    regions = {r["type"]: r for r in export.regions.iter_rows(named=True)}
    box = regions["rectanglelabels"]
    assert (box["x"], box["width"], box["labels"]) == (
        pytest.approx(31.941923774954628),
        pytest.approx(6.352087114337568),
        ["rectangle_label"],
    )
    assert (box["original_width"], box["original_height"]) == (500, 320)
    assert len(regions["polygonlabels"]["points"]) == 3
    keypoints = export.regions.filter(pl.col("type") == "keypointlabels").sort("item_index")
    assert keypoints["x"].to_list() == pytest.approx([22.595281306715066, 17.78584392014519])


def test_project_id_falls_back_to_the_file_name(tmp_path):
    path = write_export(tmp_path / "my-project.json", [ls_task(1, [ls_annotation(1)], project=None)])
    assert parse(path, tmp_path).project_ids == ["my-project"]


def test_bad_records_are_quarantined_and_the_rest_is_kept(tmp_path):
    good = ls_annotation(1)
    no_id = {k: v for k, v in ls_annotation(2).items() if k != "id"}
    bad_geometry = ls_annotation(3)
    bad_geometry["result"] = [
        {
            "type": "rectanglelabels",
            "from_name": "bbox",
            "to_name": "image",
            "value": {"x": "left", "rectanglelabels": ["a"]},
        }
    ]
    path = write_export(
        tmp_path / "export.json",
        [ls_task(1, [good, no_id, bad_geometry]), {"data": {}, "annotations": []}, ls_task(1, [ls_annotation(4)])],
    )
    export = parse(path, tmp_path)
    assert export.annotations["annotation_id"].to_list() == ["1"]
    quarantine = QUARANTINE.conform(export.quarantine)
    locators = quarantine["locator"].to_list()
    assert locators == [
        "$[0].annotations[1] (task 1, annotation ?)",
        "$[0].annotations[2] (task 1, annotation 3)",
        "$[1] (task ?)",
        "$[2] (task 1)",
    ]
    reasons = quarantine["reason"].to_list()
    assert "missing required field `id`" in reasons[0]
    assert "Expected `float | null`, got `str` - at `$.result[0].value.x`" in reasons[1]
    assert "duplicate task id 1" in reasons[3]
    assert set(quarantine["source_file"]) == {str(path)}
    assert export.records_read == export.records_accepted + export.records_quarantined == 2 + 4


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b'[{"id": 1, "annotations": [', "truncated"),
        ('[{"id": 1, "annotations": []}]'.encode("utf-16"), "not UTF-8"),
        (b"task_id,label\n1,cat\n", "unrecognised export format"),
    ],
)
def test_unreadable_files_become_one_quarantine_row(tmp_path, content, reason):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    export = parse(path, tmp_path)
    assert export.format == "unreadable"
    assert export.records_read == export.records_quarantined == 1
    assert reason in export.quarantine["reason"].item()
    assert export.quarantine["source_file"].item() == str(path)


def test_later_export_supersedes_the_tasks_it_contains(tmp_path):
    first = read_export(
        write_export(
            tmp_path / "a.json", [ls_task(1, [ls_annotation(1), ls_annotation(2)]), ls_task(2, [ls_annotation(3)])]
        ),
        tmp_path / "s1",
    )
    second = read_export(
        write_export(tmp_path / "b.json", [ls_task(1, [ls_annotation(1, choice="dog")])]), tmp_path / "s2"
    )
    empty = CoreState.of(lambda table: table.empty().lazy())
    state = empty.merge([first.frames, second.frames])
    state = CoreState(*(frame.collect() for frame in vars(state).values()))
    assert state.tasks.sort("task_id")["source_file"].to_list() == [str(tmp_path / "b.json"), str(tmp_path / "a.json")]
    assert sorted(state.annotations["annotation_id"]) == ["1", "3"]
    assert state.regions.filter(pl.col("task_id") == "1")["labels"].to_list() == [["dog"]]


def test_bundled_sample_is_deterministic_and_realistic(tmp_path):
    assert write_sample(tmp_path / "a.json").read_bytes() == write_sample(tmp_path / "b.json").read_bytes()
    tasks = generate()
    assert len(tasks) == 300
    per_task = [len(t["annotations"]) for t in tasks]
    assert set(per_task) == {2, 3}
    annotators = {a["completed_by"]["email"] for t in tasks for a in t["annotations"]}
    assert 4 <= len(annotators) <= 6
    assert any(a["was_cancelled"] for t in tasks for a in t["annotations"])
    assert all(t["predictions"][0]["model_version"] and t["predictions"][0]["score"] for t in tasks)
    flags = [sum(a["ground_truth"] for a in t["annotations"]) for t in tasks]
    assert flags.count(2) == 1 and 50 <= sum(f > 0 for f in flags) <= 100
    export = parse(tmp_path / "a.json", tmp_path)
    assert export.quarantine.is_empty()
    assert set(export.regions["type"]) == {"choices", "rectanglelabels", "rating"}
    per_region = export.regions.filter(pl.col("control") == "behaviour")
    boxes = export.regions.filter(pl.col("type") == "rectanglelabels").select("annotation_id", "region_id")
    assert (
        per_region.height > 0 and per_region.join(boxes, on=["annotation_id", "region_id"], how="anti").is_empty()
    )  # each sits on a box
    json.loads((tmp_path / "a.json").read_text())  # plain JSON any tool can read


def test_times_with_any_utc_offset_are_stored_as_the_same_instant_in_utc(tmp_path):
    """Exports write times with a zone offset, with Z, or with none (read as UTC)."""
    written = [
        "2026-01-01T12:30:00+02:00",
        "2026-01-01T10:30:00.250Z",
        "2026-01-01T10:30:00",
        "2025-12-31T23:00:00-11:30",
    ]
    tasks = [ls_task(i, [ls_annotation(i, updated_at=at)]) for i, at in enumerate(written)]
    read = parse(write_export(tmp_path / "export.json", tasks), tmp_path)
    stored = read.annotations.sort("task_id")["updated_at"]
    assert stored.dtype == pl.Datetime("us", "UTC")
    assert [t.isoformat() for t in stored] == [
        "2026-01-01T10:30:00+00:00",
        "2026-01-01T10:30:00.250000+00:00",
        "2026-01-01T10:30:00+00:00",
        "2026-01-01T10:30:00+00:00",
    ]
    assert read.tasks.sort("task_id")["updated_at"].equals(stored)  # a task without its own time takes its annotation's


def test_reviews_and_history_are_kept(label_studio_samples, tmp_path):
    by_name = {p.name: parse(p, tmp_path) for p in label_studio_samples}
    reviews = by_name["ls_text_csv_source.json"].reviews.sort("annotation_id")
    assert reviews.select("annotation_id", "reviewer", "accepted").rows() == [
        ("7", "review@heartex.com", False),
        ("8", "review@heartex.com", False),
    ]
    history = by_name["ls_text_choices_with_history.json"].history
    assert history.select("annotation_id", "action", "created_by").rows() == [("18047", "submitted", "14")]


def test_every_result_type_users_label_with(tmp_path):
    annotation = ls_annotation(1)
    annotation["result"] = [
        {
            "id": "t",
            "type": "taxonomy",
            "from_name": "tax",
            "to_name": "text",
            "value": {"taxonomy": [["Animal", "Mammal"], ["Plant"]]},
        },
        {
            "id": "s",
            "type": "labels",
            "from_name": "ner",
            "to_name": "text",
            "value": {"start": 3, "end": 9, "text": "Zebras", "labels": ["SPECIES"]},
        },
        {
            "id": "h",
            "type": "hypertextlabels",
            "from_name": "html",
            "to_name": "page",
            "value": {
                "start": "/p[1]",
                "end": "/p[1]",
                "startOffset": 0,
                "endOffset": 4,
                "globalOffsets": {"start": 10, "end": 14},
                "hypertextlabels": ["X"],
            },
        },
        {
            "id": "p",
            "type": "paragraphlabels",
            "from_name": "dialog",
            "to_name": "chat",
            "value": {"start": "0", "end": "1", "startOffset": 2, "endOffset": 5, "paragraphlabels": ["Q"]},
        },
        {
            "id": "e",
            "type": "ellipselabels",
            "from_name": "ell",
            "to_name": "image",
            "value": {"x": 50, "y": 40, "radiusX": 5, "radiusY": 3, "rotation": 0, "ellipselabels": ["egg"]},
        },
        {"id": "r", "type": "rating", "from_name": "stars", "to_name": "image", "value": {"rating": 4}},
        {"id": "n", "type": "number", "from_name": "count", "to_name": "image", "value": {"number": 12}},
        {"id": "ta", "type": "textarea", "from_name": "notes", "to_name": "image", "value": {"text": ["two", "lines"]}},
        {
            "id": "d",
            "type": "datetime",
            "from_name": "when",
            "to_name": "image",
            "value": {"datetime": "2026-01-02 10:00"},
        },
        {
            "id": "b",
            "type": "brushlabels",
            "from_name": "mask",
            "to_name": "image",
            "value": {"format": "rle", "rle": [1, 2, 3], "brushlabels": ["sky"]},
        },
        {"id": "e", "type": "choices", "from_name": "ell_colour", "to_name": "image", "value": {"choices": ["white"]}},
        {"from_id": "s", "to_id": "h", "type": "relation", "direction": "right", "labels": []},
    ]
    export = parse(write_export(tmp_path / "all.json", [ls_task(1, [annotation])]), tmp_path)
    assert export.quarantine.is_empty(), export.quarantine.to_dicts()
    rows = {r["control"]: r for r in export.regions.iter_rows(named=True)}
    assert rows["tax"]["labels"] == ["Animal/Mammal", "Plant"]
    assert (rows["ner"]["start"], rows["ner"]["end"], rows["ner"]["text"], rows["ner"]["labels"]) == (
        3,
        9,
        "Zebras",
        ["SPECIES"],
    )
    assert (rows["html"]["start"], rows["html"]["end"]) == (10, 14)
    assert (rows["dialog"]["start"], rows["dialog"]["end"]) == (2, 5)
    assert (rows["ell"]["x"], rows["ell"]["width"], rows["ell"]["height"]) == (50, 5, 3)
    assert (rows["stars"]["number"], rows["count"]["number"], rows["notes"]["text"], rows["when"]["text"]) == (
        4,
        12,
        "two\nlines",
        "2026-01-02 10:00",
    )
    assert not rows["mask"]["scorable"] and json.loads(rows["mask"]["value_json"])["rle"] == [
        1,
        2,
        3,
    ]  # kept as it came
    assert rows["ell_colour"]["region_id"] == rows["ell"]["region_id"]  # a per-region choice shares its region's id
    assert rows["relation"]["type"] == "relation" and not rows["relation"]["scorable"]


DATA = Path(__file__).parent / "data" / "label-studio"


@pytest.mark.parametrize("name", ["text-and-boxes.min.json", "text-and-boxes.csv"])
def test_json_min_and_csv_regions(name, tmp_path):
    export = parse(DATA / name, tmp_path)
    assert export.format == ("label-studio-json-min" if name.endswith("json") else "label-studio-csv")
    assert export.quarantine.is_empty() and export.records_read == 2
    assert export.annotations.select("task_id", "annotation_id", "annotator").rows() == [
        ("1", "7", "hakan@heartex.com"),
        ("2", "8", "hakan@heartex.com"),
    ]
    boxes = export.regions.filter(pl.col("annotation_id") == "8")
    assert boxes.select("type", "labels", "x", "original_width").rows() == [
        ("rectanglelabels", ["Car"], 92.93, 768),
        ("rectanglelabels", ["Car"], 0.09061020520990352, 768),
    ]
    assert "image" in json.loads(export.tasks["data_json"][0])


@pytest.mark.parametrize("name", ["choices.min.json", "choices.csv"])
def test_json_min_and_csv_plain_choices_need_the_labeling_config(name, tmp_path):
    export = parse(DATA / name, tmp_path)
    assert export.regions.select("control", "type", "labels").rows() == [("sentiment", "choices", ["Positive"])]
    assert export.label_config.select("control", "type", "allowed_labels").rows() == [
        ("sentiment", "choices", ["Positive", "Negative", "Neutral"])
    ]
    shutil.copy(DATA / name, tmp_path / name)  # without its config, a plain value is task data
    alone = parse(tmp_path / name, tmp_path / "alone")
    assert alone.regions.is_empty() and "sentiment" in json.loads(alone.tasks["data_json"][0])


def test_a_large_read_reports_its_progress(tmp_path, monkeypatch):
    """While a file is parsed, the caller hears how many records were read so far (every few seconds; here
    every millisecond), never more than the file holds."""
    import pipeline.ingest
    from bench.generate import write

    monkeypatch.setattr(pipeline.ingest, "PROGRESS_EVERY_S", 0.001)
    heard = []
    export = read_export(write(tmp_path / "big.json", 30_000), tmp_path / "staging", progress=heard.append)
    assert heard and heard == sorted(heard) and 0 < heard[-1] <= export.records_read


def test_a_large_export_read_by_two_processes_is_the_same_as_read_by_one(tmp_path, monkeypatch):
    """The later task slice is parsed in a helper process; the frames, the books and the quarantine are
    those of a read in one process, including a task repeated across the slices (a duplicate) and a bad
    annotation in the helper's slice."""
    from pipeline.ingest import label_studio

    tasks = [
        ls_task(i, [ls_annotation(10 * i, user=i % 3, ground_truth=i % 2 == 0), ls_annotation(10 * i + 1)])
        for i in range(40)
    ]
    tasks[30]["annotations"][1]["lead_time"] = "slow"  # a bad annotation, in the second slice
    tasks.append(ls_task(3, [ls_annotation(999)]))  # task 3 again, in the second slice
    path = write_export(tmp_path / "export.json", tasks)

    alone = parse(path, tmp_path / "one")
    monkeypatch.setattr(label_studio, "_helpers", lambda n_tasks: 1)
    shared = parse(path, tmp_path / "two")
    assert (
        tmp_path / "two" / "staging-export.json" / "slice-1" / "regions.parquet"
    ).exists()  # the helper did read its slice
    for name in CoreState.TABLES:
        assert (
            getattr(shared, name)
            .drop("source_file", "content_hash", strict=False)
            .equals(getattr(alone, name).drop("source_file", "content_hash", strict=False))
        ), name
    assert (shared.records_read, shared.records_accepted, shared.records_quarantined) == (
        alone.records_read,
        alone.records_accepted,
        alone.records_quarantined,
    )
    assert sorted(shared.quarantine["reason"]) == sorted(alone.quarantine["reason"])
    assert any("duplicate task id 3 in project 1 (first at $[3])" in reason for reason in shared.quarantine["reason"])

    # When no helper can start (a script without a main guard), this process reads the slice itself.
    class NoHelpers(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            broken = Future()
            broken.set_exception(BrokenProcessPool("a helper died at start"))
            return broken

    monkeypatch.setattr(label_studio, "ProcessPoolExecutor", lambda workers, mp_context: NoHelpers(workers))
    alone_again = parse(path, tmp_path / "three")
    assert (
        alone_again.records_accepted == alone.records_accepted
        and alone_again.records_quarantined == alone.records_quarantined
    )
    assert alone_again.annotations.sort("task_id", "annotation_id").equals(
        alone.annotations.sort("task_id", "annotation_id")
    )
