"""The warehouse: every table stored per project, each project's state committed atomically, a DuckDB
file of views for people, and the ground-truth versions as immutable content. No Dagster here.

Layout under the root (a project's folder name is its id, percent-encoded):

    projects/<project>/tables/<schema>.<table>/<n>.parquet   the project's rows of a table as written by commit n
    projects/<project>/commits/<n>.json                      commit n: for every table, the commit whose file holds
                                                             its current rows; the run and the GT version
    projects/<project>/ground_truth/<v>/                     GT version v of the project (see `GroundTruthVersion`)
    gtq.duckdb                                               views over every project's current files, for queries

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

import fcntl
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl

from pipeline.contract import ALL_TABLES, QUALITY_TABLES, Table
from pipeline.groundtruth.versioning import GroundTruthVersion

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
        self.root = Path(root).absolute()
        if (self.root / "parquet").is_dir() and not (self.root / "projects").exists():
            raise WarehouseError(
                f"{self.root} was written by an earlier gtq (one Parquet file per table, a global Delta GT); this gtq"
                " stores every project apart. Run your exports into a new warehouse folder (`gtq run --source ..."
                " --warehouse NEW`); the old folder stays readable as it is."
            )

    # -- layout -----------------------------------------------------------------------------------------
    @property
    def duckdb_path(self) -> Path:
        return self.root / "gtq.duckdb"

    def project_path(self, project_id: str) -> Path:
        return self.root / "projects" / project_folder(project_id)

    def _table_dir(self, project_id: str, table: Table) -> Path:
        return self.project_path(project_id) / "tables" / table.key

    def _commit_path(self, project_id: str, number: int) -> Path:
        return self.project_path(project_id) / "commits" / f"{number:010d}.json"

    def projects(self) -> list[str]:
        """Every project with at least one commit, sorted."""
        base = self.root / "projects"
        if not base.is_dir():
            return []
        return sorted(unquote(p.name) for p in base.iterdir() if (p / "commits").is_dir() and any((p / "commits").glob("*.json")))

    # -- reading ----------------------------------------------------------------------------------------
    def head(self, project_id: str) -> Commit:
        """The project's latest commit (number -1 before the first).

        `commits/HEAD` names a recent commit (written after each commit, so it may lag one behind after a
        kill); the commit files after it are probed, so the head is found without listing every commit."""
        commits = self.project_path(project_id) / "commits"
        try:
            number = int((commits / "HEAD").read_text())
        except (FileNotFoundError, ValueError):
            number = max((int(p.stem) for p in commits.glob("*.json")), default=-1) if commits.is_dir() else -1
        while self._commit_path(project_id, number + 1).exists():
            number += 1
        return Commit.initial() if number < 0 else self._load_commit(project_id, number)

    def commits(self, project_id: str) -> list[Commit]:
        """Every commit of the project, oldest first."""
        commits = self.project_path(project_id) / "commits"
        numbers = sorted(int(p.stem) for p in commits.glob("*.json")) if commits.is_dir() else []
        return [self._load_commit(project_id, n) for n in numbers]

    def _load_commit(self, project_id: str, number: int) -> Commit:
        return Commit(**json.loads(self._commit_path(project_id, number).read_text()))

    def table_file(self, project_id: str, table: Table, commit: Commit | None = None) -> Path | None:
        """The file holding the project's rows of `table` as of `commit` (the head by default); None if never written."""
        commit = commit or self.head(project_id)
        number = commit.tables.get(table.key)
        return None if number is None else self._table_dir(project_id, table) / f"{number:010d}.parquet"

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
    @contextmanager
    def project_lock(self, project_id: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the project's write lock (re-entrant within a process): one writer per project at a time.
        `on_wait` is called once if another process holds it."""
        path = self.project_path(project_id) / ".lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path, on_wait):
            yield

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
                path = self._table_dir(project_id, table) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                _in_stable_order(table.conform(frame.lazy()).filter(pl.col("project_id") == project_id)).sink_parquet(path)
            commit = Commit(
                number=number,
                tables=head.tables | {table.key: number for table in frames},
                run_id=run_id,
                gt_version=head.gt_version if gt_version is None else gt_version,
                committed_at=datetime.now(UTC).isoformat(),
            )
            _create_exclusively(self._commit_path(project_id, number), json.dumps(commit.__dict__, indent=1))
            _replace_text(self._commit_path(project_id, number).with_name("HEAD"), str(number))
        self.refresh_views(project_id)
        return {table: self.scan_project(table, project_id, commit) for table in frames}

    def staging_path(self, project_id: str, run_id: str) -> Path:
        """A fresh folder for the run's parsed exports. Folders that killed runs of the project left behind
        are removed (the caller's run holds the project's lock, so no other run of it is using one)."""
        with self.project_lock(project_id):
            staging = self.project_path(project_id) / "staging"
            shutil.rmtree(staging, ignore_errors=True)
            return staging / run_id

    def _remove_uncommitted(self, project_id: str, name: str) -> None:
        """Delete data files a killed writer left for the commit about to be made."""
        tables = self.project_path(project_id) / "tables"
        for path in tables.glob(f"*/{name}") if tables.is_dir() else []:
            path.unlink()

    # -- ground-truth versions ---------------------------------------------------------------------------
    def gt_version_path(self, project_id: str, version: int) -> Path:
        """The folder of GT version `version`: one Parquet file per part (`regions.parquet` is the GT's content)."""
        return self.project_path(project_id) / "ground_truth" / str(version)

    def gt_versions(self, project_id: str) -> list[int]:
        """The project's published GT versions, oldest first."""
        folder = self.project_path(project_id) / "ground_truth"
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []

    def read_gt_version(self, project_id: str, version: int | None = None) -> GroundTruthVersion | None:
        """GT version `version` of the project (the latest when None); None when there is no such version."""
        versions = self.gt_versions(project_id)
        version = (versions[-1] if versions else None) if version is None else version
        if version not in versions:
            return None
        folder = self.gt_version_path(project_id, version)
        return GroundTruthVersion(version, **{part: pl.read_parquet(folder / f"{part}.parquet") for part in GroundTruthVersion.parts()})

    def gt_changes(self, project_id: str) -> list[pl.DataFrame]:
        """The changes of every published GT version of the project, oldest first."""
        return [pl.read_parquet(self.gt_version_path(project_id, v) / "changes.parquet") for v in self.gt_versions(project_id)]

    def gt_version_info(self, project_id: str, version: int) -> dict:
        return json.loads((self.gt_version_path(project_id, version) / "version.json").read_text())

    def publish_gt_version(self, project_id: str, gt: GroundTruthVersion, info: dict) -> None:
        """Publish a GT version: written whole into a fresh folder that is then renamed to its number, so it
        appears complete or not at all, and never over an existing version (FileExistsError)."""
        final = self.gt_version_path(project_id, gt.version)
        final.parent.mkdir(parents=True, exist_ok=True)
        for leftover in final.parent.glob(".*"):  # a killed publication's staging folder
            shutil.rmtree(leftover, ignore_errors=True)
        staging = final.with_name(f".{gt.version}.{uuid.uuid4().hex}")
        staging.mkdir()
        try:
            for part in GroundTruthVersion.parts():
                getattr(gt, part).write_parquet(staging / f"{part}.parquet")
            info = {"project_id": project_id, "version": gt.version, "committed_at": datetime.now(UTC).isoformat(), **info}
            (staging / "version.json").write_text(json.dumps(info, indent=1))
            if final.exists():
                raise FileExistsError(f"GT version {gt.version} of project {project_id} was published by another run")
            os.rename(staging, final)  # fails if another writer created `final` with content meanwhile
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    # -- the DuckDB file people query ---------------------------------------------------------------------
    def refresh_views(self, project_id: str | None = None) -> None:
        """Bring gtq.duckdb up to date: `<schema>.<table>` views over every project's current files and
        `history.<table>` views over every committed file of the quality tables (each row carries its
        run_id and gt_version).

        With `project_id`, only the views whose files that project changed are re-created, from the file
        list the DuckDB file keeps (`_gtq.files`), so a write costs the same whatever other projects hold;
        without it, or when the file is missing or unreadable, everything is rebuilt from the commits.
        The new file is built in a temporary folder and renamed into place (a reader keeps the file it
        opened); a lock orders concurrent updates."""
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
        directory = self._table_dir(project_id, table)
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


def _in_stable_order(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Rows sorted by every column that sorts (nested ones excepted), so the same rows make the same file
    whatever order a computation produced them in."""
    keys = [name for name, dtype in frame.collect_schema().items() if not dtype.is_nested()]
    return frame.sort(keys, nulls_last=True, maintain_order=True)


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


def _replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text)
    os.replace(temporary, path)


def _create_exclusively(path: Path, text: str) -> None:
    """Write `path` whole or not at all, and only if it does not exist yet (FileExistsError otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        with open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(temporary, path)  # atomic, and fails if another writer created it first
    finally:
        temporary.unlink(missing_ok=True)


class _FileLocks:
    """Exclusive `flock`s, re-entrant within the process (a run holds its project's lock while its steps write)."""

    def __init__(self) -> None:
        self._held: dict[Path, tuple[int, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        with self._guard:
            fd, depth = self._held.get(path, (None, 0))
        if fd is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
        with self._guard:
            self._held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            with self._guard:
                fd, depth = self._held.pop(path)
                if depth > 1:
                    self._held[path] = (fd, depth - 1)
            if depth == 1:
                os.close(fd)


_LOCKS = _FileLocks()


def file_lock(path: Path, on_wait: Callable[[], None] | None = None):
    """An exclusive lock on `path` (created if missing) for a `with` block; re-entrant within the process."""
    return _LOCKS.hold(path, on_wait)
