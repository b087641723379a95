"""End to end through Dagster: every asset and check materialized in-process into a real warehouse."""

from __future__ import annotations

import gc
import json
import shutil
import weakref
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipeline import validation
from pipeline.assets.ingest import INGESTED
from pipeline.cli.run import execute, run_pipeline
from pipeline.contract import (
    ALL_TABLES,
    ANNOTATIONS,
    ANNOTATOR_CONFUSION,
    ANNOTATOR_DAILY,
    ANNOTATOR_PERFORMANCE,
    ANSWERS,
    AVERAGE_PRECISION,
    CONFUSION_MATRIX,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    IMAGE_DETECTION_SCORES,
    JOB_QUALITY,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    QUARANTINE,
    REGION_CONFLICTS,
    REGIONS,
    SOURCE_FILES,
    TASKS,
)
from pipeline.definitions import defs
from pipeline.groundtruth.policy import append_override
from pipeline.instance import open_instance
from pipeline.sample import TWO_FLAGS_TASK_INDEX
from pipeline.warehouse import Warehouse
from tests.conftest import copy_of, in_memory, ls_annotation, ls_task, run_ok, write_export

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"publishable_ground_truth", "expectations_ground_truth", "expectations_annotations"} <= checks


def test_no_table_a_step_validated_outlives_the_step(tmp_path, monkeypatch):
    """GE leaves reference cycles through the frames that validated a table (pydantic errors holding their
    tracebacks): without a collection after each step, each table validated stays in memory, with every table
    its callers held, until Python's own full collection, here never (automatic collections off)."""
    validated = []
    validate = validation._results

    def recording(frame, *args, **kwargs):
        validated.append(weakref.ref(frame))
        return validate(frame, *args, **kwargs)

    monkeypatch.setattr(validation, "_results", recording)
    gc.disable()
    try:
        run_ok([], tmp_path / "warehouse")
        alive = sum(ref() is not None for ref in validated)  # before the collection enabling sets off
    finally:
        gc.enable()
    assert len(validated) >= 4  # the two screened tables and the checks of the others
    assert alive == 0


