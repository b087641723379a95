"""Scoring benchmark: gtq's metrics against the tools a user would otherwise run, same data, one run.

    make bench                                          # 1M tasks x 3 of 50 annotators; 100k and 1M images
    .venv/bin/python -m bench.scoring --tasks 100000 --images 10000 --big-images 0

Generated data (seeded): `labels` has one row per rating, `tasks` tasks x 3 annotators drawn from a pool
of 50 (accuracies 0.5 to 0.95), 5 classes; `boxes` has `images` images with about 4 GT boxes each and
3 annotators' jittered copies (misses, extra boxes, wrong labels).

Each method runs in a fresh process (peak RSS is its own) on the same Parquet files and writes what it
computed (a first call, then the timed warm ones), and the parent checks that gtq and the reference
agree before reporting a ratio:
- pairwise Cohen's kappa matrix (1,225 pairs): gtq `cohen_kappa` over `rater_pairs` vs scikit-learn's
  `cohen_kappa_score` per pair on a pandas pivot;
- Krippendorff's alpha (nominal): gtq vs the `krippendorff` package on the raters x tasks matrix;
- Fleiss' kappa: gtq vs statsmodels `aggregate_raters` + `fleiss_kappa`;
- majority vote and Dawid-Skene: gtq vs crowd-kit (`MajorityVote`, `DawidSkene(n_iter=100)`), in the
  `.venv-bench` environment;
- all of the above together (gtq) vs the sum of the reference times;
- one-to-one box matching of each annotator against the GT at IoU 0.5 (largest IoU first): gtq
  `detection_scores` vs a Python loop over images computing each pair's IoU with shapely; and gtq alone on
  `big-images` images for its peak memory.
Results: seconds, peak RSS and the ratios, printed and written to `bench/results/scoring.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import ROOT, in_fresh_process

RESULTS = ROOT / "bench" / "results"
CROWDKIT_PYTHON = ROOT / ".venv-crowdkit" / "bin" / "python"  # crowd-kit pulls in its own stack
POOL, CLASSES, PER_TASK = 50, 5, 3


# --- data ------------------------------------------------------------------------------------------


def write_labels(path: Path, n_tasks: int, seed: int = 1) -> None:
    import polars as pl

    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.5, 0.95, POOL)
    truth = rng.choice(CLASSES, n_tasks, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    raters = np.argsort(rng.random((n_tasks, POOL)), axis=1)[:, :PER_TASK]  # 3 distinct annotators per task
    correct = rng.random((n_tasks, PER_TASK)) < accuracy[raters]
    wrong = (truth[:, None] + rng.integers(1, CLASSES, (n_tasks, PER_TASK))) % CLASSES
    labels = np.where(correct, truth[:, None], wrong)
    pl.DataFrame(
        {
            "item": np.repeat(np.arange(n_tasks, dtype=np.int32), PER_TASK),
            "rater": raters.ravel().astype(np.int32),
            "label": labels.ravel().astype(np.int32),
        }
    ).write_parquet(path)


def write_boxes(gt_path: Path, boxes_path: Path, n_images: int, seed: int = 2) -> None:
    import polars as pl

    rng = np.random.default_rng(seed)
    per_image = rng.poisson(4, n_images)
    image = np.repeat(np.arange(n_images, dtype=np.int32), per_image)
    n = len(image)
    gt = pl.DataFrame(
        {
            "task_id": image,
            "label": rng.integers(0, 4, n).astype(np.int32),
            "x": rng.uniform(0, 80, n),
            "y": rng.uniform(0, 80, n),
            "width": rng.uniform(4, 20, n),
            "height": rng.uniform(4, 20, n),
        }
    )
    copies = []
    for annotator in range(PER_TASK):
        kept = gt.filter(pl.Series(rng.random(n) > 0.08))
        m = kept.height
        copies.append(
            kept.with_columns(
                annotator=pl.lit(annotator, pl.Int32),
                label=pl.Series(
                    np.where(rng.random(m) < 0.9, kept["label"].to_numpy(), rng.integers(0, 4, m)).astype(np.int32)
                ),
                x=kept["x"] + rng.normal(0, 1.5, m),
                y=kept["y"] + rng.normal(0, 1.5, m),
                width=(kept["width"] + rng.normal(0, 1.5, m)).clip(0.5),
                height=(kept["height"] + rng.normal(0, 1.5, m)).clip(0.5),
            )
        )
        extra = int(0.05 * n)
        copies.append(
            pl.DataFrame(
                {
                    "task_id": rng.integers(0, n_images, extra).astype(np.int32),
                    "label": rng.integers(0, 4, extra).astype(np.int32),
                    "x": rng.uniform(0, 80, extra),
                    "y": rng.uniform(0, 80, extra),
                    "width": rng.uniform(4, 20, extra),
                    "height": rng.uniform(4, 20, extra),
                    "annotator": np.full(extra, annotator, dtype=np.int32),
                }
            )
        )
    gt.write_parquet(gt_path)
    pl.concat(copies, how="diagonal").select(gt.columns + ["annotator"]).write_parquet(boxes_path)


# --- gtq --------------------------------------------------------------------------------------------


def gtq_ratings(data: Path):
    import polars as pl

    return pl.scan_parquet(data / "labels.parquet")


def gtq_kappa(data: Path) -> dict:
    import polars as pl

    from pipeline.metrics.agreement import cohen_kappa, rater_pairs

    pairs = rater_pairs(gtq_ratings(data)).filter(pl.col("rater_a") < pl.col("rater_b"))
    got = cohen_kappa(pairs, ["rater_a", "rater_b"]).collect()
    return {"kappa": got.select("rater_a", "rater_b", "cohen_kappa").sort("rater_a", "rater_b")}


def gtq_alpha(data: Path) -> dict:
    from pipeline.metrics.agreement import krippendorff_alpha

    return {"alpha": krippendorff_alpha(gtq_ratings(data)).collect().item()}


def gtq_fleiss(data: Path) -> dict:
    from pipeline.metrics.agreement import fleiss_kappa

    return {"fleiss": fleiss_kappa(gtq_ratings(data)).collect()["fleiss_kappa"].item()}


def gtq_majority(data: Path) -> dict:
    from pipeline.metrics.aggregate import majority_vote

    return {"majority": majority_vote(gtq_ratings(data)).select("item", "majority").collect().sort("item")}


def gtq_dawid_skene(data: Path) -> dict:
    from pipeline.metrics.aggregate import dawid_skene

    return {"dawid_skene": dawid_skene(gtq_ratings(data).collect()).labels.select("item", "label").sort("item")}


def gtq_all(data: Path) -> dict:
    return {k: v for f in (gtq_kappa, gtq_alpha, gtq_fleiss, gtq_majority, gtq_dawid_skene) for k, v in f(data).items()}


def gtq_boxes(data: Path, size: str = "") -> dict:
    import polars as pl

    from pipeline.metrics.detection import detection_scores

    keys = {"project_id": pl.lit("p"), "control": pl.lit("bbox")}
    gt = (
        pl.read_parquet(data / f"gt{size}.parquet")
        .with_row_index("box")
        .with_columns(**keys, box=pl.col("box").cast(pl.Int64))
    )
    boxes = (
        pl.read_parquet(data / f"boxes{size}.parquet")
        .with_row_index("box")
        .with_columns(**keys, box=pl.col("box").cast(pl.Int64), origin=pl.lit("human"), score=pl.lit(None, pl.Float64))
    )
    got = detection_scores(gt, boxes, thresholds=[0.5], rules=["greedy"])
    return {"tp": got.select("annotator", "tp").sort("annotator")}


def gtq_big_boxes(data: Path) -> dict:
    return gtq_boxes(data, "_big")


# --- what a user would otherwise run ---------------------------------------------------------------


def wide(data: Path):
    """The ratings as a tasks x raters matrix with NaN for missing (the layout these libraries want)."""
    import polars as pl

    ratings = pl.read_parquet(data / "labels.parquet")
    matrix = np.full((ratings["item"].max() + 1, POOL), np.nan)
    matrix[ratings["item"].to_numpy(), ratings["rater"].to_numpy()] = ratings["label"].to_numpy()
    return matrix


def sklearn_kappa(data: Path) -> dict:
    import polars as pl
    from sklearn.metrics import cohen_kappa_score

    matrix = wide(data)
    rows = []
    for a in range(POOL):
        for b in range(a + 1, POOL):
            both = ~np.isnan(matrix[:, a]) & ~np.isnan(matrix[:, b])
            rows.append((a, b, cohen_kappa_score(matrix[both, a], matrix[both, b])))
    return {"kappa": pl.DataFrame(rows, schema=["rater_a", "rater_b", "cohen_kappa"], orient="row")}


def krippendorff_package(data: Path) -> dict:
    import krippendorff

    return {"alpha": float(krippendorff.alpha(reliability_data=wide(data).T, level_of_measurement="nominal"))}


def statsmodels_fleiss(data: Path) -> dict:
    import polars as pl
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    ratings = pl.read_parquet(data / "labels.parquet").sort("item")
    table = ratings["label"].to_numpy().reshape(-1, PER_TASK)  # every task has 3 ratings: the classic layout
    return {"fleiss": float(fleiss_kappa(aggregate_raters(table)[0]))}


def _crowdkit_frame(data: Path):
    import pandas as pd

    return pd.read_parquet(data / "labels.parquet").rename(columns={"item": "task", "rater": "worker"})


def crowdkit_majority(data: Path) -> dict:
    from crowdkit.aggregation import MajorityVote

    labels = MajorityVote().fit_predict(_crowdkit_frame(data))
    return {"majority": labels.rename("majority").reset_index().rename(columns={"task": "item"})}


def crowdkit_dawid_skene(data: Path) -> dict:
    from crowdkit.aggregation import DawidSkene

    labels = DawidSkene(n_iter=100, tol=1e-5).fit_predict(_crowdkit_frame(data))
    return {"dawid_skene": labels.rename("label").reset_index().rename(columns={"task": "item"})}


def shapely_loop(data: Path) -> dict:
    """Per image and annotator: every pair's IoU with shapely, then the largest IoU first."""
    import polars as pl
    import shapely

    def polygons(frame):
        return {
            task: [(r[1], shapely.box(r[2], r[3], r[2] + r[4], r[3] + r[5])) for r in group.iter_rows()]
            for (task,), group in frame.group_by("task_id")
        }

    gt = polygons(pl.read_parquet(data / "gt.parquet").select("task_id", "label", "x", "y", "width", "height"))
    boxes = pl.read_parquet(data / "boxes.parquet")
    tp = {}
    for (annotator,), mine in boxes.group_by("annotator"):
        drawn = polygons(mine.select("task_id", "label", "x", "y", "width", "height"))
        hits = 0
        for task, own in drawn.items():
            pairs = []
            for i, (label, box) in enumerate(own):
                for j, (gt_label, gt_box) in enumerate(gt.get(task, [])):
                    if label == gt_label:
                        iou = box.intersection(gt_box).area / box.union(gt_box).area
                        if iou >= 0.5:
                            pairs.append((-iou, i, j))
            used_i, used_j = set(), set()
            for _, i, j in sorted(pairs):
                if i not in used_i and j not in used_j:
                    used_i.add(i), used_j.add(j)
                    hits += 1
        tp[annotator] = hits
    return {"tp": pl.DataFrame({"annotator": list(tp), "tp": list(tp.values())}).sort("annotator")}


