"""GT versions are content, per project, forever (the findings of the reproducible-GT issue), on the steps:
small Label Studio exports through `ingest_new_files` and `next_ground_truth`, a version's files through the
exporters. Where a test checks what a `gtq gt` command says, its projects are written into a warehouse as
their runs' assets would write them (`Project.store`: the plain Warehouse, no Dagster, no run)."""

from __future__ import annotations

import json

import duckdb
import polars as pl

from pipeline.cli import main
from pipeline.contract import (
    AGREEMENT_MATRIX,
    ANNOTATION_SCORES,
    ANNOTATIONS,
    ANSWERS,
    GROUND_TRUTH,
    LABEL_CONFIG,
    PROJECT_AGREEMENT,
    REGIONS,
    TASK_AGREEMENT,
)
from pipeline.groundtruth import export
from pipeline.groundtruth.policy import append_override, load_policy, revert_override
from pipeline.steps import quality
from pipeline.warehouse import Warehouse
from tests.conftest import ls_annotation, ls_task, write_export
from tests.groundtruth.test_versions import box_annotation
from tests.steps.conftest import T0, Project

T1 = T0.replace(day=2)

FORMATS = {
    "coco": "gt.coco.json",
    "ls-json": "gt.json",
    "scout-csv": "gt-annotations.csv",
    "parquet": "gt.parquet",
    "cvat": "annotations.xml",
}


def exported(store: Warehouse, project: str, version: int, folder) -> dict[str, bytes]:
    """GT version `version` of the project in every format, as `gtq gt export` writes it: file name -> bytes."""
    files = {}
    for fmt, name in FORMATS.items():
        out = folder / fmt / name
        command = ["gt", "export", "--project", project, "--version", str(version), "--format", fmt, "--out", str(out)]
        assert main([*command, "--warehouse", str(store.root)]) == 0
        files |= {p.name: p.read_bytes() for p in out.parent.iterdir()}
    return files


def coco(version, folder) -> dict:
    """GT version `version` as the COCO exporter writes it, read back."""
    export.to_coco(version, out := folder / f"v{version.version}.coco.json")
    return json.loads(out.read_text())


