"""Format detection on files as their tools write them: COCO's own key order at any size, large JSON no format
claims, and files whose detection fails. One such file never stops the others' projects."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from pipeline.cli import main
from pipeline.contract import GROUND_TRUTH, REGIONS
from pipeline.ingest import _SNIFF_BYTES, _mapped, content_hash, format_of, projects_of
from pipeline.ingest.records import BadRecord
from pipeline.sample import write_sample
from pipeline.warehouse import Warehouse
from tests.conftest import parse

CATEGORIES = [
    {"supercategory": "animal", "id": 22, "name": "elephant"},
    {"supercategory": "animal", "id": 24, "name": "zebra"},
]


def coco_file(path: Path, n_images: int) -> Path:
    """A COCO ground-truth file shaped as the official ones (instances_val2017.json): keys in COCO's order, so
    `categories` comes last, after every image and annotation; two boxes per image, polygons as segmentation."""
    images = [
        {
            "license": 1,
            "file_name": f"{i:012d}.jpg",
            "coco_url": f"http://images.cocodataset.org/val2017/{i:012d}.jpg",
            "height": 427,
            "width": 640,
            "date_captured": "2013-11-14 17:02:52",
            "flickr_url": "",
            "id": i,
        }
        for i in range(1, n_images + 1)
    ]
    annotations = [
        {
            "segmentation": [[x, 100.0, x + 40.0, 100.0, x + 40.0, 130.0, x, 130.0]],
            "area": 1200.0,
            "iscrowd": 0,
            "image_id": i,
            "bbox": [x, 100.0, 40.0, 30.0],
            "category_id": CATEGORIES[k]["id"],
            "id": 2 * i + k,
        }
        for i in range(1, n_images + 1)
        for k, x in enumerate((10.0, 300.0))
    ]
    document = {
        "info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org", "version": "1.0", "year": 2017},
        "licenses": [
            {
                "url": "http://creativecommons.org/licenses/by-nc-sa/2.0/",
                "id": 1,
                "name": "Attribution-NonCommercial-ShareAlike License",
            }
        ],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(("n_images", "size"), [(15, "10 KB"), (170, "113 KB"), (5000, "3 MB")])
def test_a_coco_file_in_its_own_key_order_is_read_at_any_size(tmp_path, n_images, size):
    path = coco_file(tmp_path / "val2017.json", n_images)
    expected_kb = {"10 KB": 10, "113 KB": 113, "3 MB": 3400}[size]
    assert 0.8 < path.stat().st_size / 1000 / expected_kb < 1.25, path.stat().st_size
    head = path.read_bytes()[:_SNIFF_BYTES]
    assert (b'"categories"' in head) == (size == "10 KB")  # beyond the head the structure tells, not the first bytes

    assert format_of(path) == "coco-ground-truth" and projects_of(path) == ["val2017"]
    export = parse(path, tmp_path)
    assert export.format == "coco-ground-truth" and export.quarantine.is_empty()
    assert (export.tasks.height, export.regions.height) == (n_images, 2 * n_images)
    assert sorted(set(export.regions["labels"].list.first())) == ["elephant", "zebra"]


def test_large_json_that_no_format_claims_is_a_bad_record_of_its_own(tmp_path):
    """Past the head, detection reads the file's structure: an object without images and categories, or an array
    whose first element is no object, is named as no export (these raised BufferError out of detection)."""
    filler = "x" * (2 * _SNIFF_BYTES)
    for name, document in [("settings.json", {"filler": filler, "images": []}), ("numbers.json", [filler, 1, 2])]:
        path = tmp_path / name
        path.write_text(json.dumps(document))
        with pytest.raises(BadRecord, match="unrecognised export format"):
            projects_of(path)
        export = parse(path, tmp_path)
        assert export.format == "unreadable" and "unrecognised export format" in export.quarantine["reason"].item()


def test_the_block_over_a_mapped_file_raises_its_own_error(tmp_path):
    """An error raised while objects point into the map (here a msgspec.Raw in a finished frame) is the error
    that propagates: the map still closes, without `BufferError: cannot close exported pointers exist`."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"images": ["x" * _SNIFF_BYTES]}))

    def fails_while_pointing_into(buffer):
        document = msgspec.json.decode(buffer, type=dict[str, msgspec.Raw])
        raise ValueError(f"failed with {len(document)} key(s) mapped")

    with pytest.raises(ValueError, match="failed with 1 key"), _mapped(path) as buffer:
        fails_while_pointing_into(buffer)
    with _mapped(path) as buffer:  # a block that returns keeps nothing pointing into the map
        keys = list(msgspec.json.decode(buffer, type=dict[str, msgspec.Raw]))
    assert keys == ["images"]


