"""The ground-truth policy (`groundtruth/policy.yaml`) and the override file (`groundtruth/overrides.yaml`).

Both are small, reviewed, version-controlled YAML files. The policy says, per project, which rules
decide GT and in which order, who the trusted annotators are, whether consensus may decide,
whether GT belongs to the task or to the item across tasks (Scout), and how much each control weighs
in an annotation's overall score. Without a file, the defaults apply.

    default:
      rules: [override, flag, review, annotator, consensus]   # highest precedence first
      trusted_annotators: []
      consensus: {enabled: false, min_agreement: 0.66, quorum: 3, iou: 0.5}   # acts only when enabled
      scope: auto                                    # task | item | auto (item for Scout and CVAT exports)
      item_match: key                                # key | name: items are one by item_key, or by file name
      control_weights: {}                            # control -> weight in overall scores (default 1, 0 ignores)
      splits: {train: 0.8, validation: 0.1, test: 0.1}   # shares of GT tasks; a task keeps its split forever
      split_seed: gtq                                # the split is a hash of seed, project and task id
      cvat_quality: {iou_threshold: 0.4, low_overlap_threshold: 0.8, oks_sigma: 0.09, line_thickness: 0.01,
                     compare_attributes: true, empty_is_annotated: false, ...}   # CVAT's settings and defaults
    projects:
      "7": {trusted_annotators: [amara@wildlife.example], consensus: {enabled: true}, control_weights: {animals: 2}}

An override says, for one task, "this annotation is the GT" (`set`) or "this task has no GT" (`unset`),
with its author and reason; the latest override of a task wins. A `revert`, with its own author and reason,
withdraws the latest set or unset still in force, so the task's GT is again what it was before that one.
`gtq gt set/unset/revert` append to the file; no entry is ever removed, so the file is the whole record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml

from pipeline import settings
from pipeline.metrics.cvat_quality import QualitySettings
from pipeline.vocabulary import HUMAN, TASK

RULES = ("override", "flag", "review", "annotator", "consensus")
SCOPES = ("task", "item", "auto")
ITEM_MATCHES = ("key", "name")
DEFAULT_RULES = RULES
DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


class PolicyError(ValueError):
    """A policy or override file that cannot be used, naming the file and the entry."""


@dataclass(frozen=True)
class Consensus:
    enabled: bool = False
    min_agreement: float = 0.66  # share of votes the majority label needs, per control; share of boxes voted in
    quorum: int = 3  # votes a task needs; annotators who must draw matching boxes for a box to be kept
    iou: float = 0.5  # boxes of one label match when their IoU reaches this


@dataclass(frozen=True)
class ProjectPolicy:
    rules: tuple[str, ...] = DEFAULT_RULES
    trusted_annotators: tuple[str, ...] = ()
    consensus: Consensus = field(default_factory=Consensus)
    scope: str = "auto"
    item_match: str = "key"  # an item is its item_key, or ("name") the file name it ends with
    control_weights: dict[str, float] = field(default_factory=dict)
    splits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    split_seed: str = "gtq"
    cvat_quality: QualitySettings = field(default_factory=QualitySettings)  # how CVAT jobs are compared


@dataclass(frozen=True)
class Policy:
    default: ProjectPolicy = field(default_factory=ProjectPolicy)
    projects: dict[str, ProjectPolicy] = field(default_factory=dict)

    def for_project(self, project_id: str) -> ProjectPolicy:
        return self.projects.get(project_id, self.default)

    def rule_ranks(self, project_ids: list[str]) -> pl.LazyFrame:
        """project_id, rule, rank (0 = highest precedence) for the rules each project enables."""
        rows = [
            (project, rule, rank)
            for project in project_ids
            for rank, rule in enumerate(self.for_project(project).rules)
            if rule != "consensus" or self.for_project(project).consensus.enabled
        ]
        return pl.LazyFrame(rows, schema={"project_id": pl.String, "rule": pl.String, "rank": pl.Int64}, orient="row")

    def trusted(self, project_ids: list[str]) -> pl.LazyFrame:
        """project_id, annotator, preference (0 = first listed)."""
        rows = [(p, a, i) for p in project_ids for i, a in enumerate(self.for_project(p).trusted_annotators)]
        return pl.LazyFrame(
            rows, schema={"project_id": pl.String, "annotator": pl.String, "preference": pl.Int64}, orient="row"
        )

    def control_weights(self, project_ids: list[str]) -> pl.LazyFrame:
        """project_id, control, weight for the controls whose weight the policy sets."""
        rows = [
            (p, control, weight) for p in project_ids for control, weight in self.for_project(p).control_weights.items()
        ]
        return pl.LazyFrame(
            rows, schema={"project_id": pl.String, "control": pl.String, "weight": pl.Float64}, orient="row"
        )

    def consensus_settings(self, project_ids: list[str]) -> pl.LazyFrame:
        """project_id, min_agreement, quorum for the projects where consensus may decide."""
        rows = [
            (p, c.min_agreement, c.quorum, c.iou)
            for p in project_ids
            if (c := self.for_project(p).consensus).enabled and "consensus" in self.for_project(p).rules
        ]
        schema = {"project_id": pl.String, "min_agreement": pl.Float64, "quorum": pl.Int64, "iou": pl.Float64}
        return pl.LazyFrame(rows, schema=schema, orient="row")


def groundtruth_folder(configured: str | Path | None = None) -> Path:
    """The folder of `policy.yaml` and `overrides.yaml`: `configured` (`--groundtruth`, the resource's config),
    else $GTQ_GROUNDTRUTH, else ./groundtruth. Only when neither is set may the folder be missing (the default
    policy, no overrides); a configured folder that does not exist is a PolicyError naming it, since its policy
    would otherwise be replaced by the defaults without a word."""
    if configured:
        folder, setting = Path(configured), "the configured GT folder"
    elif from_environment := settings.groundtruth():
        folder, setting = Path(from_environment), settings.GROUNDTRUTH_VARIABLE
    else:
        return Path(settings.DEFAULT_GROUNDTRUTH)
    if not folder.is_dir():
        raise PolicyError(
            f"{folder}: no such folder ({setting}), so its policy.yaml and overrides.yaml cannot be read;"
            " create or mount it, or unset it for the default policy"
        )
    return folder


def load_policy(path: Path) -> Policy:
    """The policy in `path`, or the defaults when the file does not exist."""
    if not path.exists():
        return Policy()
    document = _yaml_mapping(path)
    default = _project_policy(document.get("default") or {}, ProjectPolicy(), _where(path, "default"))
    projects = {
        str(project): _project_policy(settings or {}, default, _where(path, "projects", project))
        for project, settings in (document.get("projects") or {}).items()
    }
    return Policy(default, projects)


def _where(path: Path, *keys) -> str:
    """`file:line: a.b.c`, the line where the entry at `keys` (mapping keys or list indexes) starts."""
    line = None
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                node = next(value for name, value in node.value if name.value == str(key))
            else:
                node = node.value[key]
            line = node.start_mark.line + 1
    except (yaml.YAMLError, StopIteration, IndexError, TypeError, AttributeError):
        pass
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in keys).replace(".[", "[")
    return f"{path}:{line}: {dotted}" if line else f"{path}: {dotted}"


def _yaml_mapping(path: Path) -> dict:
    """The file's YAML mapping; PolicyError naming the file when it is not YAML or not a mapping."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: not readable YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise PolicyError(f"{path}: expected a mapping at the top, found {type(document).__name__}")
    return document


def _project_policy(settings: dict, base: ProjectPolicy, where: str) -> ProjectPolicy:
    try:
        return _checked_project_policy(settings, base, where)
    except PolicyError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong shape, e.g. `consensus: 5`
        raise PolicyError(f"{where}: {exc}") from exc


def _checked_project_policy(settings: dict, base: ProjectPolicy, where: str) -> ProjectPolicy:
    unknown = set(settings) - {
        "rules",
        "trusted_annotators",
        "consensus",
        "scope",
        "item_match",
        "control_weights",
        "splits",
        "split_seed",
        "cvat_quality",
    }
    if unknown:
        raise PolicyError(f"{where}: unknown settings {sorted(unknown)}")
    rules = tuple(settings.get("rules", base.rules))
    if bad := [r for r in rules if r not in RULES]:
        raise PolicyError(f"{where}: unknown rules {bad} (known: {list(RULES)})")
    scope = settings.get("scope", base.scope)
    if scope not in SCOPES:
        raise PolicyError(f"{where}: scope must be one of {list(SCOPES)}, not {scope!r}")
    item_match = settings.get("item_match", base.item_match)
    if item_match not in ITEM_MATCHES:
        raise PolicyError(f"{where}: item_match must be one of {list(ITEM_MATCHES)}, not {item_match!r}")
    consensus = replace(base.consensus, **(settings.get("consensus") or {}))
    if not 0 < consensus.min_agreement <= 1 or consensus.quorum < 1 or not 0 < consensus.iou <= 1:
        raise PolicyError(f"{where}: consensus needs 0 < min_agreement <= 1, quorum >= 1 and 0 < iou <= 1")
    trusted = tuple(str(a) for a in settings.get("trusted_annotators", base.trusted_annotators))
    weights = {**base.control_weights, **(settings.get("control_weights") or {})}
    if bad := {c: w for c, w in weights.items() if not isinstance(w, int | float) or isinstance(w, bool) or w < 0}:
        raise PolicyError(f"{where}: control_weights must be numbers >= 0, not {bad}")
    splits = settings.get("splits", base.splits)
    shares = list(splits.values()) if isinstance(splits, dict) else []
    if (
        not shares
        or any(not isinstance(v, int | float) or isinstance(v, bool) or v < 0 for v in shares)
        or abs(sum(shares) - 1) > 1e-9
    ):
        raise PolicyError(f"{where}: splits must map split names to shares >= 0 that sum to 1, not {splits!r}")
    return ProjectPolicy(
        rules,
        trusted,
        consensus,
        scope,
        item_match,
        {str(c): float(w) for c, w in weights.items()},
        {str(k): float(v) for k, v in splits.items()},
        str(settings.get("split_seed", base.split_seed)),
        _cvat_quality(settings.get("cvat_quality") or {}, base.cvat_quality, where),
    )


def _cvat_quality(settings: dict, base: QualitySettings, where: str) -> QualitySettings:
    """CVAT's quality settings over `base`, each of the type of CVAT's default."""
    known = {f.name: type(getattr(base, f.name)) for f in fields(QualitySettings)} | {"ignored_attributes": list}
    if unknown := sorted(set(settings) - set(known)):
        raise PolicyError(f"{where}: cvat_quality: unknown settings {unknown} (known: {sorted(known)})")
    for name, value in settings.items():
        kind = known[name]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, (int, float) if kind is float else kind):
            raise PolicyError(f"{where}: cvat_quality.{name} must be a {kind.__name__}, not {value!r}")
    if "ignored_attributes" in settings:
        settings = {**settings, "ignored_attributes": tuple(settings["ignored_attributes"])}
    return replace(base, **settings)


