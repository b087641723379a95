"""Validation benchmark: what holding an export to the suites in `expectations/` costs, beside reading it.

    .venv/bin/python -m bench.validation --annotations 333334      # 1M regions (3 result items each)

On one generated Label Studio export (bench.generate, with its labeling config beside it) it times, in one
process: reading the export (`read_export`), then validation before use (`screen`), split
per suite into building the rows it sees (the derived columns) and Great Expectations' own validation
(pandas engine): on every column, and as gtq runs it, on the columns the suite names with the COMPLETE
result format, so failing rows are named.
Results are printed and written to `bench/results/validation.md`.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench.generate import write
from bench.ingest import LABEL_CONFIG, RESULTS


def measure(n_annotations: int) -> list[tuple[str, int, float]]:
    from pipeline.ingest import read_export
    from pipeline.validation import (
        SCREENING,
        _results,
        expectations_dir,
        failing_rows,
        load_suite_json,
        screen,
        validation_view,
    )

    rows = []
    with tempfile.TemporaryDirectory(prefix="gtq-bench-validation-") as folder:
        path = write(Path(folder) / "export.json", n_annotations)
        path.with_suffix(".xml").write_text(LABEL_CONFIG)
        started = time.perf_counter()
        export = read_export(path, Path(folder) / "staging")
        frames = export.frames
        rows.append(("read the export (ingest)", export.records_read, time.perf_counter() - started))
        for name, (table, ids) in SCREENING.items():
            suite = load_suite_json(expectations_dir() / f"{table.key}.json")
            started = time.perf_counter()
            view = validation_view(table, getattr(frames, name), frames.label_config).collect()
            rows.append((f"{table.key}: rows with derived columns", view.height, time.perf_counter() - started))
            started = time.perf_counter()
            result = _results(view, suite, "SUMMARY")
            rows.append(
                (
                    f"{table.key}: GE on every column ({len(result.results)} expectations)",
                    view.height,
                    time.perf_counter() - started,
                )
            )
            started = time.perf_counter()
            failing_rows(view, suite, ids)
            rows.append(
                (
                    f"{table.key}: GE on the columns the suite names, failing rows named",
                    view.height,
                    time.perf_counter() - started,
                )
            )
        started = time.perf_counter()
        rejected = screen([frames]).rejected
        validated = sum(n for step, n, _ in rows if step.endswith("derived columns"))
        rows.append(
            (
                f"validation before use, end to end ({rejected.height} rejected)",
                validated,
                time.perf_counter() - started,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=333_334)
    args = parser.parse_args()
    rows = measure(args.annotations)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Validation benchmark",
        "",
        (
            f"`python -m bench.validation --annotations {args.annotations}` on 2 cores; peak RSS of the process"
            f" {peak_mb:,.0f} MB."
        ),
        "",
        "| step | rows | seconds | seconds per million rows |",
        "|---|---|---|---|",
    ]
    for step, n, seconds in rows:
        per_million = f"{seconds / n * 1e6:.1f}" if n else ""
        lines.append(f"| {step} | {n:,} | {seconds:.1f} | {per_million} |")
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "validation.md").write_text(report)


if __name__ == "__main__":
    main()
