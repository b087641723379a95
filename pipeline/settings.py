"""Where gtq reads and writes: the `GTQ_*` environment variables that say it, and the default places.

The `gtq` command, the Dagster resources (what the UI, the sensor and the schedule run with) and the GT policy
all take their defaults from this module, so a setting means the same whoever starts a run:

    GTQ_WAREHOUSE          the warehouse, a folder or s3://bucket/prefix       (default: ./warehouse)
    GTQ_INBOX              the folder the inbox sensor watches                 (default: <warehouse>/inbox)
    GTQ_GROUNDTRUTH        the folder of policy.yaml and overrides.yaml        (default: ./groundtruth)
    GTQ_PEOPLE             the people file that names annotators in reports    (default: <warehouse>/people.csv)
    GTQ_LABEL_STUDIO_URL   Label Studio's base URL, for the report's links     (default: none)
    GTQ_EXPECTATIONS       the folder of the suites, a team's edited copy      (default: the repo's expectations/)
    GTQ_OWNERS             the assets' owners: emails or team:name, by commas  (default: none)

It also says how a run is told which export files to read (`ingest_run_config`), the one way `gtq run` and the
inbox sensor say it. No Dagster here. No other module reads a GTQ_* variable: `pipeline.validation.expectations_dir`
and the asset metadata's `provenance` ask `expectations` and `owners` here, and no Dagster resource is configured
from the environment (`dg.EnvVar`). (DAGSTER_HOME, Dagster's own variable, is `pipeline.instance`'s.)
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.storage import local_folder

WAREHOUSE_VARIABLE = "GTQ_WAREHOUSE"
INBOX_VARIABLE = "GTQ_INBOX"
GROUNDTRUTH_VARIABLE = "GTQ_GROUNDTRUTH"
PEOPLE_VARIABLE = "GTQ_PEOPLE"
LABEL_STUDIO_URL_VARIABLE = "GTQ_LABEL_STUDIO_URL"
EXPECTATIONS_VARIABLE = "GTQ_EXPECTATIONS"
OWNERS_VARIABLE = "GTQ_OWNERS"

DEFAULT_WAREHOUSE = "warehouse"
DEFAULT_GROUNDTRUTH = "groundtruth"
INBOX_FOLDER = "inbox"  # in the warehouse's local folder
PEOPLE_FILE = "people.csv"  # in the warehouse's local folder, beside reports/
POLICY_FILE = "policy.yaml"  # in the GT folder
OVERRIDES_FILE = "overrides.yaml"  # in the GT folder

INGEST_OP = "core_tables"  # the op of the ingest assets, whose config names the export files a run reads


def warehouse() -> str:
    """The warehouse: $GTQ_WAREHOUSE, else ./warehouse."""
    return os.environ.get(WAREHOUSE_VARIABLE, DEFAULT_WAREHOUSE)


def inbox() -> str:
    """$GTQ_INBOX, or "" for the warehouse's own inbox (`inbox_folder`)."""
    return os.environ.get(INBOX_VARIABLE, "")


def groundtruth(default: str | None = None) -> str | None:
    """$GTQ_GROUNDTRUTH as set, else `default`."""
    return os.environ.get(GROUNDTRUTH_VARIABLE, default)


def people() -> str | None:
    """$GTQ_PEOPLE as set, else None (the file kept in the warehouse, `people_path`)."""
    return os.environ.get(PEOPLE_VARIABLE)


def label_studio_url() -> str | None:
    """$GTQ_LABEL_STUDIO_URL as set, else None."""
    return os.environ.get(LABEL_STUDIO_URL_VARIABLE)


def expectations() -> str | None:
    """$GTQ_EXPECTATIONS when set and not empty, else None (the suites bundled with the repo)."""
    return os.environ.get(EXPECTATIONS_VARIABLE) or None


def owners() -> list[str]:
    """$GTQ_OWNERS as a list: its comma-separated entries, stripped, the empty ones left out (unset: none)."""
    return [owner.strip() for owner in os.environ.get(OWNERS_VARIABLE, "").split(",") if owner.strip()]


def author() -> str:
    """Who records a GT decision when nobody is named: $GIT_AUTHOR_EMAIL, else $USER, else "unknown"."""
    return os.environ.get("GIT_AUTHOR_EMAIL") or os.environ.get("USER") or "unknown"


def inbox_folder(warehouse: Path | str, inbox: str = "") -> Path:
    """The inbox folder: `inbox` when given, else `<warehouse>/inbox` (for S3, in the warehouse's local folder)."""
    return Path(inbox) if inbox else local_folder(warehouse) / INBOX_FOLDER


def known_files(warehouse: Path | str) -> Path:
    """Where what a warehouse's runs learned of the export files they read is kept: each file's content hash
    by its identity, and its projects by its content hash (`ingest.content_hash`, `ingest.projects_of`)."""
    return local_folder(warehouse) / ".cache" / "export-files"


def people_path(warehouse: Path | str) -> Path:
    """Where the warehouse keeps the people file given by an earlier `--people`."""
    return local_folder(warehouse) / PEOPLE_FILE


def policy_path(folder: Path | str) -> Path:
    """The GT policy in the GT folder."""
    return Path(folder) / POLICY_FILE


def overrides_path(folder: Path | str) -> Path:
    """The GT overrides in the GT folder."""
    return Path(folder) / OVERRIDES_FILE


def ingest_run_config(sources: list[str]) -> dict:
    """The run config that has a run of the job read `sources` (export files, in order)."""
    return {"ops": {INGEST_OP: {"config": {"sources": list(sources)}}}}