OVERRIDE_ACTIONS = ("set", "unset", "revert")
OVERRIDE_SCHEMA = {
    "project_id": pl.String,
    "task_id": pl.String,
    "action": pl.String,
    "annotation_id": pl.String,
    "author": pl.String,
    "reason": pl.String,
    "at": pl.Datetime("us", "UTC"),
    "entry": pl.Int64,  # place in the file (0 = first): orders entries made in the same second
}


def load_overrides(path: Path) -> pl.DataFrame:
    """The override entries of `path` (none when it does not exist); PolicyError naming a bad entry, or a
    revert with no set or unset in force to withdraw."""
    if not path.exists():
        return pl.DataFrame(schema=OVERRIDE_SCHEMA)
    entries = enumerate(_yaml_mapping(path).get("overrides") or [])
    rows = [(*_checked_override(entry, _where(path, "overrides", index)), index) for index, entry in entries]
    overrides = pl.DataFrame(rows, schema=OVERRIDE_SCHEMA, orient="row")
    stray = _stacked(overrides.lazy()).filter(pl.col("depth") < 0).collect()
    if not stray.is_empty():
        revert = stray.row(0, named=True)
        raise PolicyError(
            f"{_where(path, 'overrides', revert['entry'])}: revert of task {revert['task_id']} of project"
            f" {revert['project_id']} with no set or unset in force before it to withdraw"
        )
    return overrides


