"""A step's result as Dagster events: its messages in the run's log, its tables as the outputs of a multi-asset."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg
import polars as pl

from pipeline.assets.metadata import output_name
from pipeline.contract import Table
from pipeline.steps import Message


def log_message(context: dg.AssetExecutionContext, message: Message) -> None:
    """Say `message` in the run's log, at its level."""
    getattr(context.log, message.level)(message.text)


def log_messages(context: dg.AssetExecutionContext, messages: Iterable[Message]) -> None:
    for message in messages:
        log_message(context, message)


def outputs(tables: Iterable[tuple[Table, pl.LazyFrame]]) -> Iterator[dg.Output]:
    """One output per (table, rows) a step gives, in its order (each is written before the next is computed)."""
    for table, rows in tables:
        yield dg.Output(rows, output_name(table))
