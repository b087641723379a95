"""A deterministic, realistic Label Studio project export: the bundled sample `gtq run` uses by default.

A wildlife camera-trap project: 300 image tasks, a Choices control (`species`: the animal the image
shows, or `empty`), a RectangleLabels control (`animals`: one box per animal) with a per-region Choices
control (`behaviour` of each boxed animal), and a Rating control (`image_quality`, 1 to 5). Five annotators of
different skill (one careless: fast, often wrong, sloppy boxes) give 2 or 3 annotations per task; a few
annotations are cancelled (skipped); a lead reviews a third of the submitted work (accepted, rejected
or fixed and accepted); a detector model pre-annotates every task (`model_version`, task
and region `score`); about a quarter of the tasks have a ground-truth flag, and one task has two
flagged annotations (the later one must win). The same seed always gives the same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.storage import local_folder

PROJECT_ID = 7
SPECIES = ("elephant", "giraffe", "zebra", "buffalo")
EMPTY = "empty"
SPECIES_WEIGHTS = (0.3, 0.2, 0.25, 0.15)
MODEL_VERSION = "megadetector-v5a+species-v2"
IMAGE_SIZE = (1920, 1080)
TWO_FLAGS_TASK_INDEX = 10
REVIEWER = "lead@wildlife.example"

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="species" toName="image" choice="single-radio">
    <Choice value="elephant"/><Choice value="giraffe"/><Choice value="zebra"/>
    <Choice value="buffalo"/><Choice value="empty"/>
  </Choices>
  <RectangleLabels name="animals" toName="image">
    <Label value="elephant"/><Label value="giraffe"/><Label value="zebra"/><Label value="buffalo"/>
  </RectangleLabels>
  <Choices name="behaviour" toName="image" perRegion="true">
    <Choice value="standing"/><Choice value="grazing"/><Choice value="moving"/>
  </Choices>
  <Rating name="image_quality" toName="image" maxRating="5"/>
</View>"""
BEHAVIOURS = ("standing", "grazing", "moving")


@dataclass(frozen=True)
class Annotator:
    user_id: int
    email: str
    accuracy: float  # chance of choosing the true species / box label
    jitter_px: float  # box corner noise
    miss_rate: float  # chance of not drawing a true box
    spurious_rate: float  # chance of drawing a box where there is none
    lead_time_s: tuple[float, float]


ANNOTATORS = (
    Annotator(11, "amara@wildlife.example", 0.96, 6, 0.03, 0.02, (40, 150)),
    Annotator(12, "bruno@wildlife.example", 0.92, 9, 0.06, 0.04, (30, 120)),
    Annotator(13, "chen@wildlife.example", 0.88, 12, 0.08, 0.05, (25, 100)),
    Annotator(14, "dana@wildlife.example", 0.84, 15, 0.10, 0.06, (20, 90)),
    Annotator(15, "eli@wildlife.example", 0.45, 45, 0.35, 0.30, (3, 15)),  # the careless one
)


def generate(n_tasks: int = 300, seed: int = 20261123) -> list[dict]:
    """The export as Python objects (a list of Label Studio tasks)."""
    rng = random.Random(seed)
    extra = random.Random(seed + 1)  # behaviours and ratings: their own stream, so the rest stays as it was
    start = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    ids = {"annotation": 5000, "prediction": 9000}
    tasks = []
    for index in range(n_tasks):
        created = start + timedelta(minutes=7 * index)
        species = rng.choices(SPECIES, SPECIES_WEIGHTS)[0] if rng.random() > 0.12 else EMPTY
        truth = [] if species == EMPTY else [_random_box(rng, species) for _ in range(rng.randint(1, 4))]
        for box in truth:
            box["behaviour"] = extra.choice(BEHAVIOURS)
        quality = extra.choices((1, 2, 3, 4, 5), (0.05, 0.15, 0.3, 0.3, 0.2))[0]
        team = rng.sample(ANNOTATORS, 3 if rng.random() < 0.4 else 2)
        annotations = []
        for order, annotator in enumerate(team):
            ids["annotation"] += 1
            annotated = created + timedelta(hours=2 + 3 * order, minutes=rng.randint(0, 50))
            annotations.append(
                _annotation(rng, extra, ids["annotation"], annotator, (species, truth, quality), annotated)
            )
        if index % 4 == 0 or index == TWO_FLAGS_TASK_INDEX:
            _flag_ground_truth(annotations, two=index == TWO_FLAGS_TASK_INDEX)
        ids["prediction"] += 1
        task_id = 1000 + index
        tasks.append(
            {
                "id": task_id,
                "data": {"image": f"s3://wildlife-survey/2026/camera-{index % 12:02d}/img_{index:05d}.jpg"},
                "annotations": annotations,
                "predictions": [_prediction(rng, ids["prediction"], task_id, species, truth, created)],
                "project": PROJECT_ID,
                "created_at": _iso(created),
                "updated_at": _iso(max(_parse(a["updated_at"]) for a in annotations)),
                "total_annotations": sum(not a["was_cancelled"] for a in annotations),
                "cancelled_annotations": sum(a["was_cancelled"] for a in annotations),
                "total_predictions": 1,
                "file_upload": f"img_{index:05d}.jpg",
                "meta": {},
            }
        )
    return tasks


