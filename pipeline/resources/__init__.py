"""Dagster resources: thin configurable handles on the plain storage code."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipeline.groundtruth.policy import Policy, load_policy
from pipeline.warehouse import Warehouse

DEFAULT_WAREHOUSE = "warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse folder: DuckDB file, Parquet copies and the versioned (Delta) ground truth;
    and the inbox folder the sensor watches for new exports (default: `<warehouse>/inbox`)."""

    root: str = os.environ.get("GTQ_WAREHOUSE", DEFAULT_WAREHOUSE)
    inbox: str = os.environ.get("GTQ_INBOX", "")

    def store(self) -> Warehouse:
        return Warehouse(self.root)

    def inbox_path(self) -> Path:
        return Path(self.inbox) if self.inbox else Path(self.root) / "inbox"


class GroundTruthPolicyResource(dg.ConfigurableResource):
    """The reviewed, version-controlled GT files: `policy.yaml` (rules per project) and `overrides.yaml`."""

    directory: str = os.environ.get("GTQ_GROUNDTRUTH", "groundtruth")

    @property
    def policy_path(self) -> Path:
        return Path(self.directory) / "policy.yaml"

    @property
    def overrides_path(self) -> Path:
        return Path(self.directory) / "overrides.yaml"

    def policy(self) -> Policy:
        """The policy as the file says now (the defaults without a file); a bad file raises PolicyError."""
        return load_policy(self.policy_path)