def _stacked(overrides: pl.LazyFrame) -> pl.LazyFrame:
    """The entries in time order (`at`, then place in the file) with `depth`: per task, how many set or unset
    entries are in force after each entry. A set or unset adds one; a revert withdraws the latest one in force."""
    step = pl.when(pl.col("action") == "revert").then(-1).otherwise(1)
    return overrides.sort("at", "entry").with_columns(depth=step.cum_sum().over(TASK))


def overrides_in_force(overrides: pl.LazyFrame) -> pl.LazyFrame:
    """Per task, the set or unset entry in force once the reverts withdrew theirs (none when every one was).

    The entries of a task form a stack: a set or unset is pushed, a revert pops. With d the task's depth after
    its last entry, the top of the stack is the latest set or unset whose depth after it is d (d > 0): an entry
    pushed later at depth d would be the latest, and one popped later would leave the depth below d.
    """
    stacked = _stacked(overrides).with_columns(final=pl.col("depth").last().over(TASK))
    on_top = stacked.filter(
        (pl.col("action") != "revert") & (pl.col("depth") == pl.col("final")) & (pl.col("final") > 0)
    )
    return on_top.group_by(TASK).agg(pl.all().sort_by("at", "entry").last()).drop("depth", "final")


def latest_reverts(overrides: pl.LazyFrame) -> pl.LazyFrame:
    """The tasks whose latest override entry is a revert, with that entry: who withdrew an override, when and why."""
    latest = overrides.group_by(TASK).agg(pl.all().sort_by("at", "entry").last())
    return latest.filter(pl.col("action") == "revert")


