"""The quality steps: every quality table is stamped with its run and the GT version it was scored against,
and a step of several tables gives them in the order its asset writes them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import (
    ANNOTATIONS,
    ANNOTATOR_CONFUSION,
    AVERAGE_PRECISION,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    IMAGE_DETECTION_SCORES,
    LABEL_CONFIG,
    PRECISION_RECALL_CURVE,
    REGION_CONFLICTS,
    REGIONS,
    TASK_AGREEMENT,
    TASK_AGREEMENT_DISTRIBUTION,
    TASKS,
)
from pipeline.steps import quality as steps
from tests.conftest import ls_annotation, ls_task, write_export
from tests.steps.conftest import Project

DATA = Path(__file__).resolve().parent.parent / "ingest" / "data"


def stamps(rows: pl.LazyFrame) -> set[tuple]:
    return set(rows.select("gt_version", "run_id").unique().collect().rows())


def test_stamped_carries_the_greatest_gt_version_of_its_inputs():
    rows = pl.LazyFrame({"x": [1, 2]})
    scored = pl.LazyFrame({"gt_version": [3, 4, None]})
    older = pl.LazyFrame({"gt_version": [2]})
    assert steps.gt_version_of(scored, older, rows) == 4
    assert steps.gt_version_of(rows) is None and steps.gt_version_of() is None
    out = steps.stamped(rows, "run-9", scored, older).collect()
    assert out.schema["gt_version"] == pl.Int64 and out.select("gt_version", "run_id").rows() == [
        (4, "run-9"),
        (4, "run-9"),
    ]
    unscored = steps.stamped(rows, "run-9").collect()
    assert unscored.schema["gt_version"] == pl.Int64 and unscored["gt_version"].to_list() == [None, None]


@pytest.fixture
def scored(project, tmp_path):
    """Three annotators on two tasks, GT published: the project's frames, its GT rows and answers."""
    tasks = [
        ls_task(
            1,
            [
                ls_annotation(1, user=1, ground_truth=True),
                ls_annotation(2, user=2),
                ls_annotation(3, user=3, choice="dog"),
            ],
        ),
        ls_task(
            2,
            [
                ls_annotation(4, user=1, choice="dog", ground_truth=True),
                ls_annotation(5, user=2, choice="dog"),
                ls_annotation(6, user=3),
            ],
        ),
        ls_task(
            3,
            [ls_annotation(7, user=1), ls_annotation(8, user=2, choice="dog"), ls_annotation(9, user=3, choice="dog")],
        ),
    ]
    project.ingest(write_export(tmp_path / "export.json", tasks))
    step = project.resolve()
    frames = {t.name: project.tables[t].lazy() for t in (TASKS, ANNOTATIONS, REGIONS, LABEL_CONFIG)}
    answers = (
        steps.answers(frames["annotations"], frames["regions"], frames["label_config"], run_id="run-q").collect().lazy()
    )
    return frames, step.ground_truth.lazy(), answers


def test_scores_carry_the_gt_version_and_answers_none(scored):
    frames, ground_truth, answers = scored
    assert stamps(answers) == {(None, "run-q")}  # not scored against any GT
    scores = steps.annotation_scores(
        answers, frames["annotations"], frames["regions"], ground_truth, weights=None, run_id="run-q"
    ).collect()
    assert set(scores.select("gt_version", "run_id").unique().rows()) == {(0, "run-q")}
    assert set(scores["weight"]) == {1.0}
    by_annotator = dict(scores.group_by("annotator").agg(pl.col("score").mean()).rows())
    assert by_annotator["2"] == 1.0 and by_annotator["3"] == 0.0  # annotator 2 agreed with both GTs, 3 with neither
    daily = steps.annotator_daily(frames["annotations"], scores.lazy(), run_id="run-q")
    assert stamps(daily) == {(0, "run-q")}  # carried on from the scores


def test_steps_of_several_tables_give_them_in_order(scored):
    frames, ground_truth, answers = scored
    agreement = steps.task_agreement(answers, frames["annotations"], frames["regions"], weights=None, run_id="run-q")
    tables = dict(agreement)
    assert list(tables) == [TASK_AGREEMENT, TASK_AGREEMENT_DISTRIBUTION]
    assert all(stamps(rows) == {(None, "run-q")} for rows in tables.values())
    assert tables[TASK_AGREEMENT].select(pl.len()).collect().item() > 0

    consensus = dict(steps.consensus_labels(answers, ground_truth, run_id="run-q"))
    assert list(consensus) == [CONSENSUS_LABELS, ANNOTATOR_CONFUSION]
    assert consensus[CONSENSUS_LABELS].select("task_id").collect()["task_id"].to_list() == ["3"]  # the task without GT
    assert stamps(consensus[CONSENSUS_LABELS]) == {(0, "run-q")} and stamps(consensus[ANNOTATOR_CONFUSION]) == {
        (None, "run-q")
    }


def test_detection_tables_in_the_order_they_are_written(tmp_path):
    coco = Project(tmp_path, project="val2026")
    coco.ingest(DATA / "coco" / "val2026.json", DATA / "coco" / "yolo-v9.json")
    ground_truth = coco.resolve().ground_truth.lazy()
    frames = [coco.tables[t].lazy() for t in (ANNOTATIONS, REGIONS)]
    tables = steps.detection_scores(*frames, ground_truth, coco.tables[TASKS].lazy(), run_id="run-d")
    table, first = next(tables)  # each table is made when the one before is written
    assert table == DETECTION_SCORES and stamps(first) == {(0, "run-d")}
    rest = dict(tables)
    assert list(rest) == [REGION_CONFLICTS, AVERAGE_PRECISION, PRECISION_RECALL_CURVE, IMAGE_DETECTION_SCORES]
    assert stamps(rest[AVERAGE_PRECISION]) == {(0, "run-d")}
    model = first.filter(pl.col("annotator") == "yolo-v9").collect()
    assert model.height > 0
