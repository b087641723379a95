"""Runs that compute only what changed: a step whose inputs (its tables' files, the GT policy and overrides it reads,
gtq's code) are those its tables were computed from leaves them as they are, and what the nightly runs leave is
what computing every table again gives."""

from __future__ import annotations

import shutil

import pytest

from pipeline import warehouse as warehouse_module
from pipeline.assets.incremental import RECOMPUTED, TASKS_COMPUTED
from pipeline.cli.run import execute
from pipeline.contract import (
    ALL_TABLES,
    ANNOTATION_SCORES,
    ANSWERS,
    GROUND_TRUTH,
    GROUND_TRUTH_CONFLICTS,
    GROUND_TRUTH_HISTORY,
    PROJECT_AGREEMENT,
    QUALITY_TABLES,
    TASK_AGREEMENT,
)
from pipeline.groundtruth.policy import append_override
from pipeline.instance import open_instance
from pipeline.warehouse import HISTORY_TABLES, Warehouse
from tests.conftest import copy_of, in_memory, ls_annotation, ls_task, run_ok, write_export
from tests.test_concurrency import assert_same, contents

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py


def recomputed(result) -> dict[str, bool]:
    """Each table the run materialized: whether its step computed it (False: left as an earlier run computed it)."""
    return {
        e.asset_key.to_user_string().replace("/", "."): e.materialization.metadata[RECOMPUTED].value
        for e in result.get_asset_materialization_events()
        if RECOMPUTED in e.materialization.metadata
    }


def tasks_computed(result) -> dict[str, str]:
    """Each table a task-local step materialized: the tasks it computed, "N of M" (the others kept)."""
    return {
        e.asset_key.to_user_string().replace("/", "."): e.materialization.metadata[TASKS_COMPUTED].value
        for e in result.get_asset_materialization_events()
        if TASKS_COMPUTED in e.materialization.metadata
    }


def delta_versions(store: Warehouse) -> dict[str, int | None]:
    return {t.key: (d.version() if (d := store.delta_table(t)) else None) for t in (*ALL_TABLES, *HISTORY_TABLES)}


def test_a_rerun_with_nothing_new_computes_no_table_again(sample_run, tmp_path):
    _, sample = sample_run
    store = copy_of(sample, tmp_path / "wh")
    shutil.copytree(sample.root / ".dagster", store.root / ".dagster")  # its record of the checks' results
    before, rows, versions = delta_versions(store), contents(store), store.gt_versions("7")

    result = run_ok([], store.root, tmp_path / "wh" / "groundtruth", instance=open_instance(store.root))

    steps = recomputed(result)
    steps.pop("reports.quality_report")  # `gtq report` may have drawn the sample's page with other settings
    assert set(steps) == {t.key for t in ALL_TABLES if t.schema != "core" or t.name.startswith("ground_truth")}
    assert not any(steps.values())  # every computed table, GT included, left as it was
    assert delta_versions(store) == before  # no commit at all: no table, no history.* row
    assert store.gt_versions("7") == versions
    assert_same(contents(store), rows)
    gt = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["core", "ground_truth"])
    assert gt.materialization.metadata["gt_version"].value == versions[-1]  # described as it stands
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 6 and all(c.passed for c in checks)
    judged_before = [c.check_name for c in checks if "judged_in_run" in c.metadata]  # their suites not run again
    assert sorted(judged_before) == [
        f"expectations_{t}" for t in ("annotation_scores", "ground_truth", "project_agreement")
    ]


