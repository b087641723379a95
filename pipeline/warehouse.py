"""The warehouse: every contract table as a Delta table partitioned by project, the ground-truth versions as
frozen folders, and a DuckDB file of views for people on the machine. No Dagster here.

Layout under the root, a local folder or an S3 prefix (`s3://bucket/prefix`) alike:

    tables/<schema>/<table>/                  the Delta table `<schema>.<table>`, partitioned by `project_id`
    tables/history/<table>/                   every run's rows of `quality.<table>`, append-only (Delta too)
    projects/<project>/ground_truth/<v>/      GT version v of the project (see `GroundTruthVersion`)
    gtq.duckdb                                views over every table's current files (local warehouses)

Any engine that reads Delta reads the tables without gtq: `deltalake.DeltaTable(path)`, `pl.scan_delta(path)`,
Spark, Trino, DuckDB's `delta_scan`.

Properties, by construction:
- A project's run replaces only its own partition of a table (an overwrite whose predicate names the project),
  so its cost does not depend on other projects, and runs of different projects commit to the same tables at
  once without a lock: Delta commits to disjoint partitions do not conflict, and on S3 delta-rs commits its
  log entry by conditional PUT, so no commit is lost with several writers.
- A commit is atomic: a kill leaves the table at its previous version or the new one. Data files of a commit
  that never happened are never read, and the maintenance job's vacuum removes them.
- Writers of one project take turns: Dagster queues a project's runs, and on one machine a project's runs
  also take its lock (`project_lock`).
- Each write of a table is a Delta version: earlier states stay readable (`scan_project(..., version=N)`)
  until the maintenance job's retention; `history.*` keeps every run's quality rows for good.
- `gtq.duckdb` is rebuilt into a new file and renamed into place: a reader's open connection keeps the file
  it opened, writers never wait for readers, and the views name committed files only.
- A computed table's file says what it was computed from (`inputs_digest`, in the file's Parquet key-value
  metadata `gtq.computed_from`), so a run can tell that the rows it would compute are the rows already there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as installed_version
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl
from deltalake import CommitProperties, DeltaTable, Field
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction
from polars.io.plugins import register_io_source

from pipeline.contract import ALL_TABLES, QUALITY_TABLES, Table
from pipeline.groundtruth.versioning import GroundTruthVersion
from pipeline.storage import file_lock, local_folder, open_storage, write_whole

_SAFE = re.compile(r"[A-Za-z0-9-]")
PARTITION = "project_id"
COMMIT_ATTEMPTS = 20  # commits of one table retried when another project's commit came first
COMPUTED_FROM = "gtq.computed_from"  # a computed table's file's key-value metadata: its inputs' digest
TASK_INPUTS = "gtq.task_inputs"  # a kept task-inputs file's key-value metadata: what else the rows were computed from


class WarehouseError(Exception):
    """The warehouse folder cannot be used as it is (the message says why and what to do)."""


def project_folder(project_id: str) -> str:
    """The project's folder name: its id with every character but letters, digits and '-' percent-encoded,
    so an id is never a path, a glob or a Hive partition (`a/b`, `..`, `*`, `project_id=x`)."""
    if not project_id:
        raise ValueError("a project id must not be empty")
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in project_id)


def history_table(table: Table) -> Table:
    """`history.<name>`: every run's rows of the quality table `table` (each names its run and GT version)."""
    return Table(
        "history", table.name, table.columns, f"Every run's rows of {table.key}, oldest first. {table.description}"
    )


HISTORY_TABLES = tuple(history_table(t) for t in QUALITY_TABLES)


