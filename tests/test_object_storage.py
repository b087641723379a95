"""A warehouse on S3: the same runs, tables and GT versions as on a local folder, against a real
S3-compatible server (moto's, in its own process) on 127.0.0.1, with credentials and endpoint from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import boto3
import polars as pl
import pytest
from deltalake import DeltaTable

from pipeline.cli import main
from pipeline.contract import ALL_TABLES, ANNOTATION_SCORES, ANNOTATIONS, GROUND_TRUTH, SOURCE_FILES, TASKS
from pipeline.sample import bundled_sample
from pipeline.warehouse import Warehouse
from tests.conftest import ls_task, run_ok, write_export
from tests.groundtruth.test_versions import box_annotation
from tests.test_concurrency import assert_same, contents
from tests.test_warehouse import tasks

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py

BUCKET = "gtq-team"


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server in a process of its own, as a real object store is (delta-rs holds the GIL in some calls,
    so a server thread in the test's own process could not answer them)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(30)


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


def test_a_run_on_s3_gives_what_a_local_run_gives(sample_run, s3_warehouse, tmp_path):
    _, local = sample_run  # the bundled sample in a local warehouse; the same file on S3
    run_ok([bundled_sample(local.root)], s3_warehouse, tmp_path / "gt")

    remote = Warehouse(s3_warehouse)
    assert remote.projects() == ["7"]
    assert_same(contents(local), contents(remote))
    for (
        table
    ) in ALL_TABLES:  # every table read back without gtq: Polars and deltalake, credentials from the environment
        back = pl.read_delta(remote.table_path(table))
        assert (
            back.height == DeltaTable(remote.table_path(table)).to_pyarrow_table().num_rows == local.read(table).height
        ), table.key
    assert remote.read_gt_version("7").ground_truth.equals(local.read_gt_version("7").ground_truth)
    # Read back without gtq, as an ML team would: the documented path, credentials from the environment.
    published = pl.read_parquet(f"{s3_warehouse}/projects/7/ground_truth/0/ground_truth.parquet")
    assert published.equals(local.read_gt_version("7").ground_truth) and published.height > 0
    assert not list((tmp_path / "home" / ".gtq").rglob(".staging/*/*"))  # the run's local scratch files are gone


def test_re_ingesting_on_s3_changes_nothing_and_a_new_export_makes_a_version(s3_warehouse, tmp_path, runs_in_memory):
    first = write_export(tmp_path / "a.json", [ls_task(1, [box_annotation(1, x=10.0)], project=7)])
    run_ok([first], s3_warehouse, tmp_path / "gt")
    store = Warehouse(s3_warehouse)
    ingested, scored = store.versions(ANNOTATIONS, "7"), store.versions(ANNOTATION_SCORES, "7")
    run_ok([first], s3_warehouse, tmp_path / "gt")
    assert store.versions(ANNOTATION_SCORES, "7") == scored  # nothing it reads changed: not computed again
    assert store.scan_project(SOURCE_FILES, "7").collect().height == 1 and store.gt_versions("7") == [0]
    assert store.scan_project(ANNOTATIONS, "7").collect().height == 1 and store.versions(ANNOTATIONS, "7") == ingested

    moved = write_export(tmp_path / "b.json", [ls_task(1, [box_annotation(1, x=30.0)], project=7)])
    assert (
        main(["run", "--source", str(moved), "--warehouse", s3_warehouse, "--groundtruth", str(tmp_path / "gt")]) == 0
    )
    assert store.gt_versions("7") == [0, 1]
    assert store.read_gt_version("7", 0).regions["x"].to_list() == [10.0]  # version 0 is content: it stays as it was
    assert store.read_gt_version("7", 1).regions["x"].to_list() == [30.0]
    assert main(["gt", "versions", "--project", "7", "--warehouse", s3_warehouse]) == 0
    out = tmp_path / "gt.json"
    assert (
        main(
            [
                "gt",
                "export",
                "--project",
                "7",
                "--version",
                "0",
                "--format",
                "coco",
                "--out",
                str(out),
                "--warehouse",
                s3_warehouse,
            ]
        )
        == 0
    )
    assert '"bbox"' in out.read_text()
    assert store.read(GROUND_TRUTH).height == 1


def test_two_projects_writing_one_table_on_s3_at_once_lose_no_commit(s3_warehouse):
    """delta-rs commits each log entry by a conditional PUT: writers of different projects never overwrite
    each other's commit, with no lock and no unsafe rename."""
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in os.environ
    store = Warehouse(s3_warehouse)
    store.create_table(TASKS)
    errors = []

    def writes(project: str) -> None:
        try:
            for n in range(5):
                Warehouse(s3_warehouse).write_project(project, {TASKS: tasks(project, *map(str, range(n + 1)))})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writers = [threading.Thread(target=writes, args=(p,)) for p in ("a", "b")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(300)
    assert errors == []
    assert len(store.versions(TASKS, "a")) == len(store.versions(TASKS, "b")) == 5
    back = pl.scan_delta(store.table_path(TASKS)).group_by("project_id").len().sort("project_id").collect()
    assert back.rows() == [("a", 5), ("b", 5)]  # read back with Polars alone


def test_gt_versions_on_s3_are_never_overwritten(s3_warehouse):
    storage = Warehouse(s3_warehouse).storage
    storage.create_text("projects/p/ground_truth/9/version.json", "first")
    with pytest.raises(FileExistsError):
        storage.create_text("projects/p/ground_truth/9/version.json", "second")
    assert storage.read_text("projects/p/ground_truth/9/version.json") == "first"

    def parts(text: str):
        return lambda location: pl.DataFrame({"part": [text]}).write_parquet(location("regions.parquet"))

    pl.DataFrame({"part": ["a killed publication's leftover"]}).write_parquet(
        storage.location("projects/p/ground_truth/0/regions.parquet")
    )
    storage.publish_folder("projects/p/ground_truth/0", parts("published"), "version.json", "{}")
    with pytest.raises(FileExistsError):
        storage.publish_folder("projects/p/ground_truth/0", parts("again"), "version.json", "{}")
    assert pl.read_parquet(storage.location("projects/p/ground_truth/0/regions.parquet"))["part"].to_list() == [
        "published"
    ]