def test_sample_run_writes_every_contract_table(sample_run):
    result, store = sample_run
    materialized = {e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {f"{t.schema}/{t.name}" for t in ALL_TABLES} | {"reports/quality_report"}
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        for table in ALL_TABLES:
            columns = [r[0] for r in con.execute(f"DESCRIBE {table.key}").fetchall()]
            assert columns == list(table.columns), table.key
            assert pl.read_delta(store.table_path(table)).height == store.read(table).height  # any Delta reader, no gtq
            rows = con.execute(f"SELECT count(*) FROM {table.key}").fetchone()[0]
            assert rows == store.read(table).height
            if table not in (QUARANTINE, JOB_QUALITY):  # the sample has no CVAT job
                assert rows > 0, table.key


def test_sample_run_accounts_for_every_record(sample_run):
    _, store = sample_run
    files = store.read(SOURCE_FILES)
    assert files.height == 1
    f = files.row(0, named=True)
    assert f["records_read"] == f["records_accepted"] + f["records_quarantined"]
    assert f["records_accepted"] == store.read(TASKS).height + store.read(ANNOTATIONS).height


def test_sample_run_ground_truth(sample_run):
    result, store = sample_run
    gt = store.read(GROUND_TRUTH)
    assert gt.select("project_id", "task_id").is_duplicated().sum() == 0
    assert set(gt["version"]) == {0} and set(gt["method"]) == {"flag", "review"} and gt["verified"].all()
    assert store.gt_versions("7") == [0]
    assert pl.read_parquet(store.gt_version_path("7", 0) / "ground_truth.parquet").equals(gt.drop("gt_version"))
    assert set(gt["gt_version"]) == {0}  # the version the table holds, on every row
    conflict = store.read(GROUND_TRUTH_CONFLICTS).row(0, named=True)
    assert conflict["task_id"] == str(1000 + TWO_FLAGS_TASK_INDEX)
    flagged = store.read(ANNOTATIONS).filter(pl.col("annotation_id").is_in(conflict["candidate_annotation_ids"]))
    latest = flagged.sort("updated_at")["annotation_id"][-1]
    assert conflict["chosen_annotation_id"] == latest
    assert gt.filter(pl.col("task_id") == conflict["task_id"])["annotation_id"].item() == latest
    assert store.read(GROUND_TRUTH_HISTORY).height == gt.height


def test_sample_run_scores_rank_the_careless_annotator_last(sample_run):
    _, store = sample_run
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        ranking = con.execute(
            "SELECT annotator FROM quality.annotator_performance WHERE origin = 'human' AND n_scored > 0 ORDER BY"
            " accuracy"
        ).fetchall()
        assert ranking[0][0] == "eli@wildlife.example"
        kappa = con.execute(
            "SELECT fleiss_kappa, krippendorff_alpha, fleiss_kappa_ci_low, fleiss_kappa_ci_high FROM"
            " quality.project_agreement WHERE control = 'species'"
        ).fetchone()
        assert 0.3 < kappa[0] < 0.9 and 0.3 < kappa[1] < 0.9
        assert (
            kappa[2] < kappa[0] < kappa[3] and kappa[3] - kappa[2] < 0.3
        )  # about 300 tasks: a usefully narrow interval
        assert con.execute("SELECT min(score), max(score) FROM quality.annotation_scores").fetchone() == (0.0, 1.0)


@pytest.fixture(scope="module")
def one_flag(tmp_path_factory) -> tuple[Warehouse, Path]:
    """Project 1 after one run of an export with one task, its annotation flagged GT: (the warehouse, the
    export). Read only: tests that run again work on a `copy_of` it."""
    root = tmp_path_factory.mktemp("one-flag")
    export = write_export(root / "export.json", [ls_task(1, [ls_annotation(1, ground_truth=True)])])
    store = Warehouse(root / "wh")
    run_ok([export], store.root)
    return store, export


def test_an_unpublishable_ground_truth_is_not_published_and_blocks_scoring(tmp_path):
    export = write_export(
        tmp_path / "export.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2, cancelled=True)])]
    )
    store, gt_dir = Warehouse(tmp_path / "wh"), tmp_path / "gt"
    run_ok([export], store.root, gt_dir)
    append_override(
        gt_dir / "overrides.yaml",
        project="1",
        task="1",
        action="set",
        annotation="2",
        author="qa@example.org",
        reason="test",
    )

    committed = {t.key: store.versions(t, "1") for t in INGESTED}
    result = execute(
        [export], store.root, groundtruth=gt_dir
    )  # project 1 again: the file is known, the GT is re-resolved
    assert {t.key: store.versions(t, "1") for t in INGESTED} == committed  # the known file: nothing rewritten
    ingest = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["core", "source_files"])
    )
    assert ingest.materialization.metadata["files_skipped"].value == 1  # as the UI shows it
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "publishable_ground_truth")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.metadata["problems"].value == 1
    assert (
        "expect_column_values_to_be_in_set on annotation_state (annotation_state=cancelled)"
        in check.metadata["examples"].value
    )
    assert store.gt_versions("1") == [0]  # nothing new published
    assert store.read(GROUND_TRUTH)["annotation_id"].to_list() == ["1"]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "core/ground_truth" not in materialized and "quality/annotation_scores" not in materialized

    # What did not run shows as skipped, not failed: the run itself succeeded, so Dagster resolves the
    # checks it planned and never ran (the scores' suite) as SKIPPED in the UI.
    run = result.runs["1"]
    assert run.success
    instance = open_instance(store.root)
    scores_check = dg.AssetCheckKey(dg.AssetKey(["quality", "annotation_scores"]), "expectations_annotation_scores")
    [record] = instance.event_log_storage.get_asset_check_execution_history(scores_check, limit=1)
    assert record.run_id == run.run_id and record.status.value == "PLANNED"
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert run_pipeline([str(export)], store.root, groundtruth=gt_dir) == 1  # yet `gtq run` fails, naming the problem


