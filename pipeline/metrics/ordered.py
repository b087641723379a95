"""Floating-point sums and means whose bits do not depend on row order.

Polars adds a group's values in the order its rows arrive, and that order changes from run to run
(parallel joins and group-bys); a floating-point sum depends on the order of its terms in the last bits,
so the same input gave tables that differed in their last bits. Adding the values in sorted order makes
the result a function of the values alone. Polars drops a sort that only feeds `sum` or `mean` (they are
order-free in exact arithmetic), so the sum is spelled as the last cumulative sum, which keeps the sort.
"""

from __future__ import annotations

import polars as pl


def ordered_sum(values: pl.Expr | str) -> pl.Expr:
    """The sum of the non-null values, added in ascending order (0 when there are none, as `sum`)."""
    values = pl.col(values) if isinstance(values, str) else values
    return values.drop_nulls().sort().cum_sum().last().fill_null(0.0)


def ordered_mean(values: pl.Expr | str) -> pl.Expr:
    """The mean of the non-null values, added in ascending order (null when there are none, as `mean`)."""
    values = pl.col(values) if isinstance(values, str) else values
    return pl.when(values.count() > 0).then(ordered_sum(values) / values.count())
