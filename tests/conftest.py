"""Shared fixtures: the team's shared samples (skipped when absent) and a pipeline runner."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.pop("DAGSTER_HOME", None)  # tests run in throw-away Dagster instances, never the user's

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LABEL_STUDIO_SAMPLES = SHARED / "samples" / "label-studio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked `whole_jobs` (each test runs gtq's whole job, some several times) first, each module's
    tests in their order: the two workers then end on short tests and finish together."""
    items.sort(key=lambda item: item.get_closest_marker("whole_jobs") is None)


@pytest.fixture
def label_studio_samples() -> list[Path]:
    files = sorted(LABEL_STUDIO_SAMPLES.glob("*.json"))
    if not files:
        pytest.skip(
            f"shared Label Studio samples not found at {LABEL_STUDIO_SAMPLES} (a user's clone has no ../shared)"
        )
    return files


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]):
    """`build(folder)`'s result, built once per test session whichever xdist worker asks first; the other workers
    wait for it and reuse the folder (read only). The result must be JSON."""
    from pipeline.storage import file_lock

    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base is one folder of the session's
        session = session.parent
    folder, built = session / name, session / f"{name}.json"
    with file_lock(session / f"{name}.lock"):
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a build that failed in another worker left
            folder.mkdir()
            built.write_text(json.dumps(build(folder)))
    return json.loads(built.read_text())


def write_export(path: Path, tasks: list[dict]) -> Path:
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def ls_task(
    task_id: int, annotations: list[dict], project: int | None = 1, predictions: list[dict] | None = None
) -> dict:
    """A minimal Label Studio task as exports have it."""
    task = {
        "id": task_id,
        "data": {"image": f"img_{task_id}.jpg"},
        "annotations": annotations,
        "predictions": predictions or [],
    }
    if project is not None:
        task["project"] = project
    return task


def ls_annotation(
    annotation_id: int,
    user: int | str = 1,
    choice: str | None = "cat",
    *,
    ground_truth: bool = False,
    cancelled: bool = False,
    updated_at: str = "2026-01-01T10:00:00Z",
) -> dict:
    result = (
        []
        if choice is None
        else [
            {
                "id": f"r{annotation_id}",
                "type": "choices",
                "from_name": "label",
                "to_name": "image",
                "value": {"choices": [choice]},
            }
        ]
    )
    completed_by = {"id": 100, "email": user} if isinstance(user, str) else user
    return {
        "id": annotation_id,
        "completed_by": completed_by,
        "result": result,
        "ground_truth": ground_truth,
        "was_cancelled": cancelled,
        "created_at": "2026-01-01T09:00:00Z",
        "updated_at": updated_at,
        "lead_time": 12.5,
    }


def parse(path: Path, staging: Path):
    """read_export with every frame collected, for assertions."""
    from types import SimpleNamespace

    from pipeline.ingest import read_export

    export = read_export(path, staging / f"staging-{Path(path).name}")
    frames = {name: frame.collect() for name, frame in vars(export.frames).items()}
    return SimpleNamespace(
        **vars(export) | frames, records_read=export.records_read, records_quarantined=export.records_quarantined
    )


def in_memory():
    """A throw-away Dagster instance in memory, for runs whose record nobody reads. The warehouse's own
    (`open_instance`: SQLite, one commit per event, compute logs tailed by subprocesses) costs about as much
    CPU as a small run itself; the tests about the run record, the UI's metadata, `gtq run` and concurrency
    keep it."""
    import dagster as dg

    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def runs_in_memory(monkeypatch):
    """`gtq run` as `main` runs it, its runs recorded `in_memory()`: for CLI tests whose subject is not the
    run record. (It replaces `pipeline.instance.open_instance`, which the CLI imports when it runs.)"""
    from pipeline import instance

    monkeypatch.setattr(instance, "open_instance", lambda warehouse: in_memory())


def run_ok(sources, warehouse, groundtruth=None, *, instance=None):
    """`gtq run`'s Dagster runs in-process; asserts that they succeed and every check passes, saying why not.
    `groundtruth` (default: the warehouse's `groundtruth/`) is created if missing: empty, the default policy.
    Runs are recorded in `instance`, by default one `in_memory()`."""
    from pipeline.cli.run import execute

    groundtruth = Path(groundtruth or Path(warehouse) / "groundtruth")
    groundtruth.mkdir(parents=True, exist_ok=True)
    result = execute(sources, warehouse, groundtruth=groundtruth, instance=instance or in_memory())
    failures = [
        f"{e.step_key}: {e.step_failure_data.error.to_string()}" for e in result.all_events if e.is_step_failure
    ]
    failures += [f"check {c.check_name}: {c.metadata}" for c in result.get_asset_check_evaluations() if not c.passed]
    assert result.success and not failures, "\n".join(failures) or "a run did not succeed"
    return result


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """`gtq run` on the bundled sample, once per test session (`built_once`): (the run as the warehouse's own
    Dagster instance recorded it, as the UI reads it; its Warehouse). Read only: a test that changes it works
    on `copy_of(store)`."""
    from pipeline.instance import open_instance
    from pipeline.warehouse import Warehouse

    def build(folder: Path) -> dict:
        warehouse = folder / "warehouse"
        result = run_ok([], warehouse, folder / "groundtruth", instance=open_instance(warehouse))
        return {"warehouse": str(warehouse), "runs": [run.run_id for run in result.runs.values()]}

    built = built_once(tmp_path_factory, "sample-run", build)
    with open_instance(built["warehouse"]) as instance:
        return RecordedRuns(instance, built["runs"]), Warehouse(built["warehouse"])


class RecordedRuns:
    """The events of runs as their Dagster instance recorded them, read as `run_ok`'s result is read."""

    def __init__(self, instance, run_ids: list[str]) -> None:
        self.all_events = [e.dagster_event for run in run_ids for e in instance.all_logs(run) if e.is_dagster_event]

    def get_asset_materialization_events(self) -> list:
        return [event for event in self.all_events if event.is_step_materialization]

    def get_asset_check_evaluations(self) -> list:
        from dagster import DagsterEventType

        checks = [e for e in self.all_events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
        return [event.asset_check_evaluation_data for event in checks]


def copy_of(store, destination: Path):
    """A Warehouse holding what `store` holds, for a test that writes to it: the Delta tables, GT versions and
    the bundled sample, without the run record (.dagster) and gtq.duckdb, whose views name the files of
    `store` (the next run builds them anew over the copy)."""
    from pipeline.warehouse import Warehouse

    shutil.copytree(store.root, destination, ignore=shutil.ignore_patterns(".dagster", "gtq.duckdb"))
    return Warehouse(destination)
