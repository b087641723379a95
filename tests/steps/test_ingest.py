"""The ingest step on small exports, without Dagster or a warehouse: what a run of `core_tables` computes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import ANNOTATIONS, LABEL_CONFIG, QUARANTINE, REGIONS, SOURCE_FILES, TASKS
from pipeline.ingest import BadRecord, expand_sources, projects_of
from pipeline.ingest.merge import CoreState
from pipeline.steps import Message, quality
from pipeline.steps.ingest import INGESTED, files_markdown, origin_counts
from pipeline.validation import BUNDLED_EXPECTATIONS
from tests.conftest import ls_annotation, ls_task, parse, write_export
from tests.ingest.test_hostile import CORPUS, corpus_folder
from tests.steps.conftest import T0, Project
from tests.test_validation import CONFIG, annotation, box

DATA = Path(__file__).resolve().parent.parent / "ingest" / "data"
TOTALS = [
    "files_ingested",
    "files_skipped",
    "records_read",
    "records_accepted",
    "records_quarantined",
    "tasks_replaced_with_other_data",
    "tasks_unchanged",
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
    assert result.totals == dict(zip(TOTALS, [1, 0, 3, 3, 0, 0, 0], strict=True))
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
    version_0 = project.resolve()

    again = project.ingest(export)
    assert again.tables == {}  # with no new file nothing is rewritten
    same = project.resolve()  # the GT resolved again from the same tables: no new version
    assert same.candidate is None and [v.version for v in project.versions] == [0]
    assert same.ground_truth.equals(version_0.ground_truth) and same.history.equals(version_0.history)
    assert again.files.is_empty() and again.files_given == 1 and again.files_skipped == 1
    assert again.totals == dict(zip(TOTALS, [0, 1, 0, 0, 0, 0, 0], strict=True))
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


def test_sources_in_one_run_apply_in_order(tmp_path):
    """Snapshots of a task with the same date: the later source of the run wins, whichever it is."""
    v1 = write_export(tmp_path / "v1.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)])])
    v2 = write_export(tmp_path / "v2.json", [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)])])
    forward, backward = Project(tmp_path / "forward"), Project(tmp_path / "backward")
    forward.ingest(v1, v2)
    backward.ingest(v2, v1)
    assert forward.resolve().ground_truth.select("annotation_id", "version").rows() == [("2", 0)]
    assert backward.resolve().ground_truth.select("annotation_id", "version").rows() == [("1", 0)]


def test_the_newest_snapshot_wins_whatever_the_order(project, tmp_path):
    newer = ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)]) | {"updated_at": "2026-02-01T00:00:00Z"}
    older = ls_task(1, [ls_annotation(1, ground_truth=True)]) | {"updated_at": "2026-01-01T00:00:00Z"}
    project.ingest(write_export(tmp_path / "newer.json", [newer]), write_export(tmp_path / "older.json", [older]))
    assert project.tables[TASKS]["source_file"].to_list() == [str(tmp_path / "newer.json")]
    assert sorted(project.tables[ANNOTATIONS]["annotation_id"]) == ["1", "2"]  # updated by id, never duplicated
    assert project.tables[SOURCE_FILES].height == 2
    assert project.resolve().ground_truth["annotation_id"].to_list() == ["2"]

    project.ingest(write_export(tmp_path / "older-again.json", [older | {"meta": {"note": "re-export"}}]))
    assert project.tables[TASKS]["source_file"].to_list() == [str(tmp_path / "newer.json")]
    assert project.resolve().ground_truth["annotation_id"].to_list() == ["2"]  # a later run of an older one


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

    assert project.tables[TASKS].height == 3  # what happens without namespaces

    sources = [f"lab-a={first}", f"lab-b={second}"]  # namespaces keep them apart
    assert [projects_of(source) for source in sources] == [["lab-a:1"], ["lab-b:1"]]  # the runs of `gtq run`
    images = {}
    for name in ("lab-a:1", "lab-b:1"):
        apart = Project(tmp_path / name.replace(":", "-"), project=name)
        result = apart.ingest(*sources)
        assert result.replaced.is_empty() and [m for m in result.messages if m.level == "warning"] == []
        assert apart.tables[TASKS]["project_id"].unique().to_list() == [name]
        assert apart.tables[ANNOTATIONS]["project_id"].unique().to_list() == [name]
        images[name] = sorted(apart.tables[TASKS]["data_json"].str.json_path_match("$.image"))
    assert images == {
        "lab-a:1": ["zebras_1.jpg", "zebras_2.jpg", "zebras_3.jpg"],
        "lab-b:1": ["lions_1.jpg", "lions_2.jpg", "lions_3.jpg"],
    }


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


def test_a_broken_file_fails_alone(project, tmp_path):
    """A Label Studio file cut off halfway names no project, and none is invented from its name: `gtq run` hands
    it to no project's run (it names it unreadable: tests/ingest/test_hostile.py) and the good file beside it
    is ingested."""
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'[{"id": 1, "annotations": [{"id": 2')
    good = write_export(tmp_path / "good.json", [ls_task(1, [ls_annotation(1, ground_truth=True)])])
    with pytest.raises(BadRecord) as unreadable:
        projects_of(broken)
    assert unreadable.value.reason == "not a Label Studio JSON export (a JSON array of tasks): Input data was truncated"
    assert projects_of(good) == ["1"]

    project.ingest(good)
    assert project.tables[QUARANTINE].is_empty() and project.resolve().ground_truth.height == 1
    assert project.tables[SOURCE_FILES].select(
        "format", "records_read", "records_accepted", "records_quarantined"
    ).rows() == [("label-studio-json", 2, 2, 0)]


def test_labels_outside_the_labeling_config_are_quarantined_by_name(project, tmp_path):
    """The labeling config beside an export judges its labels; one it does not allow sets the annotation aside,
    named in the reason, and a later export without a config is judged by the config the project holds."""
    export = write_export(
        tmp_path / "proj.json", [ls_task(1, [ls_annotation(1, choice="cat"), ls_annotation(2, choice="lion")])]
    )
    (tmp_path / "proj.xml").write_text(
        '<View><Image name="image" value="$image"/><Choices name="label" toName="image"><Choice value="cat"/><Choice'
        ' value="dog"/></Choices></View>'
    )
    project.ingest(export)
    later = tmp_path / "later"
    later.mkdir()
    project.ingest(write_export(later / "proj.json", [ls_task(2, [ls_annotation(3, choice="tiger")])]))

    reasons = project.tables[QUARANTINE].sort("annotation_id").select("annotation_id", "reason").rows()
    suite = "expectations/core.regions.json: expect_column_values_to_be_null on label_outside_config"
    assert reasons == [("2", f"{suite} (label_outside_config=lion)"), ("3", f"{suite} (label_outside_config=tiger)")]
    assert project.tables[ANNOTATIONS]["annotation_id"].to_list() == ["1"]


def test_annotations_failing_a_critical_expectation_are_quarantined_before_use(project, tmp_path):
    """Validate before use: an annotation with a negative lead time and a prediction scored 1.7 read fine
    but fail the core.annotations suite; each becomes one quarantine record naming the suite, the
    expectation, the column and the value, never reaches GT or scoring, and the books still balance."""
    bad_gt = ls_annotation(11, user=2, choice="dog", ground_truth=True) | {"lead_time": -5.0}
    overconfident = {
        "id": 90,
        "model_version": "m1",
        "score": 1.7,
        "result": [
            {"id": "p1", "type": "choices", "from_name": "label", "to_name": "image", "value": {"choices": ["cat"]}}
        ],
    }
    tasks = [
        ls_task(1, [bad_gt, ls_annotation(12, user=3, choice="cat")], predictions=[overconfident]),
        ls_task(2, [ls_annotation(21, user=2, ground_truth=True), ls_annotation(22, user=3)]),
    ]
    project.ingest(write_export(tmp_path / "export.json", tasks))

    quarantine = project.tables[QUARANTINE].sort("locator")
    assert quarantine["locator"].to_list() == ["task 1, annotation 11", "task 1, annotation prediction:90"]
    assert quarantine["reason"].to_list() == [
        "expectations/core.annotations.json: expect_column_values_to_be_between on lead_time_s (lead_time_s=-5.0)",
        "expectations/core.annotations.json: expect_column_values_to_be_between on score (score=1.7)",
    ]
    assert sorted(project.tables[ANNOTATIONS]["annotation_id"].to_list()) == ["12", "21", "22"]
    assert project.resolve().ground_truth.filter(pl.col("task_id") == "1")["annotation_id"].to_list() != ["11"]
    files = project.tables[SOURCE_FILES].row(0, named=True)
    assert (files["records_read"], files["records_accepted"], files["records_quarantined"]) == (7, 5, 2)


def test_an_edited_suite_changes_what_is_quarantined_without_code_changes(project, tmp_path, monkeypatch):
    """The team allows clock skew of a minute in its copy of the suites ($GTQ_EXPECTATIONS): a lead time of
    -5 s, quarantined by the bundled suite, is accepted. (What a warning-level expectation does to the check
    and the Data Docs: tests/test_pipeline.py.)"""
    suites = tmp_path / "expectations"
    shutil.copytree(BUNDLED_EXPECTATIONS, suites)
    annotations_suite = json.loads((suites / "core.annotations.json").read_text())
    for expectation in annotations_suite["expectations"]:
        if expectation["kwargs"].get("column") == "lead_time_s":
            expectation["kwargs"]["min_value"] = -60.0
    (suites / "core.annotations.json").write_text(json.dumps(annotations_suite))
    monkeypatch.setenv("GTQ_EXPECTATIONS", str(suites))
    skewed = ls_annotation(11, user=2) | {"lead_time": -5.0}
    project.ingest(write_export(tmp_path / "export.json", [ls_task(1, [skewed])]))
    assert project.tables[QUARANTINE].is_empty() and project.tables[ANNOTATIONS]["annotation_id"].to_list() == ["11"]


def test_a_quarantined_ground_truth_candidate_is_a_conflict_until_a_valid_version_arrives(project, tmp_path):
    """The GT flag of a task sits on an annotation with a label its config does not allow: the task has no GT
    (no other rule decides it), core.ground_truth_conflicts names the annotation and the reason, and the
    other task's annotations are still scored. When a later export corrects the label, it becomes GT.
    (Data from tests/test_validation.py: its labeling config and box regions.)"""
    flagged = annotation(11, box(label="tiger"), ground_truth=True)
    tasks = [
        ls_task(1, [flagged, annotation(12, box())]),
        ls_task(2, [annotation(21, box(), ground_truth=True), annotation(22, box(x=12.0))]),
    ]
    (tmp_path / "export.xml").write_text(CONFIG)
    project.ingest(write_export(tmp_path / "export.json", tasks))
    step = project.resolve()

    assert project.tables[QUARANTINE].select("task_id", "annotation_id", "gt_candidate").rows() == [("1", "11", True)]
    assert step.ground_truth.select("task_id", "annotation_id").rows() == [("2", "21")]
    conflict = step.conflicts.row(0, named=True)
    assert (
        conflict["task_id"] == "1"
        and conflict["chosen_annotation_id"] is None
        and conflict["candidate_annotation_ids"] == ["11"]
    )
    assert conflict["rule"] == (
        "GT candidate 11 quarantined, expectations/core.regions.json: expect_column_values_to_be_null on"
        " label_outside_config (label_outside_config=tiger)"
    )
    frames = {t: project.tables[t].lazy() for t in (ANNOTATIONS, REGIONS, LABEL_CONFIG)}
    answers = quality.answers(*frames.values(), run_id="run-q")
    scores = quality.annotation_scores(
        answers, frames[ANNOTATIONS], frames[REGIONS], step.ground_truth.lazy(), weights=None, run_id="run-q"
    ).collect()
    assert scores.filter(pl.col("task_id") == "2")["annotation_id"].unique().to_list() == ["22"]

    corrected = tmp_path / "later"
    corrected.mkdir()
    (corrected / "export.xml").write_text(CONFIG)
    fixed = annotation(11, box(), ground_truth=True, updated_at="2026-02-01T10:00:00Z")
    project.ingest(write_export(corrected / "export.json", [ls_task(1, [fixed, annotation(12, box())])]))
    step = project.resolve()
    assert step.conflicts.is_empty()
    assert sorted(step.ground_truth.select("task_id", "annotation_id").rows()) == [("1", "11"), ("2", "21")]
    assert project.tables[ANNOTATIONS].filter(pl.col("annotation_id") == "11").height == 1


def test_the_hostile_corpus_beside_a_good_file_balances_the_books_of_every_file(tmp_path):
    """The corpus of tests/ingest/test_hostile.py and a good file of project 42, given to the run of each project
    `gtq run` makes of them: every record a file brings is accepted or quarantined, each file that quarantines
    says so, and a file gtq cannot read as a whole is in no project's books (`projects_of` names it) or is
    in its project's ledger as unreadable: the files `gtq run` names when it fails."""
    folder = corpus_folder(tmp_path / "exports")
    by_project, no_export = {}, set()
    for source in expand_sources([folder]):
        try:
            for name in projects_of(source):
                by_project.setdefault(name, []).append(source)
        except BadRecord:
            no_export.add(source.path.name)
    unreadable = {
        f"{c.name}{c.suffix}"
        for c in CORPUS
        if parse(folder / f"{c.name}{c.suffix}", tmp_path / "alone").format == "unreadable"
    }
    ledgers, ground_truth = [], {}
    for name, sources in sorted(by_project.items()):
        run = Project(tmp_path / "projects" / name, project=name)
        run.ingest(*sources)
        ledgers.append(run.tables[SOURCE_FILES])
        ground_truth[name] = run.resolve().ground_truth.height
    ledger = pl.concat(ledgers).with_columns(name=pl.col("source_file").str.split("/").list.last())
    books = pl.col("records_read") == pl.col("records_accepted") + pl.col("records_quarantined")
    assert ledger.filter(~books).is_empty()  # per file
    quarantining = {f"{c.name}{c.suffix}" for c in CORPUS if c.reason is not None} - no_export
    assert set(ledger.filter(pl.col("records_quarantined") > 0)["name"]) == quarantining
    assert ledger["records_quarantined"].sum() == len(quarantining)
    assert no_export | set(ledger.filter(pl.col("format") == "unreadable")["name"]) == unreadable
    assert ground_truth["42"] == 5


