"""The Dagster instance that records a warehouse's runs. No assets here.

It lives with the warehouse (`<warehouse>/.dagster`) unless DAGSTER_HOME names another, so `gtq run`,
`gtq ui` and the runs the UI launches share one history, and a run launched from the UI writes to the
warehouse the CLI wrote to (`gtq ui` sets GTQ_WAREHOUSE for the code location).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipeline.storage import file_lock, local_folder

# Runs of different projects go side by side; two runs of one project queue (they would also take turns
# on the project's write lock, which covers the CLI's in-process runs too).
SETTINGS = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: dagster/partition
        limit: 1
        value:
          applyLimitPerUniqueValue: true
"""


def instance_home(warehouse: Path | str) -> Path:
    return Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else local_folder(warehouse) / ".dagster"


def open_instance(warehouse: Path | str) -> dg.DagsterInstance:
    """The warehouse's instance, created with gtq's settings on first use. Creation holds a lock, so two
    commands started at once on a new warehouse do not both set up its storage."""
    home = instance_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(home / ".gtq-init.lock"):
        settings = home / "dagster.yaml"
        if not settings.exists():
            settings.write_text(SETTINGS)
        return dg.DagsterInstance.from_config(str(home))
