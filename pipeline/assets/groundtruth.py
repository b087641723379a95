"""Ground truth: core.annotations -> core.ground_truth (versioned in Delta), its history and conflicts."""


from datetime import UTC, datetime

import dagster as dg

from pipeline.assets.metadata import table_result, table_spec
from pipeline.contract import ANNOTATIONS, GROUND_TRUTH, GROUND_TRUTH_CONFLICTS, GROUND_TRUTH_HISTORY, TASKS
from pipeline.groundtruth import rules, versioning
from pipeline.resources import WarehouseResource


@dg.multi_asset(
    specs=[
        table_spec(GROUND_TRUTH, deps=[ANNOTATIONS, TASKS], extra_kinds=("delta",)),
        table_spec(GROUND_TRUTH_HISTORY, deps=[ANNOTATIONS, TASKS]),
        table_spec(GROUND_TRUTH_CONFLICTS, deps=[ANNOTATIONS]),
    ]
)
def ground_truth(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Resolve one GT per task and commit a new GT version when, and only when, any task's GT changed.

    The GT dataset lives in a Delta table (`delta/core/ground_truth`): each changing run commits one
    version, readable later with `pl.read_delta(path, version=N)`. core.ground_truth_history records
    every change (set, replaced, unset) with its run, file and validity period.
    """
    store = warehouse.store()
    annotations = store.scan(ANNOTATIONS)
    resolved = rules.resolve_by_flag(annotations).collect()
    conflicts = rules.flag_conflicts(annotations, resolved.lazy()).collect()

    previous = store.read_version(GROUND_TRUTH)
    changes = versioning.diff(previous, resolved, store.read(TASKS))
    history = store.read(GROUND_TRUTH_HISTORY)
    latest = store.delta_version(GROUND_TRUTH)
    if changes.is_empty():
        snapshot, version = previous, latest
        context.log.info(f"ground truth unchanged (version {version})")
    else:
        version = 0 if latest is None else latest + 1
        snapshot = versioning.next_snapshot(previous, resolved, changes, version)
        committed = store.commit_version(
            GROUND_TRUTH, snapshot, {"run_id": context.run_id, "changes": str(changes.height)}
        )
        if committed != version:  # another writer committed in between: our version numbers are wrong
            raise dg.Failure(f"ground truth committed as version {committed}, expected {version}")
        history = versioning.next_history(
            history, changes, version=version, at=datetime.now(UTC), run_id=context.run_id
        )
        context.log.info(f"ground truth version {version}: {changes.height} changes")

    counts = changes["change"].value_counts()
    change_counts = dict(zip(counts["change"].to_list(), counts["count"].to_list(), strict=True))
    written = store.write_many({GROUND_TRUTH: snapshot, GROUND_TRUTH_HISTORY: history, GROUND_TRUTH_CONFLICTS: conflicts})
    yield table_result(
        GROUND_TRUTH,
        written[GROUND_TRUTH],
        gt_version=-1 if version is None else version,
        changes=changes.height,
        delta_table=dg.MetadataValue.path(str(store.delta_path(GROUND_TRUTH))),
        **{f"changes_{kind}": change_counts.get(kind, 0) for kind in ("set", "replaced", "unset")},
    )
    yield table_result(GROUND_TRUTH_HISTORY, written[GROUND_TRUTH_HISTORY])
    yield table_result(GROUND_TRUTH_CONFLICTS, written[GROUND_TRUTH_CONFLICTS])
