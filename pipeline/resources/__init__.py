"""Dagster resources: thin configurable handles on the plain storage code."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from pipeline import settings
from pipeline.assets.metadata import asset_key, table_metadata
from pipeline.contract import ALL_TABLES, Table
from pipeline.groundtruth.policy import Policy, groundtruth_folder, load_overrides, load_policy
from pipeline.validation import DataDocs
from pipeline.warehouse import Warehouse, settings_digest

COMPUTED_FROM = "gtq/computed_from"  # an output's metadata: the digest of its inputs (`Warehouse.inputs_digest`)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, a local folder or `s3://bucket/prefix` (per-project tables, GT versions, the DuckDB
    file of views), and the local inbox folder the sensor watches for new exports (default:
    `<warehouse>/inbox`; for S3, `~/.gtq/<url>/inbox`).

    A run of one project holds that project's write lock from its first step to its last, whoever
    started it (CLI, UI, sensor, schedule): two runs of one project take turns, other projects go on."""

    root: str = settings.warehouse()
    inbox: str = settings.inbox()
    _held: ExitStack | None = PrivateAttr(default=None)
    _store: Warehouse | None = PrivateAttr(default=None)

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
        """The warehouse, one for the run's steps: its tables stay open between them (`Warehouse.delta_table`)."""
        if self._store is None:
            self._store = Warehouse(self.root)
        return self._store

    def data_docs(self, project: str) -> DataDocs:
        return DataDocs.of(self.root, project)

    def inbox_path(self) -> Path:
        return settings.inbox_folder(self.root, self.inbox)


class WarehouseIOManager(dg.IOManager):
    """Stores a table asset's output as its project's partition of the table's Delta table in the warehouse,
    and gives an asset each input table as a lazy scan of the project's rows: an asset declares what it reads
    once, as its parameters.

    An output of `None` leaves the project's rows as they are (ingest, which merges new exports into its own
    previous rows, writes its tables together itself; with no new export it rewrites nothing; a step whose
    inputs are unchanged computes nothing, `assets.incremental`). The digest of the inputs an output was
    computed from, in its metadata `gtq/computed_from`, is written into its file.
    The metadata of every output describes the rows as written: count, columns, a preview, and the mean and
    count of the columns the asset lists under `gtq/summary` (numbers the Dagster UI plots run after run)."""

    def __init__(self, store: Warehouse) -> None:
        self.store = store

    def handle_output(self, context: dg.OutputContext, obj: pl.LazyFrame | pl.DataFrame | None) -> None:
        table, project = TABLES[context.asset_key], context.asset_partition_key
        if obj is None:
            written = self.store.scan_project(table, project)
        else:
            digest = context.output_metadata.get(COMPUTED_FROM)
            written = self.store.write_project(
                project, {table: obj}, run_id=context.run_id, views=False, computed_from=digest and digest.value
            )[table]
        summary = (context.definition_metadata or {}).get("gtq/summary", [])
        context.add_output_metadata(table_metadata(table, written, summary))

    def load_input(self, context: dg.InputContext) -> pl.LazyFrame:
        return self.store.scan_project(TABLES[context.asset_key], context.asset_partition_key)


@dg.io_manager(required_resource_keys={"warehouse"}, description=WarehouseIOManager.__doc__)
def warehouse_io_manager(context: dg.InitResourceContext):
    """The warehouse's tables as the IO manager of every table asset (the `warehouse` resource says where).
    `gtq.duckdb` is brought up to date when it is torn down: once a run (once a step under the multiprocess
    executor), failed runs included, so a reader sees the tables of whole runs."""
    store = context.resources.warehouse.store()
    try:
        yield WarehouseIOManager(store)
    finally:
        store.refresh_views()


TABLES: dict[dg.AssetKey, Table] = {asset_key(table): table for table in ALL_TABLES}


class GroundTruthPolicyResource(dg.ConfigurableResource):
    """The reviewed, version-controlled GT files: `policy.yaml` (rules per project) and `overrides.yaml`, in
    `directory` (empty: $GTQ_GROUNDTRUTH, else ./groundtruth). A run whose configured folder does not exist
    fails before its first step, naming the folder (`groundtruth_folder`)."""

    directory: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        groundtruth_folder(self.directory)

    @property
    def policy_path(self) -> Path:
        return settings.policy_path(groundtruth_folder(self.directory))

    @property
    def overrides_path(self) -> Path:
        return settings.overrides_path(groundtruth_folder(self.directory))

    def policy(self) -> Policy:
        """The policy as the file says now (the defaults without a file); a bad file raises PolicyError."""
        return load_policy(self.policy_path)

    def digest(self, project: str) -> str:
        """A digest of what both files say of `project` now, its rules and its overrides: what a step of the
        project that reads them was computed from (`Warehouse.inputs_digest`). An edit for another project
        leaves it as it is."""
        overrides = load_overrides(self.overrides_path).filter(pl.col("project_id") == project)
        return settings_digest([], repr(self.policy().for_project(project)), overrides.write_csv())


class ReportResource(dg.ConfigurableResource):
    """What the quality report needs beyond the tables: a people file (CSV: annotator,name,email,team) that
    names the annotator ids, and the Label Studio base URL its review queue links tasks to."""

    people: str = settings.people() or ""
    label_studio_url: str = settings.label_studio_url() or ""

    def digest(self) -> str:
        """A digest of the people file as it is now and of the URL: what a report reads beside the tables
        (`Warehouse.inputs_digest`)."""
        return settings_digest([Path(self.people)] if self.people else [], self.label_studio_url)
