"""CVAT's own exports of its test tasks 22 and 23, read by gtq and given gtq's GT, yield CVAT's own quality
reports (tests/ingest/data/cvat/expected_quality.json: CVAT 2.32.1's reports and conflicts for those tasks):
every conflict, in CVAT's list, and every job's figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline.groundtruth import item_scoped_projects, resolve_ground_truth
from pipeline.groundtruth.policy import Policy, load_overrides
from pipeline.steps.cvat import KINDS, cvat_quality
from tests.conftest import parse

CVAT = Path(__file__).parent.parent / "ingest" / "data" / "cvat"
EXPECTED = json.loads((CVAT / "expected_quality.json").read_text())["tasks"]
FILES = {"22": ["task22_job27.xml", "task22_job28_gt.xml"], "23": ["task23_task.xml", "task23_job32_gt.xml"]}


def report_of(task: str, tmp_path: Path):
    """The task's exports read by gtq, their GT resolved by gtq's default policy, compared the CVAT way; and
    each region row's position in its <image> (its region_id) and frame, to name shapes as CVAT does."""
    for name in [*FILES[task], "cvat.yaml"]:
        shutil.copy(CVAT / name, tmp_path / name)
    parts = [parse(tmp_path / name, tmp_path) for name in FILES[task]]
    core = {t: pl.concat([getattr(p, t) for p in parts]).lazy() for t in ("tasks", "annotations", "regions")}
    project = parts[0].project_ids[0]
    resolution = resolve_ground_truth(
        **core,
        reviews=pl.concat([p.reviews for p in parts]).lazy(),
        overrides=load_overrides(tmp_path / "none.yaml").lazy(),
        overrides_file=("overrides.yaml", "-"),
        policy=Policy(),
        item_scoped=item_scoped_projects(Policy(), {project: {"cvat-for-images"}}),
    )
    conflicts, jobs = cvat_quality(core["annotations"], core["regions"], resolution.ground_truth.lazy(), core["tasks"])
    where = core["regions"].select(
        "annotation_id",
        "item_index",
        frame=pl.col("task_id").str.extract(r"frame-(\d+)$").cast(pl.Int64),
        position=pl.col("region_id").cast(pl.Int64),
    )
    return conflicts, jobs, where.collect()


def cvat_list(task: str) -> list[tuple]:
    """CVAT's conflicts: (job, kind, severity, the job's shape as (frame, position), the GT's), sorted."""
    gt_job, rows = EXPECTED[task]["gt_job"], []
    job_of_report = {report["id"]: job for job, report in EXPECTED[task]["job_reports"].items()}
    for conflict in EXPECTED[task]["conflicts"]:
        shapes = {a["job_id"] == gt_job: (a["frame"], a["position"]) for a in conflict["annotations"]}
        kind = KINDS.get(conflict["type"], conflict["type"])
        rows.append(
            (job_of_report[conflict["report_id"]], kind, conflict["severity"], shapes.get(False), shapes.get(True))
        )
    return sorted(rows, key=repr)


def gtq_list(conflicts: pl.DataFrame, where: pl.DataFrame) -> list[tuple]:
    """gtq's region_conflicts rows other than matched, in the same terms."""
    named = (
        conflicts.filter(pl.col("kind") != "matched")
        .join(where, on=["annotation_id", "item_index"], how="left")
        .join(
            where.rename(
                {
                    "annotation_id": "gt_annotation_id",
                    "item_index": "gt_item_index",
                    "frame": "gt_frame",
                    "position": "gt_position",
                }
            ),
            on=["gt_annotation_id", "gt_item_index"],
            how="left",
        )
    )
    rows = [
        (
            r["task_id"].split("/")[0].removeprefix("job-"),
            r["kind"],
            r["severity"],
            None if r["position"] is None else (r["frame"], r["position"]),
            None if r["gt_position"] is None else (r["gt_frame"], r["gt_position"]),
        )
        for r in named.iter_rows(named=True)
    ]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("task", ["22", "23"])
def test_cvat_exports_through_gtq_give_cvats_own_report(task, tmp_path):
    conflicts, jobs, where = report_of(task, tmp_path)
    expected = EXPECTED[task]
    for job, report in expected["job_reports"].items():
        want = report["summary"]
        got = jobs.filter((pl.col("scope") == "job") & (pl.col("job_id") == job))
        if not want["frame_count"]:  # a job without GT frames (task 23's job 31) is not compared
            assert got.is_empty()
            continue
        got = got.row(0, named=True)
        for column in ("valid_count", "total_count", "ds_count", "gt_count", "conflict_count", "error_count"):
            assert got[column] == want[column], (job, column)
        for column in ("accuracy", "precision", "recall"):
            assert got[column] == pytest.approx(want[column], abs=1e-12), (job, column)
    project = jobs.filter(pl.col("scope") == "project").row(0, named=True)
    want = expected["task_report"]["summary"]
    assert (project["valid_count"], project["total_count"], project["ds_count"], project["gt_count"]) == (
        want["valid_count"],
        want["total_count"],
        want["ds_count"],
        want["gt_count"],
    )
    assert project["accuracy"] == pytest.approx(want["accuracy"], abs=1e-12)

    listed = conflicts.filter(pl.col("kind") != "matched")
    assert listed.height == want["conflict_count"]
    by_kind = dict(listed.group_by("kind").len().rows())
    assert by_kind == {KINDS.get(k, k): n for k, n in want["conflicts_by_type"].items()}
    assert dict(listed.group_by("severity").len().rows()) == {
        s: n for s, n in (("error", want["error_count"]), ("warning", want["warning_count"])) if n
    }
    assert conflicts.filter(pl.col("kind") == "matched").height == want["valid_count"]
    assert gtq_list(conflicts, where) == cvat_list(task)
