"""Great Expectations' stock map expectations measured in Polars, judged and reported by GE itself. No Dagster.

GE's pandas engine copies the frame for each expectation with a row condition and compares Arrow-backed
strings through pandas: about 0.4 s per expectation per million rows, most of a large export's ingest.
Here Polars measures what GE's pandas engine would (rows in the domain, nulls, the unexpected rows, their
values and index), and the expectation's own `_validate` turns the measures into its result: GE's success
rule (`mostly`), GE's result format, GE's Data Docs. Only the expectations and options in `SUPPORTED` are
measured here; anything else (another expectation, a `result_format` of its own, a condition that is not
pandas syntax) is left to GE's pandas engine, and so is an expectation whose measuring raises.
`tests/test_polars_expectations.py` holds every supported expectation to GE's own result on the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import polars.selectors as cs

# GE caps the unexpected values it lists (not the index list) at this many (great_expectations.constants).
MAX_RESULT_RECORDS = 200
_COMMON = {"mostly", "row_condition", "condition_parser"}
SUPPORTED = {
    "expect_column_values_to_not_be_null": {"column"} | _COMMON,
    "expect_column_values_to_be_null": {"column"} | _COMMON,
    "expect_column_values_to_be_in_set": {"column", "value_set"} | _COMMON,
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"} | _COMMON,
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if"} | _COMMON,
    "expect_compound_columns_to_be_unique": {"column_list", "ignore_row_if"} | _COMMON,
}
_INDEX = "__gtq_row"


def supported(expectation: dict) -> bool:
    """Whether this module measures the expectation (its JSON as in a suite file) as GE's pandas engine would."""
    kwargs = expectation.get("kwargs", {})
    allowed = SUPPORTED.get(expectation.get("type"))
    if allowed is None or not set(kwargs) <= allowed:
        return False
    if "row_condition" in kwargs and not (
        isinstance(kwargs["row_condition"], str) and kwargs.get("condition_parser") == "pandas"
    ):
        return False
    between = expectation["type"] == "expect_column_values_to_be_between"
    return not (between and kwargs.get("min_value") is None and kwargs.get("max_value") is None)