@pytest.fixture
def unreadable(tmp_path) -> Path:
    """A regular file whose bytes cannot be read: the link to /proc/self/mem gives an I/O error at offset 0."""
    mem = Path("/proc/self/mem")
    if not mem.is_file():
        pytest.skip("needs Linux's /proc/self/mem for a file that cannot be read")
    path = tmp_path / "exports" / "disk-error.json"
    path.parent.mkdir(exist_ok=True)
    path.symlink_to(mem)
    return path


def test_a_file_whose_detection_raises_is_a_bad_record_naming_why(unreadable):
    with pytest.raises(BadRecord, match=r"the file cannot be read \(Input/output error\)"):
        format_of(unreadable)
    with pytest.raises(BadRecord):
        projects_of(unreadable)


def test_a_coco_file_in_its_own_key_order_beside_other_exports_in_one_run(tmp_path, unreadable, capsys, runs_in_memory):
    """`gtq run` on a folder holding a 113 KB COCO file in COCO's key order, a Label Studio export, and a file
    whose detection fails: both projects are written, the failing file is named, and the run exits 1."""
    folder = unreadable.parent
    coco_file(folder / "val2017.json", 170)
    write_sample(folder / "label_studio_sample.json", n_tasks=20)
    warehouse, groundtruth = tmp_path / "wh", tmp_path / "groundtruth"
    groundtruth.mkdir()

    assert main(["run", "--source", str(folder), "--warehouse", str(warehouse), "--groundtruth", str(groundtruth)]) == 1
    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("  - ")]
    assert failures == [
        f"  - {unreadable}: not an export gtq can read: the file cannot be read (Input/output error)"
    ], err
    store = Warehouse(warehouse)
    assert store.projects() == ["7", "val2017"]
    assert store.scan_project(GROUND_TRUTH, "val2017").collect().height == 170
    assert store.scan_project(REGIONS, "val2017").collect().height == 340
    assert store.scan_project(GROUND_TRUTH, "7").collect().height > 0


def test_the_projects_of_a_file_read_before_are_known_by_its_content_hash(tmp_path):
    """A run lists each file's projects before it starts, a pass over the file; a file seen before (the same
    bytes) costs its hash instead, and its namespace still applies."""
    tasks = [{"id": t, "data": {}, "annotations": [], "predictions": [], "project": p} for t, p in ((1, 5), (2, 6))]
    export, known = tmp_path / "export.json", tmp_path / "known"
    export.write_text(json.dumps(tasks))
    assert projects_of(export, known) == ["5", "6"]
    [memo] = known.glob("*.json")
    assert memo.name == f"{content_hash(export)}.json" and json.loads(memo.read_text()) == ["5", "6"]

    memo.write_text('["9"]')  # what the memo says is what the next run uses: the file is not read again
    assert projects_of(f"ns={export}", known) == ["ns:9"]
    export.write_text(json.dumps(tasks[:1]))  # other bytes, another hash: read
    assert projects_of(export, known) == ["5"]


def test_a_file_not_written_since_is_not_hashed_again(tmp_path):
    """The hash of a file is kept by its identity (path, inode, size, modification and change times): an
    untouched file costs a stat on the next command, and any write, even of bytes of the same size with the
    modification time set back, is hashed again."""
    export, known = tmp_path / "export.json", tmp_path / "known"
    export.write_text('[{"id": 1, "data": {}}]')
    digest = content_hash(export, known)
    assert digest == content_hash(export)
    [memo] = (known / "by-identity").iterdir()
    assert memo.read_text() == digest

    memo.write_text("kept")  # what the memo says is what the next command uses: the bytes are not read
    assert content_hash(export, known) == "kept"
    times = export.stat().st_atime_ns, export.stat().st_mtime_ns
    export.write_text('[{"id": 2, "data": {}}]')  # the same size, and the modification time set back
    os.utime(export, ns=times)
    assert content_hash(export, known) == content_hash(export) != digest
