"""End-to-end benchmark: `gtq run` on one Label Studio export, beside the scripts a user would write instead.

    .venv/bin/python -m bench.e2e --tasks 10000 100000        # writes bench/results/e2e.md

Per size, one generated export (3 annotations and a prediction per task; a 5-class choice and 2 boxes per
annotation; 60% of tasks with a GT-flagged annotation), then, each in its own process so that peak RSS
is its own (`os.wait4`):
- `gtq run`: the command a user types, every table, check and the report, from a fresh warehouse;
- `script: choices`: json.load, pandas, scikit-learn, statsmodels and krippendorff: the choice control's
  GT accuracy per annotator, the pairwise Cohen's kappa matrix, Fleiss' kappa and Krippendorff's alpha;
- `script: choices + boxes`: the same, plus per-annotator box precision and recall at IoU 0.5 against the
  GT boxes with a shapely matching loop.
The headline numbers (Fleiss, alpha, mean accuracy, kappa of every pair) are checked equal between gtq
and the script. gtq's time is split by Dagster step (from the run's step stats) so the next bottleneck shows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from bench.generate import _result
from bench.ingest import LABEL_CONFIG, RESULTS

ROOT = Path(__file__).resolve().parent.parent
GTQ = Path(sys.executable).with_name("gtq")  # the environment running the benchmark
ANNOTATORS = 50


def write_export(path: Path, n_tasks: int, seed: int = 11) -> Path:
    """The export: per task 3 annotations (annotators id % 50) and one prediction, each a choice and 2 boxes."""
    rng, encoder = random.Random(seed), msgspec.json.Encoder()

    def task(task_id: int) -> dict:
        annotations = []
        for k in range(3):
            annotation_id = task_id * 3 + k
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": {"id": 10 + annotation_id % ANNOTATORS, "email": f"annotator{annotation_id % ANNOTATORS}@example.org"},
                    "result": [
                        _result(rng, "choices", annotation_id),
                        _result(rng, "box", 2 * annotation_id),
                        _result(rng, "box", 2 * annotation_id + 1),
                    ],
                    "was_cancelled": False,
                    "ground_truth": k == 0 and task_id % 5 < 3,
                    "created_at": "2026-10-01T10:00:00.000000Z",
                    "updated_at": "2026-10-01T10:05:00.000000Z",
                    "lead_time": round(rng.uniform(5, 120), 3),
                    "task": task_id,
                    "project": 42,
                }
            )
        prediction = {
            "id": task_id,
            "model_version": "detector-v1",
            "score": round(rng.uniform(0.3, 1.0), 3),
            "result": [
                _result(rng, "choices", 10**9 + task_id) | {"score": round(rng.uniform(0.3, 1.0), 3)},
                _result(rng, "box", 2 * 10**9 + 2 * task_id) | {"score": round(rng.uniform(0.3, 1.0), 3)},
                _result(rng, "box", 2 * 10**9 + 2 * task_id + 1) | {"score": round(rng.uniform(0.3, 1.0), 3)},
            ],
        }
        return {"id": task_id, "data": {"image": f"s3://bucket/{task_id:08d}.jpg"}, "annotations": annotations,
                "predictions": [prediction], "project": 42}  # fmt: skip

    with open(path, "wb") as f:
        f.write(b"[")
        for start in range(0, n_tasks, 10_000):
            chunk = b",\n".join(encoder.encode(task(t)) for t in range(start, min(start + 10_000, n_tasks)))
            f.write((b",\n" if start else b"") + chunk)
        f.write(b"]\n")
    path.with_suffix(".xml").write_text(LABEL_CONFIG)
    return path


# -- the scripts a user writes instead ---------------------------------------------------------------------
def script(path: Path, out: Path, boxes: bool) -> None:
    import krippendorff
    import numpy as np
    import pandas as pd
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    with open(path, encoding="utf-8") as f:
        tasks = json.load(f)
    rows, box_rows = [], []
    for task in tasks:
        for annotation in task["annotations"]:
            if annotation.get("was_cancelled"):
                continue
            who = annotation["completed_by"]["email"]
            for result in annotation["result"]:
                if result["type"] == "choices":
                    rows.append((task["id"], annotation["id"], who, annotation["ground_truth"], result["value"]["choices"][0]))
                elif boxes and result["type"] == "rectanglelabels":
                    v = result["value"]
                    box_rows.append(
                        (task["id"], who, annotation["ground_truth"], v["x"], v["y"], v["width"], v["height"], v["rectanglelabels"][0])
                    )
    del tasks
    answers = pd.DataFrame(rows, columns=["task", "annotation", "annotator", "is_gt", "label"])
    gt = answers[answers.is_gt].set_index("task")["label"]
    others = answers[~answers.is_gt]
    scored = others[others.task.isin(gt.index)]
    accuracy = scored.assign(correct=scored.label.to_numpy() == gt.loc[scored.task].to_numpy()).groupby("annotator").correct.mean()
    wide = answers.pivot_table(index="task", columns="annotator", values="label", aggfunc="first")
    kappas = {}
    names = list(wide.columns)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = wide[[a, b]].dropna()
            if len(both) >= 2:
                kappas[f"{a}|{b}"] = float(cohen_kappa_score(both[a], both[b]))
    per_task = answers.groupby("task").label.apply(list)
    table, _ = aggregate_raters(np.array(per_task.tolist()))
    codes = {label: i for i, label in enumerate(sorted(answers.label.unique()))}
    reliability = wide.apply(lambda column: column.map(codes)).to_numpy(dtype=float).T
    result = {
        "fleiss": float(fleiss_kappa(table)),
        "alpha": float(krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")),
        "mean_accuracy": float(accuracy.mean()),
        "kappa": kappas,
    }
    if boxes:
        result["box_recall"] = _box_scores(pd.DataFrame(box_rows, columns=["task", "annotator", "is_gt", "x", "y", "w", "h", "label"]))
    out.write_text(json.dumps(result))


def _box_scores(frame) -> dict:
    """Per annotator, recall at IoU 0.5 against the GT boxes (same label, greedy by IoU), shapely and loops."""
    from shapely.geometry import box as shape

    gt = {task: group for task, group in frame[frame.is_gt].groupby("task")}
    found, total = {}, {}
    for (task, annotator), group in frame[~frame.is_gt].groupby(["task", "annotator"]):
        if task not in gt:
            continue
        truth = [(r.label, shape(r.x, r.y, r.x + r.w, r.y + r.h)) for r in gt[task].itertuples()]
        mine = [(r.label, shape(r.x, r.y, r.x + r.w, r.y + r.h)) for r in group.itertuples()]
        pairs = sorted(
            (
                (a.intersection(b).area / a.union(b).area, i, j)
                for i, (la, a) in enumerate(mine)
                for j, (lb, b) in enumerate(truth)
                if la == lb
            ),
            reverse=True,
        )
        used_i, used_j = set(), set()
        for iou, i, j in pairs:
            if iou >= 0.5 and i not in used_i and j not in used_j:
                used_i.add(i)
                used_j.add(j)
        found[annotator] = found.get(annotator, 0) + len(used_j)
        total[annotator] = total.get(annotator, 0) + len(truth)
    return {a: found[a] / total[a] for a in total}


# -- gtq -----------------------------------------------------------------------------------------------------
def gtq_numbers(warehouse: Path) -> dict:
    """The same headline numbers from gtq's tables, and each Dagster step's seconds."""
    import polars as pl

    from pipeline.contract import AGREEMENT_MATRIX, ANNOTATION_SCORES, PROJECT_AGREEMENT
    from pipeline.instance import open_instance
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse)
    agreement = store.read(PROJECT_AGREEMENT).filter(pl.col("control") == "species").row(0, named=True)
    accuracy = (
        store.read(ANNOTATION_SCORES)
        .filter((pl.col("control") == "species") & (pl.col("origin") == "human"))
        .group_by("annotator")
        .agg(pl.col("score").mean())
    )
    pairs = store.read(AGREEMENT_MATRIX).filter(
        (pl.col("control") == "species")
        & pl.col("annotator_a").str.starts_with("annotator")
        & pl.col("annotator_b").str.starts_with("annotator")
    )
    instance = open_instance(warehouse)
    [run] = instance.get_runs(limit=1)
    steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run.run_id) if s.end_time and s.start_time}
    return {
        "fleiss": agreement["fleiss_kappa"],
        "alpha": agreement["krippendorff_alpha"],
        "mean_accuracy": accuracy["score"].mean(),
        "kappa": {"|".join(sorted((r["annotator_a"], r["annotator_b"]))): r["cohen_kappa"] for r in pairs.iter_rows(named=True)},
        "steps": steps,
    }


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, its own alone."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def measure(n_tasks: int, folder: Path) -> dict:
    export = write_export(folder / f"tasks-{n_tasks}.json", n_tasks)
    warehouse = folder / f"warehouse-{n_tasks}"
    rows = {"tasks": n_tasks, "file_mb": export.stat().st_size / 1e6}
    rows["gtq"] = timed([str(GTQ), "run", "--source", str(export), "--warehouse", str(warehouse), "--groundtruth", str(folder / "gt")])
    for name, boxes in (("script: choices", False), ("script: choices + boxes", True)):
        out = folder / f"{name.replace(' ', '_').replace(':', '').replace('+', 'and')}-{n_tasks}.json"
        rows[name] = timed([sys.executable, "-m", "bench.e2e", "--script", str(export), str(out), *(["--boxes"] if boxes else [])])
        rows[f"{name} numbers"] = json.loads(out.read_text())
    rows["gtq numbers"] = gtq_numbers(warehouse)
    return rows


def check(rows: dict) -> list[str]:
    """The headline numbers gtq and the script must agree on; the differences found, in words."""
    ours, theirs = rows["gtq numbers"], rows["script: choices numbers"]
    problems = [
        f"{name}: gtq {ours[name]:.6f}, script {theirs[name]:.6f}"
        for name in ("fleiss", "alpha", "mean_accuracy")
        if abs(ours[name] - theirs[name]) > 1e-9
    ]
    shared = set(ours["kappa"]) & set(theirs["kappa"])
    worst = max((abs(ours["kappa"][k] - theirs["kappa"][k]) for k in shared), default=0.0)
    if len(shared) != len(theirs["kappa"]) or worst > 1e-9:
        problems.append(f"kappa: {len(shared)} of {len(theirs['kappa'])} pairs in both, largest difference {worst:.2e}")
    return problems


def report(results: list[dict]) -> str:
    lines = [
        "# End-to-end benchmark",
        "",
        "`python -m bench.e2e --tasks " + " ".join(str(r["tasks"]) for r in results) + "` on this 2-core machine. gtq computes every"
        " table, check and the report; the scripts compute a few numbers. Ratio: the method's time / gtq's time.",
        "",
        "| tasks | file MB | method | seconds | peak RSS MB | ratio to gtq | same numbers |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = r["gtq"][0]
        problems = check(r)
        for name in ("gtq", "script: choices", "script: choices + boxes"):
            seconds, rss = r[name]
            same = "" if name == "gtq" else ("yes (Fleiss, alpha, accuracy, every kappa)" if not problems else "; ".join(problems))
            lines.append(f"| {r['tasks']:,} | {r['file_mb']:,.0f} | {name} | {seconds:.1f} | {rss:,.0f} | {seconds / base:.2f} | {same} |")
    lines += ["", "## gtq's time by Dagster step (seconds, share of the steps' total)", ""]
    for r in results:
        steps = sorted(r["gtq numbers"]["steps"].items(), key=lambda kv: -kv[1])
        total = sum(seconds for _, seconds in steps)
        lines.append(f"**{r['tasks']:,} tasks**: steps {total:.1f} s of {r['gtq'][0]:.1f} s wall; "
                     + ", ".join(f"{step} {seconds:.1f} ({seconds / total:.0%})" for step, seconds in steps[:12]))  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--script", nargs=2, metavar=("EXPORT", "OUT"), help=argparse.SUPPRESS)  # one script run, in its own process
    parser.add_argument("--boxes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.script:
        script(Path(args.script[0]), Path(args.script[1]), args.boxes)
        return
    with tempfile.TemporaryDirectory(prefix="gtq-bench-e2e-") as folder:
        results = [measure(n, Path(folder)) for n in args.tasks]
    text = report(results)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
