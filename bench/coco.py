"""COCO evaluation benchmark: gtq's COCO AP and its twelve summary figures beside pycocotools, faster-coco-eval,
hotcoco and ultrafast-pycocotools, on one generated val2017-sized case, one run.

    make bench-coco                                   # creates .venv-coco (bench/requirements-coco.txt), then:
    .venv/bin/python -m bench.coco                    # writes bench/results/coco.md

The case (seeded, `write_case`): 5,000 images of COCO's usual sizes, about 36,500 GT boxes over COCO's 80
categories (person about 30%, the rest Zipf-like), COCO's mix of sizes by annotation area (about 41% small,
34% medium, 24% large; the annotation's `area` is its mask's, 45-90% of its box), 1% of them crowd regions;
and one model's 100,000 scored detections: jittered copies of most GT boxes (more of the large ones), duplicates
at lower scores, copies under a wrong category, boxes inside the crowd regions and background false positives,
at most 100 per image. Written as a COCO ground-truth file (`val.json`) and a results file (`detections.json`).

Each tool runs in a fresh process on those two files, the way its user calls it: the peers (in `.venv-coco`)
`COCO(gt)`, `loadRes(dets)` (load), then `COCOeval(..., "bbox")` evaluate + accumulate + summarize (evaluate),
then `stats`. gtq (in this environment) the way its pipeline does: the ingest step reads both files with gtq's
COCO readers into the core tables (and validates them), the GT step resolves each image's GT (JSON -> core),
`detection_inputs` turns the core tables into the box frames (core -> frames, the first part of the
detection asset), and `average_precision` + `coco_summary` compute the figures from the frames (AP). Imports
are not timed. Each process times a first call, then warm calls (best of three when the first takes under
20 s), and reports the twelve figures, which the parent checks against pycocotools'.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import ROOT, in_fresh_process

RESULTS = ROOT / "bench" / "results"
CASE_VERSION = 2  # bump when `write_case` changes: the cached case is kept per version
PEERS_PYTHON = ROOT / ".venv-coco" / "bin" / "python"  # the peers and their numpy, apart from gtq's stack
STATS = [
    "AP @[.50:.95] all",
    "AP @.50",
    "AP @.75",
    "AP small",
    "AP medium",
    "AP large",
    "AR max 1",
    "AR max 10",
    "AR max 100",
    "AR small",
    "AR medium",
    "AR large",
]
# COCO's 80 categories, with their ids (1-90, gaps included).
CATEGORY_IDS = [*range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70, *range(72, 83)]
CATEGORY_IDS += [*range(84, 91)]
CATEGORY_NAMES = (  # noqa: SIM905 - 80 names, one line each would be a page
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign"
    " parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella"
    " handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard"
    " surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange"
    " broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop"
    " mouse remote keyboard cell_phone microwave oven toaster sink refrigerator book clock vase scissors"
    " teddy_bear hair_drier toothbrush"
).split()
IMAGE_SIZES = [(640, 480), (640, 427), (480, 640), (640, 426), (427, 640), (640, 424), (500, 375), (612, 612)]
IMAGE_SIZE_P = [0.30, 0.25, 0.12, 0.10, 0.08, 0.06, 0.05, 0.04]


# --- the case -----------------------------------------------------------------------------------------------


def _boxes(rng, n: int, image_w: np.ndarray, image_h: np.ndarray, log_side: tuple[float, float], fill: tuple):
    """n boxes inside their images: sqrt(mask area) log-normal, the box `fill` (low, high) times larger than the
    mask, aspect ratio log-normal; returns x, y, w, h, area (the mask's, never more than the box's)."""
    mask = np.exp(rng.normal(*log_side, n)) ** 2
    box_area = mask / rng.uniform(*fill, n)
    ratio = np.exp(rng.normal(0.0, 0.55, n))
    w = np.clip(np.sqrt(box_area * ratio), 1.0, image_w)
    h = np.clip(np.sqrt(box_area / ratio), 1.0, image_h)
    x = rng.uniform(0, 1, n) * (image_w - w)
    y = rng.uniform(0, 1, n) * (image_h - h)
    return x, y, w, h, np.minimum(mask, w * h)


def _jittered(rng, x, y, w, h, image_w, image_h, spread):
    """Copies of boxes moved and resized by `spread` (relative to their size, per box), clipped to the image."""
    n = len(x)
    nx = x + rng.normal(0, 1, n) * spread * w
    ny = y + rng.normal(0, 1, n) * spread * h
    nw = w * np.exp(rng.normal(0, 1, n) * spread)
    nh = h * np.exp(rng.normal(0, 1, n) * spread)
    x0, y0 = np.clip(nx, 0, image_w - 1), np.clip(ny, 0, image_h - 1)
    x1, y1 = np.clip(nx + nw, x0 + 1, image_w), np.clip(ny + nh, y0 + 1, image_h)
    return x0, y0, x1 - x0, y1 - y0


def write_case(folder: Path, n_images: int = 5000, n_detections: int = 100_000, seed: int = 2017) -> dict:
    """Write `val.json` (COCO ground truth) and `detections.json` (COCO results) into `folder`; returns counts."""
    rng = np.random.default_rng(seed)
    image_ids = np.sort(rng.choice(np.arange(1, 600_000), n_images, replace=False))
    sizes = np.array(IMAGE_SIZES)[rng.choice(len(IMAGE_SIZES), n_images, p=IMAGE_SIZE_P)]
    # GT boxes per image: about 7.3 on average, a long tail, 1% of images empty (COCO: 48 of 5,000).
    per_image = np.minimum(1 + rng.negative_binomial(1.6, 1.6 / (1.6 + 6.45), n_images), 90)
    per_image[rng.random(n_images) < 0.01] = 0
    image = np.repeat(np.arange(n_images), per_image)
    n = len(image)
    iw, ih = sizes[image, 0].astype(float), sizes[image, 1].astype(float)
    weights = 1.0 / np.arange(1, 80) ** 0.8
    category_p = np.concatenate([[0.30], 0.70 * weights / weights.sum()])
    category = rng.choice(80, n, p=category_p)
    crowd = rng.random(n) < 0.01
    x, y, w, h, area = _boxes(rng, n, iw, ih, (3.73, 1.18), (0.45, 0.9))
    cx, cy, cw, ch, carea = _boxes(rng, n, iw, ih, (5.2, 0.4), (0.4, 0.7))
    x, y, w, h, area = (np.where(crowd, c, v) for c, v in ((cx, x), (cy, y), (cw, w), (ch, h), (carea, area)))
    x, y, w, h = (np.round(v, 2) for v in (x, y, w, h))
    area = np.round(np.minimum(area, w * h), 2)

    # Detections: (image, category, x, y, w, h, score) from several sources, then at most 100 per image.
    regular = ~crowd
    side = np.sqrt(area)
    hit_p = np.select([side < 32, side < 96], [0.55, 0.82], 0.93)
    parts = []

    def add(keep, spread, score, category_of=None):
        idx = np.flatnonzero(keep)
        jx, jy, jw, jh = _jittered(rng, x[idx], y[idx], w[idx], h[idx], iw[idx], ih[idx], spread[idx])
        cats = category[idx] if category_of is None else category_of(idx)
        parts.append((image[idx], cats, jx, jy, jw, jh, score(len(idx))))

    spread = np.clip(0.02 + 3.0 / np.maximum(side, 1.0), 0.02, 0.35)  # small boxes are placed less precisely
    add(regular & (rng.random(n) < hit_p), spread, lambda k: rng.beta(5, 1.6, k))
    add(regular & (rng.random(n) < 0.35), spread * 2.5, lambda k: rng.beta(2, 3, k))  # duplicates
    add(regular & (rng.random(n) < 0.10), spread, lambda k: rng.beta(2, 4, k), lambda i: (category[i] + 1) % 80)
    in_crowd = np.repeat(np.flatnonzero(crowd), rng.integers(3, 9, crowd.sum()))  # people inside crowd regions
    cw_, ch_ = w[in_crowd] * rng.uniform(0.1, 0.3, len(in_crowd)), h[in_crowd] * rng.uniform(0.2, 0.5, len(in_crowd))
    parts.append(
        (
            image[in_crowd],
            category[in_crowd],
            x[in_crowd] + rng.uniform(0, 1, len(in_crowd)) * (w[in_crowd] - cw_),
            y[in_crowd] + rng.uniform(0, 1, len(in_crowd)) * (h[in_crowd] - ch_),
            cw_,
            ch_,
            rng.beta(3, 3, len(in_crowd)),
        )
    )
    made = sum(len(p[0]) for p in parts)
    n_background = int((n_detections - made) * 1.06)  # a little extra: the cap of 100 per image drops a few
    bg_image = rng.integers(0, n_images, n_background)
    biw, bih = sizes[bg_image, 0].astype(float), sizes[bg_image, 1].astype(float)
    bx, by, bw, bh, _ = _boxes(rng, n_background, biw, bih, (3.9, 1.0), (1.0, 1.0001))
    parts.append((bg_image, rng.choice(80, n_background, p=category_p), bx, by, bw, bh, rng.beta(1.2, 6, n_background)))
    d_image, d_cat, dx, dy, dw, dh, score = (np.concatenate(c) for c in zip(*parts, strict=True))
    score = np.round(np.clip(score, 0.001, 0.999), 4)  # a detector's rounded scores: some ties, as in real files
    order = np.lexsort((-score, d_image))  # a results file lists each image's detections, best first
    d_image, d_cat, dx, dy, dw, dh, score = (v[order] for v in (d_image, d_cat, dx, dy, dw, dh, score))
    place = np.arange(len(d_image)) - np.searchsorted(d_image, d_image)  # rank within its image
    keep = place < 100
    keep[np.flatnonzero(keep)[n_detections:]] = False  # exactly n_detections
    d_image, d_cat, dx, dy, dw, dh, score = (v[keep] for v in (d_image, d_cat, dx, dy, dw, dh, score))
    dx, dy, dw, dh = (np.round(v, 2) for v in (dx, dy, dw, dh))

    gt = {
        "info": {"description": "gtq bench: a generated val2017-sized case", "version": "1.0", "year": 2026},
        "licenses": [{"id": 1, "name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}],
        "images": [
            {
                "id": int(i),
                "file_name": f"{int(i):012d}.jpg",
                "width": int(s[0]),
                "height": int(s[1]),
                "license": 1,
                "date_captured": "2013-11-14 17:02:52",
            }
            for i, s in zip(image_ids, sizes, strict=True)
        ],
        "annotations": [
            {
                "id": k + 1,
                "image_id": int(image_ids[image[k]]),
                "category_id": CATEGORY_IDS[category[k]],
                "bbox": [float(x[k]), float(y[k]), float(w[k]), float(h[k])],
                "area": float(area[k]),
                "iscrowd": int(crowd[k]),
                "segmentation": [
                    [
                        *(float(x[k]), float(y[k]), float(x[k] + w[k]), float(y[k])),
                        *(float(x[k] + w[k]), float(y[k] + h[k]), float(x[k]), float(y[k] + h[k])),
                    ]
                ],
            }
            for k in range(n)
        ],
        "categories": [
            {"id": c, "name": name.replace("_", " "), "supercategory": "object"}
            for c, name in zip(CATEGORY_IDS, CATEGORY_NAMES, strict=True)
        ],
    }
    detections = [
        {
            "image_id": int(image_ids[d_image[k]]),
            "category_id": CATEGORY_IDS[d_cat[k]],
            "bbox": [float(dx[k]), float(dy[k]), float(dw[k]), float(dh[k])],
            "score": float(score[k]),
        }
        for k in range(len(d_image))
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "val.json").write_text(json.dumps(gt))
    (folder / "detections.json").write_text(json.dumps(detections))
    side = np.sqrt(area[regular])
    return {
        "images": n_images,
        "images_without_gt": int((per_image == 0).sum()),
        "gt_boxes": int(regular.sum()),
        "crowd_regions": int(crowd.sum()),
        "small": float((side < 32).mean()),
        "medium": float(((side >= 32) & (side < 96)).mean()),
        "large": float((side >= 96).mean()),
        "detections": len(detections),
        "max_per_image": int(np.bincount(d_image).max()),
        "distinct_scores": len(np.unique(score)),
    }


# --- the tools ----------------------------------------------------------------------------------------------
# Each returns (seconds per phase, the twelve stats) for one call on the case's two files.


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def _cocoeval(coco, cocoeval, gt_file: Path, dt_file: Path, load_res: str = "loadRes", **options):
    """pycocotools' API, which every peer follows: load the GT and the results, then evaluate, accumulate and
    summarize (`load_res`: the peer's name for `loadRes`; `options`: extra arguments of its COCOeval)."""
    with _quiet():
        started = time.perf_counter()
        gt = coco(str(gt_file))
        dt = getattr(gt, load_res)(str(dt_file))
        loaded = time.perf_counter()
        evaluation = cocoeval(gt, dt, "bbox", **options)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        done = time.perf_counter()
    return {"load": loaded - started, "evaluate": done - loaded}, [float(s) for s in evaluation.stats]


def pycocotools_run(gt_file: Path, dt_file: Path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return _cocoeval(COCO, COCOeval, gt_file, dt_file)


def faster_coco_eval_run(gt_file: Path, dt_file: Path):
    from faster_coco_eval import COCO, COCOeval_faster

    return _cocoeval(COCO, COCOeval_faster, gt_file, dt_file, print_function=lambda *_: None)


def hotcoco_run(gt_file: Path, dt_file: Path):
    from hotcoco import COCO, COCOeval

    return _cocoeval(COCO, COCOeval, gt_file, dt_file, load_res="load_res")


def ultrafast_run(gt_file: Path, dt_file: Path):
    from ultrafast_pycocotools import COCO, COCOeval

    return _cocoeval(COCO, COCOeval, gt_file, dt_file)


def gtq_core_tables(gt_file: Path, dt_file: Path, staging: Path) -> dict:
    """The ingest step and the GT step on the two files, as a run of project `val` does (no warehouse): the
    core tables the detection asset reads, as frames."""
    from datetime import UTC, datetime

    import polars as pl

    from pipeline.contract import ANNOTATIONS, LABEL_CONFIG, QUARANTINE, REGIONS, REVIEWS, SOURCE_FILES, TASKS
    from pipeline.groundtruth.policy import Policy, load_overrides
    from pipeline.ingest import expand_sources
    from pipeline.ingest.merge import CoreState
    from pipeline.steps.groundtruth import next_ground_truth
    from pipeline.steps.ingest import INGESTED, ingest_new_files

    project, clock = gt_file.stem, (lambda: datetime(2026, 3, 1, tzinfo=UTC))
    empty = {t: t.empty() for t in INGESTED}
    result = ingest_new_files(
        project,
        expand_sources([gt_file, dt_file]),
        ingested=empty[SOURCE_FILES],
        current=CoreState.of(lambda table: empty[table].lazy()),
        quarantine=empty[QUARANTINE].lazy(),
        staging=staging,
        docs=None,
        run_id="bench-ingest",
        clock=clock,
    )
    tables = empty | {
        t: t.conform(f.lazy()).filter(pl.col("project_id") == project).collect() for t, f in result.tables.items()
    }
    step = next_ground_truth(
        project,
        Policy(),
        overrides=load_overrides(staging / "no-overrides.yaml"),
        overrides_file=("", ""),
        previous=None,
        published_changes=[],
        run_id="bench-gt",
        clock=clock,
        **{
            t.name: tables[t].lazy()
            for t in (SOURCE_FILES, TASKS, ANNOTATIONS, REGIONS, REVIEWS, LABEL_CONFIG, QUARANTINE)
        },
    )
    assert step.passed, "the GT step did not pass its publication check"
    return {"annotations": tables[ANNOTATIONS], "regions": tables[REGIONS], "ground_truth": step.ground_truth}


def gtq_run(gt_file: Path, dt_file: Path):
    import polars as pl

    from pipeline.groundtruth import ground_truth_regions
    from pipeline.metrics.detection import COCO_SUMMARY, average_precision, coco_summary, detection_inputs

    with tempfile.TemporaryDirectory(prefix="gtq-bench-coco-") as staging:
        started = time.perf_counter()
        core = gtq_core_tables(gt_file, dt_file, Path(staging))
        read = time.perf_counter()
        annotations, regions, ground_truth = (core[k].lazy() for k in ("annotations", "regions", "ground_truth"))
        gt_regions = ground_truth_regions(ground_truth, regions)  # as steps.quality.detection_scores
        gt_boxes, boxes, crowd = detection_inputs(annotations, regions, gt_regions, ground_truth)
        framed = time.perf_counter()
        ap, _ = average_precision(gt_boxes, boxes, crowd)
        summary = coco_summary(ap.lazy(), ["project_id", "annotator"]).collect()
        done = time.perf_counter()
    (row,) = summary.filter(pl.col("annotator") == dt_file.stem).iter_rows(named=True)
    stats = [-1.0 if row[name] is None else float(row[name]) for name in COCO_SUMMARY]
    return {"json -> core": read - started, "core -> frames": framed - read, "AP": done - framed}, stats


TOOLS = {
    "gtq": (gtq_run, "gtq"),
    "pycocotools": (pycocotools_run, "pycocotools"),
    "faster-coco-eval": (faster_coco_eval_run, "faster-coco-eval"),
    "hotcoco": (hotcoco_run, "hotcoco"),
    "ultrafast-pycocotools": (ultrafast_run, "ultrafast-pycocotools"),
}


def one(tool: str, data: Path) -> None:
    """In the tool's own process: a first call, then warm calls; prints one JSON line."""
    from importlib.metadata import version

    run, distribution = TOOLS[tool]
    if tool == "gtq":  # imports are not what we time
        import polars  # noqa: F401

        import pipeline.metrics.detection  # noqa: F401
        import pipeline.steps.groundtruth  # noqa: F401
        import pipeline.steps.ingest  # noqa: F401

        versions = f"gtq {version('gtq')}, polars {version('polars')}"
    else:
        __import__(
            {"faster-coco-eval": "faster_coco_eval", "ultrafast-pycocotools": "ultrafast_pycocotools"}.get(tool, tool)
        )
        versions = f"{distribution} {version(distribution)}"
    gt_file, dt_file = data / "val.json", data / "detections.json"
    first, stats = run(gt_file, dt_file)
    warm = None
    for _ in range(3 if sum(first.values()) < 20 else 1):
        phases, again = run(gt_file, dt_file)
        assert again == stats, "a warm call gave other figures"
        if warm is None or sum(phases.values()) < sum(warm.values()):
            warm = phases
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"first": first, "warm": warm, "stats": stats, "peak_rss_mb": peak_mb, "version": versions}))


