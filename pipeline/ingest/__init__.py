"""Reading export files into the core tables' shapes. No Dagster, no DuckDB: files in, frames out.

`read_export` is the single entry point: it detects the format from the content, hashes the bytes,
dispatches to the format's parser and stamps every row with its source file and content hash.
A file that cannot be read at all becomes one quarantine row naming the file and the position.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from pipeline.contract import ANNOTATIONS, QUARANTINE, REGIONS, TASKS
from pipeline.ingest.label_studio import parse_label_studio_json
from pipeline.ingest.records import BadRecord, ParsedExport

__all__ = ["BadRecord", "ParsedExport", "content_hash", "detect_format", "read_export"]

_PARSERS = {"label-studio-json": parse_label_studio_json}


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(data: bytes) -> str:
    """Name the export format from the first bytes of the content (not the file name)."""
    head = data[:65536]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniffing boundary
            raise BadRecord(f"byte {exc.start}", f"the file is not UTF-8 encoded ({exc.reason})") from exc
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise BadRecord("$", "the file is empty")
    if head[:1] == b"[" and (b'"annotations"' in head or b'"predictions"' in head or head[1:].strip() == b"]"):
        return "label-studio-json"
    raise BadRecord(
        "$",
        "unrecognised export format: expected a Label Studio JSON export (an array of tasks with 'annotations')",
    )


def read_export(path: str | Path, data: bytes | None = None) -> ParsedExport:
    """Read one export file; never raises for bad content, which ends up in `quarantine` instead."""
    source_file = str(path)
    data = Path(path).read_bytes() if data is None else data
    digest = content_hash(data)
    try:
        fmt = detect_format(data)
        parsed = _PARSERS[fmt](data, source_file)
    except BadRecord as exc:
        parsed = ParsedExport(
            format="unreadable",
            tasks=_empty_without(TASKS),
            annotations=_empty_without(ANNOTATIONS),
            regions=REGIONS.empty(),
            quarantine=pl.DataFrame({"locator": [exc.locator or "$"], "reason": [exc.reason]}),
            records_accepted=0,
        )
    provenance = [pl.lit(source_file).alias("source_file"), pl.lit(digest).alias("content_hash")]
    parsed.tasks = TASKS.conform(parsed.tasks.with_columns(provenance))
    parsed.annotations = ANNOTATIONS.conform(parsed.annotations.with_columns(provenance[0]))
    parsed.quarantine = parsed.quarantine.with_columns(*provenance, pl.lit(None, pl.String).alias("run_id"))
    parsed.quarantine = QUARANTINE.conform(parsed.quarantine)
    parsed.source_file, parsed.content_hash = source_file, digest
    return parsed


def _empty_without(table) -> pl.DataFrame:
    return pl.DataFrame(schema={c: t for c, t in table.columns.items() if c not in ("source_file", "content_hash")})
