"""GT versions are content, per project, forever: the findings of the reproducible-GT issue, end to end."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.contract import GROUND_TRUTH
from pipeline.warehouse import Warehouse
from tests.conftest import copy_of, ls_annotation, ls_task, run_ok, write_export

FORMATS = {"coco": "gt.coco.json", "ls-json": "gt.json", "scout-csv": "gt-annotations.csv", "parquet": "gt.parquet"}


def box_annotation(
    annotation_id: int, x: float, label: str = "zebra", updated_at: str = "2026-01-01T10:00:00Z"
) -> dict:
    annotation = ls_annotation(annotation_id, choice=None, ground_truth=True, updated_at=updated_at)
    annotation["result"] = [
        {
            "id": f"b{annotation_id}",
            "type": "rectanglelabels",
            "from_name": "box",
            "to_name": "image",
            "original_width": 1000,
            "original_height": 500,
            "value": {"x": x, "y": 10.0, "width": 20.0, "height": 30.0, "rotation": 0, "rectanglelabels": [label]},
        }
    ]
    return annotation


def exported(store: Warehouse, project: str, version: int, folder) -> dict[str, bytes]:
    files = {}
    for fmt, name in FORMATS.items():
        out = folder / fmt / name
        assert (
            main(
                [
                    "gt",
                    "export",
                    "--project",
                    project,
                    "--version",
                    str(version),
                    "--format",
                    fmt,
                    "--out",
                    str(out),
                    "--warehouse",
                    str(store.root),
                ]
            )
            == 0
        )
        files |= {p.name: p.read_bytes() for p in out.parent.iterdir()}
    return files


@pytest.fixture(scope="module")
def one_box(tmp_path_factory) -> Warehouse:
    """Project 7 after one run: one task, its GT a box at x=10 (GT version 0). Read only: tests that run
    again work on a `copy_of` it."""
    root = tmp_path_factory.mktemp("one-box")
    store = Warehouse(root / "wh")
    run_ok(
        [write_export(root / "p7.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])], store.root, root / "gt"
    )
    return store


def test_an_edited_gt_box_makes_a_new_version_and_version_0_exports_the_same_bytes(one_box, tmp_path):
    store, gt = copy_of(one_box, tmp_path / "wh"), tmp_path / "gt"
    before = exported(store, "7", 0, tmp_path / "before")

    moved = ls_task(1, [box_annotation(1, x=40.0, updated_at="2026-02-01T10:00:00Z")], project=7)
    result = run_ok([write_export(tmp_path / "v2.json", [moved])], store.root, gt)
    assert store.gt_versions("7") == [0, 1]
    ground_truth = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["core", "ground_truth"]
    )
    assert ground_truth.materialization.metadata["changes_edited"].value == 1
    assert store.read_gt_version("7", 1).changes.select("change", "annotation_id").rows() == [("edited", "1")]

    assert exported(store, "7", 0, tmp_path / "after") == before  # byte for byte, every format
    coco = {v: json.loads(exported(store, "7", v, tmp_path / f"v{v}")["gt.coco.json"]) for v in (0, 1)}
    assert [a["bbox"][0] for a in coco[0]["annotations"]] == [100.0] and [
        a["bbox"][0] for a in coco[1]["annotations"]
    ] == [400.0]


def test_coco_category_ids_stay_put_when_another_project_or_a_new_label_comes(one_box, tmp_path):
    store, gt = copy_of(one_box, tmp_path / "wh"), tmp_path / "gt"
    run_ok(
        [
            write_export(
                tmp_path / "p901.json", [ls_task(1, [box_annotation(2, x=10.0, label="aardvark")], project=901)]
            )
        ],
        store.root,
        gt,
    )
    more = [
        ls_task(1, [box_annotation(1, x=10.0)], project=7),
        ls_task(2, [box_annotation(3, x=5.0, label="antelope")], project=7),
    ]
    run_ok([write_export(tmp_path / "p7-more.json", more)], store.root, gt)

    def categories(version):
        coco = json.loads(exported(store, "7", version, tmp_path / f"c{version}")["gt.coco.json"])
        return {c["name"]: c["id"] for c in coco["categories"]}

    assert categories(0) == {"zebra": 1}
    assert categories(1) == {"zebra": 1, "antelope": 2}  # not sorted by name: zebra keeps its id


def test_versions_count_per_project_and_every_command_speaks_of_them(one_box, tmp_path, capsys):
    store, gt = copy_of(one_box, tmp_path / "wh"), tmp_path / "gt"
    run_ok(
        [
            write_export(
                tmp_path / "p7b.json",
                [ls_task(1, [box_annotation(1, x=30.0, updated_at="2026-03-01T00:00:00Z")], project=7)],
            )
        ],
        store.root,
        gt,
    )
    run_ok(
        [write_export(tmp_path / "p901.json", [ls_task(1, [box_annotation(2, x=10.0)], project=901)])], store.root, gt
    )
    run_ok(
        [write_export(tmp_path / "p5.json", [ls_task(1, [ls_annotation(3)], project=5)])], store.root, gt
    )  # no GT at all
    assert (store.gt_versions("7"), store.gt_versions("901"), store.gt_versions("5")) == ([0, 1], [0], [])
    assert store.read(GROUND_TRUTH).select("project_id", "version").sort("project_id").rows() == [("7", 1), ("901", 0)]

    capsys.readouterr()
    assert main(["gt", "versions", "--project", "901", "--warehouse", str(store.root)]) == 0
    assert capsys.readouterr().out.startswith("project 901 version 0:")
    assert main(["gt", "versions", "--project", "5", "--warehouse", str(store.root)]) == 1
    assert (
        main(["gt", "export", "--format", "coco", "--out", str(tmp_path / "x.json"), "--warehouse", str(store.root)])
        == 2
    )
    assert "name one with --project" in capsys.readouterr().err
    assert (
        main(
            [
                "gt",
                "export",
                "--project",
                "901",
                "--version",
                "1",
                "--format",
                "coco",
                "--out",
                str(tmp_path / "x.json"),
                "--warehouse",
                str(store.root),
            ]
        )
        == 2
    )


def test_quality_rows_carry_their_gt_version_and_run_and_earlier_runs_stay_readable(tmp_path):
    store, gt = Warehouse(tmp_path / "wh"), tmp_path / "gt"
    first = run_ok(
        [
            write_export(
                tmp_path / "a.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2, choice="dog")])]
            )
        ],
        store.root,
        gt,
    )
    swapped = [
        ls_task(
            1, [ls_annotation(1), ls_annotation(2, choice="dog", ground_truth=True, updated_at="2026-02-01T00:00:00Z")]
        )
    ]
    second = run_ok([write_export(tmp_path / "b.json", swapped)], store.root, gt)
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        current = con.execute("SELECT DISTINCT gt_version, run_id FROM quality.annotation_scores").fetchall()
        assert current == [(1, second.runs["1"].run_id)]
        as_of_v0 = con.execute(  # annotator 2's score as of GT version 0, one query
            "SELECT score FROM history.annotation_scores WHERE project_id = '1' AND annotation_id = '2' AND gt_version"
            " = 0 AND control = 'label'"
        ).fetchall()
        assert as_of_v0 == [(0.0,)]
        runs = con.execute("SELECT DISTINCT run_id FROM history.annotation_scores ORDER BY ALL").fetchall()
        assert sorted(r[0] for r in runs) == sorted([first.runs["1"].run_id, second.runs["1"].run_id])
        # Tables computed without the GT name no version: whichever the step order left would be a guess.
        for table in ("answers", "task_agreement", "project_agreement"):
            assert con.execute(f"SELECT DISTINCT gt_version FROM quality.{table}").fetchall() == [(None,)], table
        assert con.execute("SELECT DISTINCT gt_version FROM quality.agreement_matrix").fetchall() == [(1,)]


@pytest.mark.parametrize("reader", ["polars", "pyarrow", "duckdb"])
def test_a_version_reads_back_without_gtq_in_one_line(one_box, reader):
    store = one_box
    path = f"{store.root}/projects/7/ground_truth/0/regions.parquet"  # the documented path
    if reader == "polars":
        frame = pl.read_parquet(path)
    elif reader == "pyarrow":
        import pyarrow.parquet as pq

        frame = pl.from_arrow(pq.read_table(path))
    else:
        frame = duckdb.sql(f"FROM '{path}'").pl()
    assert frame.select("task_id", "annotation_id", "labels", "x").rows() == [("1", "1", ["zebra"], 10.0)]


def test_splits_are_fixed_per_task_and_exports_can_take_one(tmp_path):
    store, gt = Warehouse(tmp_path / "wh"), tmp_path / "gt"
    (gt).mkdir()
    (gt / "policy.yaml").write_text("default: {splits: {train: 0.5, test: 0.5}, split_seed: s1}\n")
    first = [ls_task(i, [box_annotation(i, x=10.0)], project=7) for i in range(1, 41)]
    run_ok([write_export(tmp_path / "a.json", first)], store.root, gt)
    v0 = store.read_gt_version("7", 0).ground_truth
    assert set(v0["split"]) == {"train", "test"} and 10 < (v0["split"] == "train").sum() < 30
    more = [ls_task(i, [box_annotation(i, x=10.0)], project=7) for i in range(41, 81)]
    run_ok([write_export(tmp_path / "b.json", more)], store.root, gt)
    v1 = store.read_gt_version("7", 1).ground_truth
    assert (
        v1.join(v0, on="task_id").filter(pl.col("split") != pl.col("split_right")).is_empty()
    )  # old tasks never reshuffled

    out = tmp_path / "train.coco.json"
    assert (
        main(
            [
                "gt",
                "export",
                "--project",
                "7",
                "--split",
                "train",
                "--format",
                "coco",
                "--out",
                str(out),
                "--warehouse",
                str(store.root),
            ]
        )
        == 0
    )
    images = json.loads(out.read_text())["images"]
    assert {i["gtq_split"] for i in images} == {"train"} and len(images) == (v1["split"] == "train").sum()


def test_split_of_is_a_pure_function_of_seed_project_and_task():
    from pipeline.groundtruth.versioning import split_of

    shares = {"train": 0.8, "validation": 0.1, "test": 0.1}
    assigned = [split_of("7", str(t), shares, "gtq") for t in range(10_000)]
    assert assigned == [split_of("7", str(t), shares, "gtq") for t in range(10_000)]
    assert abs(assigned.count("train") / 10_000 - 0.8) < 0.02 and abs(assigned.count("test") / 10_000 - 0.1) < 0.02
    assert assigned != [split_of("7", str(t), shares, "another seed") for t in range(10_000)]
    assert {split_of("7", str(t), {"train": 0.0, "test": 1.0}, "gtq") for t in range(100)} == {"test"}


def test_a_labeling_config_change_is_a_recorded_version_that_carries_its_schema(tmp_path, capsys):
    store, gt = Warehouse(tmp_path / "wh"), tmp_path / "gt"
    config = (
        '<View><Image name="image" value="$image"/><RectangleLabels name="box"'
        ' toName="image">{}</RectangleLabels></View>'
    )
    export = write_export(tmp_path / "p.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    (tmp_path / "p.xml").write_text(config.format('<Label value="zebra"/>'))
    run_ok([export], store.root, gt)
    again = write_export(tmp_path / "q.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    (tmp_path / "q.xml").write_text(config.format('<Label value="zebra"/><Label value="lion"/>'))
    run_ok([again], store.root, gt)
    assert store.gt_versions("7") == [0, 1]
    assert store.read_gt_version("7", 0).label_config["allowed_labels"].to_list() == [["zebra"]]
    assert store.read_gt_version("7", 1).label_config["allowed_labels"].to_list() == [["zebra", "lion"]]
    capsys.readouterr()
    assert main(["gt", "versions", "--project", "7", "--warehouse", str(store.root)]) == 0
    assert "schema: control box: label 'lion' added" in capsys.readouterr().out.splitlines()[1]


def test_only_what_the_gt_says_makes_an_edit_not_how_the_json_is_written(tmp_path):
    """A re-export written by another JSON writer (spacing, key order) changes no GT; one moved box is one edit."""
    store, gt = Warehouse(tmp_path / "wh"), tmp_path / "gt"
    tasks = [ls_task(i, [box_annotation(i, x=10.0 + i)], project=7) for i in range(1, 4)]
    run_ok([write_export(tmp_path / "a.json", tasks)], store.root, gt)
    (tmp_path / "b.json").write_text(json.dumps(tasks, indent=3, sort_keys=True))
    run_ok([tmp_path / "b.json"], store.root, gt)
    assert store.gt_versions("7") == [0]
    moved = json.loads(json.dumps(tasks))
    moved[1]["annotations"][0]["result"][0]["value"]["x"] = 50.0
    moved[1]["annotations"][0]["updated_at"] = "2026-05-01T00:00:00Z"
    run_ok([write_export(tmp_path / "c.json", moved)], store.root, gt)
    assert store.read_gt_version("7", 1).changes.select("task_id", "change").rows() == [("2", "edited")]
