"""The ingest step on small exports, without Dagster or a warehouse: what a run of `core_tables` computes."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from pipeline.contract import ANNOTATIONS, QUARANTINE, SOURCE_FILES, TASKS
from pipeline.steps import Message
from pipeline.steps.ingest import INGESTED, files_markdown, origin_counts
from tests.conftest import ls_annotation, ls_task, write_export
from tests.steps.conftest import T0, Project

DATA = Path(__file__).resolve().parent.parent / "ingest" / "data"
TOTALS = [
    "files_ingested",
    "files_skipped",
    "records_read",
    "records_accepted",
    "records_quarantined",
    "tasks_replaced_with_other_data",
]


def test_a_new_file_fills_every_core_table_and_the_ledger_last(project, tmp_path):
    export = write_export(
        tmp_path / "export.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)])]
    )
    result = project.ingest(export)
    assert list(result.tables) == list(INGESTED)  # the order of the commits: the ledger last
    assert result.files.select("source_file", "format", "project_id", "records_read", "run_id").rows() == [
        (str(export), "label-studio-json", "1", 3, "run-1")
    ]
    assert result.files["ingested_at"].to_list() == [T0]
    assert list(result.totals) == TOTALS  # the metadata keys the run summary reads
    assert result.totals == dict(zip(TOTALS, [1, 0, 3, 3, 0, 0], strict=True))
    assert project.tables[TASKS]["task_id"].to_list() == ["1"]
    assert sorted(project.tables[ANNOTATIONS]["annotation_id"]) == ["1", "2"]
    assert project.tables[SOURCE_FILES].height == 1 and project.tables[QUARANTINE].is_empty()
    assert result.messages == [
        Message("info", f"{export}: label-studio-json, 3 records read = 3 accepted + 0 quarantined")
    ]


def test_a_file_already_ingested_is_skipped_and_nothing_is_rewritten(project, tmp_path):
    export = write_export(tmp_path / "export.json", [ls_task(1, [ls_annotation(1, ground_truth=True)])])
    first = project.ingest(export)
    digest = first.files["content_hash"].item()

    again = project.ingest(export)
    assert again.tables == {}  # with no new file nothing is rewritten
    assert again.files.is_empty() and again.files_given == 1 and again.files_skipped == 1
    assert again.totals == dict(zip(TOTALS, [0, 1, 0, 0, 0, 0], strict=True))
    assert again.messages == [
        Message("info", f"{export}: already ingested for project 1 (sha256 {digest[:12]}), skipped")
    ]
    assert again.files_markdown == "_no new file: every source was already ingested_"

    copy = shutil.copy(export, tmp_path / "same-bytes-other-name.json")  # a file is known by its bytes, not its name
    assert project.ingest(copy).files_skipped == 1


def test_the_same_file_twice_in_one_run_is_read_once(project, tmp_path):
    export = write_export(tmp_path / "export.json", [ls_task(1, [ls_annotation(1)])])
    result = project.ingest(export, export)
    assert (result.totals["files_ingested"], result.totals["files_skipped"], result.files_given) == (1, 1, 2)


def test_records_read_are_accepted_or_quarantined(project, tmp_path):
    """A record gtq cannot read and an annotation failing a critical expectation (a negative lead time) are
    both quarantined, named by file and locator; read = accepted + quarantined, per file and in the ledger."""
    bad_lead_time = ls_annotation(11, user=2, ground_truth=True) | {"lead_time": -5.0}
    export = write_export(
        tmp_path / "export.json",
        [ls_task(1, [bad_lead_time, ls_annotation(12, user=3)]), ls_task(2, [ls_annotation(21)]), {"id": None}],
    )
    result = project.ingest(export)
    totals = result.totals
    assert totals["records_read"] == totals["records_accepted"] + totals["records_quarantined"]
    assert totals["records_quarantined"] == 2 == project.tables[QUARANTINE].height
    accepted = project.tables[TASKS].height + project.tables[ANNOTATIONS].height
    assert totals["records_accepted"] == accepted == 4
    quarantine = project.tables[QUARANTINE].sort("locator")
    assert quarantine["run_id"].to_list() == ["run-1", "run-1"] and quarantine["project_id"].to_list() == ["1", "1"]
    assert quarantine.filter(pl.col("annotation_id") == "11")["reason"].to_list() == [
        "expectations/core.annotations.json: expect_column_values_to_be_between on lead_time_s (lead_time_s=-5.0)"
    ]
    assert quarantine.filter(pl.col("annotation_id") == "11")["gt_candidate"].to_list() == [True]
    assert "11" not in project.tables[ANNOTATIONS]["annotation_id"].to_list()  # never reaches GT or scoring
    # What the screening found is the check result of the core.annotations suite.
    screening = result.screening
    assert screening.quarantined("core.annotations", "1") == 1
    assert screening.rows_validated("core.annotations", "1") == 3  # every annotation of the new file
    assert screening.outcome("core.annotations", "1").success  # the failing row is quarantined, not kept
    assert [m.text for m in result.messages] == [
        f"{export}: label-studio-json, 6 records read = 4 accepted + 2 quarantined",
        (
            f"{export} $[2] (task None): task does not match the export format: Expected `int | str`, got `null` - at"
            " `$.id`"
        ),
        f"{export} task 1, annotation 11: {quarantine['reason'][1]}",
    ]
    assert [m.level for m in result.messages] == ["info", "warning", "warning"]


def test_a_file_of_other_projects_is_left_for_their_runs(tmp_path):
    both = write_export(
        tmp_path / "both.json",
        [ls_task(1, [ls_annotation(1)], project=10), ls_task(2, [ls_annotation(2)], project=20), {"id": None}],
    )
    other = Project(tmp_path / "30", project="30")
    result = other.ingest(both)
    assert result.tables == {} and result.files.is_empty() and result.files_skipped == 0
    assert result.messages == [Message("info", f"{both}: holds projects ['10', '20'], not 30; left for their runs")]


def test_a_file_of_two_projects_is_counted_by_its_first_project_only(tmp_path):
    both = write_export(
        tmp_path / "both.json",
        [ls_task(1, [ls_annotation(1)], project=10), ls_task(2, [ls_annotation(2)], project=20), {"id": None}],
    )
    ten, twenty = Project(tmp_path / "10", project="10"), Project(tmp_path / "20", project="20")
    first, second = ten.ingest(both), twenty.ingest(both)
    counts = ["project_id", "project_ids", "records_read", "records_accepted", "records_quarantined"]
    assert first.files.select(counts).rows() == [("10", ["10", "20"], 5, 4, 1)]
    assert second.files.select(counts).rows() == [("20", ["10", "20"], 0, 0, 0)]
    assert (
        ten.tables[QUARANTINE].height == 1 and twenty.tables[QUARANTINE].is_empty()
    )  # once, with the file's first project
    assert ten.tables[TASKS]["project_id"].to_list() == ["10"] and twenty.tables[TASKS]["project_id"].to_list() == [
        "20"
    ]


def test_sources_apply_in_order_and_the_newest_snapshot_wins(project, tmp_path):
    newer = ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)]) | {"updated_at": "2026-02-01T00:00:00Z"}
    older = ls_task(1, [ls_annotation(1, ground_truth=True)]) | {"updated_at": "2026-01-01T00:00:00Z"}
    project.ingest(write_export(tmp_path / "newer.json", [newer]), write_export(tmp_path / "older.json", [older]))
    assert project.tables[TASKS]["source_file"].to_list() == [str(tmp_path / "newer.json")]
    assert sorted(project.tables[ANNOTATIONS]["annotation_id"]) == ["1", "2"]  # updated by id, never duplicated
    assert project.tables[SOURCE_FILES].height == 2


def test_exports_reusing_task_ids_with_other_data_are_reported(project, tmp_path):
    def export(name: str, image: str) -> Path:
        tasks = [
            ls_task(t, [ls_annotation(10 * t, user=2)]) | {"data": {"image": f"{image}_{t}.jpg"}} for t in (1, 2, 3)
        ]
        return write_export(tmp_path / f"{name}.json", tasks)

    first, second = export("lab-a", "zebras"), export("lab-b", "lions")
    result = project.ingest(first, second)
    assert result.totals["tasks_replaced_with_other_data"] == 3 == result.replaced.height
    assert result.replaced.select("task_id", "source_file", "replaced_by").row(0) == ("1", str(first), str(second))
    warnings = [m.text for m in result.messages if m.level == "warning"]
    assert warnings[0] == (
        f"project 1, task 1: {second} replaces its snapshot from {first}, whose task data differs."
        " Two exports that reuse project and task ids? Give each its namespace: --source NAME=PATH"
    )

    apart = Project(tmp_path / "apart", project="lab-b:1")
    result = apart.ingest(f"lab-a={first}", f"lab-b={second}")  # namespaces keep them apart
    assert result.replaced.is_empty() and apart.tables[TASKS]["project_id"].unique().to_list() == ["lab-b:1"]


def test_a_file_read_again_after_a_killed_run_is_quarantined_once(project, tmp_path):
    """A run killed after writing the quarantine but before the ledger: the next run reads the file again and
    its quarantine rows replace those of the earlier reading."""
    export = write_export(tmp_path / "export.json", [ls_task(1, [ls_annotation(1)]), {"id": None}])
    project.ingest(export)
    project.tables[SOURCE_FILES] = SOURCE_FILES.empty()  # the ledger never vouched for the file
    result = project.ingest(export, run_id="run-again")
    assert result.totals["records_quarantined"] == 1
    assert project.tables[QUARANTINE]["run_id"].to_list() == ["run-again"]


def test_messages_are_said_as_they_come_and_kept_in_order(project, tmp_path):
    known = write_export(tmp_path / "known.json", [ls_task(1, [ls_annotation(1)])])
    project.ingest(known)
    heard: list[Message] = []
    result = project.ingest(
        known, write_export(tmp_path / "new.json", [ls_task(2, [ls_annotation(2)]), {"id": None}]), log=heard.append
    )
    assert heard == result.messages
    assert [m.level for m in heard] == ["info", "info", "warning"]
    assert heard[0].text.startswith(f"{known}: already ingested") and heard[2].text.startswith(
        f"{tmp_path / 'new.json'} "
    )


def test_a_scout_folder_and_coco_predictions(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "survey-annotations.csv", folder / "survey-annotations.csv")
    shutil.copy(DATA / "survey-images.csv", folder / "survey-images.csv")
    scout = Project(tmp_path / "scout", project="survey")
    result = scout.ingest(folder)  # the folder: the images CSV is read with its annotations CSV
    assert result.files_given == 1
    assert result.files.select("format", "records_read", "records_quarantined").rows() == [
        ("scout-annotations-csv", 11, 1)
    ]
    assert scout.tables[QUARANTINE]["locator"].to_list() == ["line 7 (task t2, image IMG_002.JPG)"]

    coco = Project(tmp_path / "coco", project="val2026")
    coco.ingest(DATA / "coco" / "val2026.json", DATA / "coco" / "yolo-v9.json")
    models = coco.tables[ANNOTATIONS].filter(pl.col("origin") == "model")
    assert sorted(models["annotation_id"]) == ["prediction:yolo-v9:1", "prediction:yolo-v9:2", "prediction:yolo-v9:bad"]
    assert origin_counts(coco.tables[ANNOTATIONS].lazy()) == {"human": 3, "model": 3}


def test_files_markdown_names_each_file_by_its_hash():
    file = {"source_file": "a.json", "format": "label-studio-json", "content_hash": "0123456789abcdef"}
    files = pl.DataFrame([file | {"records_read": 3, "records_accepted": 2, "records_quarantined": 1}])
    assert files_markdown(files).splitlines() == [
        "| file | format | read | accepted | quarantined | sha256 |",
        "|---|---|---|---|---|---|",
        "| a.json | label-studio-json | 3 | 2 | 1 | 0123456789ab |",
    ]
