"""`gtq` as a user runs it: a subprocess on a fresh temporary warehouse."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import duckdb
import pytest

from pipeline.cli import build_parser, main
from tests.conftest import ls_annotation, ls_task, write_export


def gtq(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_gtq_run_on_the_bundled_sample(tmp_path):
    done = gtq("run", "--warehouse", str(tmp_path / "wh"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "records read 1" in out and "quarantined 0" in out
    assert "ground truth: " in out and "version 0" in out
    assert "checks: " in out and " 0 failed" in out
    assert "quality.project_agreement" in out
    with duckdb.connect(str(tmp_path / "wh" / "gtq.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.tasks").fetchone() == (300,)


def test_gtq_run_with_sources_in_order_then_again(tmp_path):
    v1 = write_export(tmp_path / "v1.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)])])
    v2 = write_export(tmp_path / "v2.json", [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)])])
    first = gtq("run", "--source", str(v1), "--warehouse", "wh", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "project version 0; this run 1 change(s) (set 1" in first.stdout
    second = gtq("run", "--source", str(v1), "--source", str(v2), "--warehouse", "wh", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "1 new file(s), 1 already ingested" in second.stdout
    assert "project version 1; this run 1 change(s) (set 0, replaced 1, unset 0, edited 0)" in second.stdout


def test_gtq_run_fails_clearly_on_a_missing_source(tmp_path):
    done = gtq("run", "--source", "nowhere.json", "--warehouse", "wh", cwd=tmp_path)
    assert done.returncode == 1
    assert "source not found: nowhere.json" in done.stderr


def test_workspace_loads_in_dagster(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    done = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "All code locations passed validation" in done.stderr + done.stdout


def test_validate_holds_exports_to_the_suites_without_a_warehouse(tmp_path, capsys, monkeypatch):
    """A labeling team's CI before it sends an export: exit 1 and the reason when a record would be
    quarantined, 0 when none would, 2 for a missing file; nothing is written."""
    monkeypatch.chdir(tmp_path)
    good = write_export(tmp_path / "good.json", [ls_task(1, [ls_annotation(11, user=2)])])
    bad = write_export(tmp_path / "bad.json", [ls_task(1, [ls_annotation(11, user=2) | {"lead_time": -5.0}])])
    assert main(["validate", "--source", str(good)]) == 0
    assert "read 2 = accepted 2 + quarantined 0" in capsys.readouterr().out
    assert main(["validate", "--source", str(good), "--source", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "task 1, annotation 11: expectations/core.annotations.json: expect_column_values_to_be_between on lead_time_s" in out
    assert "2 file(s), 1 record(s) would be quarantined" in out
    assert main(["validate", "--source", str(tmp_path / "missing.json")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json"]


def test_an_empty_source_folder_fails_and_every_option_explains_itself(tmp_path, capsys):
    (tmp_path / "exports").mkdir()
    assert main(["run", "--source", str(tmp_path / "exports"), "--warehouse", str(tmp_path / "wh")]) == 1
    assert "no export (.json or .csv file) in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("gtq ")
    parsers, undocumented = [build_parser()], []
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and not action.help:
                undocumented.append(f"{parser.prog} {action.option_strings[0]}")
    assert undocumented == []
