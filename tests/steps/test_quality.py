"""The quality steps: every quality table is stamped with its run and the GT version it was scored against, a
step of several tables gives them in the order its asset writes them, and small projects taken through every
step (`scoring.score`) get the quality tables a run would write."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import (
    ANNOTATIONS,
    ANNOTATOR_CONFUSION,
    AVERAGE_PRECISION,
    CONFUSION_MATRIX,
    CONSENSUS_LABELS,
    DETECTION_SCORES,
    IMAGE_DETECTION_SCORES,
    JOB_QUALITY,
    LABEL_CONFIG,
    MODEL_PERFORMANCE,
    PRECISION_RECALL_CURVE,
    REGION_CONFLICTS,
    REGIONS,
    TASKS,
)
from pipeline.steps import quality as steps
from tests.conftest import ls_annotation, ls_task, write_export
from tests.steps.conftest import Project
from tests.steps.scoring import score

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
    spread = steps.task_agreement_distribution(agreement, run_id="run-q")
    assert stamps(agreement) == stamps(spread) == {(None, "run-q")}
    assert agreement.select(pl.len()).collect().item() > 0

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
    assert list(rest) == [
        REGION_CONFLICTS,
        JOB_QUALITY,
        AVERAGE_PRECISION,
        PRECISION_RECALL_CURVE,
        IMAGE_DETECTION_SCORES,
    ]
    assert stamps(rest[AVERAGE_PRECISION]) == {(0, "run-d")}
    model = first.filter(pl.col("annotator") == "yolo-v9").collect()
    assert model.height > 0


def coco_scored(folder: Path, images: list[dict], boxes: list[dict], detections: list[dict]) -> dict:
    """A COCO ground-truth file of zebras (`val.json`: project "val") and a model's results beside it
    (`model.json`), through the ingest step (the COCO readers), the GT step and every quality step."""
    folder.mkdir()
    categories = [{"id": 1, "name": "zebra"}]
    (folder / "val.json").write_text(json.dumps({"images": images, "annotations": boxes, "categories": categories}))
    (folder / "model.json").write_text(json.dumps(detections))
    coco = Project(folder, project="val")
    coco.ingest(folder / "val.json", folder / "model.json")
    return score(coco, coco.resolve())


def test_an_image_without_detections_counts_against_the_model(tmp_path):
    """torchmetrics' test_missing_pred: a GT box on an image the model returned nothing for is missed, as
    pycocotools evaluates every image of the ground-truth file (`imgIds`); AP@.5 = 51/101, not 1."""
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in (1, 2)]
    boxes = [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0} for i in (1, 2)
    ]
    tables = coco_scored(
        tmp_path / "coco", images, boxes, [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}]
    )
    ap = (
        tables[AVERAGE_PRECISION]
        .filter((pl.col("iou_threshold") == 0.5) & (pl.col("area_range") == "all"))["ap"]
        .item()
    )
    assert ap == pytest.approx(51 / 101)
    model = tables[DETECTION_SCORES].filter(
        (pl.col("origin") == "model") & (pl.col("iou_threshold") == 0.5) & (pl.col("matching") == "coco")
    )
    assert model.select("tp", "fp", "fn").row(0) == (1, 0, 1)


def test_coco_crowd_regions_and_areas_reach_the_twelve_figures(tmp_path):
    """A COCO ground-truth file with a crowd region and its mask areas: a detection on the crowd region is
    ignored (AP@.5 1, not 0.5), the annotation's `area` (not the box's) decides small/medium/large, and
    model_performance has COCOeval's twelve figures."""
    images = [{"id": 1, "file_name": "1.jpg", "width": 640, "height": 480}]
    boxes = [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [10, 10, 40, 40],
            "area": 1000,
            "iscrowd": 0,
        },  # box 1600 px², mask small
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [200, 200, 200, 200], "area": 30000, "iscrowd": 1},
    ]
    detections = [
        {"image_id": 1, "category_id": 1, "bbox": [250, 250, 30, 30], "score": 0.95},  # inside the crowd region
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9},
    ]
    tables = coco_scored(tmp_path / "coco", images, boxes, detections)
    ap = tables[AVERAGE_PRECISION].filter(pl.col("iou_threshold") == 0.5)
    by_area = {r["area_range"]: (r["n_gt"], r["ap"]) for r in ap.iter_rows(named=True)}
    assert by_area == {
        "all": (1, pytest.approx(1.0)),
        "small": (1, pytest.approx(1.0)),
    }  # no GT box or detection counts elsewhere
    model = tables[MODEL_PERFORMANCE].row(0, named=True)
    assert model["map_50_95"] == pytest.approx(1.0) and model["map_small"] == pytest.approx(1.0)
    assert model["map_medium"] is None and model["mar_large"] is None
    assert model["mar_1"] == 0.0 and model["mar_10"] == pytest.approx(1.0)  # the best-scored box is the ignored one


def test_polygon_conflicts_reach_the_conflict_list_and_the_confusion_matrix(project, tmp_path):
    """A lead's GT polygons and an annotator's: the annotator's lion on the lead's zebra is a wrong label, the
    polygon nobody drew is missing, and both are cells of the polygon control's confusion matrix."""

    def polygons(annotation_id, user, labelled, ground_truth=False):
        annotation = ls_annotation(annotation_id, user=user, choice=None, ground_truth=ground_truth)
        annotation["result"] = [
            {
                "id": f"p{annotation_id}-{i}",
                "type": "polygonlabels",
                "from_name": "outline",
                "to_name": "image",
                "original_width": 640,
                "original_height": 480,
                "value": {
                    "points": [[x, 10.0], [x + 10.0, 10.0], [x + 10.0, 20.0], [x, 20.0]],
                    "polygonlabels": [label],
                },
            }
            for i, (x, label) in enumerate(labelled)
        ]
        return annotation

    task = ls_task(
        1, [polygons(1, 1, [(0.0, "zebra"), (40.0, "zebra")], ground_truth=True), polygons(2, 2, [(0.0, "lion")])]
    )
    project.ingest(write_export(tmp_path / "export.json", [task]))
    tables = score(project, project.resolve())
    conflicts = tables[REGION_CONFLICTS].filter(pl.col("control") == "outline")
    assert sorted(conflicts.select("annotator", "kind", "label", "gt_label").rows()) == [
        ("2", "missing", None, "zebra"),
        ("2", "wrong_label", "lion", "zebra"),
    ]
    cells = tables[CONFUSION_MATRIX].filter(pl.col("control") == "outline").select("gt_label", "label", "count")
    assert sorted(cells.rows()) == [("zebra", "(unmatched)", 1), ("zebra", "lion", 1)]