def test_an_edited_gt_box_makes_a_new_version_and_version_0_exports_the_same_bytes(tmp_path):
    store = Warehouse(tmp_path / "wh")
    p7 = Project(tmp_path, project="7", store=store)
    p7.ingest(write_export(tmp_path / "p7.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)]))
    p7.resolve()
    before = exported(store, "7", 0, tmp_path / "before")

    moved = ls_task(1, [box_annotation(1, x=40.0, updated_at="2026-02-01T10:00:00Z")], project=7)
    p7.ingest(write_export(tmp_path / "v2.json", [moved]))
    step = p7.resolve()
    assert store.gt_versions("7") == [0, 1]
    assert step.figures()["changes_edited"] == 1  # the ground_truth asset's metadata
    assert store.read_gt_version("7", 1).changes.select("change", "annotation_id").rows() == [("edited", "1")]

    assert exported(store, "7", 0, tmp_path / "after") == before  # byte for byte, every format
    boxes = {v: json.loads(exported(store, "7", v, tmp_path / f"v{v}")["gt.coco.json"]) for v in (0, 1)}
    assert [a["bbox"][0] for a in boxes[0]["annotations"]] == [100.0] and [
        a["bbox"][0] for a in boxes[1]["annotations"]
    ] == [400.0]


def test_coco_category_ids_stay_put_when_another_project_or_a_new_label_comes(tmp_path):
    p7 = Project(tmp_path / "7", project="7")
    p7.ingest(write_export(tmp_path / "p7.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)]))
    p7.resolve()
    other = write_export(
        tmp_path / "p901.json", [ls_task(1, [box_annotation(2, x=10.0, label="aardvark")], project=901)]
    )
    p901 = Project(tmp_path / "901", project="901")
    p901.ingest(other)
    assert p901.resolve().published.version == 0
    more = [
        ls_task(1, [box_annotation(1, x=10.0)], project=7),
        ls_task(2, [box_annotation(3, x=5.0, label="antelope")], project=7),
    ]
    p7.ingest(other, write_export(tmp_path / "p7-more.json", more))  # project 901's file is left to its runs
    p7.resolve()

    def categories(version):
        return {c["name"]: c["id"] for c in coco(p7.versions[version], tmp_path)["categories"]}

    assert categories(0) == {"zebra": 1}
    assert categories(1) == {"zebra": 1, "antelope": 2}  # not sorted by name: zebra keeps its id


def test_versions_count_per_project_and_every_command_speaks_of_them(tmp_path, capsys):
    store = Warehouse(tmp_path / "wh")
    p7, p901, p5 = (Project(tmp_path / p, project=p, store=store) for p in ("7", "901", "5"))
    p7.ingest(write_export(tmp_path / "p7.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)]))
    p7.resolve()
    p7.ingest(
        write_export(
            tmp_path / "p7b.json",
            [ls_task(1, [box_annotation(1, x=30.0, updated_at="2026-03-01T00:00:00Z")], project=7)],
        )
    )
    p7.resolve()
    p901.ingest(write_export(tmp_path / "p901.json", [ls_task(1, [box_annotation(2, x=10.0)], project=901)]))
    p901.resolve()
    p5.ingest(write_export(tmp_path / "p5.json", [ls_task(1, [ls_annotation(3)], project=5)]))  # no GT at all
    p5.resolve()
    assert (store.gt_versions("7"), store.gt_versions("901"), store.gt_versions("5")) == ([0, 1], [0], [])
    assert store.read(GROUND_TRUTH).select("project_id", "version").sort("project_id").rows() == [("7", 1), ("901", 0)]

    capsys.readouterr()
    assert main(["gt", "versions", "--project", "901", "--warehouse", str(store.root)]) == 0
    assert capsys.readouterr().out.startswith("project 901 version 0:")
    assert main(["gt", "versions", "--project", "5", "--warehouse", str(store.root)]) == 1
    coco_out = ["--format", "coco", "--out", str(tmp_path / "x.json"), "--warehouse", str(store.root)]
    assert main(["gt", "export", *coco_out]) == 2
    assert "name one with --project" in capsys.readouterr().err
    assert main(["gt", "export", "--project", "901", "--version", "1", *coco_out]) == 2


def test_quality_rows_carry_their_gt_version_and_run_and_earlier_runs_stay_readable(project, tmp_path):
    """Each run's quality rows (the quality steps on the GT step's rows) written as the run writes them: the
    current table holds the last run's, `history.*` every run's."""
    store = Warehouse(tmp_path / "wh")

    def scored_run() -> str:
        step = project.resolve()
        run_id = f"run-{project.runs}"
        annotations, regions, config = (project.tables[t].lazy() for t in (ANNOTATIONS, REGIONS, LABEL_CONFIG))
        answers = quality.answers(annotations, regions, config, run_id=run_id).collect().lazy()
        ground_truth = step.ground_truth.lazy()
        scores = quality.annotation_scores(
            answers, annotations, regions, ground_truth, weights=None, run_id=run_id
        ).collect()
        tables = {
            ANSWERS: answers,
            ANNOTATION_SCORES: scores,
            TASK_AGREEMENT: quality.task_agreement(answers, annotations, regions, weights=None, run_id=run_id),
            PROJECT_AGREEMENT: quality.project_agreement(answers, run_id=run_id),
            AGREEMENT_MATRIX: quality.agreement_matrix(answers, scores.lazy(), run_id=run_id),
        }
        store.write_project(project.project, tables, run_id=run_id)
        return run_id

    project.ingest(
        write_export(
            tmp_path / "a.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2, choice="dog")])]
        )
    )
    first = scored_run()
    swapped = [
        ls_task(
            1, [ls_annotation(1), ls_annotation(2, choice="dog", ground_truth=True, updated_at="2026-02-01T00:00:00Z")]
        )
    ]
    project.ingest(write_export(tmp_path / "b.json", swapped))
    second = scored_run()
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        current = con.execute("SELECT DISTINCT gt_version, run_id FROM quality.annotation_scores").fetchall()
        assert current == [(1, second)]
        as_of_v0 = con.execute(  # annotator 2's score as of GT version 0, one query
            "SELECT score FROM history.annotation_scores WHERE project_id = '1' AND annotation_id = '2' AND gt_version"
            " = 0 AND control = 'label'"
        ).fetchall()
        assert as_of_v0 == [(0.0,)]
        runs = con.execute("SELECT DISTINCT run_id FROM history.annotation_scores ORDER BY ALL").fetchall()
        assert sorted(r[0] for r in runs) == sorted([first, second])
        # Tables computed without the GT name no version: whichever the step order left would be a guess.
        for table in ("answers", "task_agreement", "project_agreement"):
            assert con.execute(f"SELECT DISTINCT gt_version FROM quality.{table}").fetchall() == [(None,)], table
        assert con.execute("SELECT DISTINCT gt_version FROM quality.agreement_matrix").fetchall() == [(1,)]


def test_splits_are_fixed_per_task_and_exports_can_take_one(tmp_path):
    (tmp_path / "policy.yaml").write_text("default: {splits: {train: 0.5, test: 0.5}, split_seed: s1}\n")
    policy, p7 = load_policy(tmp_path / "policy.yaml"), Project(tmp_path, project="7")
    first = [ls_task(i, [box_annotation(i, x=10.0)], project=7) for i in range(1, 41)]
    p7.ingest(write_export(tmp_path / "a.json", first))
    v0 = p7.resolve(policy).published.ground_truth
    assert set(v0["split"]) == {"train", "test"} and 10 < (v0["split"] == "train").sum() < 30
    more = [ls_task(i, [box_annotation(i, x=10.0)], project=7) for i in range(41, 81)]
    p7.ingest(write_export(tmp_path / "b.json", more))
    v1 = p7.resolve(policy).published.ground_truth
    assert (
        v1.join(v0, on="task_id").filter(pl.col("split") != pl.col("split_right")).is_empty()
    )  # old tasks never reshuffled

    out = tmp_path / "train.coco.json"
    export.write(p7.versions[1], "coco", out, split="train")  # `gtq gt export --split train`
    images = json.loads(out.read_text())["images"]
    assert {i["gtq_split"] for i in images} == {"train"} and len(images) == (v1["split"] == "train").sum()


def test_a_labeling_config_change_is_a_recorded_version_that_carries_its_schema(tmp_path, capsys):
    store = Warehouse(tmp_path / "wh")
    p7 = Project(tmp_path, project="7", store=store)
    config = (
        '<View><Image name="image" value="$image"/><RectangleLabels name="box"'
        ' toName="image">{}</RectangleLabels></View>'
    )
    exported_file = write_export(tmp_path / "p.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    (tmp_path / "p.xml").write_text(config.format('<Label value="zebra"/>'))
    p7.ingest(exported_file)
    p7.resolve()
    again = write_export(tmp_path / "q.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    (tmp_path / "q.xml").write_text(config.format('<Label value="zebra"/><Label value="lion"/>'))
    p7.ingest(again)
    step = p7.resolve()
    assert [v.version for v in p7.versions] == [0, 1] and step.info["schema_changes"] == [
        "control box: label 'lion' added"
    ]
    assert p7.versions[0].label_config["allowed_labels"].to_list() == [["zebra"]]
    assert p7.versions[1].label_config["allowed_labels"].to_list() == [["zebra", "lion"]]
    capsys.readouterr()
    assert main(["gt", "versions", "--project", "7", "--warehouse", str(store.root)]) == 0
    assert "schema: control box: label 'lion' added" in capsys.readouterr().out.splitlines()[1]


def test_only_what_the_gt_says_makes_an_edit_not_how_the_json_is_written(tmp_path):
    """A re-export written by another JSON writer (spacing, key order) changes no GT; one moved box is one edit."""
    p7 = Project(tmp_path, project="7")
    tasks = [ls_task(i, [box_annotation(i, x=10.0 + i)], project=7) for i in range(1, 4)]
    p7.ingest(write_export(tmp_path / "a.json", tasks))
    p7.resolve()
    (tmp_path / "b.json").write_text(json.dumps(tasks, indent=3, sort_keys=True))
    assert p7.ingest(tmp_path / "b.json").files.height == 1  # another file: read, not skipped
    assert p7.resolve().candidate is None and [v.version for v in p7.versions] == [0]
    moved = json.loads(json.dumps(tasks))
    moved[1]["annotations"][0]["result"][0]["value"]["x"] = 50.0
    moved[1]["annotations"][0]["updated_at"] = "2026-05-01T00:00:00Z"
    p7.ingest(write_export(tmp_path / "c.json", moved))
    assert p7.resolve().published.changes.select("task_id", "change").rows() == [("2", "edited")]


def test_a_revert_shows_in_the_gt_history_with_its_author_and_reason(project, tmp_path):
    """An override makes annotation 2 the GT (version 0); its revert gives the task the GT its flag gives
    (version 1), and the history names who reverted and why."""
    project.ingest(
        write_export(
            tmp_path / "export.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2, user=2)])]
        )
    )
    overrides = tmp_path / "gt" / "overrides.yaml"
    append_override(overrides, project="1", task="1", action="set", annotation="2", author="qa@x", reason="tighter")
    assert project.resolve(overrides=overrides).published.version == 0
    revert_override(overrides, project="1", task="1", author="lead@x", reason="1 was right")  # `gtq gt revert`
    step = project.resolve(overrides=overrides, at=T1)
    history = step.history.filter(pl.col("task_id") == "1").sort("valid_from")  # `gtq gt history --task 1`
    assert history.select("version", "change", "annotation_id", "method", "decided_by", "reason").rows() == [
        (0, "set", "2", "override", "qa@x", "set: tighter"),
        (1, "replaced", "1", "override", "lead@x", "revert: 1 was right"),
    ]
    assert step.ground_truth.select("annotation_id", "method").rows() == [("1", "flag")]