def _checked_override(entry, where: str) -> tuple:
    """One override entry as a row of OVERRIDE_SCHEMA; PolicyError saying `where` and what is wrong."""
    if not isinstance(entry, dict):
        raise PolicyError(f"{where}: expected a mapping (project, task, action, ...), found {entry!r}")
    missing = [k for k in ("project", "task", "action", "author", "reason") if not entry.get(k)]
    if missing:
        raise PolicyError(f"{where}: missing {missing}")
    if entry["action"] not in OVERRIDE_ACTIONS:
        raise PolicyError(f"{where}: action must be one of {list(OVERRIDE_ACTIONS)}, not {entry['action']!r}")
    if entry["action"] == "set" and not entry.get("annotation"):
        raise PolicyError(f"{where}: 'set' needs the annotation that becomes GT")
    at = entry.get("at")
    try:
        at = (
            at
            if isinstance(at, datetime)
            else datetime.fromisoformat(str(at))
            if at
            else datetime.fromtimestamp(0, UTC)
        )
    except ValueError as exc:
        raise PolicyError(f"{where}: at: {exc}") from exc
    return (
        str(entry["project"]),
        str(entry["task"]),
        entry["action"],
        str(entry["annotation"]) if entry["action"] == "set" else None,
        str(entry["author"]),
        str(entry["reason"]),
        at if at.tzinfo else at.replace(tzinfo=UTC),
    )


def new_override(*, project: str, task: str, action: str, annotation: str | None, author: str, reason: str) -> dict:
    """An override entry stamped now; PolicyError when it is incomplete (before anything else is looked at)."""
    entry = {
        "project": project,
        "task": task,
        "action": action,
        "author": author,
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if annotation is not None:
        entry["annotation"] = annotation
    _checked_override(entry, "the new override")
    return entry


def append_override(path: Path, **fields) -> dict:
    """Add one override (`new_override`'s fields) to the file (created if needed), validated as `load_overrides`
    would."""
    entry = new_override(**fields)
    load_overrides(path)  # refuse to add to a file that is already broken, naming its bad entry
    document = _yaml_mapping(path) if path.exists() else {}
    document.setdefault("overrides", []).append(entry)
    _write_overrides(path, document)
    return entry


def _write_overrides(path: Path, document: dict) -> None:
    """Replace the file with `document`, whole, once it reads back as valid overrides."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        load_overrides(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def override_target_problem(
    tasks: pl.DataFrame, annotations: pl.DataFrame, *, task: str, annotation: str | None
) -> str | None:
    """Why an override of `task` (making `annotation` its GT, or none) cannot apply to a project with these
    tasks and annotations, in words; None when it can. The GT must be a submitted human annotation of the task."""
    if task not in set(tasks["task_id"]):
        return f"no task {task!r}"
    if annotation is None:
        return None
    found = annotations.filter((pl.col("task_id") == task) & (pl.col("annotation_id") == annotation))
    if found.is_empty():
        known = ", ".join(sorted(annotations.filter(pl.col("task_id") == task)["annotation_id"])) or "none"
        return f"task {task} has no annotation {annotation!r} (its annotations: {known})"
    row = found.row(0, named=True)
    if row["origin"] != HUMAN:
        return (
            f"annotation {annotation} of task {task} is a model's prediction ({row['annotator']}), not a person's"
            " annotation"
        )
    if row["was_cancelled"]:
        return f"annotation {annotation} of task {task} was skipped (cancelled), not submitted"
    return None


def revert_override(path: Path, *, project: str, task: str, author: str, reason: str) -> dict:
    """Withdraw the task's set or unset in force by appending a `revert` entry (who, why, when); the entries
    before it stay, so the file keeps every decision. Returns the withdrawn entry (a row of OVERRIDE_SCHEMA);
    PolicyError when the task has no override in force, or the revert is incomplete."""
    new_override(project=project, task=task, action="revert", annotation=None, author=author, reason=reason)
    in_force = overrides_in_force(load_overrides(path).lazy()).filter(
        (pl.col("project_id") == project) & (pl.col("task_id") == task)
    )
    withdrawn = in_force.collect()
    if withdrawn.is_empty():
        raise PolicyError(f"{path}: no override of task {task} of project {project} in force to revert")
    append_override(path, project=project, task=task, action="revert", annotation=None, author=author, reason=reason)
    return withdrawn.row(0, named=True)
