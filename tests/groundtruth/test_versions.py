"""GT versions as a run publishes them, read without gtq. What a version holds and when one is made are tested on
the steps (tests/steps/test_versions.py), which take `box_annotation` from here."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipeline.warehouse import Warehouse
from tests.conftest import ls_annotation, ls_task, run_ok, write_export


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


def test_split_of_is_a_pure_function_of_seed_project_and_task():
    from pipeline.groundtruth.versioning import split_of

    shares = {"train": 0.8, "validation": 0.1, "test": 0.1}
    assigned = [split_of("7", str(t), shares, "gtq") for t in range(10_000)]
    assert assigned == [split_of("7", str(t), shares, "gtq") for t in range(10_000)]
    assert abs(assigned.count("train") / 10_000 - 0.8) < 0.02 and abs(assigned.count("test") / 10_000 - 0.1) < 0.02
    assert assigned != [split_of("7", str(t), shares, "another seed") for t in range(10_000)]
    assert {split_of("7", str(t), {"train": 0.0, "test": 1.0}, "gtq") for t in range(100)} == {"test"}
