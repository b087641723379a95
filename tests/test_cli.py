"""`gtq` as a user runs it: a subprocess on a fresh temporary warehouse."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import polars as pl
import pytest

from pipeline import settings
from pipeline.cli import build_parser, main
from pipeline.cli import run as run_command
from pipeline.cli.common import people_file
from pipeline.cli.summary import ROW_COUNT, Check, FileRead, GroundTruth, Ingest, ProjectRun, RunSummary
from pipeline.contract import (
    ANNOTATIONS,
    ANNOTATOR_PERFORMANCE,
    GROUND_TRUTH,
    JOB_QUALITY,
    PROJECT_AGREEMENT,
    REGION_CONFLICTS,
    SOURCE_FILES,
)
from pipeline.groundtruth.policy import load_overrides
from pipeline.report import WHOLE_TABLES, People, ReportData, render, task_days
from pipeline.warehouse import Warehouse
from tests.conftest import ls_annotation, ls_task, write_export
from tests.steps.conftest import T0, Project
from tests.steps.scoring import score

pytestmark = pytest.mark.whole_jobs  # run first: tests/conftest.py


def gtq(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_gtq_run_on_the_bundled_sample(tmp_path):
    done = gtq("run", "--warehouse", str(tmp_path / "wh"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "records read 1" in out and "quarantined 0" in out
    assert "ground truth: " in out and "version 0" in out
    assert "checks: " in out and " 0 failed" in out
    assert "quality.project_agreement" in out
    assert "steps done" not in done.stderr  # no progress line when nobody watches (a pipe, a nightly job's log)
    with duckdb.connect(str(tmp_path / "wh" / "gtq.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.tasks").fetchone() == (300,)


def test_a_run_on_a_terminal_shows_its_progress(tmp_path):
    import pty

    terminal, its_end = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {
        "COLUMNS": "400"
    }  # a wide terminal: whole lines
    run = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--warehouse", str(tmp_path / "wh")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=its_end,
    )
    # The terminal's other end stays open here until the run has ended and its last lines are read: once every
    # holder has closed it, Linux may drop what is still in the terminal's buffer (more so on a busy machine).
    shown = []
    while True:
        if select.select([terminal], [], [], 1.0)[0]:
            shown.append(os.read(terminal, 65536))
        elif run.poll() is not None:  # ended, and nothing more came for a second
            break
    os.close(its_end)
    assert run.wait(timeout=300) == 0
    lines = b"".join(shown).decode().split("\r")
    assert any("core_tables: " in line and "1312 records read" in line for line in lines)  # the step's own news
    assert any("steps done] reports__quality_report done" in line for line in lines)


def test_the_summary_of_sources_in_order_then_again(tmp_path):
    """The lines `gtq run` prints of a run on one file, then of a run given that file again and a newer one, from
    what the ingest and GT steps report (the metadata the summary reads: `Ingest.of`, `GroundTruth.of`), without a
    run; test_gtq_run_on_the_bundled_sample reads the same lines from a real run's metadata."""

    def printed(ingested, gt) -> str:
        run = ProjectRun(
            project="1",
            run_id="r",
            success=True,
            ingest=Ingest.of(ingested.totals),  # core.source_files' metadata
            files=(),
            unreadable_files=(),
            ground_truth=GroundTruth.of({**gt.figures(), ROW_COUNT: gt.ground_truth.height}),  # core.ground_truth's
            checks=(),
            step_failures=(),
            data_docs=None,
            report=None,
            tables_written=(),
        )
        return "\n".join(run.lines())

    v1 = write_export(tmp_path / "v1.json", [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)])])
    v2 = write_export(tmp_path / "v2.json", [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)])])
    project = Project(tmp_path / "project")
    first = printed(project.ingest(v1), project.resolve())
    assert "project version 0; this run 1 change(s) (set 1" in first
    second = printed(project.ingest(v1, v2), project.resolve())
    assert "1 new file(s), 1 already ingested" in second
    assert "project version 1; this run 1 change(s) (set 0, replaced 1, unset 0, edited 0)" in second