METHODS = {
    "gtq kappa matrix": gtq_kappa,
    "scikit-learn kappa per pair": sklearn_kappa,
    "gtq Krippendorff alpha": gtq_alpha,
    "krippendorff package": krippendorff_package,
    "gtq Fleiss kappa": gtq_fleiss,
    "statsmodels Fleiss kappa": statsmodels_fleiss,
    "gtq majority vote": gtq_majority,
    "crowd-kit MajorityVote": crowdkit_majority,
    "gtq Dawid-Skene": gtq_dawid_skene,
    "crowd-kit DawidSkene": crowdkit_dawid_skene,
    "gtq all label metrics": gtq_all,
    "gtq box matching": gtq_boxes,
    "shapely loop": shapely_loop,
    "gtq box matching (big)": gtq_big_boxes,
}
COMPARISONS = [  # (gtq, reference, what they must agree on, floor from the issue)
    ("gtq kappa matrix", "scikit-learn kappa per pair", "kappa", 20),
    ("gtq Krippendorff alpha", "krippendorff package", "alpha", 20),
    ("gtq Fleiss kappa", "statsmodels Fleiss kappa", "fleiss", 7),
    ("gtq majority vote", "crowd-kit MajorityVote", "majority", 5),
    ("gtq Dawid-Skene", "crowd-kit DawidSkene", "dawid_skene", 5),
    ("gtq box matching", "shapely loop", "tp", 50),
]


