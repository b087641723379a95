"""Ground truth as a step: a project's core tables, its policy and overrides and its previous GT version ->
the candidate next version, the gate before publication, and what core.ground_truth, its history and its
conflicts become. No Dagster, no warehouse: the caller publishes the version the result names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipeline.contract import GROUND_TRUTH, GROUND_TRUTH_HISTORY
from pipeline.groundtruth import Resolution, item_scoped_projects, resolve_ground_truth, versioning
from pipeline.groundtruth.checks import PROBLEMS, violations
from pipeline.groundtruth.policy import Policy
from pipeline.groundtruth.versioning import GroundTruthVersion
from pipeline.steps import Journal, Message

__all__ = [
    "CHANGES",
    "CHANGES_OF",
    "CHANGE_KINDS",
    "CONFIRMED_EMPTY",
    "GT_VERSION",
    "GT_VERSION_PATH",
    "GroundTruthStep",
    "figures",
    "next_ground_truth",
]

CHANGE_KINDS = ("set", "replaced", "unset", "edited")

# The figures of core.ground_truth (`GroundTruthStep.figures`), each by the name of its entry in the asset's
# metadata: the UI shows them and `gtq run`'s summary reads them (`cli.summary.GroundTruth`).
GT_VERSION = "gt_version"
GT_VERSION_PATH = "gt_version_path"
CHANGES = "changes"
CHANGES_OF = {kind: f"changes_{kind}" for kind in CHANGE_KINDS}  # the changes of each kind
CONFIRMED_EMPTY = "confirmed_empty"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class GroundTruthStep:
    """The project's GT after a resolution.

    Attributes
    ----------
    project : str
        The project.
    resolution : Resolution
        One GT per task under the policy, with the conflicts between candidates.
    previous : GroundTruthVersion or None
        The latest published version before the step (None: none yet).
    candidate : GroundTruthVersion or None
        The next version, when any task's GT changed (or the labeling config did); None otherwise.
    problems : pl.DataFrame
        The candidate's rows that must not be published (`groundtruth.checks.violations`; PROBLEMS columns):
        the publication gate. Empty when there is no candidate.
    history : pl.DataFrame
        core.ground_truth_history: every published version's changes, the candidate's when it is published.
    info : dict
        What the published version records of its making (run, changes, schema changes, sources); empty
        when nothing is to be published.
    messages : list of Message
        What to say once the version is published (or refused).
    """

    project: str
    resolution: Resolution
    previous: GroundTruthVersion | None
    candidate: GroundTruthVersion | None
    problems: pl.DataFrame
    history: pl.DataFrame
    info: dict[str, Any]
    messages: list[Message]

    @property
    def passed(self) -> bool:
        """Whether the publication check passes: no problem (a step without a candidate passes)."""
        return self.problems.is_empty()

    @property
    def published(self) -> GroundTruthVersion | None:
        """The version to publish: the candidate when it passes the check."""
        return self.candidate if self.candidate is not None and self.passed else None

    @property
    def current(self) -> GroundTruthVersion | None:
        """The version core.ground_truth shows: the published one, else the previous one."""
        return self.published or self.previous

    @property
    def conflicts(self) -> pl.DataFrame:
        """core.ground_truth_conflicts: tasks where candidates disagreed, and which one was chosen."""
        return self.resolution.conflicts

    @property
    def changes(self) -> pl.DataFrame:
        """The changes the published version made (none when nothing is published)."""
        return self.published.changes if self.published else GROUND_TRUTH_HISTORY.empty()

    @property
    def ground_truth(self) -> pl.DataFrame:
        """core.ground_truth: the current version's rows, each with the version (`gt_version`)."""
        if (current := self.current) is None:
            return GROUND_TRUTH.empty()
        return current.ground_truth.with_columns(gt_version=pl.lit(current.version, pl.Int64))

    def figures(self, gt_version_path: Any = None) -> dict[str, Any]:
        """The figures of core.ground_truth after the step (`figures`), where the current version is kept at
        `gt_version_path` (the asset gives a Dagster path)."""
        version = self.current.version if self.current else None
        return figures(self.ground_truth, version, self.changes, gt_version_path)


