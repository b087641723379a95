"""Ingest benchmark: gtq against what a user would otherwise run, on the same files, in one run.

    make bench                                     # 10k, 100k and 1M annotations
    .venv/bin/python -m bench.ingest --sizes 10000 100000

Each method runs in a fresh process on the same generated Label Studio export, so peak RSS is its own:
- `gtq`: `pipeline.ingest.read_export` (msgspec over a memory-mapped file, Parquet batches);
- `json.load + loops`: the script a user writes: `json.load`, Python loops flattening tasks, annotations
  and result items into rows, Polars frames written to Parquet;
- `label-studio-sdk`: Label Studio's own converter to CSV, run in its own environment (`.venv-bench`,
  which `make bench` creates) because it pins older numpy.
Results: annotations/s, peak RSS, and ratios against gtq, printed and written to `bench/results/ingest.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench import ROOT, in_fresh_process

RESULTS = ROOT / "bench" / "results"
CONVERTER_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
LABEL_CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="species" toName="image"><Choice value="elephant"/><Choice value="giraffe"/><Choice value="zebra"/>
<Choice value="buffalo"/><Choice value="empty"/></Choices>
<RectangleLabels name="animals" toName="image"><Label value="elephant"/><Label value="giraffe"/><Label value="zebra"/>
<Label value="buffalo"/></RectangleLabels></View>"""


def run_gtq(path: Path, out: Path) -> int:
    from pipeline.ingest import read_export

    export = read_export(path, out)
    return export.frames.annotations.select("annotation_id").collect().height


def run_json_loops(path: Path, out: Path) -> int:
    import polars as pl

    with open(path, encoding="utf-8") as f:
        tasks = json.load(f)
    task_rows, annotation_rows, region_rows = [], [], []
    for task in tasks:
        task_rows.append(
            {"task_id": str(task["id"]), "project_id": str(task.get("project")), "image": task["data"].get("image")}
        )
        for annotation in task.get("annotations", []):
            user = annotation.get("completed_by")
            annotator = user.get("email") if isinstance(user, dict) else user
            annotation_rows.append(
                {
                    "task_id": str(task["id"]),
                    "annotation_id": str(annotation["id"]),
                    "annotator": str(annotator),
                    "was_cancelled": annotation.get("was_cancelled", False),
                    "ground_truth": annotation.get("ground_truth", False),
                    "created_at": annotation.get("created_at"),
                    "updated_at": annotation.get("updated_at"),
                    "lead_time": annotation.get("lead_time"),
                }
            )
            for result in annotation.get("result", []):
                value = result.get("value", {})
                region_rows.append(
                    {
                        "annotation_id": str(annotation["id"]),
                        "region_id": result.get("id"),
                        "control": result.get("from_name"),
                        "type": result.get("type"),
                        "labels": value.get(result.get("type")),
                        "x": value.get("x"),
                        "y": value.get("y"),
                        "width": value.get("width"),
                        "height": value.get("height"),
                        "value_json": json.dumps(value),
                    }
                )
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("tasks", task_rows), ("annotations", annotation_rows), ("regions", region_rows)):
        pl.DataFrame(rows).write_parquet(out / f"{name}.parquet")
    return len(annotation_rows)


def run_ls_converter(path: Path, out: Path) -> None:
    from label_studio_sdk.converter import Converter

    Converter(config=LABEL_CONFIG, project_dir=None, download_resources=False).convert_to_csv(
        str(path), str(out), is_dir=False, sep=",", header=True
    )
    # no count returned: the CSV has one row per task; the generated count is used


METHODS = {"gtq": run_gtq, "json.load + loops": run_json_loops, "label-studio-sdk converter": run_ls_converter}


def measure(method: str, path: Path) -> dict:
    """Run one method in a fresh process; returns seconds, annotations and peak RSS (MB)."""
    python = CONVERTER_PYTHON if method == "label-studio-sdk converter" else Path(sys.executable)
    with tempfile.TemporaryDirectory() as out:
        return {"method": method, **in_fresh_process(python, "bench.ingest", method, str(path), out)}


def one(method: str, path: Path, out: Path) -> None:
    if method == "label-studio-sdk converter":
        import label_studio_sdk.converter  # noqa: F401 - imports are not what we time
    else:
        import polars  # noqa: F401

        import pipeline.ingest  # noqa: F401
    started = time.perf_counter()
    annotations = METHODS[method](path, out)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "annotations": annotations, "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "gtq-bench")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "FILE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]), Path(args.one[2]))
        return

    from bench.generate import write

    args.workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "| annotations | file MB | method | seconds | annotations/s | peak RSS MB | gtq speed-up | gtq memory ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        path = args.workdir / f"label_studio_{size}.json"
        if not path.exists():
            write(path, size)
        results = [measure(method, path) for method in args.methods]
        for r in results:
            r["annotations"] = r.get("annotations") or size // 3 * 3  # the generator writes 3 per task
        gtq = next((r for r in results if r["method"] == "gtq" and "error" not in r), None)
        for r in results:
            if "error" in r:
                lines.append(
                    f"| {size:,} | {path.stat().st_size / 1e6:,.0f} | {r['method']} | error: {r['error']} | | | | |"
                )
                continue
            speedup = f"{r['seconds'] / gtq['seconds']:.1f}x" if gtq else ""
            memory = f"{gtq['peak_rss_mb'] / r['peak_rss_mb']:.2f}" if gtq else ""
            lines.append(
                f"| {size:,} | {path.stat().st_size / 1e6:,.0f} | {r['method']} | {r['seconds']:.1f} |"
                f" {r['annotations'] / r['seconds']:,.0f} | {r['peak_rss_mb']:,.0f} | {speedup} | {memory} |"
            )
        print("\n".join(lines[-len(results) :]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = "\n".join(
        [
            "# Ingest benchmark",
            "",
            f"`python -m bench.ingest --sizes {' '.join(map(str, args.sizes))}` on {os.cpu_count()} cores.",
            "Speed-up: the method's time / gtq's time. Memory ratio: gtq's peak RSS / the method's.",
            "",
            *lines,
            "",
        ]
    )
    (RESULTS / "ingest.md").write_text(report)
    print(f"\nwritten to {RESULTS / 'ingest.md'}")


if __name__ == "__main__":
    main()