def one(method: str, data: Path) -> None:
    if method.startswith("crowd-kit"):
        import crowdkit.aggregation  # noqa: F401 - imports are not what we time
    else:
        import polars  # noqa: F401

        import pipeline.metrics.agreement  # noqa: F401

    started = time.perf_counter()
    METHODS[method](data)  # the first call also pays one-time costs (thread pools, caches): reported apart
    cold = time.perf_counter() - started
    seconds = float("inf")
    for _ in range(3 if cold < 5 else 1):  # best of three warm calls when they are short: less noise
        started = time.perf_counter()
        outputs = METHODS[method](data)
        seconds = min(seconds, time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    saved = {}
    for name, value in outputs.items():
        if hasattr(value, "write_parquet"):
            value.write_parquet(data / f"out-{method}-{name}.parquet")
        elif hasattr(value, "to_parquet"):
            value.to_parquet(data / f"out-{method}-{name}.parquet")
        else:
            saved[name] = value
    print(json.dumps({"seconds": seconds, "cold_seconds": cold, "peak_rss_mb": peak_mb, "values": saved}))


def measure(method: str, data: Path) -> dict:
    python = CROWDKIT_PYTHON if method.startswith("crowd-kit") else Path(sys.executable)
    result = {"method": method, **in_fresh_process(python, "bench.scoring", method, str(data))}
    if "error" not in result:
        print(
            f"  {method}: {result['seconds']:.2f} s (first call {result['cold_seconds']:.2f} s),"
            f" {result['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    return result


def agreement(what: str, gtq: dict, reference: dict, data: Path) -> str:
    """How far gtq's result is from the reference's (the check that makes the ratio meaningful)."""
    import polars as pl

    if what in gtq["values"]:
        return f"|difference| {abs(gtq['values'][what] - reference['values'][what]):.1e}"
    mine = pl.read_parquet(data / f"out-{gtq['method']}-{what}.parquet")
    theirs = pl.read_parquet(data / f"out-{reference['method']}-{what}.parquet")
    if what == "kappa":
        joined = mine.join(theirs, on=["rater_a", "rater_b"], suffix="_ref")
        return (
            f"{joined.height} pairs, max |difference|"
            f" {(joined['cohen_kappa'] - joined['cohen_kappa_ref']).abs().max():.1e}"
        )
    if what == "tp":
        return (
            "same true positives"
            if mine.equals(theirs.cast(mine.schema))
            else f"different: {mine.to_dicts()} vs {theirs.to_dicts()}"
        )
    column = "majority" if what == "majority" else "label"
    joined = mine.join(theirs.with_columns(pl.col("item").cast(mine["item"].dtype)), on="item", suffix="_ref")
    decided = joined.drop_nulls(column)  # gtq reports a tie as null where crowd-kit picks one
    same = (decided[column].cast(pl.Int64) == decided[f"{column}_ref"].cast(pl.Int64)).mean()
    return f"same label on {same:.4%} of {decided.height:,} items" + (
        f" ({joined.height - decided.height:,} ties)" if what == "majority" else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--big-images", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gtq-bench-scoring"))
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "DATA"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, metavar="DATA", help=argparse.SUPPRESS)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last run's measurements"
    )
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]))
        return
    if args.generate:
        write_labels(args.generate / "labels.parquet", args.tasks)
        write_boxes(args.generate / "gt.parquet", args.generate / "boxes.parquet", args.images)
        if args.big_images:
            write_boxes(args.generate / "gt_big.parquet", args.generate / "boxes_big.parquet", args.big_images)
        return

    data = args.workdir / f"t{args.tasks}-i{args.images}-b{args.big_images}"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "labels.parquet").exists():  # in its own process: a child inherits its parent's peak RSS
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scoring",
                "--generate",
                str(data),
                "--tasks",
                str(args.tasks),
                "--images",
                str(args.images),
                "--big-images",
                str(args.big_images),
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    methods = [m for m in METHODS if args.big_images or m != "gtq box matching (big)"]
    raw = data / "results.json"
    if args.report_only and raw.exists():
        results = json.loads(raw.read_text())
    else:
        results = {m: measure(m, data) for m in methods}
        raw.write_text(json.dumps(results))

    lines = [
        (
            "| metric | gtq s (first call) | gtq peak MB | reference | reference s (first call) | reference peak MB |"
            " speed-up warm (first call) | floor | agreement |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    reference_total = reference_cold = 0.0
    for gtq_name, reference_name, what, floor in COMPARISONS:
        gtq, reference = results[gtq_name], results[reference_name]
        if "error" in gtq or "error" in reference:
            lines.append(
                f"| {what} | | | {reference_name} | error: {gtq.get('error') or reference.get('error')} | | | {floor}x"
                " | |"
            )
            continue
        if what != "tp":
            reference_total += reference["seconds"]
            reference_cold += reference["cold_seconds"]
        lines.append(
            f"| {gtq_name.removeprefix('gtq ')} | {gtq['seconds']:.2f} ({gtq['cold_seconds']:.2f}) |"
            f" {gtq['peak_rss_mb']:,.0f} | {reference_name} | {reference['seconds']:.2f}"
            f" ({reference['cold_seconds']:.2f}) | {reference['peak_rss_mb']:,.0f} |"
            f" {reference['seconds'] / gtq['seconds']:.1f}x ({reference['cold_seconds'] / gtq['cold_seconds']:.1f}x) |"
            f" {floor}x | {agreement(what, gtq, reference, data)} |"
        )
    together = results["gtq all label metrics"]
    if "error" not in together:
        lines.append(
            f"| all label metrics together | {together['seconds']:.2f} ({together['cold_seconds']:.2f}) |"
            f" {together['peak_rss_mb']:,.0f} | the five references, summed | {reference_total:.2f}"
            f" ({reference_cold:.2f}) | | {reference_total / together['seconds']:.1f}x"
            f" ({reference_cold / together['cold_seconds']:.1f}x) | 10x | as above |"
        )
    big = results.get("gtq box matching (big)")
    if big and "error" not in big:
        lines.append(
            f"| box matching at {args.big_images:,} images | {big['seconds']:.2f} ({big['cold_seconds']:.2f}) |"
            f" {big['peak_rss_mb']:,.0f} | | | | | < 3,000 MB | |"
        )
    report = "\n".join(
        [
            "# Scoring benchmark",
            "",
            (
                f"`python -m bench.scoring --tasks {args.tasks} --images {args.images} --big-images {args.big_images}`"
                f" on {os.cpu_count()} cores: {args.tasks:,} tasks x {PER_TASK} annotators from a pool of {POOL},"
                f" {CLASSES} classes ({args.tasks * PER_TASK:,} ratings); {args.images:,} images with about 4 GT boxes"
                f" and {PER_TASK} annotators' copies. Each method in a fresh process."
            ),
            (
                "Each method runs in its process once cold, then warm (best of three when a call takes under 5 s)."
                " Times are the warm time and, in brackets, the first call, which also pays one-time costs (thread"
                " pools, the allocator's first page faults). Speed-up: the reference's time / gtq's time, warm and"
                " (first call). Floor: the ratio the issue asks for. Peak MB covers all calls."
            ),
            "",
            *lines,
            "",
        ]
    )
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring.md").write_text(report)


if __name__ == "__main__":
    main()