def measure(tool: str, data: Path) -> dict:
    python = Path(sys.executable) if tool == "gtq" else PEERS_PYTHON
    result = {"tool": tool, **in_fresh_process(python, "bench.coco", tool, str(data), make="bench-coco")}
    if "error" not in result:
        print(
            f"  {tool}: {sum(result['warm'].values()):.3f} s warm, {sum(result['first'].values()):.3f} s first call"
            f" ({', '.join(f'{k} {v:.3f}' for k, v in result['warm'].items())}), {result['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    return result


# --- the report ---------------------------------------------------------------------------------------------


def report(case: dict, results: dict, command: str) -> str:
    ok = {t: results[t] for t in TOOLS if t in results and "error" not in results[t]}
    reference = ok.get("pycocotools", {}).get("stats")

    def difference(stats) -> str:
        if reference is None:
            return "no pycocotools figures"
        gap = max(abs(a - b) for a, b in zip(stats, reference, strict=True))
        return "same (max gap 0)" if gap == 0 else f"max gap {gap:.1e}" + (" (over 1e-6)" if gap > 1e-6 else "")

    def phases(tool: str, when: str = "warm") -> tuple[float, float]:  # (load, evaluate)
        times = ok[tool][when]
        if tool == "gtq":
            return times["json -> core"], times["core -> frames"] + times["AP"]
        return times["load"], times["evaluate"]

    rows = [
        "| tool | version | load s | evaluate s | total s | first call: total s | peak MB | the twelve figures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tool in TOOLS:
        if tool not in ok:
            error = results.get(tool, {}).get("error", "not run")
            rows.append(f"| {tool} | | | | | error: {error} | | |")
            continue
        (load, evaluate), first = phases(tool), sum(phases(tool, "first"))
        agrees = "reference" if tool == "pycocotools" else difference(ok[tool]["stats"])
        rows.append(
            f"| {tool} | {ok[tool]['version']} | {load:.3f} | {evaluate:.3f} | {load + evaluate:.3f} | {first:.3f} |"
            f" {ok[tool]['peak_rss_mb']:,.0f} | {agrees} |"
        )
    peers = [t for t in ok if t != "gtq"]
    headline = []
    if "gtq" in ok and peers:
        warm = ok["gtq"]["warm"]
        gtq_load, gtq_evaluate = phases("gtq")
        fastest = min(peers, key=lambda t: phases(t)[1])
        fastest_total = min(peers, key=lambda t: sum(phases(t)))
        best, best_total = phases(fastest)[1], sum(phases(fastest_total))
        headline = [
            (
                f"gtq's phases (warm): JSON -> core tables {warm['json -> core']:.3f} s, core tables -> box frames"
                f" {warm['core -> frames']:.3f} s, AP and the twelve figures from the frames {warm['AP']:.3f} s."
            ),
            "",
            (
                f"- Evaluation: gtq {gtq_evaluate:.3f} s (the detection asset's part, from the core tables; AP alone"
                f" {warm['AP']:.3f} s), the fastest peer {fastest} {best:.3f} s: gtq takes"
                f" {gtq_evaluate / best:.1f}x its time ({warm['AP'] / best:.1f}x for AP alone)."
            ),
            (
                f"- From the JSON files: gtq {gtq_load + gtq_evaluate:.3f} s, the fastest peer {fastest_total}"
                f" {best_total:.3f} s: {(gtq_load + gtq_evaluate) / best_total:.1f}x."
            ),
            "",
            "| peer | evaluate / gtq's evaluate | evaluate / gtq's AP alone | total / gtq's total |",
            "|---|---|---|---|",
            *(
                f"| {t} | {phases(t)[1] / gtq_evaluate:.2f} | {phases(t)[1] / warm['AP']:.2f} |"
                f" {sum(phases(t)) / (gtq_load + gtq_evaluate):.2f} |"
                for t in peers
            ),
            "",
            "Above 1: the peer takes longer than gtq.",
            "",
        ]
    figures = [
        "| figure | " + " | ".join(ok) + " |",
        "|---|" + "---|" * len(ok),
        *(
            f"| {name} | " + " | ".join(f"{r['stats'][k]:.6f}" for r in ok.values()) + " |"
            for k, name in enumerate(STATS)
        ),
    ]
    load = results.get("load")
    return "\n".join(
        [
            "# COCO evaluation benchmark",
            "",
            (
                f"`{command}` on {os.cpu_count()} cores ({platform.python_implementation()}"
                f" {platform.python_version()}, {platform.machine()}"
                + (f"; load average {load[0]:.1f} before, {load[1]:.1f} after" if load else "")
                + f"). The case (seed 2017): {case['images']:,} images"
                f" ({case['images_without_gt']} without GT), {case['gt_boxes']:,} GT boxes in 80 categories"
                f" ({case['small']:.0%} small, {case['medium']:.0%} medium, {case['large']:.0%} large by annotation"
                f" area) and {case['crowd_regions']} crowd regions; {case['detections']:,} detections (at most"
                f" {case['max_per_image']} per image, {case['distinct_scores']:,} distinct scores). Each tool in a"
                " fresh process on the same `val.json` and `detections.json`."
            ),
            "",
            (
                "Times are the best of three warm calls (one when the first call took 20 s or more), imports"
                " excluded; the first call is the process's first. Peers: load = `COCO(val.json)` +"
                " `loadRes(detections.json)`; evaluate = `COCOeval(gt, dt, 'bbox')`, evaluate, accumulate,"
                " summarize. gtq: load = its ingest step (gtq's COCO readers, the screening of the rows, the merge)"
                " and its GT step (JSON -> core tables); evaluate = `detection_inputs` (core tables -> box frames),"
                " then `average_precision` and `coco_summary` (AP): the part of the detection asset that gives COCO's"
                " figures, from the tables the warehouse hands it. The twelve figures are checked against"
                " pycocotools' (largest absolute difference)."
            ),
            "",
            *rows,
            "",
            *headline,
            "The twelve figures (COCOeval.stats order):",
            "",
            *figures,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gtq-bench-coco"))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "DATA"), help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last run's results")
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]))
        return

    data = args.workdir / f"i{args.images}-d{args.detections}-v{CASE_VERSION}"
    case_file = data / "case.json"
    if not case_file.exists():
        case_file.parent.mkdir(parents=True, exist_ok=True)
        case_file.write_text(json.dumps(write_case(data, args.images, args.detections)))
    case = json.loads(case_file.read_text())
    print(f"case: {case}", flush=True)
    raw = data / "results.json"
    if args.report_only and raw.exists():
        results = json.loads(raw.read_text())
    else:
        load = os.getloadavg()[0]
        results = {tool: measure(tool, data) for tool in args.tools}
        results["load"] = [load, os.getloadavg()[0]]  # other work on the machine, before and after
        raw.write_text(json.dumps(results))
    command = "python -m bench.coco" + (
        f" --images {args.images} --detections {args.detections}"
        if (args.images, args.detections) != (5000, 100_000)
        else ""
    )
    text = report(case, results, command)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "coco.md").write_text(text)


if __name__ == "__main__":
    main()
