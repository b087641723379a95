"""Reading export files into the core tables' shapes. No Dagster, no DuckDB: files in, frames out.

`read_export` is the single entry point: it hashes the bytes, detects the format from the content (not
the file name), streams the file through the format's parser into Parquet under a staging folder, and
stamps every row with its source file and content hash. A file that cannot be read at all becomes one
quarantine row naming the file and the position; it never stops the other files.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import mmap
import re
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import polars as pl

from pipeline.contract import QUARANTINE
from pipeline.ingest.coco import COCO_GROUND_TRUTH, COCO_RESULTS
from pipeline.ingest.cvat import CVAT_FOR_IMAGES, annotations_xml
from pipeline.ingest.label_studio import LABEL_STUDIO_JSON
from pipeline.ingest.label_studio_min import LABEL_STUDIO_CSV, LABEL_STUDIO_JSON_MIN
from pipeline.ingest.records import BadRecord, ExportWriter, Format, KnownTasks, ParsedExport, without_bom
from pipeline.ingest.scout import SCOUT_ANNOTATIONS, SCOUT_IMAGES
from pipeline.storage import write_whole
from pipeline.vocabulary import BOM

__all__ = [
    "FORMATS",
    "BadRecord",
    "KnownTasks",
    "ParsedExport",
    "Source",
    "content_hash",
    "detect_format",
    "expand_sources",
    "export_files",
    "format_of",
    "projects_of",
    "read_export",
]

# In the order `detect_format` asks them: the first whose sniff (or keys) recognises a file names its format.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        LABEL_STUDIO_JSON,
        LABEL_STUDIO_JSON_MIN,
        LABEL_STUDIO_CSV,
        COCO_GROUND_TRUTH,
        COCO_RESULTS,
        SCOUT_ANNOTATIONS,
        SCOUT_IMAGES,
        CVAT_FOR_IMAGES,
    )
}
_SNIFF_BYTES = 65536


def content_hash(path: Path, known: Path | None = None) -> str:
    """SHA-256 of the export's bytes, and of its companion file's when the format reads one.

    Computed once per version of the files in a process: a run asks for a file's projects (`projects_of`),
    then ingests it. `known` is the folder of what earlier commands learned of export files (as in
    `projects_of`): it keeps the hash by the files' identity (path, device, inode, size, and modification and
    change times, as git's index tells an untouched file), so a file not written since costs a `stat`, not a
    pass over its bytes. Writing a file sets its change time, which no tool can set back."""
    identity = tuple(_identity(part) for part in export_files(Path(path)))
    if known is None:
        return _content_hash(identity)
    memo = known / "by-identity" / hashlib.sha256(repr(identity).encode()).hexdigest()
    if memo.is_file():
        return memo.read_text(encoding="utf-8")
    digest = _content_hash(identity)
    write_whole(memo, lambda temporary: temporary.write_text(digest, encoding="utf-8"))
    return digest


def _identity(path: Path) -> tuple[str, int, int, int, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


@functools.lru_cache(maxsize=1024)
def _content_hash(identity: tuple[tuple[str, int, int, int, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, *_ in identity:
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


EXPORT_SUFFIXES = (".json", ".csv", ".xml", ".zip")


_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Source:
    """An export file, optionally in a namespace: `NAME=PATH` makes its project ids `NAME:<id>`, so that
    two exports reusing project and task ids (two Label Studio instances, both with a "project 1") stay
    apart instead of replacing each other's tasks."""

    path: Path
    namespace: str | None = None

    @classmethod
    def parse(cls, text: str | Path | Source) -> Source:
        """`NAME=PATH` or `PATH` (a path that exists is taken whole, even with a '=' in it)."""
        if isinstance(text, Source):
            return text
        name, separator, rest = str(text).partition("=")
        if separator and _NAMESPACE.fullmatch(name) and not Path(text).exists():
            return cls(Path(rest), name)
        return cls(Path(text))

    def project(self, project_id: str) -> str:
        return f"{self.namespace}:{project_id}" if self.namespace else project_id

    def __str__(self) -> str:
        return f"{self.namespace}={self.path}" if self.namespace else str(self.path)


def expand_sources(sources: list[str | Path | Source]) -> list[Source]:
    """The export files of `sources` in order: folders expand to their .json/.csv/.xml/.zip files (sorted, in the
    folder's namespace), and a file read as another's companion is dropped. FileNotFoundError names every
    path that does not exist."""
    parsed = [Source.parse(s) for s in sources]
    missing = [str(s.path) for s in parsed if not s.path.exists()]
    if missing:
        raise FileNotFoundError(f"source not found: {', '.join(missing)}")
    files: list[Source] = []
    for source in parsed:
        if source.path.is_dir():
            found = sorted(p for p in source.path.rglob("*") if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES)
            files.extend(Source(p, source.namespace) for p in found)
        else:
            files.append(source)
    companions = {part.resolve() for f in files for part in export_files(f.path)[1:]}
    return [f for f in files if f.path.resolve() not in companions]


