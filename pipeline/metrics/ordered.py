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
    """The sum of the non-null values, added in ascending order.

    Parameters
    ----------
    values : pl.Expr or str
        The values to add: an expression, or the name of a column.

    Returns
    -------
    pl.Expr
        sum_i v_(i) over the non-null values sorted ascending, spelled as the last cumulative sum so that
        Polars keeps the sort: the same bits whatever order the rows arrive in.

    Notes
    -----
    With no non-null value the sum is 0, as Polars' `sum`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.ordered import ordered_sum
    >>> frame = pl.DataFrame({"group": ["a", "a", "a", "b"], "value": [2.5, 0.5, None, None]})
    >>> frame.group_by("group").agg(ordered_sum("value")).sort("group").to_dicts()
    [{'group': 'a', 'value': 3.0}, {'group': 'b', 'value': 0.0}]
    """
    values = pl.col(values) if isinstance(values, str) else values
    return values.drop_nulls().sort().cum_sum().last().fill_null(0.0)


def ordered_mean(values: pl.Expr | str) -> pl.Expr:
    """The mean of the non-null values, added in ascending order.

    Parameters
    ----------
    values : pl.Expr or str
        The values to average: an expression, or the name of a column.

    Returns
    -------
    pl.Expr
        `ordered_sum` of the values / their count: a mean whose bits do not depend on row order.

    Notes
    -----
    With no non-null value the mean is null, as Polars' `mean`.

    Examples
    --------
    >>> import polars as pl
    >>> from pipeline.metrics.ordered import ordered_mean
    >>> frame = pl.DataFrame({"group": ["a", "a", "a", "b"], "value": [2.5, 0.5, None, None]})
    >>> frame.group_by("group").agg(ordered_mean("value")).sort("group").to_dicts()
    [{'group': 'a', 'value': 1.5}, {'group': 'b', 'value': None}]
    """
    values = pl.col(values) if isinstance(values, str) else values
    return pl.when(values.count() > 0).then(ordered_sum(values) / values.count())