def bundled_sample(warehouse_root: Path | str) -> Path:
    """The sample export `gtq run` uses without sources (`<warehouse>/samples/`), written on first use."""
    sample = local_folder(warehouse_root) / "samples" / "label_studio_sample.json"
    return sample if sample.exists() else write_sample(sample)


def write_sample(path: str | Path, n_tasks: int = 300, seed: int = 20261123) -> Path:
    """Write the export as JSON, and its labeling config beside it (`<stem>.xml`).

    The bytes depend only on `n_tasks` and `seed`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(generate(n_tasks, seed), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    path.with_suffix(".xml").write_text(LABEL_CONFIG + "\n", encoding="utf-8")
    return path


def _annotation(rng, extra, annotation_id, annotator: Annotator, scene, annotated) -> dict:
    species = scene[0]
    cancelled = rng.random() < 0.03
    result = [] if cancelled else _labelled(rng, extra, annotator, scene)
    lead_time = round(rng.uniform(*annotator.lead_time_s), 3)
    reviews, last_action = [], "skipped" if cancelled else "submitted"
    if not cancelled and rng.random() < 0.3:  # a lead reviews a third of the work
        correct = result[0]["value"]["choices"] == [species]
        last_action = "accepted" if correct else rng.choice(["rejected", "fixed_and_accepted"])
        reviews.append(
            {
                "id": annotation_id * 10,
                "created_by": {"id": 2, "email": REVIEWER, "first_name": "", "last_name": ""},
                "created_at": _iso(annotated + timedelta(days=1)),
                "accepted": last_action != "rejected",
                "annotation": annotation_id,
            }
        )
    history = [
        {
            "action": "skipped" if cancelled else "submitted",
            "created_by": annotator.user_id,
            "created_at": _iso(annotated),
        }
    ]
    history += [{"action": last_action, "created_by": 2, "created_at": r["created_at"]} for r in reviews]
    return {
        "id": annotation_id,
        "completed_by": {"id": annotator.user_id, "email": annotator.email, "first_name": "", "last_name": ""},
        "history": history,
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": _iso(annotated),
        "updated_at": _iso(annotated + timedelta(seconds=lead_time)),
        "lead_time": lead_time,
        "last_action": last_action,
        "reviews": reviews,
        "project": PROJECT_ID,
        "prediction": {},
        "result_count": len(result),
    }


def _labelled(rng, extra, annotator: Annotator, scene) -> list[dict]:
    species, truth, quality = scene
    choice = (
        species if rng.random() < annotator.accuracy else rng.choice([s for s in (*SPECIES, EMPTY) if s != species])
    )
    result = [_choice_result(rng, choice)]
    for box in truth:
        if rng.random() < annotator.miss_rate:
            continue
        label = box["label"] if rng.random() < annotator.accuracy else rng.choice(SPECIES)
        result.append(_box_result(rng, _jitter(rng, box, annotator.jitter_px), label))
        behaviour = box["behaviour"] if extra.random() < annotator.accuracy else extra.choice(BEHAVIOURS)
        result.append(_behaviour_result(result[-1], behaviour))
    if rng.random() < annotator.spurious_rate:
        result.append(_box_result(rng, _random_box(rng, rng.choice(SPECIES)), rng.choice(SPECIES)))
        result.append(_behaviour_result(result[-1], extra.choice(BEHAVIOURS)))
    # Ratings: good annotators are off by one now and then, the careless one by up to two.
    spread = 1 if annotator.accuracy > 0.8 else 2
    noise = extra.choice((0,) * round(10 * annotator.accuracy) + tuple(range(-spread, spread + 1)))
    result.append(
        {
            "id": _region_id(extra),
            "type": "rating",
            "from_name": "image_quality",
            "to_name": "image",
            "origin": "manual",
            "value": {"rating": min(max(quality + noise, 1), 5)},
        }
    )
    return result


def _prediction(rng, prediction_id, task_id, species, truth, created) -> dict:
    choice = species if rng.random() < 0.85 else rng.choice([s for s in (*SPECIES, EMPTY) if s != species])
    result = [_choice_result(rng, choice, score=round(rng.uniform(0.5, 0.99), 4))]
    for box in truth:
        if rng.random() < 0.1:
            continue
        result.append(_box_result(rng, _jitter(rng, box, 10), box["label"], score=round(rng.uniform(0.4, 0.99), 4)))
    scores = [r["score"] for r in result]
    return {
        "id": prediction_id,
        "model_version": MODEL_VERSION,
        "score": round(sum(scores) / len(scores), 4),
        "result": result,
        "task": task_id,
        "created_at": _iso(created + timedelta(minutes=1)),
        "updated_at": _iso(created + timedelta(minutes=1)),
    }


def _flag_ground_truth(annotations: list[dict], two: bool) -> None:
    """A reviewer flags the first submitted annotation by a reliable annotator; `two` flags two annotations."""
    careless = {a.email for a in ANNOTATORS if a.accuracy < 0.5}
    submitted = [a for a in annotations if not a["was_cancelled"]]
    reliable = [a for a in submitted if a["completed_by"]["email"] not in careless]
    for annotation in submitted[:2] if two else reliable[:1]:
        annotation["ground_truth"] = True


def _random_box(rng, label) -> dict:
    width, height = rng.uniform(80, 400), rng.uniform(60, 300)
    x, y = rng.uniform(0, IMAGE_SIZE[0] - width), rng.uniform(0, IMAGE_SIZE[1] - height)
    return {"x": x, "y": y, "width": width, "height": height, "label": label}


def _jitter(rng, box, px) -> dict:
    x0 = min(max(box["x"] + rng.gauss(0, px), 0), IMAGE_SIZE[0] - 10)
    y0 = min(max(box["y"] + rng.gauss(0, px), 0), IMAGE_SIZE[1] - 10)
    x1 = min(max(box["x"] + box["width"] + rng.gauss(0, px), x0 + 5), IMAGE_SIZE[0])
    y1 = min(max(box["y"] + box["height"] + rng.gauss(0, px), y0 + 5), IMAGE_SIZE[1])
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0, "label": box["label"]}


def _choice_result(rng, choice, score=None) -> dict:
    result = {
        "id": _region_id(rng),
        "type": "choices",
        "from_name": "species",
        "to_name": "image",
        "origin": "manual" if score is None else "prediction",
        "value": {"choices": [choice]},
    }
    if score is not None:
        result["score"] = score
    return result


def _box_result(rng, box, label, score=None) -> dict:
    width, height = IMAGE_SIZE
    result = {
        "id": _region_id(rng),
        "type": "rectanglelabels",
        "from_name": "animals",
        "to_name": "image",
        "origin": "manual" if score is None else "prediction",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": round(100 * box["x"] / width, 4),
            "y": round(100 * box["y"] / height, 4),
            "width": round(100 * box["width"] / width, 4),
            "height": round(100 * box["height"] / height, 4),
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }
    if score is not None:
        result["score"] = score
    return result


def _behaviour_result(box_result: dict, behaviour: str) -> dict:
    """A per-region choice: the box's id and geometry, with the chosen behaviour."""
    geometry = {k: v for k, v in box_result["value"].items() if k != "rectanglelabels"}
    return {
        "id": box_result["id"],
        "type": "choices",
        "from_name": "behaviour",
        "to_name": "image",
        "origin": "manual",
        "original_width": box_result["original_width"],
        "original_height": box_result["original_height"],
        "value": {**geometry, "choices": [behaviour]},
    }


def _region_id(rng) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(10))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
