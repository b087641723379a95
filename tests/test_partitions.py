"""Projects are dynamic partitions: runs, failures and backfills concern one project at a time."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipeline.checks.expectations import screening_check_results
from pipeline.cli.run import execute
from pipeline.contract import ANSWERS, GROUND_TRUTH, QUARANTINE, SOURCE_FILES, TASKS
from pipeline.definitions import defs, gtq_job, nightly
from pipeline.validation import DataDocs
from pipeline.warehouse import Warehouse
from tests.conftest import in_memory, ls_annotation, ls_task, write_export
from tests.steps.conftest import Project

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py


def test_one_run_per_project_and_each_run_touches_only_its_project(tmp_path):
    a = write_export(
        tmp_path / "a.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)], project=10)]
    )
    b = write_export(tmp_path / "b.json", [ls_task(1, [ls_annotation(3, ground_truth=True)], project=20)])
    store = Warehouse(tmp_path / "wh")
    (tmp_path / "gt").mkdir()
    with in_memory() as instance:
        result = execute([a, b], store.root, groundtruth=tmp_path / "gt", instance=instance)
        assert sorted(result.runs) == ["10", "20"] and result.success
        assert {e.partition for e in result.get_asset_materialization_events()} == {"10", "20"}
        assert sorted(instance.get_dynamic_partitions("projects")) == ["10", "20"]
        before = store.read(ANSWERS).filter(pl.col("project_id") == "20")

        a2 = write_export(
            tmp_path / "a2.json", [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)], project=10)]
        )
        again = execute([a2], store.root, groundtruth=tmp_path / "gt", instance=instance)
        assert list(again.runs) == ["10"]
        assert {e.partition for e in again.get_asset_materialization_events()} == {"10"}
    gt = dict(store.read(GROUND_TRUTH).select("project_id", "annotation_id").iter_rows())
    assert gt == {"10": "2", "20": "3"}
    assert store.read(ANSWERS).filter(pl.col("project_id") == "20").equals(before)  # project 20 untouched


def test_a_file_with_two_projects_is_ingested_by_both_runs_and_counted_once(tmp_path):
    both = write_export(
        tmp_path / "both.json",
        [ls_task(1, [ls_annotation(1)], project=10), ls_task(2, [ls_annotation(2)], project=20), {"id": None}],
    )
    store = Warehouse(tmp_path / "wh")
    (tmp_path / "gt").mkdir()
    result = execute([both], store.root, groundtruth=tmp_path / "gt", instance=in_memory())
    assert sorted(result.runs) == ["10", "20"]
    ledger = store.read(SOURCE_FILES).sort("project_id")
    assert ledger.select("project_id", "records_read", "records_accepted", "records_quarantined").rows() == [
        ("10", 5, 4, 1),
        ("20", 0, 0, 0),
    ]
    assert store.read(QUARANTINE).height == 1  # once, with the file's first project
    assert store.read(TASKS).sort("project_id")["project_id"].to_list() == ["10", "20"]


def test_a_backfill_re_runs_one_project_from_the_ui_job(tmp_path):
    store = Warehouse(tmp_path / "wh")
    with in_memory() as instance:
        execute(
            [write_export(tmp_path / "a.json", [ls_task(1, [ls_annotation(1, ground_truth=True)], project=10)])],
            store.root,
            instance=instance,
        )
        run = defs.resolve_job_def(gtq_job.name).execute_in_process(
            partition_key="10",
            instance=instance,
            run_config={
                "resources": {
                    "warehouse": {"config": {"root": str(store.root), "inbox": str(tmp_path / "empty-inbox")}}
                }
            },
        )
        assert run.success
        assert {e.partition for e in run.get_asset_materialization_events()} == {"10"}
    assert store.read(GROUND_TRUTH)["annotation_id"].to_list() == ["1"]


def test_the_nightly_schedule_runs_every_known_project():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("projects", ["7", "8"])
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 24, 2))
        requests = list(nightly(context))
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("7", "nightly-2026-11-24-7"),
        ("8", "nightly-2026-11-24-8"),
    ]


def test_checks_judge_only_the_project_of_the_run(tmp_path, monkeypatch):
    """A warning the team adds to the core.annotations suite, broken by a prediction of project 10: the check of
    project 10's run fails, project 20's passes, whether each project comes in a file of its own or both in one
    (the screening then sees both projects' rows). The screening checks (`screening_check_results`) of each
    project's ingest step, given every file as `gtq run` is, without a run."""
    suites = tmp_path / "expectations"
    shutil.copytree(Path(__file__).resolve().parent.parent / "expectations", suites)
    annotations_suite = json.loads((suites / "core.annotations.json").read_text())
    annotations_suite["expectations"].append(  # a warning: rows stay, the check fails
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "score", "max_value": 0.5},
            "severity": "warning",
        }
    )
    (suites / "core.annotations.json").write_text(json.dumps(annotations_suite))
    monkeypatch.setenv("GTQ_EXPECTATIONS", str(suites))
    confident = {
        "id": 9,
        "model_version": "m1",
        "score": 0.9,
        "result": [],
    }  # above the team's warning line, in project 10
    in_10 = ls_task(1, [ls_annotation(1, ground_truth=True)], project=10, predictions=[confident])
    in_20 = ls_task(2, [ls_annotation(3, ground_truth=True)], project=20)
    apart = [write_export(tmp_path / "a.json", [in_10]), write_export(tmp_path / "b.json", [in_20])]
    together = [write_export(tmp_path / "both.json", [in_10, in_20])]
    for name, sources in (("apart", apart), ("together", together)):
        failed = {}
        for project in ("10", "20"):
            ingested = Project(tmp_path / name / project, project=project).ingest(*sources)
            checks = screening_check_results(ingested.screening, project, DataDocs.of(tmp_path / "wh", project))
            assert {c.check_name for c in checks} == {"expectations_annotations", "expectations_regions"}
            failed[project] = [c.check_name for c in checks if not c.passed]
        assert failed == {"10": ["expectations_annotations"], "20": []}, name
