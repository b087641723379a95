"""End-to-end benchmark: `gtq run` on one Label Studio export, beside the scripts a user would write instead.

    .venv/bin/python -m bench.e2e --tasks 10000 100000 1000000 --gtq-only 2500000   # writes bench/results/e2e.md

Per size, one generated export (3 annotations and a prediction per task; a 5-class choice and 2 boxes per
annotation; 60% of tasks with a GT-flagged annotation; about 4 KB per task), then, each in its own
process, its peak RSS that of its process tree (`os.wait4` and samples every 0.1 s):
- `gtq run`: the command a user types, every table, check and the report, from a fresh warehouse;
- `script: choices`: json.load, pandas, scikit-learn, statsmodels and krippendorff: the choice control's
  GT accuracy per annotator, the pairwise Cohen's kappa matrix, Fleiss' kappa and Krippendorff's alpha;
- `script: choices + boxes`: the same, plus per-annotator box precision and recall at IoU 0.5 against the
  GT boxes with a shapely matching loop.
The headline numbers (Fleiss, alpha, mean accuracy, kappa of every pair) are checked equal between gtq
and the script. gtq's time and memory are split by Dagster step (the run's step stats, the memory samples
taken during each step) so the next bottleneck shows. A run that does not finish (out of memory, say) is
reported as such, with how long it ran. Sizes after `--gtq-only` run gtq alone: 2.5M tasks (10M
annotations with the predictions, about 10 GB of JSON) is more than json.load can hold in 20 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec

from bench.generate import _result
from bench.ingest import LABEL_CONFIG, RESULTS

GTQ = Path(sys.executable).with_name("gtq")  # the environment running the benchmark
ANNOTATORS = 50


def write_export(path: Path, n_tasks: int, seed: int = 11, edited: range = range(0)) -> Path:
    """The export: per task 3 annotations (annotators id % 50) and one prediction, each a choice and 2 boxes.

    The tasks in `edited` are changed as a next night's export has them, one of three ways by task id: a fourth
    annotation, the GT annotation's first box moved, or the last annotation deleted. Every other task is the
    same bytes as in an export of the same seed without edits (the edits draw no random numbers)."""
    rng, encoder = random.Random(seed), msgspec.json.Encoder()

    def task(task_id: int) -> dict:
        annotations = []
        for k in range(3):
            annotation_id = task_id * 3 + k
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": {
                        "id": 10 + annotation_id % ANNOTATORS,
                        "email": f"annotator{annotation_id % ANNOTATORS}@example.org",
                    },
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
        if task_id in edited:
            _edit(annotations, task_id)
        return {
            "id": task_id,
            "data": {"image": f"s3://bucket/{task_id:08d}.jpg"},
            "annotations": annotations,
            "predictions": [prediction],
            "project": 42,
        }

    with open(path, "wb") as f:
        f.write(b"[")
        for start in range(0, n_tasks, 10_000):
            chunk = b",\n".join(encoder.encode(task(t)) for t in range(start, min(start + 10_000, n_tasks)))
            f.write((b",\n" if start else b"") + chunk)
        f.write(b"]\n")
    path.with_suffix(".xml").write_text(LABEL_CONFIG)
    return path


def _edit(annotations: list[dict], task_id: int) -> None:
    """A task's change between two nights (`write_export`), one of three by its id."""
    if task_id % 3 == 0:  # another annotator's answer: a copy of the second annotation under a new id and user
        added = annotations[1] | {
            "id": 10**9 + task_id,
            "completed_by": {"id": 9, "email": "annotator-new@example.org"},
        }
        annotations.append(added)
    elif task_id % 3 == 1:  # the GT annotation's first box moved by 1% of the width, inside the image
        box = next(r for r in annotations[0]["result"] if r["type"] == "rectanglelabels")
        x = box["value"]["x"]
        box["value"] = box["value"] | {"x": x - 1.0 if x >= 1.0 else x + 1.0}
    else:  # the last annotation deleted
        annotations.pop()


