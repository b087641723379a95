"""Write a large Label Studio JSON export for benchmarks: 3 annotations per task, 3 results each.

python -m bench.generate --annotations 1000000 --out /tmp/ls_1m.json
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import msgspec

LABELS = ("elephant", "giraffe", "zebra", "buffalo", "empty")
_encoder = msgspec.json.Encoder()


def _result(rng: random.Random, kind: str, index: int) -> dict:
    if kind == "choices":
        return {
            "id": f"c{index}",
            "type": "choices",
            "from_name": "species",
            "to_name": "image",
            "origin": "manual",
            "value": {"choices": [rng.choice(LABELS)]},
        }
    return {
        "id": f"b{index}",
        "type": "rectanglelabels",
        "from_name": "animals",
        "to_name": "image",
        "origin": "manual",
        "original_width": 1920,
        "original_height": 1080,
        "image_rotation": 0,
        "value": {
            "x": rng.uniform(0, 80),
            "y": rng.uniform(0, 80),
            "width": rng.uniform(1, 20),
            "height": rng.uniform(1, 20),
            "rotation": 0,
            "rectanglelabels": [rng.choice(LABELS[:4])],
        },
    }


def task(rng: random.Random, task_id: int, annotations_per_task: int = 3) -> dict:
    annotations = []
    for k in range(annotations_per_task):
        annotation_id = task_id * annotations_per_task + k
        annotations.append(
            {
                "id": annotation_id,
                "completed_by": {
                    "id": 10 + annotation_id % 50,
                    "email": f"annotator{annotation_id % 50}@example.org",
                    "first_name": "",
                    "last_name": "",
                },
                "result": [
                    _result(rng, "choices", annotation_id),
                    _result(rng, "box", 2 * annotation_id),
                    _result(rng, "box", 2 * annotation_id + 1),
                ],
                "was_cancelled": False,
                "ground_truth": k == 0 and task_id % 5 == 0,
                "created_at": "2026-10-01T10:00:00.000000Z",
                "updated_at": "2026-10-01T10:05:00.000000Z",
                "lead_time": round(rng.uniform(5, 120), 3),
                "prediction": {},
                "result_count": 3,
                "task": task_id,
                "project": 42,
                "last_action": "submitted",
                "reviews": [],
                "history": [],
            }
        )
    return {
        "id": task_id,
        "data": {"image": f"s3://bucket/images/{task_id:08d}.jpg"},
        "annotations": annotations,
        "predictions": [],
        "project": 42,
        "created_at": "2026-10-01T09:00:00.000000Z",
        "updated_at": "2026-10-01T10:05:00.000000Z",
        "total_annotations": annotations_per_task,
        "cancelled_annotations": 0,
        "meta": {},
        "file_upload": f"{task_id:08d}.jpg",
    }


def write(path: Path, n_annotations: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    n_tasks = n_annotations // 3
    with open(path, "wb") as f:
        f.write(b"[")
        for start in range(0, n_tasks, 10_000):
            chunk = b",\n".join(_encoder.encode(task(rng, t)) for t in range(start, min(start + 10_000, n_tasks)))
            f.write((b",\n" if start else b"") + chunk)
        f.write(b"]\n")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotations", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(write(args.out, args.annotations))