@pytest.mark.parametrize("helpers", [0, 1], ids=["one process", "a helper process"])
def test_a_nightly_export_reads_only_the_tasks_that_changed(tmp_path, monkeypatch, helpers):
    """The second night repeats tasks 1, 2, 4 and 5 byte for byte, edits task 3 and adds task 6: only tasks 3
    and 6 are read, and the core tables are those of reading the second night alone, but for the file that
    brought each unchanged task."""
    from pipeline.ingest import label_studio

    monkeypatch.setattr(label_studio, "_helpers", lambda n_tasks: helpers)  # the helper gets the known hashes too
    first = [
        ls_task(i, [ls_annotation(10 * i, user=i % 3, ground_truth=i % 2 == 0), ls_annotation(10 * i + 1)])
        for i in range(1, 6)
    ]
    second = [*first[:2], ls_task(3, [ls_annotation(30, ground_truth=True), ls_annotation(32, user=2)]), *first[3:]]
    second.append(ls_task(6, [ls_annotation(60)]))
    monday, tuesday = write_export(tmp_path / "monday.json", first), write_export(tmp_path / "tuesday.json", second)

    nightly, alone = Project(tmp_path / "nightly"), Project(tmp_path / "alone")
    nightly.ingest(monday)
    result = nightly.ingest(tuesday)
    alone.ingest(tuesday)
    assert result.totals["tasks_unchanged"] == 4
    assert result.files.select("records_read", "records_accepted", "tasks_unchanged").rows() == [(5, 5, 4)]
    assert result.messages[-1] == Message(
        "info",
        f"{tuesday}: label-studio-json, 5 records read = 5 accepted + 0 quarantined; 4 task(s) unchanged, not read"
        " again",
    )
    provenance = ["source_file", "content_hash"]
    for table in CoreState.TABLES.values():
        ours, theirs = (p.tables[table].drop(provenance, strict=False).sort(pl.all()) for p in (nightly, alone))
        assert ours.equals(theirs), table.key
    brought = nightly.tables[TASKS].sort("task_id").select("task_id", "source_file").rows()
    assert brought == [(str(i), str(monday if i not in (3, 6) else tuesday)) for i in range(1, 7)]
    assert (
        nightly.resolve()
        .ground_truth.drop("source_file", "content_hash", strict=False)
        .sort("task_id")
        .equals(alone.resolve().ground_truth.drop("source_file", "content_hash", strict=False).sort("task_id"))
    )


