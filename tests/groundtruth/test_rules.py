"""Label Studio GT rules and versioning, on frames from real parsing of small exports."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipeline.contract import GROUND_TRUTH, GROUND_TRUTH_HISTORY
from pipeline.groundtruth import rules, versioning
from tests.conftest import ls_annotation, ls_task, parse, write_export


def annotations_of(tmp_path, tasks, name="export.json"):
    export = parse(write_export(tmp_path / name, tasks), tmp_path)
    return export.annotations, export.tasks


def test_flagged_annotation_is_the_gt(tmp_path):
    annotations, _ = annotations_of(tmp_path, [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)]), ls_task(2, [ls_annotation(3)])])
    gt = rules.resolve_by_flag(annotations.lazy()).collect()
    assert gt.select("task_id", "annotation_id", "method", "n_flagged").rows() == [("1", "2", "flag", 1)]


def test_latest_updated_flag_wins_and_the_conflict_is_recorded(tmp_path):
    annotations, _ = annotations_of(
        tmp_path,
        [
            ls_task(
                1,
                [
                    ls_annotation(10, ground_truth=True, updated_at="2026-01-02T00:00:00Z"),
                    ls_annotation(9, ground_truth=True, updated_at="2026-01-03T00:00:00Z"),
                    ls_annotation(11, ground_truth=True, updated_at="2026-01-01T00:00:00Z"),
                ],
            )
        ],
    )
    gt = rules.resolve_by_flag(annotations.lazy())
    assert gt.collect()["annotation_id"].to_list() == ["9"]
    conflicts = rules.flag_conflicts(annotations.lazy(), gt).collect()
    assert conflicts.row(0, named=True) | {"rule": None} == {
        "project_id": "1", "task_id": "1", "chosen_annotation_id": "9", "flagged_annotation_ids": ["11", "10", "9"], "rule": None,
    }


def test_ties_on_updated_at_go_to_the_larger_numeric_id(tmp_path):
    annotations, _ = annotations_of(tmp_path, [ls_task(1, [ls_annotation(10, ground_truth=True), ls_annotation(9, ground_truth=True)])])
    assert rules.resolve_by_flag(annotations.lazy()).collect()["annotation_id"].to_list() == ["10"]


def test_predictions_and_cancelled_annotations_are_never_gt(tmp_path):
    prediction = {"id": 5, "model_version": "m", "score": 0.9, "result": [], "ground_truth": True}
    annotations, _ = annotations_of(tmp_path, [ls_task(1, [ls_annotation(1, ground_truth=True, cancelled=True)], predictions=[prediction])])
    assert rules.resolve_by_flag(annotations.lazy()).collect().is_empty()


def test_versioning_set_replace_unset_and_history(tmp_path):
    first, tasks1 = annotations_of(tmp_path, [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)]), ls_task(2, [ls_annotation(3, ground_truth=True)])], "v1.json")
    resolved = rules.resolve_by_flag(first.lazy()).collect()
    changes = versioning.diff(GROUND_TRUTH.empty(), resolved, tasks1)
    assert changes["change"].to_list() == ["set", "set"]
    snapshot = versioning.next_snapshot(GROUND_TRUTH.empty(), resolved, changes, version=0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    history = versioning.next_history(GROUND_TRUTH_HISTORY.empty(), changes, version=0, at=t0, run_id="run-a")

    # A later export moves task 1's flag to annotation 2 and drops task 2's flag; task 3 is new, unflagged.
    second, tasks2 = annotations_of(tmp_path, [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)]), ls_task(2, [ls_annotation(3)]), ls_task(3, [ls_annotation(4)])], "v2.json")
    resolved2 = rules.resolve_by_flag(second.lazy()).collect()
    changes2 = versioning.diff(snapshot, resolved2, tasks2)
    assert changes2.select("task_id", "change", "annotation_id", "previous_annotation_id", "method").rows() == [
        ("1", "replaced", "2", "1", "flag"),
        ("2", "unset", None, "3", "flag"),
    ]
    assert set(changes2["source_file"]) == {str(tmp_path / "v2.json")}
    snapshot2 = versioning.next_snapshot(snapshot, resolved2, changes2, version=1)
    assert snapshot2.select("task_id", "annotation_id", "version").rows() == [("1", "2", 1)]
    t1 = datetime(2026, 1, 2, tzinfo=UTC)
    history2 = versioning.next_history(history, changes2, version=1, at=t1, run_id="run-b").sort("task_id", "version")
    assert history2.select("task_id", "change", "version", "valid_from", "valid_to", "run_id").rows() == [
        ("1", "set", 0, t0, t1, "run-a"),
        ("1", "replaced", 1, t1, None, "run-b"),
        ("2", "set", 0, t0, t1, "run-a"),
        ("2", "unset", 1, t1, None, "run-b"),
    ]

    # The same resolution again changes nothing.
    assert versioning.diff(snapshot2, resolved2, tasks2).is_empty()
    assert history2.filter(pl.col("valid_to").is_null()).height == 2  # one open period per task ever seen