NIGHTLY_NEW = NIGHTLY_EDITED = 0.01  # the next night's export: 1% new tasks, 1% of the tasks edited


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
                    rows.append(
                        (task["id"], annotation["id"], who, annotation["ground_truth"], result["value"]["choices"][0])
                    )
                elif boxes and result["type"] == "rectanglelabels":
                    v = result["value"]
                    box_rows.append(
                        (
                            task["id"],
                            who,
                            annotation["ground_truth"],
                            v["x"],
                            v["y"],
                            v["width"],
                            v["height"],
                            v["rectanglelabels"][0],
                        )
                    )
    del tasks
    answers = pd.DataFrame(rows, columns=["task", "annotation", "annotator", "is_gt", "label"])
    gt = answers[answers.is_gt].set_index("task")["label"]
    others = answers[~answers.is_gt]
    scored = others[others.task.isin(gt.index)]
    accuracy = (
        scored.assign(correct=scored.label.to_numpy() == gt.loc[scored.task].to_numpy())
        .groupby("annotator")
        .correct.mean()
    )
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
        result["box_recall"] = _box_scores(
            pd.DataFrame(box_rows, columns=["task", "annotator", "is_gt", "x", "y", "w", "h", "label"])
        )
    out.write_text(json.dumps(result))


def _box_scores(frame) -> dict:
    """Per annotator, recall at IoU 0.5 against the GT boxes (same label, greedy by IoU), shapely and loops."""
    from shapely.geometry import box as shape

    gt = dict(iter(frame[frame.is_gt].groupby("task")))  # iter: pandas 3 GroupBy has `keys`, which dict() calls
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
def gtq_steps(warehouse: Path, samples: list[tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Each Dagster step of the warehouse's latest run: its seconds and peak RSS (the highest memory sample
    taken while it ran)."""
    from pipeline.instance import open_instance

    instance = open_instance(warehouse)
    [run] = instance.get_runs(limit=1)
    steps = {}
    for step in instance.get_run_step_stats(run.run_id):
        if step.start_time and step.end_time:
            inside = [rss for at, rss in samples if step.start_time <= at <= step.end_time]
            steps[step.step_key] = (step.end_time - step.start_time, max(inside, default=0.0))
    return steps


def gtq_numbers(warehouse: Path) -> dict:
    """The same headline numbers from gtq's tables (none when its run failed)."""
    import polars as pl

    from pipeline.contract import AGREEMENT_MATRIX, ANNOTATION_SCORES, PROJECT_AGREEMENT
    from pipeline.warehouse import Warehouse

    store = Warehouse(warehouse)
    try:
        agreement = store.read(PROJECT_AGREEMENT).filter(pl.col("control") == "species").row(0, named=True)
    except (FileNotFoundError, pl.exceptions.PolarsError, IndexError):
        return {}  # the run did not get that far
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
    return {
        "fleiss": agreement["fleiss_kappa"],
        "alpha": agreement["krippendorff_alpha"],
        "mean_accuracy": accuracy["score"].mean(),
        "kappa": {
            "|".join(sorted((r["annotator_a"], r["annotator_b"]))): r["cohen_kappa"]
            for r in pairs.iter_rows(named=True)
        },
    }


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (gtq parses a large file in helper processes)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
            pending += [int(child) for child in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def timed(command: list[str], memory_limit_gb: float | None = None) -> dict:
    """Wall seconds and peak RSS (MB) of one process and its helpers, memory sampled every 0.1 s (with the
    time of each sample, to place it in a step); `failed` says why when it did not finish (a script is held
    to `memory_limit_gb` of address space, so that running out of memory is its error, not the machine's)."""

    def limited() -> None:
        limit = int(memory_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limited if memory_limit_gb else None
    )
    samples, done = [], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append((time.time(), _tree_rss_mb(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    peak = max([usage.ru_maxrss / 1024, *(rss for _, rss in samples)])
    failed = None
    if status != 0:
        error = process.stderr.read().decode(errors="replace").strip().splitlines()
        failed = (
            f"killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else (error[-1] if error else f"exit {status}")
        )
    return {"seconds": seconds, "rss_mb": peak, "samples": samples, "failed": failed}


SCRIPT_MEMORY_GB = 20  # of the machine's 24
RERUN, NIGHTLY = "gtq: rerun", "gtq: next night"  # the same file again; the next night's whole export (NIGHTLY_*)


def measure(n_tasks: int, folder: Path, scripts: bool = True) -> dict:
    export = write_export(folder / f"tasks-{n_tasks}.json", n_tasks)
    warehouse = folder / f"warehouse-{n_tasks}"
    rows = {"tasks": n_tasks, "file_mb": export.stat().st_size / 1e6}
    (folder / "gt").mkdir(exist_ok=True)  # the default policy: a configured GT folder must exist

    def gtq(source: Path) -> dict:
        where = ["--warehouse", str(warehouse), "--groundtruth", str(folder / "gt")]
        run = timed([str(GTQ), "run", "--source", str(source), *where])
        return run | {"steps": gtq_steps(warehouse, run["samples"])}

    rows["gtq"] = gtq(export)
    rows["gtq numbers"] = gtq_numbers(warehouse)
    rows[RERUN] = gtq(export)  # the same file again: nothing new
    nightly = write_export(
        folder / f"nightly-{n_tasks}.json",
        n_tasks + round(n_tasks * NIGHTLY_NEW),
        edited=range(0, n_tasks, round(1 / NIGHTLY_EDITED)),
    )
    rows[NIGHTLY] = gtq(nightly)
    nightly.unlink()
    for name, boxes in (("script: choices", False), ("script: choices + boxes", True)) if scripts else ():
        out = folder / f"{name.replace(' ', '_').replace(':', '').replace('+', 'and')}-{n_tasks}.json"
        command = [
            sys.executable,
            "-m",
            "bench.e2e",
            "--script",
            str(export),
            str(out),
            *(["--boxes"] if boxes else []),
        ]
        rows[name] = timed(command, memory_limit_gb=SCRIPT_MEMORY_GB)
        rows[f"{name} numbers"] = None if rows[name]["failed"] else json.loads(out.read_text())
    export.unlink()
    return rows


def check(rows: dict) -> list[str]:
    """The headline numbers gtq and the script must agree on; the differences found, in words."""
    ours, theirs = rows["gtq numbers"], rows.get("script: choices numbers")
    if theirs is None or "fleiss" not in ours:
        return ["not compared: a run did not finish"]
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


def report(results: list[dict], command: str) -> str:
    lines = [
        "# End-to-end benchmark",
        "",
        (
            f"`python -m bench.e2e {command}` on this 2-core, 24 GB machine. gtq computes every table, check and the"
            f" report; the scripts compute a few numbers (each held to {SCRIPT_MEMORY_GB} GB of address space). Peak"
            " RSS: gtq's process and its parsing helpers. Ratio: the method's time / gtq's."
        ),
        "",
        "| tasks | file MB | method | seconds | peak RSS MB | ratio to gtq | same numbers |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = r["gtq"]["seconds"]
        problems = check(r)
        for name in ("gtq", RERUN, NIGHTLY, "script: choices", "script: choices + boxes"):
            run = r.get(name)
            if run is None:
                lines.append(
                    f"| {r['tasks']:,} | {r['file_mb']:,.0f} | {name} | | | | not run (--gtq-only): json.load cannot"
                    " hold a file of this size in 20 GB |"
                )
                continue
            if run["failed"]:
                same = f"did not finish: {run['failed']}"
            elif name.startswith("gtq"):
                same = ""
            else:
                same = "yes (Fleiss, alpha, accuracy, every kappa)" if not problems else "; ".join(problems)
            lines.append(
                f"| {r['tasks']:,} | {r['file_mb']:,.0f} | {name} | {run['seconds']:.1f} | {run['rss_mb']:,.0f} |"
                f" {run['seconds'] / base:.2f} | {same} |"
            )
    lines += ["", "## gtq's time by Dagster step (seconds, share of the steps' total, peak RSS MB during the step)", ""]
    for r in results:
        for name, label in (("gtq", "first run"), (RERUN, "rerun"), (NIGHTLY, "next night")):
            lines += [_steps_line(f"{r['tasks']:,} tasks, {label}", r[name]["steps"], r[name]["seconds"]), ""]
    return "\n".join(lines)


def _steps_line(title: str, steps: dict[str, tuple[float, float]], wall: float) -> str:
    ordered = sorted(steps.items(), key=lambda kv: -kv[1][0])
    total = sum(seconds for _, (seconds, _) in ordered) or 1.0
    shares = ", ".join(f"{step} {s:.1f} ({s / total:.0%}, {rss:,.0f} MB)" for step, (s, rss) in ordered[:12])
    return f"**{title}**: steps {total:.1f} s of {wall:.1f} s wall; {shares}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", type=int, nargs="*", default=[10_000, 100_000], help="sizes measured beside the scripts"
    )
    parser.add_argument(
        "--gtq-only",
        type=int,
        nargs="*",
        default=[],
        metavar="TASKS",
        help="sizes measured with gtq alone, after --tasks",
    )
    parser.add_argument(
        "--script", nargs=2, metavar=("EXPORT", "OUT"), help=argparse.SUPPRESS
    )  # one script run, in its own process
    parser.add_argument("--boxes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.script:
        script(Path(args.script[0]), Path(args.script[1]), args.boxes)
        return
    with tempfile.TemporaryDirectory(prefix="gtq-bench-e2e-") as folder:
        results = [measure(n, Path(folder)) for n in args.tasks] + [
            measure(n, Path(folder), scripts=False) for n in args.gtq_only
        ]
    text = report(results, " ".join(sys.argv[1:]))
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
