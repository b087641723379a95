"""Steps that compute only when something they read changed: a run with nothing new computes no table again.

`@when_inputs_change` goes under a table asset's `@dg.asset` or `@dg.multi_asset`. Before the step computes, it
takes the digest of everything the step reads (`Warehouse.inputs_digest`): the project's files of each input
table, what the GT policy and overrides say of the project when the step reads them (its `groundtruth`
resource), and gtq's code. When
every table of the step was written from that same digest (its file says so, `Warehouse.computed_from`), the
rows there are the rows it would compute: the step gives `None` for each output, which the IO manager reads as
"rows as they are" (and describes them as usual), and computes nothing. Otherwise it computes, and each output
carries the digest into its file. A run tagged `gtq/recompute: true` (`gtq run --recompute`) computes every step.

What an unchanged step does not do, as a consequence: it appends no `history.*` rows (that history has one entry
per computation), publishes no GT version (none would differ), and its rows keep the `run_id` of the run that
computed them. A check declared on the step is carried over as passed: the one there is (the GT's publication
check) guards core.ground_truth, which is written only when it passes, so a table written from this digest
passed it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from pipeline.contract import Table
from pipeline.resources import COMPUTED_FROM, TABLES, WarehouseResource
from pipeline.warehouse import Warehouse

RECOMPUTE_TAG = "gtq/recompute"  # a run tagged "true" computes every step (`gtq run --recompute`, or in the UI)
Described = Callable[[Warehouse, str], dict[Table, dict[str, Any]]]
RECOMPUTED = "gtq/recomputed"  # an output's metadata: false when its rows were left as an earlier run computed them


def when_inputs_change(compute: Callable | None = None, *, described: Described | None = None):
    """Decorate a table asset's function so that it computes only when a digest of its inputs changed (above).

    The decorated function takes the `warehouse` resource beside the asset's own parameters (Dagster reads the
    signature), and always yields its outputs, named, with the digest in their metadata. `described(store,
    project)` gives the metadata of unchanged outputs that the step's own computation adds to them (the IO
    manager describes the rows of every output), by table."""
    if compute is None:
        return functools.partial(when_inputs_change, described=described)
    signature = inspect.signature(compute)
    takes_warehouse = "warehouse" in signature.parameters
    if not takes_warehouse:
        warehouse = inspect.Parameter("warehouse", inspect.Parameter.KEYWORD_ONLY, annotation=WarehouseResource)
        signature = signature.replace(parameters=[*signature.parameters.values(), warehouse])

    @functools.wraps(compute)
    def step(context: dg.AssetExecutionContext, **kwargs) -> Iterator:
        store = (kwargs["warehouse"] if takes_warehouse else kwargs.pop("warehouse")).store()
        project, asset = context.partition_key, context.assets_def
        settings = [kwargs["groundtruth"].digest(project)] if "groundtruth" in kwargs else []
        digest = store.inputs_digest(project, [TABLES[key] for key in asset.keys_by_input_name.values()], settings)
        selected = context.selected_output_names  # the checks' too
        outputs = {name: TABLES[key] for name, key in asset.keys_by_output_name.items() if name in selected}
        recompute = context.run.tags.get(RECOMPUTE_TAG) == "true"
        if not recompute and all(store.computed_from(table, project) == digest for table in outputs.values()):
            context.log.info(f"Project {project}: nothing this step reads changed since it wrote its tables")
            for spec in asset.check_specs:
                yield dg.AssetCheckResult(
                    asset_key=spec.asset_key,
                    check_name=spec.name,
                    passed=True,
                    metadata={"unchanged": "what it judges was written, having passed, from the same inputs"},
                )
            metadata = described(store, project) if described else {}
            for name, table in outputs.items():
                yield dg.Output(
                    None, name, metadata={**metadata.get(table, {}), COMPUTED_FROM: digest, RECOMPUTED: False}
                )
            return
        results = compute(context, **kwargs)
        for event in results if inspect.isgenerator(results) else [dg.Output(results, next(iter(outputs)))]:
            if isinstance(event, dg.Output):
                event = event.with_metadata({**event.metadata, COMPUTED_FROM: digest, RECOMPUTED: True})
            yield event

    step.__signature__ = signature
    return step
