"""Dagster resources: thin configurable handles on the plain storage code."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipeline.groundtruth.policy import Policy, groundtruth_folder, load_policy
from pipeline.storage import local_folder
from pipeline.validation import DataDocs
from pipeline.warehouse import Warehouse

DEFAULT_WAREHOUSE = "warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, a local folder or `s3://bucket/prefix` (per-project tables, GT versions, the DuckDB
    file of views), and the local inbox folder the sensor watches for new exports (default:
    `<warehouse>/inbox`; for S3, `~/.gtq/<url>/inbox`).

    A run of one project holds that project's write lock from its first step to its last, whoever
    started it (CLI, UI, sensor, schedule): two runs of one project take turns, other projects go on."""

    root: str = os.environ.get("GTQ_WAREHOUSE", DEFAULT_WAREHOUSE)
    inbox: str = os.environ.get("GTQ_INBOX", "")
    _held: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        project = context.dagster_run.tags.get("dagster/partition") if context.dagster_run else None
        if project:
            self._held = ExitStack()
            waiting = f"waiting for the run of project {project} that holds {self.root}"
            self._held.enter_context(self.store().project_lock(project, on_wait=lambda: context.log.warning(waiting)))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._held is not None:
            self._held.close()

    def store(self) -> Warehouse:
        return Warehouse(self.root)

    def data_docs(self, project: str) -> DataDocs:
        return DataDocs.of(self.root, project)

    def inbox_path(self) -> Path:
        return Path(self.inbox) if self.inbox else local_folder(self.root) / "inbox"


class GroundTruthPolicyResource(dg.ConfigurableResource):
    """The reviewed, version-controlled GT files: `policy.yaml` (rules per project) and `overrides.yaml`, in
    `directory` (empty: $GTQ_GROUNDTRUTH, else ./groundtruth). A run whose configured folder does not exist
    fails before its first step, naming the folder (`groundtruth_folder`)."""

    directory: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        groundtruth_folder(self.directory)

    @property
    def policy_path(self) -> Path:
        return groundtruth_folder(self.directory) / "policy.yaml"

    @property
    def overrides_path(self) -> Path:
        return groundtruth_folder(self.directory) / "overrides.yaml"

    def policy(self) -> Policy:
        """The policy as the file says now (the defaults without a file); a bad file raises PolicyError."""
        return load_policy(self.policy_path)


class ReportResource(dg.ConfigurableResource):
    """What the quality report needs beyond the tables: a people file (CSV: annotator,name,email,team) that
    names the annotator ids, and the Label Studio base URL its review queue links tasks to."""

    people: str = os.environ.get("GTQ_PEOPLE", "")
    label_studio_url: str = os.environ.get("GTQ_LABEL_STUDIO_URL", "")
