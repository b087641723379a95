"""Benchmarks of gtq beside the tools a user would otherwise run (`make bench`); results in bench/results/."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def in_fresh_process(python: Path, module: str, *args: str, make: str = "bench") -> dict:
    """`python -m <module> --one <args>` run from the repository in a process of its own (imports and memory
    apart from the caller's): the JSON object its last output line prints, or {"error": why} when the
    interpreter is missing (`make <make>` creates it) or the process fails (its last error line)."""
    if not python.exists():
        return {"error": f"{python} not found (run `make {make}` to create it)"}
    done = subprocess.run(
        [str(python), "-m", module, "--one", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])