def projects_of(source: str | Path | Source, known: Path | None = None) -> list[str]:
    """The projects an export file holds, read cheaply, in its namespace. BadRecord, saying why, for a file
    gtq cannot read as any export: no project is invented for it.

    `known` is a folder that keeps what earlier commands learned of export files (memos, safe to delete): the
    projects of each file read, by its content hash, and the hash by the file's identity (`content_hash`). A
    file not written since costs a `stat`; the same bytes under a new name, their hash."""
    source = Source.parse(source)
    return [source.project(p) for p in _file_projects(source.path, known)]


def _file_projects(path: Path, known: Path | None) -> list[str]:
    read = FORMATS[format_of(path)].projects
    if known is None:
        return read(path)
    memo = known / f"{content_hash(path, known)}.json"
    if memo.is_file():
        return json.loads(memo.read_text(encoding="utf-8"))
    found = read(path)
    write_whole(memo, lambda temporary: temporary.write_text(json.dumps(found), encoding="utf-8"))
    return found


def export_files(path: Path) -> list[Path]:
    """The files one export consists of: the file, and its companion when its format has one."""
    try:
        companion = FORMATS[format_of(path)].companion(path)
    except BadRecord:
        companion = None
    return [path] if companion is None else [path, companion]


def format_of(path: str | Path) -> str:
    """The export format of a file (BadRecord when it has none). Detected once per version of the file:
    sources, projects, companions and parsing all ask, and detection by structure reads the whole file."""
    stat = Path(path).stat()
    return _format_of(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _format_of(path: str, size: int, mtime_ns: int) -> str:
    # Whatever goes wrong while telling one file's format is that file's BadRecord: every caller (a run listing
    # its sources' projects, the inbox sensor, a companion lookup) then names the file and goes on with the others.
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        if head[:4] == b"PK\x03\x04":  # a zip: the format of the export inside it (CVAT's annotations.xml)
            head = _zipped_head(path)
        return detect_format(head, Path(path))
    except BadRecord:
        raise
    except OSError as exc:
        raise BadRecord("$", f"the file cannot be read ({exc.strerror or exc})") from exc
    except Exception as exc:
        raise BadRecord("$", f"its format could not be detected ({type(exc).__name__}: {exc})") from exc


def _zipped_head(path: str) -> bytes:
    with open(path, "rb") as file, annotations_xml(file) as member:
        return member.read(_SNIFF_BYTES)


def detect_format(head: bytes, path: Path | None = None) -> str:
    """Name the export format from the first bytes of a file (each format's `sniff`), or, when they do not tell
    and the file is JSON, from its structure (each format's `keys`): the keys of its first element (an array)
    or its top-level keys (an object), whatever their order and the size of what comes before them."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniffing boundary
            raise BadRecord(f"byte {exc.start}", f"the file is not UTF-8 encoded ({exc.reason})") from exc
    head = head.lstrip(BOM + b" \t\r\n")
    if not head:
        raise BadRecord("$", "the file is empty")
    if sniffed := next((f.name for f in FORMATS.values() if f.sniff(head)), None):
        return sniffed
    if path is not None and head[:1] in (b"[", b"{") and (structural := _json_structure(Path(path))):
        return structural
    raise BadRecord(
        "$",
        "unrecognised export format: expected a Label Studio export (JSON, JSON-MIN or CSV),"
        " a Scout annotations or images CSV, a COCO ground-truth or results file, or a CVAT for images 1.1 XML",
    )


def _json_structure(path: Path) -> str | None:
    """The format of a JSON file from its keys (values are skipped unread); None when they do not tell."""
    with _mapped(path) as buffer:
        found = _json_keys(without_bom(buffer))  # plain strings: nothing pointing into the map outlives the block
    if found is None:
        return None
    return next((f.name for f in FORMATS.values() if f.keys(*found)), None)


def _json_keys(body: bytes | mmap.mmap) -> tuple[bool, frozenset[str]] | None:
    """(True, the top-level keys) of a JSON object, (False, the keys of its first element) of a JSON array (no
    keys when it is empty); None when `body` is neither. The values are msgspec.Raw, which point into `body`:
    they live in this frame only, and are gone when it returns."""
    try:
        document = msgspec.json.decode(body, type=list[msgspec.Raw] | dict[str, msgspec.Raw])
        if isinstance(document, dict):
            return True, frozenset(document)
        return False, frozenset(msgspec.json.decode(document[0], type=dict[str, msgspec.Raw]) if document else ())
    except (msgspec.DecodeError, RecursionError):
        return None


@contextmanager
def _gc_paused():
    """Parsing allocates millions of short-lived tuples and no cycles: the cyclic GC would only rescan them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _mapped(path: Path):
    """The file's bytes, memory-mapped (an empty file maps to b"").

    The map closes when the block ends, which it cannot while anything points into it (a msgspec.Raw, a
    parsed row): "BufferError: cannot close exported pointers exist", in place of the block's own result or
    error. So the block hands the map to a function and keeps only what it returns (plain data, or Parquet
    written), and when the block raises, the locals of the finished frames its traceback holds are cleared
    before the map closes, so that the block's own exception is the one that propagates.
    """
    with open(path, "rb") as f:
        if Path(path).stat().st_size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            try:
                yield mapped
            except BaseException as exc:
                _release_frames(exc)
                raise


def _release_frames(exc: BaseException) -> None:
    """Clear the locals of the finished frames held by the tracebacks of `exc` and of its causes and contexts
    (a frame still running, such as the one of the `with` block, is left as it is)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]


PROGRESS_EVERY_S = 2.0


@contextmanager
def _reporting(count: Callable[[], int], report: Callable[[int], None] | None):
    """While the block runs, call `report(count())` every PROGRESS_EVERY_S seconds (a large file's progress)."""
    if report is None:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(PROGRESS_EVERY_S):
            report(count())

    ticker = threading.Thread(target=tick, name="gtq-ingest-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()


def read_export(
    source: str | Path | Source,
    staging: Path,
    progress: Callable[[int], None] | None = None,
    digest: str | None = None,
    known: KnownTasks | None = None,
) -> ParsedExport:
    """Read one export file into Parquet under `staging`; bad content ends up in `quarantine`. The project
    ids of a namespaced source are `NAME:<id>`. `progress`, when given, hears the number of records read so
    far every few seconds. `digest` is the file's `content_hash` when the caller has it already (hashing a
    4 GB export takes seconds). A task that is one of the `known` tasks byte for byte is not read again: the
    result lists it in `unchanged` (Label Studio JSON)."""
    source = Source.parse(source)
    path = source.path
    source_file = str(path)
    digest = digest or content_hash(path)
    staging.mkdir(parents=True, exist_ok=True)
    try:
        with _mapped(path) as buffer, _gc_paused():
            parsed = _parse(buffer, source, staging, progress, known)
    except (BadRecord, RecursionError) as exc:
        writer = ExportWriter(staging, "unreadable")  # a file that fails as a whole contributes no rows
        if isinstance(exc, RecursionError):
            exc = BadRecord("$", f"JSON nested too deeply to read ({exc})")
        writer.quarantine(exc.locator or "$", exc.reason)
        parsed = writer.finish()

    provenance = [pl.lit(source_file).alias("source_file"), pl.lit(digest).alias("content_hash")]
    namespaced = (
        [(pl.lit(f"{source.namespace}:") + pl.col("project_id")).alias("project_id")] if source.namespace else []
    )
    parsed.project_ids = [source.project(p) for p in parsed.project_ids]
    parsed.frames = parsed.frames.map(
        lambda table, frame: table.conform(
            frame.with_columns(p for p in provenance if p.meta.output_name() in table.columns).with_columns(namespaced)
        )
    )
    unknown = [
        pl.lit(None, dtype).alias(c) for c, dtype in QUARANTINE.columns.items() if c not in parsed.quarantine.columns
    ]
    parsed.quarantine = QUARANTINE.conform(parsed.quarantine.with_columns(*unknown).with_columns(*provenance))
    parsed.source_file, parsed.content_hash = source_file, digest
    return parsed


def _parse(
    buffer: bytes | mmap.mmap,
    source: Source,
    staging: Path,
    progress: Callable[[int], None] | None,
    known: KnownTasks | None,
) -> ParsedExport:
    """The export in `buffer` parsed into Parquet under `staging`. Its rows may point into the mapped file: they
    are written before this returns, and go with its frame (see `_mapped`)."""
    fmt = FORMATS[format_of(source.path)]
    writer = ExportWriter(staging, fmt.name, fmt.region_columns, known, source.namespace)
    with _reporting(lambda: writer.accepted + len(writer.locators) + len(writer.unchanged), progress):
        fmt.parse(without_bom(buffer), str(source.path), writer)
    return writer.finish()