def test_nightly_runs_leave_what_computing_every_table_again_gives(tmp_path):
    """A project over six nights: a first export; the next night's whole export with a new task, a new
    annotation and another GT; the same file again; a policy change; a policy and override change for another
    project; an override. Each night computes only the steps whose inputs changed, and what they leave equals
    computing every table again."""
    groundtruth = tmp_path / "groundtruth"

    def night(export, *, expect_recomputed=None, expect_tasks=None):
        result = run_ok([export], store.root, groundtruth)
        steps = recomputed(result)
        if expect_recomputed is not None:
            assert {key for key, again in steps.items() if again} == expect_recomputed
        if expect_tasks is not None:
            assert tasks_computed(result) == expect_tasks
        return steps

    def equals_computing_everything_again():  # the same export again, known: ingest changes nothing
        full = copy_of(store, tmp_path / f"full-{len(list(tmp_path.glob('full-*')))}")
        result = execute([export], full.root, groundtruth=groundtruth, instance=in_memory(), recompute=True)
        assert result.success and all(recomputed(result).values())
        assert_same(contents(store), contents(full))

    store = Warehouse(tmp_path / "wh")
    groundtruth.mkdir()
    first = [
        ls_task(t, [ls_annotation(10 * t, 1, ground_truth=t < 3), ls_annotation(10 * t + 1, 2)]) for t in (1, 2, 3)
    ]
    night(write_export(tmp_path / "night1.json", first))

    second = [
        ls_task(1, first[0]["annotations"]),
        ls_task(2, [ls_annotation(20, 1), ls_annotation(21, 2, "dog", ground_truth=True)]),  # another GT
        ls_task(3, [*first[2]["annotations"], ls_annotation(32, 3, "dog")]),  # a new annotation
        ls_task(4, [ls_annotation(40, 1, "dog", ground_truth=True), ls_annotation(41, 2)]),  # a new task
    ]
    export = write_export(tmp_path / "night2.json", second)
    # New rows in every core table: every step computes, the task-local ones only the tasks that changed (task 1
    # is the same bytes, so its rows too).
    changed = {TASK_AGREEMENT.key: "3 of 4"}
    assert all(night(export, expect_tasks=changed).values())
    equals_computing_everything_again()

    unchanged = night(export)  # the same file again
    assert "reports.quality_report" in unchanged and not any(unchanged.values())

    # Trusting annotator 2 gives task 3 a GT; weighting the control changes every score's weight. What reads
    # neither the policy nor the GT (the answers) is left as it is.
    (groundtruth / "policy.yaml").write_text(
        'projects:\n  "1": {trusted_annotators: ["2"], control_weights: {label: 2}}\n', encoding="utf-8"
    )
    steps = night(export, expect_tasks={TASK_AGREEMENT.key: "4 of 4"})  # the weights hold for every task
    assert steps["core.ground_truth"] and steps[ANNOTATION_SCORES.key] and not steps[ANSWERS.key]
    assert store.scan_project(GROUND_TRUTH, "1").collect()["task_id"].sort().to_list() == ["1", "2", "3", "4"]
    assert set(store.read(ANNOTATION_SCORES)["weight"]) == {2.0}
    equals_computing_everything_again()

    with open(groundtruth / "policy.yaml", "a", encoding="utf-8") as policy:  # another project's rules
        policy.write('  "2": {trusted_annotators: ["1"]}\n')
    append_override(
        groundtruth / "overrides.yaml", project="2", task="1", action="unset", annotation=None, author="qa", reason="t"
    )
    elsewhere = night(export)
    assert elsewhere and not any(elsewhere.values())

    append_override(
        groundtruth / "overrides.yaml", project="1", task="4", action="set", annotation="41", author="qa", reason="t"
    )
    reads_gt = {t.key for t in QUALITY_TABLES} - {ANSWERS.key, PROJECT_AGREEMENT.key}  # agreement: no GT
    gt = {GROUND_TRUTH.key, GROUND_TRUTH_HISTORY.key, GROUND_TRUTH_CONFLICTS.key}
    night(export, expect_recomputed=reads_gt | gt | {"reports.quality_report"})
    assert store.read(GROUND_TRUTH).filter(task_id="4")["annotation_id"].to_list() == ["41"]
    equals_computing_everything_again()


def test_another_version_of_gtq_computes_every_table_again(sample_run, tmp_path, monkeypatch):
    _, sample = sample_run
    store = copy_of(sample, tmp_path / "wh")
    monkeypatch.setattr(warehouse_module, "code_digest", lambda: "another version of gtq")
    steps = recomputed(run_ok([], store.root, tmp_path / "wh" / "groundtruth"))
    assert steps and all(steps.values())


def test_a_task_local_step_reads_the_whole_project_for_what_holds_beyond_a_task(tmp_path):
    """A pair of annotations is scored on every control of its project, a region control too (both blank: 1),
    and a number is scaled by the range of the project's values. A night that edits one task computes its
    agreement alone, on the project's controls and range; a night whose values widen the range computes every
    task. Both equal computing every table again."""
    groundtruth = tmp_path / "groundtruth"

    def annotation(annotation_id: int, user: int, choice: str, weight: float | None) -> dict:
        made = ls_annotation(annotation_id, user, choice, ground_truth=user == 1)
        if weight is not None:  # a number, and a box
            box = {"x": 10.0, "y": 10.0, "width": weight / 2, "height": 20.0, "rectanglelabels": ["zebra"]}
            made["result"] += [
                {"id": f"n{annotation_id}", "type": "number", "from_name": "weight", "to_name": "image",
                 "value": {"number": weight}},
                {"id": f"b{annotation_id}", "type": "rectanglelabels", "from_name": "box", "to_name": "image",
                 "original_width": 100, "original_height": 100, "value": box},
            ]  # fmt: skip
        return made

    def night(name: str, weights: dict[int, tuple[float | None, float | None]]) -> dict[str, str]:
        tasks = [ls_task(t, [annotation(10 * t, 1, "cat", a), annotation(10 * t + 1, 2, "dog", b)])
                 for t, (a, b) in weights.items()]  # fmt: skip
        export = write_export(tmp_path / name, tasks)
        computed = tasks_computed(run_ok([export], store.root, groundtruth))
        full = copy_of(store, tmp_path / f"full-{name}")
        assert execute([export], full.root, groundtruth=groundtruth, instance=in_memory(), recompute=True).success
        assert_same(contents(store), contents(full))
        return computed

    store = Warehouse(tmp_path / "wh")
    groundtruth.mkdir()
    night("night1.json", {1: (10.0, 12.0), 2: (20.0, 22.0), 3: (30.0, 31.0)})
    # Task 2's annotations no longer give a weight nor a box: they still have a row for the weight, blank, and
    # their agreement is scored on both controls, blank against blank. Tasks 1 and 3 are the same bytes.
    assert night("night2.json", {1: (10.0, 12.0), 2: (None, None), 3: (30.0, 31.0)}) == {TASK_AGREEMENT.key: "1 of 3"}
    assert store.read(ANSWERS).filter(task_id="2", control="weight")["answer_key"].to_list() == [None, None]
    # A weight of 90 widens the project's range (10..31 to 10..90): every task's scaled differences change.
    assert night("night3.json", {1: (10.0, 12.0), 2: (None, 90.0), 3: (30.0, 31.0)}) == {TASK_AGREEMENT.key: "3 of 3"}