def figures(ground_truth: pl.DataFrame, version: int | None, changes: pl.DataFrame, gt_version_path: Any) -> dict:
    """The figures of core.ground_truth, its asset metadata (their names: GT_VERSION, CHANGES, ...).

    Parameters
    ----------
    ground_truth : pl.DataFrame
        core.ground_truth's rows of the project (at least `method` and `confirmed_empty`).
    version : int or None
        The current GT version (None: none published yet).
    changes : pl.DataFrame
        The changes of the version published now (core.ground_truth_history's columns; none: no rows).
    gt_version_path : any
        Where the current version is kept.

    Returns
    -------
    dict
        gt_version (-1: none), changes (the published version's, none published: 0), gt_version_path
        ("none" without a current version), changes_<kind> for each of CHANGE_KINDS, method_<method> (the
        GT rows per method that decided them) and confirmed_empty (the GT rows without any region). See
        `next_ground_truth` for an example.
    """
    counts = dict(changes.group_by("change").len().iter_rows())
    methods = dict(ground_truth.group_by("method").len().iter_rows())
    return {
        GT_VERSION: -1 if version is None else version,
        CHANGES: changes.height,
        GT_VERSION_PATH: "none" if version is None else gt_version_path,
        **{CHANGES_OF[kind]: counts.get(kind, 0) for kind in CHANGE_KINDS},
        **{f"method_{method}": n for method, n in methods.items()},
        CONFIRMED_EMPTY: int(ground_truth["confirmed_empty"].sum()),
    }


