"""The warehouse: every table stored per project, each project's state committed atomically, a DuckDB
file of views for people, and the ground-truth versions as immutable content. No Dagster here.

Layout under the root (a project's folder name is its id, percent-encoded):

    projects/<project>/tables/<schema>.<table>/<n>.parquet   the project's rows of a table as written by commit n
    projects/<project>/commits/<n>.json                      commit n: for every table, the commit whose file holds
                                                             its current rows; the run and the GT version
    projects/<project>/ground_truth/<v>/                     GT version v of the project (see `GroundTruthVersion`)
    gtq.duckdb                                               views over every project's current files, for queries

The root is a local folder or an S3 prefix (`s3://bucket/prefix`; see `pipeline.storage`), with the same layout.

Properties, by construction:
- A project's run reads and writes only its own folder, so its cost does not depend on other projects.
- A commit file is the commit point: data files are written first, the commit file last (created, never
  replaced), so a kill at any instant leaves the previous commit or the new one. Files of a commit that
  never happened are deleted by the project's next write.
- Writers of one project take the project's lock (`project_lock`); projects never wait for each other.
- `gtq.duckdb` is rebuilt into a new file and renamed into place: a reader's open connection keeps the
  file it opened, writers never wait for readers, and the views always name committed files only.
- Data files are never changed or deleted, so every earlier commit stays readable (`history.*` views).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl
from polars.io.plugins import register_io_source

from pipeline.contract import ALL_TABLES, QUALITY_TABLES, Table
from pipeline.groundtruth.versioning import GroundTruthVersion
from pipeline.storage import file_lock, local_folder, open_storage

_SAFE = re.compile(r"[A-Za-z0-9-]")


class WarehouseError(Exception):
    """The warehouse folder cannot be used as it is (the message says why and what to do)."""


def project_folder(project_id: str) -> str:
    """The project's folder name: its id with every character but letters, digits and '-' percent-encoded,
    so an id is never a path, a glob or a Hive partition (`a/b`, `..`, `*`, `project_id=x`)."""
    if not project_id:
        raise ValueError("a project id must not be empty")
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in project_id)


@dataclass(frozen=True)
class Commit:
    """One committed state of a project: which commit's file holds each table's rows."""

    number: int
    tables: dict[str, int]
    run_id: str | None = None
    gt_version: int | None = None
    committed_at: str | None = None

    @classmethod
    def initial(cls) -> Commit:
        return cls(number=-1, tables={})


class Warehouse:
    def __init__(self, root: str | Path) -> None:
        self.storage = open_storage(root)
        self.root = self.storage.location("")
        if self.storage.exists("parquet") and not self.storage.names("projects"):
            raise WarehouseError(
                f"{self.root} was written by an earlier gtq (one Parquet file per table, a global Delta GT); this gtq"
                " stores every project apart. Run your exports into a new warehouse folder (`gtq run --source ..."
                " --warehouse NEW`); the old folder stays readable as it is."
            )

    # -- layout -----------------------------------------------------------------------------------------
    @property
    def duckdb_path(self) -> Path:
        return self.storage.location("gtq.duckdb")

    def project_path(self, project_id: str) -> Path | str:
        return self.storage.location(self._project(project_id))

    @staticmethod
    def _project(project_id: str) -> str:
        return f"projects/{project_folder(project_id)}"

    def _table_dir(self, project_id: str, table: Table) -> str:
        return f"{self._project(project_id)}/tables/{table.key}"

    def _commit_key(self, project_id: str, number: int) -> str:
        return f"{self._project(project_id)}/commits/{number:010d}.json"

    def projects(self) -> list[str]:
        """Every project with at least one commit, sorted."""
        return sorted(
            unquote(name)
            for name in self.storage.names("projects")
            if any(n.endswith(".json") for n in self.storage.names(f"projects/{name}/commits"))
        )

    # -- reading ----------------------------------------------------------------------------------------
    def head(self, project_id: str) -> Commit:
        """The project's latest commit (number -1 before the first).

        `commits/HEAD` names a recent commit (written after each commit, so it may lag one behind after a
        kill); the commit files after it are probed, so the head is found without listing every commit."""
        try:
            number = int(self.storage.read_text(f"{self._project(project_id)}/commits/HEAD"))
        except (FileNotFoundError, ValueError):
            number = max(self._commit_numbers(project_id), default=-1)
        while self.storage.exists(self._commit_key(project_id, number + 1)):
            number += 1
        return Commit.initial() if number < 0 else self._load_commit(project_id, number)

    def commits(self, project_id: str) -> list[Commit]:
        """Every commit of the project, oldest first."""
        return [self._load_commit(project_id, n) for n in self._commit_numbers(project_id)]

    def _commit_numbers(self, project_id: str) -> list[int]:
        names = self.storage.names(f"{self._project(project_id)}/commits")
        return sorted(int(name.removesuffix(".json")) for name in names if name.endswith(".json") and name[0].isdigit())

    def _load_commit(self, project_id: str, number: int) -> Commit:
        return Commit(**json.loads(self.storage.read_text(self._commit_key(project_id, number))))

    def table_file(self, project_id: str, table: Table, commit: Commit | None = None) -> Path | str | None:
        """The file holding the project's rows of `table` as of `commit` (the head by default); None if never written."""
        commit = commit or self.head(project_id)
        number = commit.tables.get(table.key)
        return None if number is None else self.storage.location(f"{self._table_dir(project_id, table)}/{number:010d}.parquet")

    def scan_project(self, table: Table, project_id: str, commit: Commit | None = None) -> pl.LazyFrame:
        """The project's rows of `table` in the contract's schema (as of `commit`, by default the head).

        Columns the contract gained after a file was written read as null, so older files keep working."""
        path = self.table_file(project_id, table, commit)
        return table.empty().lazy() if path is None else _conformed_scan(table, path)

    def scan(self, table: Table) -> pl.LazyFrame:
        """Every project's current rows of `table` (for people and tools; runs use `scan_project`)."""
        return pl.concat([table.empty().lazy(), *(self.scan_project(table, p) for p in self.projects())])

    def read(self, table: Table) -> pl.DataFrame:
        return self.scan(table).collect()

    # -- writing ----------------------------------------------------------------------------------------
    def project_lock(self, project_id: str, on_wait: Callable[[], None] | None = None):
        """Hold the project's write lock (re-entrant within a process) in a `with` block: one writer per
        project at a time. `on_wait` is called once if another process holds it."""
        return self.storage.lock(f"{self._project(project_id)}/.lock", on_wait)

    def write_project(
        self, project_id: str, frames: dict[Table, pl.DataFrame | pl.LazyFrame], *, run_id: str | None = None, gt_version: int | None = None
    ) -> dict[Table, pl.LazyFrame]:
        """Replace the project's rows of several tables in one commit: all of them or, if anything fails, none.

        Lazy frames stream to their files in bounded memory. `gt_version` records the GT version the rows
        were computed from (kept from the previous commit when None). Returns scans of what was written."""
        with self.project_lock(project_id):
            head = self.head(project_id)
            number = head.number + 1
            name = f"{number:010d}.parquet"
            self._remove_uncommitted(project_id, name)
            for table, frame in frames.items():
                key = f"{self._table_dir(project_id, table)}/{name}"
                self.storage.make_parent(key)
                rows = _in_stable_order(table, table.conform(frame.lazy()).filter(pl.col("project_id") == project_id))
                rows.sink_parquet(self.storage.location(key))
            commit = Commit(
                number=number,
                tables=head.tables | {table.key: number for table in frames},
                run_id=run_id,
                gt_version=head.gt_version if gt_version is None else gt_version,
                committed_at=datetime.now(UTC).isoformat(),
            )
            self.storage.create_text(self._commit_key(project_id, number), json.dumps(commit.__dict__, indent=1))
            self.storage.replace_text(f"{self._project(project_id)}/commits/HEAD", str(number))
        self.refresh_views(project_id)
        return {table: self.scan_project(table, project_id, commit) for table in frames}

    def staging_path(self, project_id: str, run_id: str) -> Path:
        """A fresh local folder for the run's parsed exports. Folders that killed runs of the project left
        behind are removed (the caller's run holds the project's lock, so no other run of it is using one)."""
        with self.project_lock(project_id):
            # Parsed exports are read back within the step that writes them: on S3 a local folder will do.
            staging = local_folder(self.root) / self._project(project_id) / "staging"
            shutil.rmtree(staging, ignore_errors=True)
            return staging / run_id

    def _remove_uncommitted(self, project_id: str, name: str) -> None:
        """Delete data files a killed writer left for the commit about to be made."""
        tables = f"{self._project(project_id)}/tables"
        for table in self.storage.names(tables):
            self.storage.delete(f"{tables}/{table}/{name}")

    # -- ground-truth versions ---------------------------------------------------------------------------
    def gt_version_path(self, project_id: str, version: int) -> Path | str:
        """The folder of GT version `version`: one Parquet file per part (`regions.parquet` is the GT's content)."""
        return self.storage.location(self._gt_version(project_id, version))

    def _gt_version(self, project_id: str, version: int) -> str:
        return f"{self._project(project_id)}/ground_truth/{version}"

    def gt_versions(self, project_id: str) -> list[int]:
        """The project's published GT versions, oldest first."""
        names = self.storage.names(f"{self._project(project_id)}/ground_truth")
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
            self.storage.publish_folder(self._gt_version(project_id, gt.version), write, "version.json", json.dumps(info, indent=1))
        except FileExistsError as exc:
            raise FileExistsError(f"GT version {gt.version} of project {project_id} was published by another run") from exc

    # -- the DuckDB file people query ---------------------------------------------------------------------
    def refresh_views(self, project_id: str | None = None) -> None:
        """Bring gtq.duckdb up to date: `<schema>.<table>` views over every project's current files and
        `history.<table>` views over every committed file of the quality tables (each row carries its
        run_id and gt_version).

        With `project_id`, only the views whose files that project changed are re-created, from the file
        list the DuckDB file keeps (`_gtq.files`), so a write costs the same whatever other projects hold;
        without it, or when the file is missing or unreadable, everything is rebuilt from the commits.
        The new file is built in a temporary folder and renamed into place (a reader keeps the file it
        opened); a lock orders concurrent updates.

        A warehouse on S3 has no DuckDB file: DuckDB reads S3 only through its httpfs extension, which
        gtq cannot count on; `Warehouse(url).scan(table)` reads it, as does DuckDB with httpfs."""
        if not self.storage.is_local():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".duckdb.lock"), tempfile.TemporaryDirectory(prefix="gtq-views-") as scratch:
            # Built in the system's temporary folder: DuckDB reads '?' in a database path as URL options.
            built = Path(scratch) / "gtq.duckdb"
            if project_id is None or not self._updated_copy(built, project_id):
                built.unlink(missing_ok=True)
                with duckdb.connect(str(built)) as con:
                    con.execute("CREATE SCHEMA _gtq")
                    con.execute("CREATE TABLE _gtq.files (project_id VARCHAR, view VARCHAR, file VARCHAR)")
                    self._update_views(con, {p: self.head(p) for p in self.projects()}, everything=True)
            staged = self.root / f".gtq.duckdb.{uuid.uuid4().hex}"
            try:
                shutil.copyfile(built, staged)
                os.replace(staged, self.duckdb_path)
            finally:
                staged.unlink(missing_ok=True)

    def _updated_copy(self, built: Path, project_id: str) -> bool:
        """Copy gtq.duckdb to `built` and update the project's views there; False when there is no usable file."""
        if not self.duckdb_path.exists():
            return False
        shutil.copyfile(self.duckdb_path, built)
        try:
            with duckdb.connect(str(built)) as con:
                self._update_views(con, {project_id: self.head(project_id)})
        except duckdb.Error:  # unreadable, or written before it kept its file list
            return False
        return True

    def _update_views(self, con: duckdb.DuckDBPyConnection, heads: dict[str, Commit], everything: bool = False) -> None:
        """Record the files of `heads` in `_gtq.files` and re-create the views whose file lists changed."""
        views = {(table.schema, table): table for table in ALL_TABLES} | {("history", table): table for table in QUALITY_TABLES}
        rows = [
            (project, f"{schema}.{table.name}", str(f))
            for project, head in heads.items()
            for schema, table in views
            for f in (self._committed_files(project, table, head) if schema == "history" else [self.table_file(project, table, head)])
            if f is not None
        ]
        projects = list(heads)
        before = set(con.execute("SELECT * FROM _gtq.files WHERE list_contains(?, project_id)", [projects]).fetchall())
        changed = {view for _, view, _ in before.symmetric_difference(rows)}
        con.execute("DELETE FROM _gtq.files WHERE list_contains(?, project_id)", [projects])
        recorded = pl.DataFrame(rows, schema={"project_id": pl.String, "view": pl.String, "file": pl.String}, orient="row")
        con.register("recorded", recorded.to_arrow())
        con.execute("INSERT INTO _gtq.files SELECT * FROM recorded")
        for schema, table in views:
            view = f"{schema}.{table.name}"
            if everything or view in changed:
                files = [
                    f for (f,) in con.execute("SELECT file FROM _gtq.files WHERE view = ? ORDER BY project_id, file", [view]).fetchall()
                ]
                _create_view(con, schema, table, [str(self.empty_file(table)), *files])

    def _committed_files(self, project_id: str, table: Table, head: Commit) -> list[Path]:
        directory = self.storage.location(self._table_dir(project_id, table))
        return sorted(p for p in directory.glob("*.parquet") if int(p.stem) <= head.number) if directory.is_dir() else []

    def empty_file(self, table: Table) -> Path:
        """A Parquet file with the table's columns and no rows (it gives an empty view its schema)."""
        path = self.root / "schemas" / f"{table.key}.parquet"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{uuid.uuid4().hex}")
            table.empty().write_parquet(temporary)
            os.replace(temporary, path)
        return path


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

    def sorted_ranges(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None):
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


def _conformed_scan(table: Table, path: Path) -> pl.LazyFrame:
    stored = pl.scan_parquet(path, hive_partitioning=False, glob=False)
    added = [c for c in table.columns if c not in stored.collect_schema().names()]
    return table.conform(stored.with_columns(pl.lit(None, table.columns[c]).alias(c) for c in added))


def _create_view(con: duckdb.DuckDBPyConnection, schema: str, table: Table, files: list[str]) -> None:
    """A view reading exactly `files` (the first gives the columns, for a table no project wrote yet)."""
    listed = ", ".join(_sql_string(_literal_glob(str(f))) for f in files)
    columns = ", ".join(f'"{c}"' for c in table.columns)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(
        f"CREATE OR REPLACE VIEW {schema}.{table.name} AS SELECT {columns}"
        f" FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
    )
    con.execute(f"COMMENT ON VIEW {schema}.{table.name} IS {_sql_string(table.description)}")


def _literal_glob(path: str) -> str:
    """`path` as a DuckDB glob that matches only itself: '*', '?' and '[' in a folder name are literal."""
    return re.sub(r"([*?\[])", r"[\1]", path)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
