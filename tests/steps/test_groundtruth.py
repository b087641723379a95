"""The GT step on small exports, without Dagster or a warehouse: resolution, versions, the publication gate,
history and the figures a run of `ground_truth` reports."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, GROUND_TRUTH_HISTORY
from pipeline.groundtruth import versioning
from pipeline.groundtruth.policy import append_override
from pipeline.steps import Message
from pipeline.steps.groundtruth import CHANGE_KINDS
from tests.conftest import ls_annotation, ls_task, write_export
from tests.steps.conftest import T0, Project

T1 = datetime(2026, 3, 2, tzinfo=UTC)


def two_tasks(project: Project, tmp_path, name: str = "v1.json", gt: tuple[int, int] = (1, 3)):
    """Task 1 with annotations 1 and 2, task 2 with annotation 3; `gt` says which are flagged GT."""
    tasks = [
        ls_task(1, [ls_annotation(a, ground_truth=a in gt) for a in (1, 2)]),
        ls_task(2, [ls_annotation(3, ground_truth=3 in gt)]),
    ]
    return project.ingest(write_export(tmp_path / name, tasks))


def test_the_first_resolution_publishes_version_0(project, tmp_path):
    two_tasks(project, tmp_path)
    step = project.resolve()
    assert step.passed and step.published is step.candidate and step.current is step.published
    assert step.published.version == 0 and step.previous is None
    assert step.ground_truth.select("task_id", "annotation_id", "version", "gt_version").rows() == [
        ("1", "1", 0, 0),
        ("2", "3", 0, 0),
    ]
    assert step.ground_truth.columns == list(GROUND_TRUTH.columns)
    assert step.info == {"run_id": "run-2", "changes": 2, "schema_changes": [], "sources": [str(tmp_path / "v1.json")]}
    assert step.messages == [Message("info", "ground truth version 0 of project 1: 2 change(s)")]
    assert step.history.select("task_id", "change", "version", "valid_from", "valid_to", "run_id").rows() == [
        ("1", "set", 0, T0, None, "run-2"),
        ("2", "set", 0, T0, None, "run-2"),
    ]
    assert step.figures(gt_version_path="projects/1/ground_truth/0") == {
        "gt_version": 0,
        "changes": 2,
        "gt_version_path": "projects/1/ground_truth/0",
        **{f"changes_{kind}": n for kind, n in zip(CHANGE_KINDS, (2, 0, 0, 0), strict=True)},
        "method_flag": 2,
        "confirmed_empty": 0,
    }


def test_a_new_version_only_when_the_gt_changed(project, tmp_path):
    two_tasks(project, tmp_path)
    first = project.resolve()
    same = project.resolve(at=T1)  # the same input makes no version
    assert same.candidate is None and same.published is None and same.passed and same.messages == []
    assert same.current is first.published and same.info == {}
    assert same.ground_truth.equals(first.ground_truth)
    assert same.history.equals(first.history) and same.changes.is_empty()
    figures = same.figures(gt_version_path="v0")
    assert (figures["gt_version"], figures["changes"], figures["gt_version_path"], figures["changes_set"]) == (
        0,
        0,
        "v0",
        0,
    )

    two_tasks(project, tmp_path, "v2.json", gt=(2,))  # task 1's GT moves to annotation 2, task 2 loses its GT
    moved = project.resolve(at=T1)
    assert moved.published.version == 1 and [v.version for v in project.versions] == [0, 1]
    assert project.versions[0].ground_truth.select("task_id", "annotation_id").rows() == [("1", "1"), ("2", "3")]
    assert project.tables[ANNOTATIONS].filter(pl.col("annotation_id") == "3").height == 1  # unset keeps the annotation
    assert moved.changes.select("task_id", "change", "annotation_id", "previous_annotation_id").rows() == [
        ("1", "replaced", "2", "1"),
        ("2", "unset", None, "3"),
    ]
    assert moved.ground_truth.select("task_id", "annotation_id", "version", "gt_version").rows() == [("1", "2", 1, 1)]
    v1, v2 = str(tmp_path / "v1.json"), str(tmp_path / "v2.json")
    assert moved.history.select("task_id", "change", "version", "valid_from", "valid_to", "source_file").rows() == [
        ("1", "set", 0, T0, T1, v1),
        ("1", "replaced", 1, T1, None, v2),
        ("2", "set", 0, T0, T1, v1),
        ("2", "unset", 1, T1, None, v2),
    ]
    figures = moved.figures(gt_version_path="v1")
    assert [figures[f"changes_{kind}"] for kind in CHANGE_KINDS] == [0, 1, 1, 0] and figures["changes"] == 2
    assert moved.messages == [Message("info", "ground truth version 1 of project 1: 2 change(s)")]


def test_the_history_is_the_published_versions_as_read_back(project, tmp_path):
    """The step derives the history from the versions in memory; the warehouse reads each version's changes
    back from Parquet: the same table."""
    two_tasks(project, tmp_path)
    project.resolve()
    two_tasks(project, tmp_path, "v2.json", gt=(2, 3))
    step = project.resolve(at=T1)
    read_back = []
    for version in project.versions:
        version.changes.write_parquet(tmp_path / f"changes-{version.version}.parquet")
        read_back.append(pl.read_parquet(tmp_path / f"changes-{version.version}.parquet"))
    assert step.history.equals(versioning.history(read_back))
    assert step.history.schema == GROUND_TRUTH_HISTORY.polars_schema


def test_the_gate_blocks_an_unpublishable_version(project, tmp_path):
    """An override making a cancelled annotation GT: the candidate fails the publication check, nothing is
    published, core.ground_truth stays as it was and the run says why."""
    project.ingest(
        write_export(
            tmp_path / "v1.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2, cancelled=True)])]
        )
    )
    assert project.resolve().published.version == 0
    overrides = tmp_path / "overrides.yaml"
    append_override(
        overrides, project="1", task="1", action="set", annotation="2", author="qa@example.org", reason="test"
    )

    blocked = project.resolve(overrides=overrides, at=T1)
    assert blocked.candidate is not None and blocked.candidate.version == 1
    assert not blocked.passed and blocked.published is None and [v.version for v in project.versions] == [0]
    assert blocked.problems.height == 1
    assert (
        "expect_column_values_to_be_in_set on annotation_state (annotation_state=cancelled)"
        in blocked.problems["problem"].item()
    )
    assert blocked.messages == [
        Message("error", "ground truth of project 1 not published: 1 problem(s); version stays 0")
    ]
    assert blocked.current.version == 0 and blocked.ground_truth["annotation_id"].to_list() == ["1"]
    assert blocked.changes.is_empty() and blocked.info == {}
    assert blocked.history.height == 1  # version 0's change only


def test_a_blocked_first_version_leaves_no_version(project, tmp_path):
    project.ingest(
        write_export(tmp_path / "v1.json", [ls_task(1, [ls_annotation(1), ls_annotation(2, cancelled=True)])])
    )
    overrides = tmp_path / "overrides.yaml"
    append_override(
        overrides, project="1", task="1", action="set", annotation="2", author="qa@example.org", reason="test"
    )
    blocked = project.resolve(overrides=overrides)
    assert not blocked.passed and blocked.current is None and project.versions == []
    assert blocked.messages == [
        Message("error", "ground truth of project 1 not published: 1 problem(s); version stays none yet")
    ]
    assert blocked.history.is_empty() and blocked.ground_truth.is_empty()


def test_only_the_projects_overrides_apply(project, tmp_path):
    two_tasks(project, tmp_path)
    overrides = tmp_path / "overrides.yaml"
    append_override(
        overrides, project="2", task="1", action="set", annotation="2", author="qa@example.org", reason="other project"
    )
    assert project.resolve(overrides=overrides).ground_truth["annotation_id"].to_list() == ["1", "3"]

    append_override(
        overrides, project="1", task="1", action="set", annotation="2", author="qa@example.org", reason="tighter"
    )
    step = project.resolve(overrides=overrides, at=T1)
    assert step.published.version == 1
    assert step.changes.select("task_id", "change", "annotation_id", "method", "decided_by").rows() == [
        ("1", "replaced", "2", "override", "qa@example.org")
    ]
    assert step.figures()["method_override"] == 1 and step.figures()["method_flag"] == 1


def test_no_gt_at_all_is_no_version(project, tmp_path):
    project.ingest(write_export(tmp_path / "v1.json", [ls_task(1, [ls_annotation(1)])]))
    step = project.resolve()
    assert step.candidate is None and step.current is None and step.passed and step.messages == []
    assert step.ground_truth.is_empty() and step.ground_truth.columns == list(GROUND_TRUTH.columns)
    assert step.figures(gt_version_path="anywhere") == {
        "gt_version": -1,
        "changes": 0,
        "gt_version_path": "none",
        **{f"changes_{kind}": 0 for kind in CHANGE_KINDS},
        "confirmed_empty": 0,
    }


def test_two_flags_on_a_task_are_a_conflict(project, tmp_path):
    flags = [
        ls_annotation(10, ground_truth=True, updated_at="2026-01-02T00:00:00Z"),
        ls_annotation(11, ground_truth=True),
    ]
    project.ingest(write_export(tmp_path / "v1.json", [ls_task(1, flags)]))
    step = project.resolve()
    assert step.conflicts.select("task_id", "chosen_annotation_id").rows() == [("1", "10")]
    assert step.ground_truth["annotation_id"].to_list() == ["10"]


def test_a_quarantined_gt_candidate_is_named_in_the_conflicts(project, tmp_path):
    bad = ls_annotation(11, user=2, ground_truth=True) | {"lead_time": -5.0}
    project.ingest(
        write_export(tmp_path / "v1.json", [ls_task(1, [bad, ls_annotation(12, user=3, ground_truth=True)])])
    )
    step = project.resolve()
    assert step.ground_truth["annotation_id"].to_list() == ["12"]
    conflict = step.conflicts.row(0, named=True)
    assert (conflict["chosen_annotation_id"], conflict["candidate_annotation_ids"]) == ("12", ["11"])
    assert conflict["rule"].startswith("GT candidate 11 quarantined, expectations/core.annotations.json: ")