def test_a_write_that_fails_midway_leaves_the_previous_state(one_flag, tmp_path, monkeypatch):
    v2 = write_export(tmp_path / "v2.json", [ls_task(2, [ls_annotation(2, ground_truth=True)])])
    store = copy_of(one_flag[0], tmp_path / "wh")  # after a run of v1: task 1, its annotation flagged GT
    before = {t.key: store.read(t) for t in (SOURCE_FILES, TASKS, ANNOTATIONS, QUARANTINE)}

    real_sink = pl.LazyFrame.sink_parquet

    def failing_sink(frame, path, *args, **kwargs):
        if "core/annotations" in str(path):  # the second of the ingest's eight tables: one file is already written
            raise OSError("disk full (simulated)")
        return real_sink(frame, path, *args, **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", failing_sink)
    (tmp_path / "gt").mkdir()
    result = execute([v2], store.root, groundtruth=tmp_path / "gt", instance=in_memory())
    assert not result.success
    monkeypatch.undo()
    for table in (SOURCE_FILES, TASKS, ANNOTATIONS, QUARANTINE):
        assert store.read(table).equals(before[table.key]), table.key
    assert not list(store.root.rglob(".staging/*/*"))
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.tasks").fetchone() == (1,)
    run_ok([v2], store.root)  # the same file goes through once the disk is back
    assert store.read(TASKS).height == 2


DATA = Path(__file__).parent / "ingest" / "data"


def test_scout_folder_through_the_pipeline(tmp_path):
    shutil.copy(DATA / "survey-annotations.csv", tmp_path / "survey-annotations.csv")
    shutil.copy(DATA / "survey-images.csv", tmp_path / "survey-images.csv")
    store = Warehouse(tmp_path / "wh")
    result = run_ok([tmp_path], store.root)  # the folder: the images CSV is read with its annotations CSV
    files = store.read(SOURCE_FILES)
    assert files.select("format", "records_read", "records_quarantined").rows() == [("scout-annotations-csv", 11, 1)]
    gt = store.read(GROUND_TRUTH).sort("task_id")
    assert gt.select("task_id", "annotation_id", "confirmed_empty").rows() == [  # Scout: GT belongs to the image
        ("t1/IMG_001.JPG", "t1/IMG_001.JPG/gt", False),
        ("t1/IMG_003.JPG", "t1/IMG_003.JPG/gt", True),
        ("t2/IMG_001.JPG", "t1/IMG_001.JPG/gt", False),
    ]
    assert store.read(QUARANTINE)["locator"].to_list() == ["line 7 (task t2, image IMG_002.JPG)"]
    assert result.success
    # The images CSV's WIC confidence (0.97, 0.12, 0.97 on the three images with GT) is a model of its own.
    wic = (
        store.read(IMAGE_DETECTION_SCORES).filter(pl.col("annotator") == "(whole-image classifier)").row(0, named=True)
    )
    assert (wic["origin"], wic["n_images"], wic["n_positive"], wic["tp"], wic["tn"], wic["roc_auc"]) == (
        "model",
        3,
        2,
        2,
        1,
        1.0,
    )


def test_coco_predictions_survive_a_newer_ground_truth(tmp_path):
    shutil.copytree(DATA / "coco", tmp_path / "coco")
    store = Warehouse(tmp_path / "wh")
    run_ok([tmp_path / "coco" / "val2026.json", tmp_path / "coco" / "yolo-v9.json"], store.root)
    models = store.read(ANNOTATIONS).filter(pl.col("origin") == "model")
    assert sorted(models["annotation_id"]) == [
        "prediction:yolo-v9:1",
        "prediction:yolo-v9:2",
        "prediction:yolo-v9:bad",
    ]  # every image
    gt_file = tmp_path / "coco" / "val2026.json"
    gt_file.write_text(gt_file.read_text().replace('"area": 5000', '"area": 5001'))  # a new GT snapshot
    run_ok([gt_file], store.root)
    assert store.read(ANNOTATIONS).filter(pl.col("origin") == "model").height == 3
    assert store.read(REGIONS).filter(pl.col("annotation_id").str.starts_with("prediction:")).height == 2


def test_sample_run_detection_scores_rank_annotators_by_skill(sample_run):
    _, store = sample_run
    detection = store.read(DETECTION_SCORES)
    assert set(detection["matching"]) == {"hungarian", "greedy", "coco"} and detection["iou_threshold"].n_unique() == 10
    scores = detection.filter(
        (pl.col("iou_threshold") == 0.5) & (pl.col("origin") == "human") & (pl.col("matching") == "hungarian")
    ).sort("f1")
    assert scores["annotator"][0] == "eli@wildlife.example" and scores["annotator"][-1] == "amara@wildlife.example"
    assert (scores["tp"] + scores["fn"] + scores["mismatched_label"]).min() > 0


def test_sample_run_scores_the_detector_the_coco_way(sample_run):
    _, store = sample_run
    model = store.read(MODEL_PERFORMANCE).row(0, named=True)
    assert 0 < model["map_50_95"] < model["map_50"] < 1  # its boxes are jittered: AP falls with stricter IoU
    assert 0.5 < model["image_roc_auc"] <= 1
    curves = store.read(PRECISION_RECALL_CURVE)
    assert curves.group_by("label", "iou_threshold").len()["len"].unique().to_list() == [101]
    assert store.read(AVERAGE_PRECISION).filter(pl.col("origin") == "human").is_empty()  # people's boxes have no score


def test_sample_run_dawid_skene_finds_the_careless_annotator(sample_run):
    _, store = sample_run
    confusion = store.read(ANNOTATOR_CONFUSION).filter(pl.col("true_label") == pl.col("label"))
    accuracy = confusion.group_by("annotator").agg(pl.col("probability").mean()).sort("probability")
    assert (
        accuracy["annotator"][0] == "eli@wildlife.example"
        and accuracy["probability"][0] < 0.7 < accuracy["probability"][-1]
    )
    labels = store.read(CONSENSUS_LABELS)
    assert labels["task_id"].is_in(store.read(GROUND_TRUTH)["task_id"].implode()).sum() == 0  # only tasks without GT
    assert labels.filter(pl.col("tied"))["majority"].null_count() == labels["tied"].sum()


def test_sample_run_daily_trend_adds_up_to_the_dashboard(sample_run):
    """quality.annotator_daily counts in annotator_performance's units: per participant, the days sum to its
    n_annotations, n_submitted and n_scored, and the days' accuracies weighted by n_scored give its accuracy."""
    _, store = sample_run
    keys = ["annotator", "origin"]
    days = (
        store.read(ANNOTATOR_DAILY)
        .group_by(keys)
        .agg(
            pl.col("n_annotations", "n_submitted", "n_scored").sum(),
            ((pl.col("accuracy") * pl.col("n_scored")).sum() / pl.col("n_scored").sum()).alias("accuracy"),
        )
    )
    totals = store.read(ANNOTATOR_PERFORMANCE).select(*keys, "n_annotations", "n_submitted", "n_scored", "accuracy")
    joined = totals.join(days, on=keys, suffix="_days")
    assert joined.height == totals.height == days.height and joined["n_scored"].sum() > 0
    for column in ("n_annotations", "n_submitted", "n_scored"):
        assert joined[column].to_list() == joined[f"{column}_days"].to_list(), column
    scored = joined.filter(pl.col("n_scored") > 0)
    assert scored["accuracy"].to_list() == pytest.approx(scored["accuracy_days"].to_list(), abs=1e-12)


def test_the_same_input_gives_the_same_bits(sample_run, tmp_path):
    from pipeline.sample import bundled_sample
    from tests.test_concurrency import assert_same, contents

    _, first = sample_run  # the bundled sample in a fresh warehouse; the same file again in another
    stores = [first, Warehouse(tmp_path / "second")]
    run_ok([bundled_sample(first.root)], stores[1].root)
    assert_same(contents(stores[0]), contents(stores[1]))  # every float to the last bit: sums add in a fixed order
    for part in ("regions", "ground_truth", "tasks", "categories"):  # a GT version's files, byte for byte
        first, second = ((s.gt_version_path("7", 0) / f"{part}.parquet").read_bytes() for s in stores)
        assert first == second, part


def test_gtq_run_warns_of_exports_reusing_project_and_task_ids(tmp_path, capsys, runs_in_memory):
    """Two Label Studio instances, both with a "project 1" and tasks 1-3 on different images: without
    namespaces the second export replaces the first's tasks, and `gtq run` says so. (What the ingest step
    reports, and how `NAME=PATH` keeps them apart: tests/steps/test_ingest.py.)"""
    from pipeline.cli import main

    def export(name: str, image: str) -> Path:
        tasks = [
            ls_task(t, [ls_annotation(10 * t, user=2)]) | {"data": {"image": f"{image}_{t}.jpg"}} for t in (1, 2, 3)
        ]
        return write_export(tmp_path / f"{name}.json", tasks)

    first, second = export("lab-a", "zebras"), export("lab-b", "lions")
    (tmp_path / "gt").mkdir()
    gt = ["--groundtruth", str(tmp_path / "gt")]
    assert (
        main(["run", "--source", str(first), "--source", str(second), "--warehouse", str(tmp_path / "mixed"), *gt]) == 0
    )
    assert "WARNING: 3 task(s) replaced by a snapshot whose task data differs" in capsys.readouterr().out
    assert Warehouse(tmp_path / "mixed").read(TASKS).height == 3  # what happened without namespaces


def test_a_source_is_a_namespace_only_when_it_is_not_a_path(tmp_path):
    from pipeline.ingest import Source

    odd = tmp_path / "run=3.json"
    odd.write_text("[]")
    assert Source.parse(str(odd)) == Source(odd)  # an existing path keeps its '='
    assert Source.parse("lab-a=exports/a.json") == Source(Path("exports/a.json"), "lab-a")
    assert Source.parse("not a name=x.json") == Source(Path("not a name=x.json"))
    assert str(Source(Path("a.json"), "lab")) == "lab=a.json" and Source(Path("a.json"), "lab").project("7") == "lab:7"


def test_a_warning_expectation_a_team_adds_fails_the_check_not_the_rows(one_flag, tmp_path, monkeypatch):
    """A warning-level expectation added to the team's copy of the suites ($GTQ_EXPECTATIONS) fails the check
    (not the rows) and shows in the Data Docs, beside the validation of the run before. (An edited suite
    changing what is quarantined: tests/steps/test_ingest.py.)"""
    store = copy_of(one_flag[0], tmp_path / "wh")  # after a run of the bundled suites: its Data Docs page
    suites = tmp_path / "expectations"
    shutil.copytree(Path(__file__).resolve().parent.parent / "expectations", suites)
    annotations_suite = json.loads((suites / "core.annotations.json").read_text())
    annotations_suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "annotator", "value_set": ["lead@lab.example"]},
            "severity": "warning",
        }
    )
    (suites / "core.annotations.json").write_text(json.dumps(annotations_suite))
    monkeypatch.setenv("GTQ_EXPECTATIONS", str(suites))
    (tmp_path / "gt").mkdir()
    result = execute(
        [write_export(tmp_path / "more.json", [ls_task(2, [ls_annotation(21, user=3)])])],
        store.root,
        groundtruth=tmp_path / "gt",
        instance=in_memory(),
    )
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "expectations_annotations")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and store.read(QUARANTINE).is_empty()
    assert (
        check.metadata["failed"].value == 1 and "expect_column_values_to_be_in_set" in check.metadata["failures"].value
    )
    assert (
        "annotator=3, project_id=1, task_id=2, annotation_id=21" in check.metadata["failures"].value
    )  # failing rows by id and value
    assert check.metadata["rows_validated"].value == 1  # what the new file brought; the first run validated the rest
    assert result.success  # a warning does not block the run
    docs = Path(check.metadata["data_docs"].value)
    assert docs == store.root / "reports" / "data_docs" / "1" / "index.html" and docs.exists()
    pages = sorted(
        (docs.parent / "validations" / "core" / "annotations").rglob("*.html"), key=lambda page: page.parent.name
    )  # by validation time
    assert len(pages) == 2  # one validation of core.annotations per run, kept across runs
    assert (
        "lead@lab.example" in pages[-1].read_text() and "lead@lab.example" not in pages[0].read_text()
    )  # the new expectation