def validate_suite(frame: pl.DataFrame, suite_json: dict, result_format: dict, parameters: dict, fallback: Callable):
    """GE's `ExpectationSuiteValidationResult` of the suite on `frame`, in the order GE reports (grouped by
    column). `fallback(suite_json)` validates the expectations this module leaves to GE and returns GE's
    suite result (whose batch description is then kept)."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    ordered = _in_ge_order(suite_json["expectations"])
    suite = gx.ExpectationSuite(
        **{k: v for k, v in suite_json.items() if k not in ("id", "expectations")}, expectations=ordered
    )
    frame = _as_pandas_reads(frame).with_row_index(_INDEX)
    masks: dict[str, pl.Series] = {}
    parsed = _parsed(dict(result_format))  # GE fills in its defaults in place: each call gets its own copy
    results, left = [], []
    for raw, config in zip(ordered, suite.expectation_configurations, strict=True):
        config.process_suite_parameters(suite_parameters=parameters, interactive_evaluation=True, data_context=None)
        result = None
        if supported(raw):
            try:
                expectation = config.to_domain_obj()
                condition = raw["kwargs"].get("row_condition")  # GE's processed config holds it as an object
                measured = _measure(frame, config.type, config.kwargs, condition, parsed, masks)
                judged = expectation._validate(measured, runtime_configuration={"result_format": dict(result_format)})
                result = expectation._build_evr(judged)
            except Exception:  # GE's own engine then reports it, exception and all
                result = None
        results.append(result)
        if result is None:
            left.append(raw)
    meta = {
        "great_expectations_version": gx.__version__,
        "batch_spec": {"batch_data": "PolarsDataFrame", "data_asset_name": suite_json["name"]},
        "batch_markers": {"ge_load_time": datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")},
        "active_batch_definition": {
            "datasource_name": "gtq",
            "data_asset_name": suite_json["name"],
            "batch_identifiers": {},
        },
    }
    if left:
        by_ge = fallback({**suite_json, "expectations": left})
        meta = by_ge.meta
        ge_results = iter(by_ge.results)
        results = [r if r is not None else next(ge_results) for r in results]
    statistics = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        success=statistics.success,
        results=results,
        suite_name=suite_json["name"],
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta=meta,
    )


def _in_ge_order(expectations: list[dict]) -> list[dict]:
    """GE validates (and reports) a suite's expectations grouped by their `column`, groups in order of first
    appearance (those without one are a group too), as `Validator.process_expectations_for_validation` does."""
    groups: dict[str, list[dict]] = {}
    for e in expectations:
        column = e.get("kwargs", {}).get("column")
        groups.setdefault(column if isinstance(column, str) else "\0", []).append(e)
    return [e for group in groups.values() for e in group]


def _parsed(result_format: dict) -> dict:
    from great_expectations.expectations.expectation import parse_result_format

    return parse_result_format(result_format)


def _measure(
    frame: pl.DataFrame, kind: str, kwargs: dict, condition: str | None, result_format: dict, masks: dict
) -> dict:
    """The metrics the expectation's `_validate` reads, by name, as GE's pandas engine computes them."""
    if "column" in kwargs:
        domain = [kwargs["column"]]
    elif "column_A" in kwargs:
        domain = [kwargs["column_A"], kwargs["column_B"]]
    else:
        domain = list(kwargs["column_list"])
    ids = list(result_format.get("unexpected_index_column_names") or [])
    rows = frame.select(_INDEX, *domain)  # the ids of the few unexpected rows are looked up at the end
    if condition is not None:
        rows = rows.filter(_condition_mask(frame, condition, masks))
    row_count, nonnull = rows.height, None
    values = pl.col(domain[0])

    if kind in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null"):
        nonnull = rows[domain[0]].is_not_null().sum()
        considered = rows
        unexpected = values.is_null() if kind.endswith("not_be_null") else values.is_not_null()
    elif "column" in kwargs:
        nonnull = rows[domain[0]].is_not_null().sum()
        considered = rows.filter(values.is_not_null())
        if kind == "expect_column_values_to_be_in_set":
            unexpected = ~values.is_in(list(kwargs["value_set"]))
        else:
            unexpected = ~_between(values, kwargs)
    else:
        missing = [pl.col(c).is_null() for c in domain]
        ignore = kwargs.get("ignore_row_if") or (
            "both_values_are_missing" if "column_A" in kwargs else "all_values_are_missing"
        )
        if ignore in ("both_values_are_missing", "all_values_are_missing"):
            considered = rows.filter(~pl.all_horizontal(missing))
        elif ignore in ("either_value_is_missing", "any_value_is_missing"):
            considered = rows.filter(~pl.any_horizontal(missing))
        elif ignore in ("neither", "never"):
            considered = rows
        else:
            raise ValueError(f"ignore_row_if {ignore!r}")
        if "column_A" in kwargs:
            a, b = pl.col(domain[0]), pl.col(domain[1])
            unexpected = ~(a >= b if kwargs.get("or_equal") else a > b).fill_null(False)
        else:
            unexpected = pl.struct(domain).is_duplicated()

    found = considered.filter(unexpected)
    complete = result_format["result_format"] == "COMPLETE"
    listed = MAX_RESULT_RECORDS if complete else min(result_format["partial_unexpected_count"], MAX_RESULT_RECORDS)
    head = _as_pandas_gives(found.head(listed))
    if "column" in kwargs:
        unexpected_values = head[domain[0]].to_list()
    elif "column_A" in kwargs:
        unexpected_values = list(head.select(domain).iter_rows())
    else:
        unexpected_values = head.select(domain).to_dicts()
    indexed = found if complete else found.head(result_format["partial_unexpected_count"])
    if ids:
        named = frame.select(*dict.fromkeys([domain[0], *ids, *domain[1:]]))[indexed[_INDEX]]
        unexpected_index = _as_pandas_gives(named).to_dicts()
    else:
        unexpected_index = indexed[_INDEX].to_list()
    metric = f"{_map_metric(kind)}."
    return {
        "table.row_count": row_count,
        "column_values.nonnull.unexpected_count": None if nonnull is None else row_count - nonnull,
        metric + "unexpected_count": found.height,
        metric + "unexpected_values": unexpected_values,
        metric + "unexpected_index_list": unexpected_index,
        metric + "unexpected_index_query": f"df.filter(items={found[_INDEX].to_list()}, axis=0)",
        metric + "filtered_row_count": considered.height,
    }


def _as_pandas_reads(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the types pandas gives it: a NaN is missing, and integers with a gap are floats."""
    gaps = [c for c, dtype in frame.schema.items() if dtype.is_integer() and frame[c].has_nulls()]
    return frame.with_columns(cs.float().fill_nan(None), *(pl.col(c).cast(pl.Float64) for c in gaps))


def _as_pandas_gives(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows whose missing numbers are NaN, as pandas lists them: no two NaNs are equal, so GE counts each apart."""
    return rows.with_columns(cs.float().fill_null(float("nan")))


def _map_metric(kind: str) -> str:
    from great_expectations.expectations.registry import get_expectation_impl

    return get_expectation_impl(kind).map_metric


def _between(values: pl.Expr, kwargs: dict) -> pl.Expr:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = pl.lit(True)
    if low is not None:
        inside &= values > low if kwargs.get("strict_min") else values >= low
    if high is not None:
        inside &= values < high if kwargs.get("strict_max") else values <= high
    return inside


def _condition_mask(frame: pl.DataFrame, condition: str, masks: dict) -> pl.Series:
    """Which rows a pandas `row_condition` selects, evaluated by pandas itself (`DataFrame.eval`, as GE's
    `query`) on only the columns it names; computed once per condition and suite."""
    if condition not in masks:
        named = [c for c in dict.fromkeys(re.findall(r"\w+", condition)) if c in frame.columns and c != _INDEX]
        selected = frame.select(named).to_pandas(use_pyarrow_extension_array=False).eval(condition)
        masks[condition] = pl.Series(selected.to_numpy(), dtype=pl.Boolean)
    return masks[condition]