def test_a_task_carried_unchanged_counts_as_the_file_that_carries_it(tmp_path):
    """Within one run the later source wins a tie of dates, also when its task is the current one unchanged."""
    v1 = [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)])]
    v2 = [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)])]
    project = Project(tmp_path / "project")
    project.ingest(write_export(tmp_path / "v1.json", v1))
    again = write_export(tmp_path / "v1-and-more.json", [*v1, ls_task(2, [ls_annotation(3)])])
    result = project.ingest(write_export(tmp_path / "v2.json", v2), again)
    assert result.files.select("source_file", "tasks_unchanged").rows() == [
        (str(tmp_path / "v2.json"), 0),
        (str(again), 1),
    ]
    assert project.resolve().ground_truth.filter(pl.col("task_id") == "1")["annotation_id"].to_list() == ["1"]


def test_the_same_bytes_in_a_namespace_are_another_projects_task(tmp_path):
    tasks = [ls_task(1, [ls_annotation(1)])]
    plain = Project(tmp_path / "plain")
    plain.ingest(write_export(tmp_path / "monday.json", tasks))
    tuesday = write_export(tmp_path / "tuesday.json", [*tasks, ls_task(2, [ls_annotation(2)])])
    assert plain.ingest(f"lab={tuesday}").files.is_empty()  # project lab:1's, not 1's
    named = Project(tmp_path / "named", project="lab:1")
    named.ingest(f"lab={tmp_path / 'monday.json'}")
    assert named.ingest(f"lab={tuesday}").totals["tasks_unchanged"] == 1


def test_a_duplicate_of_an_unchanged_task_is_quarantined_as_in_a_full_reading(tmp_path):
    first = [ls_task(1, [ls_annotation(1)])]
    project = Project(tmp_path / "project")
    project.ingest(write_export(tmp_path / "monday.json", first))
    tuesday = write_export(tmp_path / "tuesday.json", [*first, ls_task(1, [ls_annotation(9)])])
    result = project.ingest(tuesday)
    assert any("read in full" in m.text for m in result.messages)
    assert result.files.select("records_read", "records_quarantined", "tasks_unchanged").rows() == [(3, 1, 0)]
    assert "duplicate task id 1 in project 1 (first at $[0])" in project.tables[QUARANTINE]["reason"].item()
    assert project.tables[ANNOTATIONS]["annotation_id"].to_list() == ["1"]