def test_scoring_in_task_batches_gives_the_scores_of_one_batch(sample_run, monkeypatch):
    """Large projects are scored a batch of tasks at a time: on the sample's 300 tasks in batches of 37,
    every score against GT and every task agreement is what one batch gives."""
    from pipeline.groundtruth import ground_truth_regions
    from pipeline.metrics import scores

    _, store = sample_run
    [project] = store.projects()
    ground_truth, regions, answers = (store.scan_project(t, project) for t in (GROUND_TRUTH, REGIONS, ANSWERS))
    annotations = store.scan_project(ANNOTATIONS, project)

    def scored() -> tuple[pl.DataFrame, pl.DataFrame]:
        against_gt = scores.scores_against_ground_truth(
            annotations, answers, regions, ground_truth, ground_truth_regions(ground_truth, regions)
        )
        agreement = scores.pairwise_task_agreement(answers, annotations, regions)
        return tuple(frame.collect().sort(pl.all()) for frame in (against_gt, agreement))

    whole = scored()
    monkeypatch.setattr(scores, "TASKS_PER_BATCH", 37)
    assert all(batched.equals(one) for batched, one in zip(scored(), whole, strict=True))
    assert whole[0].height > 1000 and whole[0]["score"].n_unique() > 10  # real scores, not a vacuous match


def test_sample_run_box_conflicts_add_up_to_the_detection_scores(sample_run):
    """Every box and GT box of the sample in the conflict list, counted: the same TP, FP, FN and mismatched
    labels as quality.detection_scores at IoU 0.5 (optimal matching), and the same cells as the box confusion matrix."""
    _, store = sample_run
    conflicts = store.read(REGION_CONFLICTS)
    counted = conflicts.group_by("annotator", "control").agg(
        *(
            pl.col("kind").eq(kind).sum().cast(pl.Int64).alias(column)
            for kind, column in (
                ("matched", "tp"),
                ("extra", "fp"),
                ("missing", "fn"),
                ("wrong_label", "mismatched_label"),
            )
        )
    )
    scores = store.read(DETECTION_SCORES).filter((pl.col("iou_threshold") == 0.5) & (pl.col("matching") == "hungarian"))
    assert (
        counted.sort("annotator", "control").rows()
        == scores.select(counted.columns).sort("annotator", "control").rows()
    )
    assert conflicts.filter(pl.col("kind") == "missing")["gt_annotation_id"].null_count() == 0
    boxes = store.read(CONFUSION_MATRIX).filter(pl.col("control") == "animals")["count"].sum()
    assert conflicts.height == boxes
