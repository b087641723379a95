"""Where the warehouse's files outside its Delta tables live (GT version folders, the DuckDB file): a local
folder or an S3 prefix, with the same guarantees. No Dagster here.

Keys are '/'-separated paths relative to the warehouse root. `location(key)` is what Polars, delta-rs and
people use (a `Path`, or an `s3://` URL read with the credentials and endpoint of the environment: AWS_* variables).

The guarantees the warehouse builds on:
- `publish_folder` makes a folder appear complete or not at all, never over an existing one.
- `file_lock` is an exclusive lock on this machine, re-entrant within the process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    def location(self, key: str) -> Path | str: ...
    def is_local(self) -> bool: ...
    def exists(self, key: str) -> bool: ...
    def read_text(self, key: str) -> str: ...
    def names(self, key: str) -> list[str]: ...
    def delete_tree(self, key: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def size(self, key: str) -> int: ...
    def copy(self, key: str, to: str) -> None: ...
    def publish_folder(
        self, key: str, write: Callable[[Callable[[str], Path | str]], None], marker: str, text: str
    ) -> None: ...


def open_storage(root: str | Path) -> Storage:
    """The storage at `root`: `s3://bucket/prefix` or a local folder."""
    root = warehouse_root(root)
    return LocalStorage(root) if isinstance(root, Path) else ObjectStorage(root)


def warehouse_root(root: str | Path) -> Path | str:
    """The warehouse root: an absolute local path, or an `s3://` URL (kept as text: a Path folds its '//')."""
    text = str(root)
    return text.rstrip("/") if text.startswith("s3://") else Path(root).absolute()


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Write a local file whole or not at all, whoever reads it at the same time: `write` writes a temporary
    file beside it, which then replaces it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{uuid.uuid4().hex}")
    write(temporary)
    os.replace(temporary, path)


def local_folder(root: str | Path) -> Path:
    """Where a warehouse keeps what must stay on this machine (its Dagster instance, the bundled sample, a
    run's scratch files): the warehouse folder itself, or for S3 `~/.gtq/<bucket-prefix-hash>` (no '%':
    Dagster's SQLite URLs would decode it)."""
    root = warehouse_root(root)
    if isinstance(root, Path):
        return root
    readable = re.sub(r"[^A-Za-z0-9.-]+", "-", root.removeprefix("s3://"))[:80]
    return Path.home() / ".gtq" / f"{readable}-{hashlib.sha256(root.encode()).hexdigest()[:8]}"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    def location(self, key: str) -> Path:
        return self.root / key if key else self.root

    def is_local(self) -> bool:
        return True

    def exists(self, key: str) -> bool:
        return self.location(key).exists()

    def read_text(self, key: str) -> str:
        return self.location(key).read_text()

    def names(self, key: str) -> list[str]:
        folder = self.location(key)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def delete(self, key: str) -> None:
        self.location(key).unlink(missing_ok=True)

    def size(self, key: str) -> int:
        return self.location(key).stat().st_size

    def copy(self, key: str, to: str) -> None:
        self.location(to).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.location(key), self.location(to))

    def delete_tree(self, key: str) -> None:
        shutil.rmtree(self.location(key), ignore_errors=True)

    def publish_folder(
        self, key: str, write: Callable[[Callable[[str], Path | str]], None], marker: str, text: str
    ) -> None:
        """Written into a hidden sibling folder, then renamed (which fails if `key` exists with content)."""
        final = self.location(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        for leftover in final.parent.glob(f".{final.name}.*"):  # a killed publication's folder
            shutil.rmtree(leftover, ignore_errors=True)
        staging = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
        staging.mkdir()
        try:
            write(lambda name: staging / name)
            (staging / marker).write_text(text)
            if final.exists():
                raise FileExistsError(f"{final} exists")
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise


class ObjectStorage:
    """An S3 prefix (any S3-compatible server: AWS_ENDPOINT_URL). Small files are written with conditional
    requests (`If-None-Match: *`), which S3 has honoured since 2024, so a commit file is never overwritten."""

    def __init__(self, url: str) -> None:
        import boto3

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{url}: an S3 warehouse is s3://bucket[/prefix]")
        self.url = f"s3://{bucket}/{prefix.strip('/')}".rstrip("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3")

    def _key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix, key) if part)

    def location(self, key: str) -> str:
        return f"{self.url}/{key}" if key else self.url

    def is_local(self) -> bool:
        return False

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def read_text(self, key: str) -> str:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read().decode()
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(self.location(key)) from exc

    def _listed(self, key: str, delimiter: str = "/") -> Iterator[dict]:
        prefix = self._key(key) + "/" if self._key(key) else ""
        yield from self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter=delimiter
        )

    def names(self, key: str) -> list[str]:
        names = set()
        for page in self._listed(key):
            names.update(p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in page.get("CommonPrefixes", []))
            names.update(o["Key"].rsplit("/", 1)[-1] for o in page.get("Contents", []))
        return sorted(names)

    def create_text(self, key: str, text: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=text.encode(), IfNoneMatch="*")
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise FileExistsError(self.location(key)) from exc
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def size(self, key: str) -> int:
        return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]

    def copy(self, key: str, to: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket, Key=self._key(to), CopySource={"Bucket": self.bucket, "Key": self._key(key)}
        )

    def delete_tree(self, key: str) -> None:
        for page in self._listed(key, delimiter=""):
            if objects := [{"Key": o["Key"]} for o in page.get("Contents", [])]:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def publish_folder(
        self, key: str, write: Callable[[Callable[[str], Path | str]], None], marker: str, text: str
    ) -> None:
        """The marker is the publication's commit point: written last, only if absent. Objects of a killed
        publication (no marker) are removed first; the caller holds the lock that makes it the only writer."""
        if self.exists(f"{key}/{marker}"):
            raise FileExistsError(self.location(key))
        self.delete_tree(key)
        write(lambda name: self.location(f"{key}/{name}"))
        self.create_text(f"{key}/{marker}", text)


class _ReentrantLocks:
    """Exclusive locks, re-entrant within the process (a run holds its project's lock while its steps write)."""

    def __init__(self) -> None:
        self._held: dict[object, tuple[object, int]] = {}
        self._guard = threading.Lock()
        self._acquiring: dict[object, threading.Lock] = {}

    @contextmanager
    def hold(self, name: object, acquire: Callable[[], object], release: Callable[[object], None]) -> Iterator[None]:
        with self._guard:
            gate = self._acquiring.setdefault(name, threading.Lock())
        with gate:  # threads of one process acquire one at a time
            with self._guard:
                handle, depth = self._held.get(name, (None, 0))
            if depth == 0:
                handle = acquire()
            with self._guard:
                self._held[name] = (handle, depth + 1)
        try:
            yield
        finally:
            with self._guard:
                handle, depth = self._held.pop(name)
                if depth > 1:
                    self._held[name] = (handle, depth - 1)
            if depth == 1:
                release(handle)


_LOCKS = _ReentrantLocks()


def file_lock(path: Path, on_wait: Callable[[], None] | None = None):
    """An exclusive `flock` on `path` (created if missing) for a `with` block; re-entrant within the process.
    `on_wait` is called once if another process holds it."""

    def acquire() -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    return _LOCKS.hold(Path(path), acquire, os.close)
