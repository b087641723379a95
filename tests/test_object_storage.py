"""A warehouse on S3: the same runs, tables and GT versions as on a local folder, against a real
S3-compatible server (moto's) on 127.0.0.1, with credentials and endpoint from the environment."""

from __future__ import annotations

import socket
import threading
import time

import boto3
import polars as pl
import pytest
from moto.server import ThreadedMotoServer

from pipeline.cli import main
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, SOURCE_FILES
from pipeline.sample import write_sample
from pipeline.warehouse import Warehouse
from tests.conftest import ls_task, run_ok, write_export
from tests.groundtruth.test_versions import box_annotation
from tests.test_concurrency import assert_same, contents

BUCKET = "gtq-team"


@pytest.fixture(scope="module")
def s3_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_warehouse(s3_server, monkeypatch, tmp_path, request) -> str:
    """A fresh `s3://` warehouse; the environment carries the endpoint and credentials, as for any S3 user."""
    for name, value in {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "gtq",
        "AWS_SECRET_ACCESS_KEY": "gtq-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "HOME": str(tmp_path / "home"),
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/{request.node.name}/warehouse"


def test_a_run_on_s3_gives_what_a_local_run_gives(s3_warehouse, tmp_path):
    sample = write_sample(tmp_path / "sample.json")
    local = Warehouse(tmp_path / "local")
    run_ok([sample], local.root, tmp_path / "gt")
    run_ok([sample], s3_warehouse, tmp_path / "gt")

    remote = Warehouse(s3_warehouse)
    assert remote.projects() == ["7"]
    assert_same(contents(local), contents(remote))
    assert remote.read_gt_version("7").ground_truth.equals(local.read_gt_version("7").ground_truth)
    # Read back without gtq, as an ML team would: the documented path, credentials from the environment.
    published = pl.read_parquet(f"{s3_warehouse}/projects/7/ground_truth/0/ground_truth.parquet")
    assert published.equals(local.read_gt_version("7").ground_truth) and published.height > 0
    assert not list((tmp_path / "home" / ".gtq").rglob("staging/*"))  # the run's local scratch files are gone


def test_re_ingesting_on_s3_changes_nothing_and_a_new_export_makes_a_version(s3_warehouse, tmp_path):
    first = write_export(tmp_path / "a.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    run_ok([first], s3_warehouse, tmp_path / "gt")
    store = Warehouse(s3_warehouse)
    head = store.head("7")
    run_ok([first], s3_warehouse, tmp_path / "gt")
    assert store.scan_project(SOURCE_FILES, "7").collect().height == 1 and store.gt_versions("7") == [0]
    assert store.scan_project(ANNOTATIONS, "7").collect().height == 1 and store.head("7").number > head.number

    moved = write_export(tmp_path / "b.json", [ls_task(1, [box_annotation(1, x=30.0)], project=7)])
    assert main(["run", "--source", str(moved), "--warehouse", s3_warehouse, "--groundtruth", str(tmp_path / "gt")]) == 0
    assert store.gt_versions("7") == [0, 1]
    assert store.read_gt_version("7", 0).regions["x"].to_list() == [10.0]  # version 0 is content: it stays as it was
    assert store.read_gt_version("7", 1).regions["x"].to_list() == [30.0]
    assert main(["gt", "versions", "--project", "7", "--warehouse", s3_warehouse]) == 0
    out = tmp_path / "gt.json"
    assert (
        main(["gt", "export", "--project", "7", "--version", "0", "--format", "coco", "--out", str(out), "--warehouse", s3_warehouse]) == 0
    )
    assert '"bbox"' in out.read_text()
    assert store.read(GROUND_TRUTH).height == 1


def test_the_project_lock_on_s3_waits_for_its_holder(s3_warehouse):
    store = Warehouse(s3_warehouse)
    holder = store.storage
    holder.create_text("projects/7/.lock", '{"host": "another machine"}')  # a run elsewhere holds project 7
    waited, done = threading.Event(), threading.Event()

    def write() -> None:
        with store.project_lock("7", on_wait=waited.set):
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert waited.wait(10) and not done.is_set()
    time.sleep(1.5)
    assert not done.is_set()  # still waiting
    holder.delete("projects/7/.lock")  # the other run ends
    writer.join(10)
    assert done.is_set() and not holder.exists("projects/7/.lock")  # taken, then released


def test_commit_points_on_s3_are_never_overwritten(s3_warehouse):
    storage = Warehouse(s3_warehouse).storage
    storage.create_text("projects/p/commits/0000000000.json", "first")
    with pytest.raises(FileExistsError):
        storage.create_text("projects/p/commits/0000000000.json", "second")
    assert storage.read_text("projects/p/commits/0000000000.json") == "first"

    def parts(text: str):
        return lambda location: pl.DataFrame({"part": [text]}).write_parquet(location("regions.parquet"))

    storage.replace_text("projects/p/ground_truth/0/regions.parquet", "a killed publication's leftover")
    storage.publish_folder("projects/p/ground_truth/0", parts("published"), "version.json", "{}")
    with pytest.raises(FileExistsError):
        storage.publish_folder("projects/p/ground_truth/0", parts("again"), "version.json", "{}")
    assert pl.read_parquet(storage.location("projects/p/ground_truth/0/regions.parquet"))["part"].to_list() == ["published"]