class Warehouse:
    def __init__(self, root: str | Path, migrating: bool = False) -> None:
        self.storage = open_storage(root)
        self.root = self.storage.location("")
        self._latest: dict[str, DeltaTable] = {}  # each table's latest version, kept open (`delta_table`)
        if self.storage.is_local() and {"[", "]"} & set(str(self.root)):
            raise WarehouseError(
                f"{self.root}: Delta Lake (delta-rs) cannot open a folder whose path holds '[' or ']'; choose another"
                " folder"
            )
        if self.storage.exists("parquet") and not self.storage.names("tables"):
            raise WarehouseError(
                f"{self.root} was written by an early gtq (one Parquet file per table, a global Delta GT) that cannot"
                " be converted. Run your exports into a new warehouse folder (`gtq run --source ... --warehouse"
                " NEW`)."
            )
        if not migrating and any(self.storage.names(f"projects/{p}/commits") for p in self.storage.names("projects")):
            raise WarehouseError(
                f"{self.root} is in the layout of gtq before Delta tables (per-project commit files). Convert it once,"
                f" keeping every GT version and the quality history: gtq migrate --warehouse {self.root}"
            )

    # -- layout -----------------------------------------------------------------------------------------
    @property
    def duckdb_path(self) -> Path:
        return self.storage.location("gtq.duckdb")

    def table_path(self, table: Table) -> str:
        """Where the Delta table `table` lives (a local path or an `s3://` URL): what any Delta reader opens."""
        return str(self.storage.location(f"tables/{table.schema}/{table.name}"))

    def _gt_project(self, project_id: str) -> str:
        return f"projects/{project_folder(project_id)}"

    def delta_table(self, table: Table, version: int | None = None) -> DeltaTable | None:
        """The Delta table of `table` (at `version`, by default the latest); None before its first write.

        The latest is kept open by this Warehouse and brought up to date at each call, which reads only the
        commits made since (on object storage a listing and their files, not the whole log again): use it at
        once, as a later call moves it on."""
        path = self.table_path(table)
        try:
            if version is not None:
                return DeltaTable(path, version=version)
            if (delta := self._latest.get(path)) is None:
                delta = self._latest[path] = DeltaTable(path)
            else:
                delta.update_incremental()
            return delta
        except TableNotFoundError:
            return None

    def projects(self) -> list[str]:
        """Every project with rows in any core table, sorted."""
        found = set()
        for table in (t for t in ALL_TABLES if t.schema == "core"):
            if (delta := self.delta_table(table)) is not None:
                found.update(p[PARTITION] for p in delta.partitions())
        return sorted(found)

    # -- reading ----------------------------------------------------------------------------------------
    def scan_project(self, table: Table, project_id: str, version: int | None = None) -> pl.LazyFrame:
        """The project's rows of `table` in the contract's schema (as of the table's Delta `version`, by default
        the latest). Columns the contract gained after a file was written read as null."""
        return self._scan(table, version, project_id)

    def scan(self, table: Table) -> pl.LazyFrame:
        """Every project's current rows of `table` (for people and tools; runs use `scan_project`)."""
        return self._scan(table)

    def read(self, table: Table) -> pl.DataFrame:
        return self.scan(table).collect()

    def _scan(self, table: Table, version: int | None = None, project_id: str | None = None) -> pl.LazyFrame:
        """The Parquet files of the Delta version's add actions, each given its project (Delta keeps the
        partition value in the log): only the project's files are read, whatever the folder names say."""
        files = self.current_files(table, version)
        scans = [
            _file_scan(table, path).with_columns(pl.lit(project, pl.String).alias(PARTITION))
            for project, paths in files.items()
            if project_id is None or project == project_id
            for path in paths
        ]
        return table.conform(pl.concat(scans) if scans else table.empty().lazy())

    def versions(self, table: Table, project_id: str) -> list[dict]:
        """The Delta versions of `table` that wrote the project's rows, oldest first: version, timestamp and
        the run that wrote it (`gtq.run_id` of the commit), as `DeltaTable.history()` records them."""
        delta = self.delta_table(table)
        commits = [] if delta is None else delta.history()
        return sorted((c for c in commits if c.get("gtq.project_id") == project_id), key=lambda c: c["version"])

    def history(self, table: Table, project_id: str) -> pl.DataFrame:
        """Every run's rows of the project's quality `table` (its `history.*` table), oldest first, each with
        `committed_at`: when its run appended them."""
        appended = [
            {"run_id": c["gtq.run_id"], "committed_at": datetime.fromtimestamp(c["timestamp"] / 1000, UTC)}
            for c in self.versions(history_table(table), project_id)
        ]
        commits = pl.DataFrame(appended, schema={"run_id": pl.String, "committed_at": pl.Datetime("us", "UTC")})
        rows = self.scan_project(history_table(table), project_id).collect()
        return rows.join(commits.unique("run_id", keep="last"), on="run_id", how="left").sort(
            "committed_at", maintain_order=True
        )

    # -- what a table was computed from ------------------------------------------------------------------
    def inputs_digest(self, project_id: str, tables: Iterable[Table], settings: Iterable[str] = ()) -> str:
        """A digest of everything a computation of the project's rows reads: the project's data files of each of
        `tables` (each file is named once, by the write that made it, and never changed), the `settings` it
        reads (`settings_digest`: the GT policy, a suite) and the code that computes (`code_digest`). The same
        digest means the same inputs, so the same rows: every step of gtq is deterministic."""
        digest = hashlib.sha256(code_digest().encode())
        for table in sorted(tables, key=lambda t: t.key):
            digest.update(json.dumps([table.key, self._project_files(table, project_id)]).encode())
        for setting in settings:
            digest.update(setting.encode())
        return digest.hexdigest()

    def computed_from(self, table: Table, project_id: str) -> str | None:
        """The inputs digest the project's rows of `table` were written with: None when they were not written
        whole by one computation that gave one (a table written by ingest, a compacted one, none yet)."""
        files = self.current_files(table).get(project_id, [])
        return pl.read_parquet_metadata(files[0]).get(COMPUTED_FROM) if len(files) == 1 else None

    def task_inputs(self, table: Table, project_id: str) -> tuple[dict[str, str], pl.DataFrame] | None:
        """What a task-local step last computed the project's rows of `table` from (`keep_task_inputs`): its
        notes and the fingerprint of each task's input rows (`steps.by_task`); None when nothing was kept."""
        path = self._task_inputs_path(table, project_id)
        if not path.is_file():
            return None
        notes = json.loads(pl.read_parquet_metadata(path).get(TASK_INPUTS, "{}"))
        return notes, pl.read_parquet(path)

    def keep_task_inputs(
        self, table: Table, project_id: str, fingerprints: pl.DataFrame, notes: dict[str, str]
    ) -> None:
        """Keep the fingerprints of the task inputs a task-local step computed the project's rows of `table` from,
        with `notes` (what else they were computed from). A memo in the local folder, safe to delete: without it
        the step computes every task."""
        write_whole(
            self._task_inputs_path(table, project_id),
            lambda temporary: fingerprints.write_parquet(temporary, metadata={TASK_INPUTS: json.dumps(notes)}),
        )

    def _task_inputs_path(self, table: Table, project_id: str) -> Path:
        return local_folder(self.root) / ".cache" / "task-inputs" / table.key / f"{project_folder(project_id)}.parquet"

    def _project_files(self, table: Table, project_id: str) -> list[str]:
        """The project's data files of the table's latest version, as the Delta log names them."""
        delta = self.delta_table(table)
        return [] if delta is None else [path for project, path, _ in _data_files(delta) if project == project_id]

    # -- writing ----------------------------------------------------------------------------------------
    def project_lock(self, project_id: str, on_wait: Callable[[], None] | None = None):
        """Hold the project's lock on this machine (re-entrant within a process) in a `with` block: a
        project's runs started here take turns. `on_wait` is called once if another process holds it."""
        locks = local_folder(self.root) / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        return file_lock(locks / f"{project_folder(project_id)}.lock", on_wait)

    def write_project(
        self,
        project_id: str,
        frames: dict[Table, pl.DataFrame | pl.LazyFrame],
        *,
        run_id: str | None = None,
        views: bool = True,
        computed_from: str | None = None,
    ) -> dict[Table, pl.LazyFrame]:
        """Replace the project's rows of each table. Every table's file is written first, then each table is
        committed (one Delta commit each, in the order given: a caller that needs one table to vouch for the
        others puts it last), so a failure while writing commits nothing. A quality table's file is also
        appended to its `history.*` table. Lazy frames stream in bounded memory. `gtq.duckdb` is brought up
        to date unless `views` is false (the IO manager does it once a run). `computed_from`, the digest of
        the computation's inputs (`inputs_digest`), is kept in each file, one with no rows included (else an
        empty partition has no file). Returns scans of what was written."""
        staged = {
            table: self._stage(
                table,
                _in_stable_order(table, table.conform(frame.lazy()).filter(pl.col(PARTITION) == project_id)),
                project_id,
                computed_from,
            )
            for table, frame in frames.items()
        }
        for table, added in staged.items():
            self._commit(table, added, project_id, run_id, replace=True)
            if table in QUALITY_TABLES:
                history = history_table(table)
                self._commit(
                    history, [self._copy(add, table, history) for add in added], project_id, run_id, replace=False
                )
        if views:
            self.refresh_views()
        return {table: self.scan_project(table, project_id) for table in frames}

    def _stage(self, table: Table, rows: pl.LazyFrame, project_id: str, computed_from: str | None) -> list[AddAction]:
        """Polars streams the project's `rows`, in their order, to a new Parquet file of the table's partition
        (the partition value lives in the log, not in the file) with `computed_from` in its key-value metadata:
        the add action of a commit to come; none when there are no rows and no `computed_from`."""
        path = f"{PARTITION}={project_folder(project_id)}/part-{uuid.uuid4().hex}.parquet"
        key = self._file_key(table, path)
        location = self.storage.location(key)
        if self.storage.is_local():
            location.parent.mkdir(parents=True, exist_ok=True)
        rows.drop(PARTITION).sink_parquet(location, metadata={COMPUTED_FROM: computed_from} if computed_from else None)
        count = pl.scan_parquet(location, hive_partitioning=False, glob=False).select(pl.len()).collect().item()
        if count == 0 and computed_from is None:
            self.storage.delete(key)
            return []
        return [
            AddAction(
                path=path,  # delta-rs encodes it for the log
                size=self.storage.size(key),
                partition_values={PARTITION: project_id},
                modification_time=int(datetime.now(UTC).timestamp() * 1000),
                data_change=True,
                stats=json.dumps({"numRecords": count}),
            )
        ]

    def _copy(self, add: AddAction, source: Table, target: Table) -> AddAction:
        """`add`'s file copied, bytes as they are, into the same path of table `target`."""
        self.storage.copy(self._file_key(source, add.path), self._file_key(target, add.path))
        return add

    @staticmethod
    def _file_key(table: Table, path: str) -> str:
        return f"tables/{table.schema}/{table.name}/{path}"

    def _commit(self, table: Table, added: list[AddAction], project_id: str, run_id: str | None, replace: bool) -> None:
        """One Delta commit of `added`: beside the partition's files, or (`replace`) instead of them."""
        now = int(datetime.now(UTC).timestamp() * 1000)
        for attempt in range(COMMIT_ATTEMPTS):
            # A replacement removes the partition's files as of the version just loaded. delta-rs takes such a
            # transaction as reading the whole table, so a commit of another project in between fails it: the
            # partition is then read again and the commit retried (the file is written once). Runs of one
            # project take turns, so no retry replaces rows another run of the same project just wrote.
            delta = self._with_contract_columns(self.delta_table(table) or self.create_table(table), table)
            removed = [
                RemoveAction(
                    path=path,
                    data_change=True,
                    deletion_timestamp=now,
                    size=size,
                    partition_values={PARTITION: project_id},
                )
                for project, path, size in (_data_files(delta) if replace else [])
                if project == project_id
            ]
            try:
                delta.create_write_transaction(
                    [*removed, *added],
                    mode="append",
                    schema=table.empty().to_arrow().schema,
                    partition_by=[PARTITION],
                    commit_properties=CommitProperties(
                        custom_metadata={"gtq.project_id": project_id, "gtq.run_id": run_id or ""}
                    ),
                )
                return
            except CommitFailedError:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2 * (attempt + 1)))

    def create_table(self, table: Table) -> DeltaTable:
        """Create `table` empty, partitioned by project, unless it exists, and open it. Every write is then a
        commit on an existing table: two first writes of different projects at once cannot lose one."""
        with contextlib.suppress(CommitFailedError):  # another writer created it first
            DeltaTable.create(
                self.table_path(table),
                table.empty().to_arrow().schema,
                mode="ignore",
                partition_by=[PARTITION],
                name=table.key,
            )
        return self.delta_table(table)

    def _with_contract_columns(self, delta: DeltaTable, table: Table) -> DeltaTable:
        """`delta`, given first the columns the contract gained since the table was created (nullable, so
        earlier files read them as null): in its Delta schema, every reader of the table sees them."""
        present = {field.name for field in delta.schema().fields}
        missing = [field for field in table.empty().to_arrow().schema if field.name not in present]
        if not missing:
            return delta
        with contextlib.suppress(CommitFailedError):  # another writer added them first
            delta.alter.add_columns([Field.from_arrow(field) for field in missing])
        return self.delta_table(table)

    def staging_path(self, project_id: str, run_id: str) -> Path:
        """A fresh local folder for the run's parsed exports. Folders that killed runs of the project left
        behind are removed (the caller's run holds the project's lock, so no other run of it is using one)."""
        with self.project_lock(project_id):
            # Parsed exports are read back within the step that writes them: on S3 a local folder will do.
            staging = local_folder(self.root) / ".staging" / project_folder(project_id)
            shutil.rmtree(staging, ignore_errors=True)
            return staging / run_id

    # -- maintenance --------------------------------------------------------------------------------------
    def maintain(self, retention: timedelta) -> dict[str, dict]:
        """Compact every table's small files and vacuum files that no version younger than `retention` reads.

        `history.*` tables are only appended to, so vacuum never removes a file they read; GT versions are
        folders outside the tables. Returns each table's compaction and vacuum figures."""
        figures = {}
        for table in (*ALL_TABLES, *HISTORY_TABLES):
            if (delta := self.delta_table(table)) is None:
                continue
            compacted = delta.optimize.compact()
            removed = delta.vacuum(
                retention_hours=int(retention.total_seconds() // 3600), dry_run=False, enforce_retention_duration=False
            )
            figures[table.key] = {
                "files_added": compacted["numFilesAdded"],
                "files_removed": compacted["numFilesRemoved"],
                "files_vacuumed": len(removed),
            }
        self.refresh_views()
        return figures

    # -- ground-truth versions ---------------------------------------------------------------------------
    def gt_version_path(self, project_id: str, version: int) -> Path | str:
        """The folder of GT version `version`: one Parquet file per part (`regions.parquet` is the GT's content)."""
        return self.storage.location(self._gt_version(project_id, version))

    def _gt_version(self, project_id: str, version: int) -> str:
        return f"{self._gt_project(project_id)}/ground_truth/{version}"

    def gt_versions(self, project_id: str) -> list[int]:
        """The project's published GT versions, oldest first."""
        names = self.storage.names(f"{self._gt_project(project_id)}/ground_truth")
        versions = sorted(int(name) for name in names if name.isdigit())
        # A local version folder appears whole by rename; on S3 its `version.json`, written last, says it is whole.
        return (
            versions
            if self.storage.is_local()
            else [v for v in versions if self.storage.exists(f"{self._gt_version(project_id, v)}/version.json")]
        )

    def read_gt_version(self, project_id: str, version: int | None = None) -> GroundTruthVersion | None:
        """GT version `version` of the project (the latest when None); None when there is no such version."""
        versions = self.gt_versions(project_id)
        version = (versions[-1] if versions else None) if version is None else version
        if version not in versions:
            return None
        parts = {part: pl.read_parquet(self._gt_part(project_id, version, part)) for part in GroundTruthVersion.parts()}
        return GroundTruthVersion(version, **parts)

    def _gt_part(self, project_id: str, version: int, part: str) -> Path | str:
        return self.storage.location(f"{self._gt_version(project_id, version)}/{part}.parquet")

    def gt_changes(self, project_id: str) -> list[pl.DataFrame]:
        """The changes of every published GT version of the project, oldest first."""
        return [pl.read_parquet(self._gt_part(project_id, v, "changes")) for v in self.gt_versions(project_id)]

    def gt_version_info(self, project_id: str, version: int) -> dict:
        return json.loads(self.storage.read_text(f"{self._gt_version(project_id, version)}/version.json"))

    def publish_gt_version(self, project_id: str, gt: GroundTruthVersion, info: dict) -> None:
        """Publish a GT version: it appears complete or not at all, and never over an existing version
        (FileExistsError)."""

        def write(location: Callable[[str], Path | str]) -> None:
            for part in GroundTruthVersion.parts():
                getattr(gt, part).write_parquet(location(f"{part}.parquet"))

        info = {"project_id": project_id, "version": gt.version, "committed_at": datetime.now(UTC).isoformat(), **info}
        try:
            self.storage.publish_folder(
                self._gt_version(project_id, gt.version), write, "version.json", json.dumps(info, indent=1)
            )
        except FileExistsError as exc:
            raise FileExistsError(
                f"GT version {gt.version} of project {project_id} was published by another run"
            ) from exc

    # -- the DuckDB file people query ---------------------------------------------------------------------
    def refresh_views(self) -> None:
        """Bring gtq.duckdb up to date: a view `<schema>.<table>` over each Delta table's current files (the
        `history.*` tables included). The file records the Delta version each view shows, and only views
        whose table has a newer version are re-created, so a file left stale (a run killed before its end)
        catches up at the next update; an unreadable file is rebuilt whole.

        The new file is built in a temporary folder and renamed into place (a reader keeps the file it
        opened); a lock orders concurrent updates. A warehouse on S3 has no DuckDB file: DuckDB reads it
        with the delta extension (`delta_scan`) or through `deltalake` (README)."""
        if not self.storage.is_local():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".duckdb.lock"), tempfile.TemporaryDirectory(prefix="gtq-views-") as scratch:
            # Built in the system's temporary folder: DuckDB reads '?' in a database path as URL options.
            built = Path(scratch) / "gtq.duckdb"
            if self.duckdb_path.exists():
                shutil.copyfile(self.duckdb_path, built)
            try:
                self._update_views(built)
            except duckdb.Error:  # unreadable: start afresh
                built.unlink(missing_ok=True)
                self._update_views(built)
            staged = self.root / f".gtq.duckdb.{uuid.uuid4().hex}"
            try:
                shutil.copyfile(built, staged)
                os.replace(staged, self.duckdb_path)
            finally:
                staged.unlink(missing_ok=True)

    def _update_views(self, database: Path) -> None:
        with duckdb.connect(str(database)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS _gtq")
            con.execute("CREATE TABLE IF NOT EXISTS _gtq.views (view VARCHAR PRIMARY KEY, version BIGINT)")
            shown = dict(con.execute("SELECT view, version FROM _gtq.views").fetchall())
            for table in (*ALL_TABLES, *HISTORY_TABLES):
                version = self._log_version(table)
                if shown.get(table.key) != version:
                    _create_view(con, table, self.empty_file(table), self.current_files(table))
                    con.execute("INSERT OR REPLACE INTO _gtq.views VALUES (?, ?)", [table.key, version])

    def _log_version(self, table: Table) -> int:
        """The latest version in a local Delta table's log (-1 before its creation): a listing, no log replay."""
        log = Path(self.table_path(table)) / "_delta_log"
        names = os.listdir(log) if log.is_dir() else []
        return max((int(n.removesuffix(".json")) for n in names if n.endswith(".json") and n[0].isdigit()), default=-1)

    def current_files(self, table: Table, version: int | None = None) -> dict[str, list[str]]:
        """Each project's data files of the table's `version` (the latest by default), in the order written."""
        if (delta := self.delta_table(table, version)) is None:
            return {}
        base = unquote(delta.table_uri.removeprefix("file://")).rstrip("/")
        files: dict[str, list[str]] = {}
        for project, path, _ in _data_files(delta):
            files.setdefault(project, []).append(f"{base}/{path}")
        return files

    def empty_file(self, table: Table) -> Path:
        """A Parquet file with the table's columns and no rows (it gives an empty view its schema)."""
        path = self.root / "schemas" / f"{table.key}.parquet"
        if not path.exists():
            write_whole(path, table.empty().write_parquet)
        return path


@functools.cache
def code_digest() -> str:
    """A digest of the code that computes gtq's tables: gtq's own sources and the versions of the engines they
    call. Another version of either is another computation (`Warehouse.inputs_digest`)."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode() + b"\0" + source.read_bytes())
    for engine in ("polars", "numpy", "scipy"):
        digest.update(f"{engine}=={installed_version(engine)}".encode())
    return digest.hexdigest()


def settings_digest(files: Iterable[Path], *texts: str) -> str:
    """A digest of settings a computation reads beside its tables (`Warehouse.inputs_digest`): the bytes of
    `files` as they are now (a missing file counts as empty), then `texts`."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(hashlib.sha256(path.read_bytes() if path.is_file() else b"").digest())
    for text in texts:
        digest.update(text.encode())
    return digest.hexdigest()


def _data_files(delta: DeltaTable) -> list[tuple[str, str, int]]:
    """(project, path in the table, size) of each data file of the table's loaded version, in the order written."""
    actions = pl.DataFrame(delta.get_add_actions(flatten=True)).select(f"partition.{PARTITION}", "path", "size_bytes")
    return [(project, unquote(path), size) for project, path, size in actions.iter_rows()]


ROWS_PER_SORT = 2_000_000  # rows a task-keyed table is sorted at once (with their JSON texts)


def _in_stable_order(table: Table, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Rows sorted so that the same rows make the same file whatever order a computation produced them in:
    by the table's `row_key`, ties by a hash of its other columns (sorting 10M regions by every column
    would hold their JSON texts twice over); else by every column that sorts (nested ones excepted).

    A table keyed by task with more than ROWS_PER_SORT rows is sorted one range of tasks at a time, each
    range holding about that many rows: memory holds one range, and the file is the same as a whole sort."""
    if not table.row_key:
        keys = [name for name, dtype in frame.collect_schema().items() if not dtype.is_nested()]
        return frame.sort(keys, nulls_last=True, maintain_order=True)
    rest = [pl.col(c) for c in table.columns if c not in table.row_key]
    order = [*table.row_key, pl.struct(rest).hash(seed=0)]
    ranges = _task_ranges(frame, table.row_key[1]) if table.row_key[:2] == ("project_id", "task_id") else []
    if len(ranges) < 2:
        return frame.sort(order, nulls_last=True, maintain_order=True)

    def sorted_ranges(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ):
        for in_range in ranges:
            rows = frame.filter(in_range).sort(order, nulls_last=True, maintain_order=True)
            rows = rows if predicate is None else rows.filter(predicate)
            yield (rows.select(with_columns) if with_columns else rows).collect()

    return register_io_source(sorted_ranges, schema=frame.collect_schema(), explain_name="sorted by task range")


def _task_ranges(frame: pl.LazyFrame, task: str) -> list[pl.Expr]:
    """Filters that split `frame` into consecutive ranges of `task` (nulls last) of about ROWS_PER_SORT rows."""
    counts = frame.group_by(task).len().sort(task, nulls_last=True).collect()
    column = pl.col(task)
    ranges = counts.group_by((pl.col("len").cum_sum() - pl.col("len")) // ROWS_PER_SORT, maintain_order=True).agg(
        low=column.drop_nulls().first(), high=column.drop_nulls().last(), nulls=column.is_null().any()
    )
    return [
        column.is_between(pl.lit(low), pl.lit(high)) | (column.is_null() & pl.lit(nulls))
        for low, high, nulls in ranges.select("low", "high", "nulls").iter_rows()
    ]


def _create_view(con: duckdb.DuckDBPyConnection, table: Table, empty: Path, files: dict[str, list[str]]) -> None:
    """A view over each project's `files`, each given its project id (`empty` gives the columns when there are none)."""

    def listed(paths: list[str | Path]) -> str:
        return ", ".join(_sql_string(_literal_glob(str(f))) for f in paths)

    parts = [f"SELECT * FROM read_parquet([{listed([empty])}])"]
    parts += [
        (
            f"SELECT *, {_sql_string(project)} AS {PARTITION} FROM read_parquet([{listed(paths)}], union_by_name ="
            " true, hive_partitioning = false)"
        )
        for project, paths in files.items()
    ]
    columns = ", ".join(f'"{c}"' for c in table.columns)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
    con.execute(f"CREATE OR REPLACE VIEW {table.key} AS SELECT {columns} FROM ({' UNION ALL BY NAME '.join(parts)})")
    con.execute(f"COMMENT ON VIEW {table.key} IS {_sql_string(table.description)}")


def _literal_glob(path: str) -> str:
    """`path` as a DuckDB glob that matches only itself: '*', '?' and '[' in a folder name are literal."""
    return re.sub(r"([*?\[])", r"[\1]", path)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_scan(table: Table, path: str) -> pl.LazyFrame:
    """One data file in its own schema, the contract's columns it lacks (added after it was written) as nulls.
    Not `scan_parquet(schema=...)`: at 1M tasks that reader holds about 20% more memory in the scoring steps."""
    stored = pl.scan_parquet(path, hive_partitioning=False, glob=False)
    names = stored.collect_schema().names()
    return stored.with_columns(
        pl.lit(None, t).alias(c) for c, t in table.columns.items() if c not in names and c != PARTITION
    )
