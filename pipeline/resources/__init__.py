"""Dagster resources: thin configurable handles on the plain storage code."""

from __future__ import annotations

import os

import dagster as dg

from pipeline.warehouse import Warehouse

DEFAULT_WAREHOUSE = "warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse folder: DuckDB file, Parquet copies and the versioned (Delta) ground truth."""

    root: str = os.environ.get("GTQ_WAREHOUSE", DEFAULT_WAREHOUSE)

    def store(self) -> Warehouse:
        return Warehouse(self.root)
