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

`by_task=context` is for a task-local step (`steps.by_task`), each of whose outputs has rows per task, and which
takes `tasks`: the tasks to compute, on its whole inputs. `context(**inputs)` gives what a task's rows read
beyond the task (the project's controls and scales, say). When only some tasks' input rows changed (most
nights: a few percent of the tasks), the step computes those tasks alone and keeps its other rows. It does so
when the rest of what it reads (the context, its inputs without rows per task, its settings, the code) is what
it last computed from, and its tables are the ones it then wrote; otherwise it computes every task. The
fingerprints of each task's input rows are kept in the warehouse's local folder (`Warehouse.keep_task_inputs`).
Kept rows keep the `run_id` of the run that computed them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl

from pipeline.contract import Table
from pipeline.resources import COMPUTED_FROM, TABLES, WarehouseResource
from pipeline.steps.by_task import changed_tasks, kept_and_new, task_fingerprints
from pipeline.warehouse import Warehouse

RECOMPUTE_TAG = "gtq/recompute"  # a run tagged "true" computes every step (`gtq run --recompute`, or in the UI)
Described = Callable[[Warehouse, str], dict[Table, dict[str, Any]]]
Context = Callable[..., pl.LazyFrame]  # a task-local step's inputs, by name -> what a task reads beyond the task
RECOMPUTED = "gtq/recomputed"  # an output's metadata: false when its rows were left as an earlier run computed them
TASKS_COMPUTED = "gtq/tasks_computed"  # a task-local step's output metadata: the tasks it computed this time


def when_inputs_change(
    compute: Callable | None = None, *, described: Described | None = None, by_task: Context | None = None
):
    """Decorate a table asset's function so that it computes only when a digest of its inputs changed (above).

    The decorated function takes the `warehouse` resource beside the asset's own parameters (Dagster reads the
    signature), and always yields its outputs, named, with the digest in their metadata. `described(store,
    project)` gives the metadata of unchanged outputs that the step's own computation adds to them (the IO
    manager describes the rows of every output), by table. `by_task`: the step is task-local, and this gives the
    context of a task (above)."""
    if compute is None:
        return functools.partial(when_inputs_change, described=described, by_task=by_task)
    signature = inspect.signature(compute)
    if by_task is not None:  # given by this wrapper, not by Dagster
        signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "tasks"])
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
        changed = None
        if by_task is not None:
            changed = _changed_tasks(context, kwargs, by_task, store, settings, digest, recompute)
            kwargs["tasks"] = changed.tasks
        some = changed is not None and changed.tasks is not None  # some tasks: the others' rows are kept
        results = compute(context, **kwargs)
        for event in results if inspect.isgenerator(results) else [dg.Output(results, next(iter(outputs)))]:
            if isinstance(event, dg.Output):
                noted = changed.metadata if changed is not None else {}
                event = event.with_metadata({**event.metadata, COMPUTED_FROM: digest, RECOMPUTED: True, **noted})
                if some:
                    previous = store.scan_project(outputs[event.output_name], project)
                    rows = kept_and_new(previous, event.value, changed.tasks)
                    event = dg.Output(rows, event.output_name, metadata=event.metadata)
            yield event

    step.__signature__ = signature
    return step


@dataclass(frozen=True)
class _Changed:
    """What a task-local step computes this time: the `tasks` whose input rows changed, None for every task."""

    tasks: pl.DataFrame | None
    of: int  # the project's tasks with input rows

    @property
    def metadata(self) -> dict[str, Any]:
        computed = self.of if self.tasks is None else self.tasks.height
        return {TASKS_COMPUTED: dg.MetadataValue.text(f"{computed:,} of {self.of:,}")}


def _changed_tasks(
    context: dg.AssetExecutionContext,
    kwargs: dict,
    task_context: Context,
    store: Warehouse,
    settings: list[str],
    digest: str,
    recompute: bool,
) -> _Changed:
    """The tasks a task-local step computes (`by_task`), and the fingerprints it keeps of what it computes from."""
    project, asset = context.partition_key, context.assets_def
    inputs = {name: TABLES[key] for name, key in asset.keys_by_input_name.items()}
    per_task = {name for name, table in inputs.items() if "task_id" in table.columns}
    shared = task_context(**{name: kwargs[name] for name in inputs}).collect()
    shared_rows = repr(shared.sort(shared.columns, nulls_last=True).rows())
    whole = [t for name, t in inputs.items() if name not in per_task]
    project_wide = store.inputs_digest(project, whole, [*settings, shared_rows])
    now = task_fingerprints({name: kwargs[name] for name in per_task}).collect()
    outputs = [TABLES[key] for key in asset.keys_by_output_name.values()]
    kept = store.task_inputs(outputs[0], project)
    last = kept[0] if kept else {}
    same = (
        not recompute
        and last.get("project_wide") == project_wide
        and all(store.computed_from(table, project) == last.get("computed_from") for table in outputs)
    )
    store.keep_task_inputs(outputs[0], project, now, {"project_wide": project_wide, "computed_from": digest})
    changed = changed_tasks(kept[1], now) if same else None
    if changed is not None:
        context.log.info(
            f"Project {project}: {changed.height:,} of {now.height:,} task(s) changed; the others are kept"
        )
    return _Changed(changed, now.height)
