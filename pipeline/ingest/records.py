"""What every format parser returns, and how it reports records it cannot read."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


class BadRecord(Exception):
    """A record (or a whole file, locator "$") that cannot be read; `reason` says what to fix."""

    def __init__(self, locator: str, reason: str) -> None:
        super().__init__(f"{locator}: {reason}" if locator else reason)
        self.locator = locator
        self.reason = reason


@dataclass
class QuarantineRows:
    locators: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, locator: str, reason: str) -> None:
        self.locators.append(locator)
        self.reasons.append(reason)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({"locator": self.locators, "reason": self.reasons}, schema={"locator": pl.String, "reason": pl.String})


@dataclass
class ParsedExport:
    """One export file as frames. Every record read is either accepted or in `quarantine`."""

    format: str
    tasks: pl.DataFrame
    annotations: pl.DataFrame
    regions: pl.DataFrame
    quarantine: pl.DataFrame
    records_accepted: int
    source_file: str = ""
    content_hash: str = ""

    @property
    def records_quarantined(self) -> int:
        return self.quarantine.height

    @property
    def records_read(self) -> int:
        return self.records_accepted + self.records_quarantined

    @property
    def project_ids(self) -> list[str]:
        return sorted(self.tasks["project_id"].unique().to_list())