def test_gtq_run_fails_clearly_on_a_missing_source(tmp_path):
    done = gtq("run", "--source", "nowhere.json", "--warehouse", "wh", cwd=tmp_path)
    assert done.returncode == 2  # a mistyped path is a usage error
    assert "source not found: nowhere.json" in done.stderr


def test_workspace_loads_in_dagster(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    done = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
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
    assert (
        "task 1, annotation 11: expectations/core.annotations.json: expect_column_values_to_be_between on lead_time_s"
        in out
    )
    assert "2 file(s), 1 record(s) would be quarantined" in out
    assert main(["validate", "--source", str(tmp_path / "missing.json")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json"]


def test_run_and_validate_share_one_rule_for_a_missing_and_an_empty_source(tmp_path, capsys):
    """A path that does not exist is a usage error (2) in both commands, so a mistyped path fails a team's CI; a
    folder that exists but holds no export is data that fails (1) in both."""
    for folder in ("exports", "gt"):
        (tmp_path / folder).mkdir()
    missing, empty = str(tmp_path / "nowhere.json"), str(tmp_path / "exports")
    for command in (["run", "--warehouse", str(tmp_path / "wh"), "--groundtruth", str(tmp_path / "gt")], ["validate"]):
        assert main([*command, "--source", missing]) == 2
        assert f"source not found: {missing}" in capsys.readouterr().err
        assert main([*command, "--source", empty]) == 1
        assert f"no export (.json or .csv file) in {empty}" in capsys.readouterr().err
    assert not (tmp_path / "wh" / "projects").exists()


def test_every_command_and_option_explains_itself(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("gtq ")
    parsers, undocumented, helps = [build_parser()], [], {}
    while parsers:
        parser = parsers.pop()
        if not parser.description:
            undocumented.append(parser.prog)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and not action.help:
                undocumented.append(f"{parser.prog} {action.option_strings[0]}")
            elif action.option_strings:
                helps[f"{parser.prog} {action.option_strings[0]}"] = action.help
    assert undocumented == []
    assert "becomes GT" in helps["gtq gt set --annotation"] and "becomes GT" not in helps["gtq gt unset --annotation"]
    assert "parquet: folder" not in helps["gtq gt export --out"] and "gtq gt revert --reason" in helps


def test_overrides_are_checked_against_the_warehouse_and_can_be_reverted(sample_run, tmp_path, capsys):
    _, store = sample_run
    annotations = store.read(ANNOTATIONS)
    human = annotations.filter((pl.col("origin") == "human") & ~pl.col("was_cancelled")).row(0, named=True)
    skipped = annotations.filter(pl.col("was_cancelled")).row(0, named=True)
    predicted = annotations.filter(pl.col("origin") == "model").row(0, named=True)
    gt = tmp_path / "gt"
    options = [
        "--groundtruth",
        str(gt),
        "--warehouse",
        str(store.root),
        "--reason",
        "checked by the lead",
        "--author",
        "qa@example.org",
    ]

    def set_gt(project, task, annotation):
        return main(["gt", "set", "--project", project, "--task", task, "--annotation", annotation, *options])

    for project, task, annotation, message in (
        ("70", human["task_id"], human["annotation_id"], "has no project '70' (projects: 7)"),
        ("7", "no-such-task", human["annotation_id"], "project 7: no task 'no-such-task'"),
        (
            "7",
            human["task_id"],
            "no-such-annotation",
            f"task {human['task_id']} has no annotation 'no-such-annotation'",
        ),
        ("7", skipped["task_id"], skipped["annotation_id"], "was skipped (cancelled), not submitted"),
        ("7", predicted["task_id"], predicted["annotation_id"], "is a model's prediction"),
    ):
        assert set_gt(project, task, annotation) == 2
        assert message in capsys.readouterr().err
    assert not (gt / "overrides.yaml").exists()  # nothing a later run would fail on

    assert set_gt("7", human["task_id"], human["annotation_id"]) == 0
    assert len(load_overrides(gt / "overrides.yaml")) == 1
    revert = [
        "gt",
        "revert",
        "--project",
        "7",
        "--task",
        human["task_id"],
        "--groundtruth",
        str(gt),
        "--author",
        "lead@example.org",
    ]
    assert main([*revert, "--reason", "the flag was right"]) == 0
    assert "revert of the set of task" in capsys.readouterr().out
    assert load_overrides(gt / "overrides.yaml").select("action", "author", "reason").rows() == [
        ("set", "qa@example.org", "checked by the lead"),
        ("revert", "lead@example.org", "the flag was right"),
    ]  # the revert is a record beside the override it withdrew
    assert main([*revert, "--reason", "again"]) == 2 and "no override of task" in capsys.readouterr().err


def test_a_broken_policy_stops_the_run_before_ingest(tmp_path, capsys):
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "policy.yaml").write_text('default:\n  rules: [override, flag]\nprojects:\n  "7":\n    scope: everywhere\n')
    assert main(["run", "--warehouse", str(tmp_path / "wh"), "--groundtruth", str(gt)]) == 2
    assert (
        f"{gt / 'policy.yaml'}:5: projects.7: scope must be one of" in capsys.readouterr().err
    )  # the file, the line, the entry
    assert not (tmp_path / "wh" / "projects").exists()  # nothing was read


def test_a_run_names_annotators_from_the_people_file_and_refuses_a_missing_one(tmp_path, capsys, monkeypatch):
    """`gtq run` refuses a people file that does not exist before it reads anything. One it is given is kept in the
    warehouse and handed to the run's report with the Label Studio URL, and a later run (or `gtq report`) without
    --people is handed the kept file; the report, rendered from the quality steps' tables of the export, names the
    annotators the file names, with their team, and links the review queue's tasks. `gtq run`'s call of the job
    is recorded, not run."""

    disputed = ls_task(
        2, [ls_annotation(3, user=5, choice="cat"), ls_annotation(4, user=6, choice="dog")]
    )  # for the review queue
    export = write_export(
        tmp_path / "export.json",
        [ls_task(1, [ls_annotation(1, user=5, ground_truth=True), ls_annotation(2, user=6)]), disputed],
    )
    (tmp_path / "gt").mkdir()
    run = ["run", "--source", str(export), "--warehouse", str(tmp_path / "wh"), "--groundtruth", str(tmp_path / "gt")]
    assert main([*run, "--people", str(tmp_path / "nobody.csv")]) == 2
    assert f"the people file {tmp_path / 'nobody.csv'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "wh" / "projects").exists()  # nothing was read

    handed = []  # the report configuration of each job `gtq run` starts
    monkeypatch.setattr(
        run_command,
        "execute",
        lambda sources, warehouse, **job: handed.append(job["report"]) or run_command.RunResults(),
    )
    people, kept = tmp_path / "people.csv", settings.people_path(tmp_path / "wh")
    people.write_text("annotator,name,email,team\n6,Bea Ruiz,bea@lab.example,South\n")
    assert main([*run, "--people", str(people), "--label-studio-url", "https://ls.example"]) == 0
    assert handed == [{"people": str(kept), "label_studio_url": "https://ls.example"}]
    assert kept.read_text() == people.read_text()

    # The warehouse keeps the people file: a later run or report without --people keeps the names.
    people.unlink()
    assert main(run) == 0 and handed[-1] == {"people": str(kept), "label_studio_url": ""}
    assert people_file(tmp_path / "wh", None) == kept  # what `gtq report` reads without --people

    # The run's report, as its asset renders it with the people file and URL it is handed.
    project = Project(tmp_path / "project")
    project.ingest(export)
    gt = project.resolve()
    tables = score(project, gt)
    data = ReportData(
        tables={table: tables[table] for table in WHOLE_TABLES},
        agreement_runs=tables[PROJECT_AGREEMENT].with_columns(committed_at=pl.lit(T0)),
        task_days=task_days(project.tables[ANNOTATIONS].lazy()).collect(),
        gt_version=gt.current.version,
    )
    page = render(data, "1", People.read(Path(handed[-1]["people"])), "https://ls.example")
    assert "Bea Ruiz (6)" in page and "South" in page
    assert "https://ls.example/projects/1/data?task=2" in page


def test_history_for_tools_and_the_report_from_the_command_line(sample_run, capsys):
    _, store = sample_run
    task = store.read(GROUND_TRUTH).row(0, named=True)["task_id"]
    history = ["gt", "history", "--task", task, "--warehouse", str(store.root)]
    assert main([*history, "--format", "json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["task_id"], row["change"], row["version"]) == (task, "set", 0)
    assert main([*history, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("project_id,task_id,annotation_id,previous_annotation_id,change,version")

    assert (
        main(["report", "--project", "7", "--warehouse", str(store.root), "--label-studio-url", "https://ls.example"])
        == 0
    )
    page = capsys.readouterr().out.strip()
    assert page.endswith("reports/7.html")
    assert "https://ls.example/projects/7/data?task=" in Path(page).read_text(encoding="utf-8")
    assert main(["report", "--project", "8", "--warehouse", str(store.root)]) == 2
    assert "has no project '8'" in capsys.readouterr().err


def test_explain_traces_an_accuracy_to_the_file_and_the_gt_decisions_as_the_documented_sql_does(sample_run, capsys):
    _, store = sample_run
    annotator, project = "amara@wildlife.example", "7"
    [ingested] = store.read(SOURCE_FILES).rows(named=True)
    performance = store.read(ANNOTATOR_PERFORMANCE).filter(pl.col("annotator") == annotator).row(0, named=True)

    assert (
        main(
            [
                "explain",
                "--project",
                project,
                "--annotator",
                annotator,
                "--warehouse",
                str(store.root),
                "--format",
                "json",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert f"sha256 {ingested['content_hash']}" in err and "scored against GT version 0" in err  # the chain, for people
    rows = [json.loads(line) for line in out.splitlines()]  # stdout: JSON lines and nothing else, as `| jq` reads it
    assert len(rows) == performance["n_scored"]
    assert (
        main(["explain", "--annotator", annotator, "--warehouse", str(store.root), "--format", "csv"]) == 0
    )  # the only project
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == [
        {k: "" if v is None else str(v) for k, v in r.items()} for r in rows
    ]
    assert sum(r["overall"] for r in rows) / len(rows) == pytest.approx(
        performance["accuracy"]
    )  # the rows add up to the number

    # The SQL recipe for auditors gives the same number and the same chain.
    recipe = (Path(__file__).resolve().parent.parent / "docs" / "lineage.md").read_text()
    queries = dict(re.findall(r"```sql\n-- (\w+)\n(.*?)```", recipe, flags=re.S))
    with duckdb.connect(str(store.duckdb_path), read_only=True) as con:
        parameters = {"project": project, "annotator": annotator}
        [(accuracy, rebuilt, n_scored, n_rows, *_)] = con.sql(queries["accuracy"], params=parameters).fetchall()
        chain = con.sql(queries["chain"], params=parameters).pl()
        history = con.sql(queries["history"], params=parameters).pl()
    assert rebuilt == pytest.approx(accuracy) and n_rows == n_scored == len(rows)
    by_sql = {(r["task_id"], r["gt_annotation_id"], r["content_hash"]) for r in chain.iter_rows(named=True)}
    assert by_sql == {(r["task_id"], r["gt_annotation_id"], r["content_hash"]) for r in rows}
    assert chain["ingest_run_id"].drop_nulls().len() == chain.height and not history.is_empty()

    assert main(["explain", "--project", project, "--task", rows[0]["task_id"], "--warehouse", str(store.root)]) == 0
    assert f"GT: annotation {rows[0]['gt_annotation_id']} (" in capsys.readouterr().out
    assert main(["explain", "--project", project, "--annotator", "nobody", "--warehouse", str(store.root)]) == 2
    assert "has no annotator 'nobody'" in capsys.readouterr().err


def test_unreadable_files_fail_the_run_by_name_and_the_rest_is_ingested(tmp_path, capsys, runs_in_memory):
    """A file that is no export, or a Label Studio export cut off halfway, gets no project (none is invented
    from its name) and fails the run by name; the good file beside them is ingested either way."""
    notes = tmp_path / "notes.json"
    notes.write_text("hello, not an export")
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'[{"id": 1, "annotations": [{"id": 2')
    good = write_export(tmp_path / "good.json", [ls_task(1, [ls_annotation(1, ground_truth=True)])])
    warehouse = tmp_path / "wh"
    (tmp_path / "gt").mkdir()
    sources = [option for path in (notes, broken, good) for option in ("--source", str(path))]
    assert main(["run", *sources, "--warehouse", str(warehouse), "--groundtruth", str(tmp_path / "gt")]) == 1
    err = capsys.readouterr().err
    assert f"{notes}: not an export gtq can read: unrecognised export format" in err
    assert (
        f"{broken}: not an export gtq can read: not a Label Studio JSON export (a JSON array of tasks): Input data was"
        " truncated"
    ) in err
    store = Warehouse(warehouse)
    assert store.projects() == ["1"] and store.read(GROUND_TRUTH).height == 1


def test_a_gt_export_of_an_unknown_split_is_refused_naming_the_splits(sample_run, tmp_path, capsys):
    _, store = sample_run
    out = tmp_path / "gt.json"
    export = ["gt", "export", "--format", "ls-json", "--out", str(out), "--warehouse", str(store.root)]
    assert main([*export, "--split", "bogus"]) == 2
    assert (
        "project 7: GT version 0 has no task in split 'bogus' (its splits: test, train, validation)"
        in capsys.readouterr().err
    )
    assert not out.exists()
    assert main([*export, "--split", "test"]) == 0
    tests = store.read(GROUND_TRUTH).filter(pl.col("split") == "test")["task_id"]
    assert sorted(str(task["id"]) for task in json.loads(out.read_text())) == sorted(tests)


def test_the_run_summary_gives_the_printed_lines_the_failures_and_the_exit_status():
    """What `gtq run` prints and its exit status come from one typed summary of the runs (read once from their
    Dagster results), so they are checked here without a run."""
    from dataclasses import replace

    run = ProjectRun(
        project="7",
        run_id="r1",
        success=True,
        ingest=Ingest(
            files_ingested=1,
            files_skipped=2,
            records_read=5,
            records_accepted=4,
            records_quarantined=1,
            tasks_replaced_with_other_data=3,
            tasks_unchanged=9,
        ),
        files=(
            FileRead(
                source_file="a.json",
                format="label-studio-json",
                records_read=5,
                records_accepted=4,
                records_quarantined=1,
                tasks_unchanged=9,
            ),
        ),
        unreadable_files=(),
        ground_truth=GroundTruth(
            tasks=2, version=None, changes=0, changes_set=0, changes_replaced=0, changes_unset=0, changes_edited=0
        ),
        checks=(
            Check(asset="core/annotations", name="expectations_annotations", passed=False, error=False, examples=None),
            Check(
                asset="core/ground_truth",
                name="publishable_ground_truth",
                passed=False,
                error=True,
                examples="| task |",
            ),
            Check(asset="core/tasks", name="expectations_tasks", passed=True, error=True, examples=None),
        ),
        step_failures=(),
        data_docs=None,
        report="/wh/reports/7.html",
        tables_written=(("core/tasks", 2), ("quality/answers", 0)),
        tables_unchanged=("quality/answers",),
    )
    summary = RunSummary(
        warehouse="/wh",
        seconds=2.04,
        projects=(run,),
        unreadable_sources=("x.json: not an export gtq can read: why",),
        tables="/wh/tables",
        duckdb=None,
    )
    assert summary.text().splitlines() == [
        "gtq run: 1 project(s) in 2.0 s, warehouse /wh/",
        "project 7 (Dagster run r1):",
        (
            "  ingest: 1 new file(s), 2 already ingested; records read 5 = accepted 4 + quarantined 1; 9 task(s)"
            " unchanged, not read again"
        ),
        (
            "  WARNING: 3 task(s) replaced by a snapshot whose task data differs (two exports reusing project and task"
            " ids? namespace them: --source NAME=PATH); --verbose lists them"
        ),
        "    a.json [label-studio-json]: read 5 = accepted 4 + quarantined 1; 9 task(s) unchanged",
        (
            "  ground truth: 2 task(s), project version none yet; this run 0 change(s) (set 0, replaced 0, unset 0,"
            " edited 0)"
        ),
        "  checks: 1 passed, 2 failed: expectations_annotations, publishable_ground_truth",
        "  quality report: /wh/reports/7.html",
        "  tables written (the project's rows): core.tasks (2), quality.answers (0, unchanged)",
        (
            "  1 table(s) unchanged: nothing they are computed from changed since an earlier run computed them (gtq run"
            " --recompute computes every table again)"
        ),
        "tables: /wh/tables (Delta)",
    ]
    # Only an ERROR check fails the run; a source that is no export always does.
    assert summary.failures() == [
        "x.json: not an export gtq can read: why",
        "check core/ground_truth:publishable_ground_truth failed\n| task |",
    ]
    assert summary.exit_code == 1
    passing = replace(summary, unreadable_sources=(), projects=(replace(run, checks=run.checks[:1]),))
    assert passing.failures() == [] and passing.exit_code == 0
    failed = replace(passing, projects=(replace(run, checks=(), success=False),))
    assert (
        failed.failures() == ["the run did not succeed (see the Dagster logs with --verbose)"] and failed.exit_code == 1
    )


def test_the_bundled_cvat_task_runs_through_gtq_with_its_gt_job_and_consensus_replicas(
    tmp_path, capsys, runs_in_memory
):
    """examples/cvat, CVAT's own test task 30 as CVAT writes its exports (a Ground Truth job on a validation pool,
    two annotation jobs with three consensus replicas each): every record accepted, the GT job's images the GT of
    every job's frame of them (honeypots included), each job and replica scored as CVAT's quality report scores
    it, and the GT version exported back to CVAT for images 1.1 holding the GT job's boxes."""
    warehouse, groundtruth = tmp_path / "wh", tmp_path / "gt"
    groundtruth.mkdir()
    examples = Path(__file__).resolve().parent.parent / "examples" / "cvat"
    assert (
        main(["run", "--source", str(examples), "--warehouse", str(warehouse), "--groundtruth", str(groundtruth)]) == 0
    )
    out = capsys.readouterr().out
    assert "records read 90 = accepted 90 + quarantined 0" in out
    store = Warehouse(warehouse)
    assert store.projects() == ["cvat-task-30"]
    gt = store.read(GROUND_TRUTH)
    assert gt.height == 18 and set(gt["annotation_id"]) == {"job-50/frame-8", "job-50/frame-9"}
    assert set(gt.filter(pl.col("task_id") == "job-42/frame-0")["annotation_id"]) == {"job-50/frame-8"}  # honeypot

    jobs = store.read(JOB_QUALITY).sort("scope", "job_id")
    per_job = jobs.filter(pl.col("scope") == "job")
    assert per_job["job_id"].to_list() == [str(j) for j in range(42, 50)]  # annotation jobs and their replicas
    assert per_job["annotator"].to_list() == [f"cvat-job-{j}" for j in range(42, 50)]
    project = jobs.filter(pl.col("scope") == "project").row(0, named=True)
    assert (
        project["valid_count"] == per_job["valid_count"].sum()
        and project["total_count"] == per_job["total_count"].sum()
    )
    conflicts = store.read(REGION_CONFLICTS)
    listed = conflicts.filter(pl.col("kind") != "matched")
    assert listed.height == project["conflict_count"] and set(listed["severity"]) <= {"error", "warning"}
    assert conflicts.filter(pl.col("kind") == "matched").height == project["valid_count"]

    exported = tmp_path / "annotations.xml"
    assert main(["gt", "export", "--format", "cvat", "--out", str(exported), "--warehouse", str(warehouse)]) == 0
    images = ElementTree.parse(exported).getroot().findall("image")
    boxes = {
        image.get("name"): sorted((b.get("xtl"), b.get("ytl"), b.get("xbr"), b.get("ybr")) for b in image.iter("box"))
        for image in images
    }
    truth = ElementTree.parse(examples / "job_50.xml").getroot().findall("image")
    assert boxes == {
        image.get("name"): sorted((b.get("xtl"), b.get("ytl"), b.get("xbr"), b.get("ybr")) for b in image.iter("box"))
        for image in truth
    }