def next_ground_truth(
    project: str,
    policy: Policy,
    *,
    overrides: pl.DataFrame,
    overrides_file: tuple[str, str],
    source_files: pl.LazyFrame,
    tasks: pl.LazyFrame,
    annotations: pl.LazyFrame,
    regions: pl.LazyFrame,
    reviews: pl.LazyFrame,
    label_config: pl.LazyFrame,
    quarantine: pl.LazyFrame,
    previous: GroundTruthVersion | None,
    published_changes: list[pl.DataFrame],
    run_id: str,
    clock: Callable[[], datetime] = _utc_now,
) -> GroundTruthStep:
    """Resolve one GT per task of the project under its policy and make the project's next GT version when,
    and only when, any task's GT changed (another annotation, or what the GT annotation says); it is to be
    published when it passes the publication check.

    Parameters
    ----------
    project : str
        The project.
    policy : Policy
        The GT policy (rules per project).
    overrides : pl.DataFrame
        The override entries (`policy.load_overrides`), of every project: the project's apply.
    overrides_file : tuple of str
        The path and content hash of the overrides file, recorded with the decisions it made.
    source_files, tasks, annotations, regions, reviews, label_config, quarantine : pl.LazyFrame
        The project's core tables. Regions, the largest, stay a scan: only the GT's own are held in memory.
        Quarantined GT candidates are named in the conflicts.
    previous : GroundTruthVersion or None
        The project's latest published version.
    published_changes : list of pl.DataFrame
        The changes of every published version, oldest first (for the history).
    run_id : str
        The run, stamped on the changes.
    clock : callable, optional
        The time the new version's changes take effect; UTC now by default.

    Returns
    -------
    GroundTruthStep
        The resolution, the candidate version and its problems, the history and the messages.

    Notes
    -----
    The same input makes no new version (no candidate); a candidate with problems is not published, the
    previous version stays current and the step says so at level error. Versions count 0, 1, 2, ... per
    project.

    Examples
    --------
    One task whose annotation 10 is flagged as GT, resolved twice under the default policy:

    >>> from datetime import UTC, datetime
    >>> import polars as pl
    >>> from pipeline.contract import ANNOTATIONS, LABEL_CONFIG, QUARANTINE, REGIONS, REVIEWS, SOURCE_FILES, TASKS
    >>> from pipeline.groundtruth.policy import OVERRIDE_SCHEMA, Policy
    >>> from pipeline.steps.groundtruth import next_ground_truth
    >>> made = {"project_id": "1", "task_id": "1", "annotation_id": ["10", "11"]}
    >>> inputs = dict(
    ...     overrides=pl.DataFrame(schema=OVERRIDE_SCHEMA), overrides_file=("", ""),
    ...     source_files=SOURCE_FILES.of(project_id=["1"], format="label-studio-json"),
    ...     tasks=TASKS.of(project_id="1", task_id=["1"]),
    ...     annotations=ANNOTATIONS.of(**made, annotator=["lead", "ann"], origin="human", was_cancelled=False,
    ...                       gt_flag=[True, False]),
    ...     regions=REGIONS.of(**made, region_id=["r1", "r2"], control="label", type="choices",
    ...                   labels=[["cat"], ["dog"]]),
    ...     reviews=REVIEWS.empty().lazy(), label_config=LABEL_CONFIG.empty().lazy(),
    ...     quarantine=QUARANTINE.empty().lazy(), run_id="run-1", clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    >>> step = next_ground_truth("1", Policy(), previous=None, published_changes=[], **inputs)
    >>> step.passed, step.published.version, step.messages[0].text
    (True, 0, 'ground truth version 0 of project 1: 1 change(s)')
    >>> step.ground_truth.select("task_id", "annotation_id", "method", "gt_version").rows()
    [('1', '10', 'flag', 0)]
    >>> step.figures(gt_version_path="projects/1/ground_truth/0")
    {'gt_version': 0, 'changes': 1, 'gt_version_path': 'projects/1/ground_truth/0', 'changes_set': 1,
     'changes_replaced': 0, 'changes_unset': 0, 'changes_edited': 0, 'method_flag': 1, 'confirmed_empty': 0}
    >>> same = next_ground_truth("1", Policy(), previous=step.published, published_changes=[step.changes], **inputs)
    >>> same.candidate is None, same.current.version  # nothing changed: no new version
    (True, 0)
    """
    formats = set(source_files.select("format").collect()["format"])
    # Tasks and annotations are read once (resolution, versioning and the publication check all look at
    # them); regions, the largest table, stay a scan, so only the GT's own regions are held in memory.
    tasks, annotations = tasks.collect(), annotations.collect()
    resolution = resolve_ground_truth(
        tasks=tasks.lazy(),
        annotations=annotations.lazy(),
        regions=regions,
        reviews=reviews,
        overrides=overrides.lazy().filter(pl.col("project_id") == project),
        overrides_file=overrides_file,
        policy=policy,
        item_scoped=item_scoped_projects(policy, {project: formats}),
        rejected=quarantine.filter(pl.col("gt_candidate")),
    )
    candidate = versioning.next_version(
        previous,
        decided=resolution.decided,
        ground_truth=resolution.ground_truth,
        tasks=tasks,
        annotations=annotations,
        regions=regions,
        label_config=label_config.collect(),
        at=clock(),
        run_id=run_id,
        splits=policy.for_project(project).splits,
        split_seed=policy.for_project(project).split_seed,
        reverts=resolution.reverts,
    )
    problems = pl.DataFrame(schema=PROBLEMS)
    if candidate is not None:  # the publication check
        problems = violations(candidate.ground_truth.lazy(), annotations.lazy(), regions)
    journal, info, changes = Journal(), {}, published_changes
    if candidate is not None and problems.is_empty():
        sources = sorted(set(candidate.changes["source_file"].drop_nulls()))
        schema = versioning.schema_changes(previous.label_config, candidate.label_config) if previous else []
        info = {"run_id": run_id, "changes": candidate.changes.height, "schema_changes": schema, "sources": sources}
        changes = [*published_changes, candidate.changes]
        journal.info(f"ground truth version {candidate.version} of project {project}: {info['changes']} change(s)")
    elif candidate is not None:
        stays = previous.version if previous else "none yet"
        journal.error(
            f"ground truth of project {project} not published: {problems.height} problem(s); version stays {stays}"
        )
    return GroundTruthStep(
        project=project,
        resolution=resolution,
        previous=previous,
        candidate=candidate,
        problems=problems,
        history=versioning.history(changes),
        info=info,
        messages=journal.messages,
    )
