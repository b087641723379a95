"""Kill harness: real `gtq run` processes killed with SIGKILL at many instants, then run again.

Whatever the instant, the warehouse after the next run must be the warehouse an uninterrupted run gives:
the same tables, the same GT versions with the same content, the same history, nothing left over.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import ALL_TABLES
from pipeline.warehouse import Warehouse
from tests.conftest import built_once, ls_annotation, ls_task, write_export
from tests.groundtruth.test_versions import box_annotation
from tests.test_concurrency import assert_same, contents, start

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py

KILLS = 6  # instants spread over one run (its imports done: see `start`); each costs a killed run and a full one


def completed(source: Path, warehouse: Path) -> float:
    started = time.monotonic()
    run = start(source, warehouse=warehouse)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, out + err
    return time.monotonic() - started


def versions(store: Warehouse, project: str) -> list[dict[str, pl.DataFrame]]:
    frames = []
    for v in store.gt_versions(project):
        gt = store.read_gt_version(project, v)
        frames.append(
            {
                part: getattr(gt, part).drop([c for c in ("run_id", "valid_from") if c in getattr(gt, part).columns])
                for part in gt.parts()
            }
        )
    return frames


def leftovers(store: Warehouse) -> list[Path]:
    """What a killed run may leave that nothing reads: staging files, half-written versions, and table files a
    Delta version names but that are missing (a data file no version names is never read; vacuum removes it)."""
    found = [*store.root.rglob(".staging/*/*"), *store.root.rglob("ground_truth/.*")]
    for table in ALL_TABLES:
        found += [Path(f) for files in store.current_files(table).values() for f in files if not Path(f).exists()]
    return found


def build_scenario(root: Path) -> dict:
    """A warehouse after a first export, and a second export that replaces one GT, edits another and adds a task;
    the warehouse after the second, and how long a run of the second takes."""
    first = write_export(
        root / "first.json",
        [
            ls_task(1, [box_annotation(1, x=10.0), ls_annotation(2)], project=7),
            ls_task(2, [box_annotation(3, x=20.0)], project=7),
        ],
    )
    second_tasks = [
        ls_task(
            1,
            [box_annotation(1, x=10.0), {**ls_annotation(2, updated_at="2026-03-01T00:00:00Z"), "ground_truth": True}],
            project=7,
        ),
        ls_task(2, [box_annotation(3, x=25.0, updated_at="2026-03-01T00:00:00Z")], project=7),
        ls_task(3, [box_annotation(4, x=30.0)], project=7),
    ]
    second = write_export(root / "second.json", second_tasks)
    for task in second_tasks[:2]:  # only the GT flag moved: the first GT annotation is no longer flagged
        for annotation in task["annotations"]:
            if annotation["id"] == 1:
                annotation["ground_truth"] = False
    write_export(second, second_tasks)
    base = root / "base"
    completed(first, base)
    reference = root / "reference"
    shutil.copytree(base, reference)
    return {
        "base": str(base),
        "second": str(second),
        "reference": str(reference),
        "duration": completed(second, reference),
    }


@pytest.fixture
def scenario(tmp_path_factory) -> dict:
    return built_once(tmp_path_factory, "crash", build_scenario)


@pytest.mark.parametrize("instant", range(1, KILLS + 1))
def test_a_kill_at_any_instant_then_a_run_gives_the_uninterrupted_warehouse(scenario, tmp_path, instant):
    reference = Warehouse(scenario["reference"])
    warehouse = tmp_path / "wh"
    duration = scenario["duration"]
    for _ in range(3):  # a run faster than the measured one may end before a late instant: try it sooner
        shutil.rmtree(warehouse, ignore_errors=True)
        shutil.copytree(scenario["base"], warehouse)
        run = start(Path(scenario["second"]), warehouse=warehouse)
        time.sleep(duration * instant / (KILLS + 1))
        try:  # the run and its children at once, as the OOM killer of a container or a node drain
            os.killpg(run.pid, signal.SIGKILL)
            break
        except ProcessLookupError:
            run.communicate(timeout=60)
            duration *= 0.75
    else:
        pytest.fail(f"every run ended before {instant}/{KILLS + 1} of its measured time: nothing was killed")
    run.communicate(timeout=60)

    completed(Path(scenario["second"]), warehouse)
    store = Warehouse(warehouse)
    assert_same(contents(store), contents(reference))
    assert store.gt_versions("7") == reference.gt_versions("7") == [0, 1]
    for mine, theirs in zip(versions(store, "7"), versions(reference, "7"), strict=True):
        assert_same(mine, theirs)
    assert leftovers(store) == []
