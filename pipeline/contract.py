"""The data contract: every warehouse table, its columns and their types, in one place.

Parsers build frames with these schemas, the warehouse writes them, Dagster shows them as column
schemas and `docs/contract.md` documents them. IDs are strings everywhere: Label Studio, Scout and
COCO disagree on their types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import polars as pl

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True, eq=False)  # tables are singletons: identity is equality, so they key dicts
class Table:
    schema: str
    name: str
    columns: dict[str, pl.DataType]
    description: str
    # The leading columns that name a row, where a table is large enough for it to matter: files are written
    # in their order (ties, if any, by a hash of the other columns) instead of sorting by every column.
    row_key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.row_key and tuple(self.columns)[: len(self.row_key)] != self.row_key:
            raise ValueError(f"{self.schema}.{self.name}: row_key {self.row_key} must be the leading columns")

    @property
    def key(self) -> str:
        """`schema.name`, as in DuckDB."""
        return f"{self.schema}.{self.name}"

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema(self.columns)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)

    def of(self, **columns) -> pl.LazyFrame:
        """Rows of this table holding `columns` (lists, or scalars repeated), cast to the contract's types, with
        every other column of the contract null: the small frames of examples and tests.

        >>> TASKS.of(project_id="p", task_id=["1", "2"]).select("project_id", "task_id", "item_key").collect().rows()
        [('p', '1', None), ('p', '2', None)]
        """
        given = pl.DataFrame(columns).cast({name: self.columns[name] for name in columns})
        return pl.concat([self.empty(), given], how="diagonal").lazy()

    def conform(self, frame: Frame) -> Frame:
        """Select the contract's columns in contract order and cast them to the contract's types.

        Raises ValueError naming the missing columns, so a drifting producer fails loudly.
        """
        present = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
        missing = [c for c in self.columns if c not in present]
        if missing:
            raise ValueError(f"{self.key}: frame lacks contract columns {missing}")
        return frame.select(pl.col(c).cast(t) for c, t in self.columns.items())


RUN_COLUMNS = {"gt_version": pl.Int64, "run_id": pl.String}


def quality_table(name: str, columns: dict[str, pl.DataType], description: str) -> Table:
    """A `quality.*` table: its rows also name the project's GT version they were scored against and the run
    that computed them, so every earlier run's numbers stay identifiable in the `history.*` views."""
    return Table("quality", name, columns | RUN_COLUMNS, description)


SOURCE_FILES = Table(
    "core",
    "source_files",
    {
        "source_file": pl.String,
        "content_hash": pl.String,
        "format": pl.String,
        "project_id": pl.String,
        "project_ids": pl.List(pl.String),
        "records_read": pl.Int64,
        "records_accepted": pl.Int64,
        "records_quarantined": pl.Int64,
        "tasks_unchanged": pl.Int64,
        "ingested_at": TIMESTAMP,
        "run_id": pl.String,
    },
    "One row per ingested file and project (partition), identified by the file's content hash: a file is never"
    " read twice for a project. The file's record counts are on the row of its first project.",
)

TASKS = Table(
    "core",
    "tasks",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "item_key": pl.String,
        "data_json": pl.String,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "raw_hash": pl.String,
        "source_file": pl.String,
        "content_hash": pl.String,
    },
    "One row per task; a later export of a project replaces the tasks it contains (a task whose bytes are"
    " unchanged is kept as it is, with the file that brought it).",
    row_key=("project_id", "task_id"),
)

ANNOTATIONS = Table(
    "core",
    "annotations",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "model_version": pl.String,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "lead_time_s": pl.Float64,
        "was_cancelled": pl.Boolean,
        "gt_flag": pl.Boolean,
        "score": pl.Float64,
        "last_action": pl.String,
        "source_file": pl.String,
        "content_hash": pl.String,
    },
    "Human annotations (origin 'human') and model predictions (origin 'model') side by side.",
    row_key=("project_id", "task_id", "annotation_id"),
)

REGIONS = Table(
    "core",
    "regions",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "region_id": pl.String,
        "item_index": pl.Int32,
        "control": pl.String,
        "to_name": pl.String,
        "type": pl.String,
        "labels": pl.List(pl.String),
        "x": pl.Float64,
        "y": pl.Float64,
        "width": pl.Float64,
        "height": pl.Float64,
        "rotation": pl.Float64,
        "points": pl.List(pl.List(pl.Float64)),
        "start": pl.Int64,
        "end": pl.Int64,
        "text": pl.String,
        "number": pl.Float64,
        "score": pl.Float64,
        "original_width": pl.Int64,
        "original_height": pl.Int64,
        "parent_id": pl.String,
        "coordinate_unit": pl.String,
        "scorable": pl.Boolean,
        "value_json": pl.String,
        "content_hash": pl.String,
    },
    "One row per result item of an annotation or prediction; geometry in `coordinate_unit` (Label Studio: percent).",
    row_key=("project_id", "task_id", "annotation_id", "region_id", "item_index"),
)

REVIEWS = Table(
    "core",
    "reviews",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "review_id": pl.String,
        "reviewer": pl.String,
        "accepted": pl.Boolean,
        "created_at": TIMESTAMP,
        "content_hash": pl.String,
    },
    "Review decisions on annotations (accepted or rejected), by whom and when.",
)

LABEL_CONFIG = Table(
    "core",
    "label_config",
    {
        "project_id": pl.String,
        "control": pl.String,
        "type": pl.String,
        "to_name": pl.String,
        "allowed_labels": pl.List(pl.String),
        "min_value": pl.Float64,
        "max_value": pl.Float64,
        "visible_when": pl.String,
        "when_control": pl.String,
        "when_values": pl.List(pl.String),
        "source_file": pl.String,
        "content_hash": pl.String,
    },
    "The controls of each project's labeling config (when supplied): type, target, allowed labels, numeric scale, and"
    " the condition of a conditional control (`visibleWhen`: region-selected with `whenLabelValue`, or choice-selected"
    " with `whenTagName` and `whenChoiceValue`).",
)

ANNOTATION_HISTORY = Table(
    "core",
    "annotation_history",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "action": pl.String,
        "created_by": pl.String,
        "created_at": TIMESTAMP,
        "content_hash": pl.String,
    },
    "What happened to each annotation in the labeling tool (submitted, updated, accepted, ...), by whom and when.",
)

QUARANTINE = Table(
    "core",
    "quarantine",
    {
        "project_id": pl.String,
        "source_file": pl.String,
        "content_hash": pl.String,
        "locator": pl.String,
        "reason": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "gt_candidate": pl.Boolean,
        "run_id": pl.String,
    },
    "Records that could not be read or failed a critical expectation, with the file, where in it, and why; kept with"
    " the project whose run read the file (a file's first project). An annotation set aside by validation names its"
    " task and id, and whether it was flagged as GT.",
)

GROUND_TRUTH = Table(
    "core",
    "ground_truth",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "version": pl.Int64,
        "method": pl.String,
        "verified": pl.Boolean,
        "source_task_id": pl.String,
        "item_key": pl.String,
        "confirmed_empty": pl.Boolean,
        "annotator": pl.String,
        "decided_by": pl.String,
        "decided_at": TIMESTAMP,
        "n_candidates": pl.Int64,
        "reason": pl.String,
        "source_file": pl.String,
        "content_hash": pl.String,
        "consensus_regions": pl.List(pl.Struct({"annotation_id": pl.String, "item_index": pl.Int32})),
        "split": pl.String,
        "gt_version": pl.Int64,
    },
    "Exactly one row per task that has ground truth: which annotation, how it was decided, the version that set it,"
    " its fixed split (train/validation/test by default; a task keeps its split in every version), and the project's"
    " GT version the table holds (what scores computed from it are stamped with).",
)

GROUND_TRUTH_HISTORY = Table(
    "core",
    "ground_truth_history",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "previous_annotation_id": pl.String,
        "change": pl.String,
        "version": pl.Int64,
        "valid_from": TIMESTAMP,
        "valid_to": TIMESTAMP,
        "method": pl.String,
        "decided_by": pl.String,
        "reason": pl.String,
        "run_id": pl.String,
        "source_file": pl.String,
        "content_hash": pl.String,
    },
    "Every GT change per task (set, replaced, unset) as validity periods; the open period has no valid_to.",
)

GROUND_TRUTH_CONFLICTS = Table(
    "core",
    "ground_truth_conflicts",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "chosen_annotation_id": pl.String,
        "candidate_annotation_ids": pl.List(pl.String),
        "rule": pl.String,
    },
    "Tasks a person should look at: several GT flags, consensus ties, an item decided differently in two tasks, a GT"
    " candidate that validation quarantined (the rule names the expectation it failed).",
)

ANSWERS = quality_table(
    "answers",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "updated_at": TIMESTAMP,
        "control": pl.String,
        "type": pl.String,
        "answer": pl.List(pl.String),
        "answer_key": pl.String,
        "answer_number": pl.Float64,
        "value_range": pl.Float64,
    },
    "What each submitted annotation or prediction answered per task-level control: choices, taxonomy, rating, number,"
    " datetime, textarea (empty list: nothing).",
)

ANNOTATION_SCORES = quality_table(
    "annotation_scores",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotation_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "type": pl.String,
        "score": pl.Float64,
        "weight": pl.Float64,
        "gt_annotation_id": pl.String,
        "answer_key": pl.String,
        "gt_answer_key": pl.String,
        "repaired": pl.Int64,
    },
    "Each annotation and prediction scored against the task's GT per control (every answer and region type), in [0,"
    " 1].",
)

ANNOTATOR_PERFORMANCE = quality_table(
    "annotator_performance",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "n_annotations": pl.Int64,
        "n_submitted": pl.Int64,
        "n_skipped": pl.Int64,
        "n_accepted": pl.Int64,
        "n_fixed_and_accepted": pl.Int64,
        "n_rejected": pl.Int64,
        "acceptance_score": pl.Float64,
        "lead_time_total_s": pl.Float64,
        "lead_time_mean_s": pl.Float64,
        "lead_time_median_s": pl.Float64,
        "n_scored": pl.Int64,
        "accuracy": pl.Float64,
        "cohen_kappa": pl.Float64,
        "macro_f1": pl.Float64,
        "prediction_agreement": pl.Float64,
        "annotator_agreement": pl.Float64,
    },
    "Per annotator or model version: volume, reviews, lead time, agreement with GT, the model and other annotators.",
)

MODEL_PERFORMANCE = quality_table(
    "model_performance",
    {
        "project_id": pl.String,
        "model_version": pl.String,
        "n_submitted": pl.Int64,
        "n_scored": pl.Int64,
        "accuracy": pl.Float64,
        "cohen_kappa": pl.Float64,
        "macro_f1": pl.Float64,
        "box_f1_iou_50": pl.Float64,
        "box_f1_iou_75": pl.Float64,
        "map_50_95": pl.Float64,
        "map_50": pl.Float64,
        "map_75": pl.Float64,
        "map_small": pl.Float64,
        "map_medium": pl.Float64,
        "map_large": pl.Float64,
        "mar_1": pl.Float64,
        "mar_10": pl.Float64,
        "mar_100": pl.Float64,
        "mar_small": pl.Float64,
        "mar_medium": pl.Float64,
        "mar_large": pl.Float64,
        "image_roc_auc": pl.Float64,
        "n_predictions": pl.Int64,
        "mean_confidence": pl.Float64,
        "calibration_error": pl.Float64,
    },
    "Per model version: classification and box figures against GT, and how well its confidence is calibrated.",
)

CALIBRATION_CURVE = quality_table(
    "calibration_curve",
    {
        "project_id": pl.String,
        "model_version": pl.String,
        "bin": pl.Int64,
        "n_predictions": pl.Int64,
        "mean_confidence": pl.Float64,
        "accuracy": pl.Float64,
    },
    "Per model version and confidence bin (10 equal-width bins of the classification answer's `score`): how often its"
    " answers equal the GT's. The reliability diagram behind model_performance.calibration_error.",
)

ANNOTATOR_DAILY = quality_table(
    "annotator_daily",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "day": pl.Date,
        "n_annotations": pl.Int64,
        "n_submitted": pl.Int64,
        "n_scored": pl.Int64,
        "accuracy": pl.Float64,
    },
    "The trend per annotator or model and UTC day of the last update (null: undated), in annotator_performance's units:"
    " the days add up to its totals.",
)

AGREEMENT_MATRIX = quality_table(
    "agreement_matrix",
    {
        "project_id": pl.String,
        "control": pl.String,
        "annotator_a": pl.String,
        "annotator_b": pl.String,
        "n_tasks": pl.Int64,
        "agreement": pl.Float64,
        "cohen_kappa": pl.Float64,
        "weighted_kappa_linear": pl.Float64,
        "weighted_kappa_quadratic": pl.Float64,
    },
    "Every ordered pair of participants (annotators, model versions, '(ground truth)') per categorical control and"
    " '(all)', over shared tasks.",
)

LABEL_SCORES = quality_table(
    "label_scores",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "label": pl.String,
        "support": pl.Int64,
        "predicted": pl.Int64,
        "tp": pl.Int64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
    },
    "Per annotator or model, classification control and label: precision, recall and F1 against GT (a per-region"
    " control region by region, against the GT region each is matched with).",
)

CONFUSION_MATRIX = quality_table(
    "confusion_matrix",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "gt_label": pl.String,
        "label": pl.String,
        "count": pl.Int64,
    },
    "Long confusion matrix per annotator or model and categorical or box control (a per-region control counts each"
    " region against the GT region it is matched with): '(empty)' is a blank answer, '(unmatched)' a box or region"
    " without a match.",
)

DETECTION_SCORES = quality_table(
    "detection_scores",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "matching": pl.String,
        "iou_threshold": pl.Float64,
        "n_tasks": pl.Int64,
        "tp": pl.Int64,
        "fp": pl.Int64,
        "fn": pl.Int64,
        "mismatched_label": pl.Int64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
    },
    "Boxes of each annotator and model against the GT boxes: one-to-one matches (hungarian, greedy, coco) at IoU"
    " 0.5:0.05:0.95.",
)

_AP_KEYS = {
    "project_id": pl.String,
    "annotator": pl.String,
    "origin": pl.String,
    "control": pl.String,
    "label": pl.String,
    "iou_threshold": pl.Float64,
}

AVERAGE_PRECISION = quality_table(
    "average_precision",
    {
        **_AP_KEYS,
        "area_range": pl.String,
        "n_gt": pl.Int64,
        "n_detections": pl.Int64,
        "ap": pl.Float64,
        "recall_max_1": pl.Float64,
        "recall_max_10": pl.Float64,
        "recall_max_100": pl.Float64,
    },
    "COCO average precision and recall (1, 10, 100 boxes per image and label) of each scored participant (models) per"
    " box control, label, IoU threshold and area range (all, small, medium, large), as pycocotools; null without GT"
    " boxes.",
)

REGION_CONFLICTS = quality_table(
    "region_conflicts",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "kind": pl.String,
        "annotation_id": pl.String,
        "item_index": pl.Int32,
        "label": pl.String,
        "gt_annotation_id": pl.String,
        "gt_item_index": pl.Int32,
        "gt_label": pl.String,
        "iou": pl.Float64,
        "severity": pl.String,
    },
    "The conflict list: each region of an annotator or model and each GT region (boxes, polygons, spans, keypoints)"
    " at IoU 0.5 (keypoints: object keypoint similarity 0.5; optimal matching): matched, wrong_label (the geometry"
    " matches under another label), extra (no GT match) or missing (a GT region left unmatched). The frames of CVAT"
    " jobs are compared as CVAT's quality report compares them (`metrics.cvat_quality`, the policy's"
    " `cvat_quality` settings): its valid pairs and its conflict list, warnings included (low_overlap,"
    " mismatching_attributes, mismatching_direction, mismatching_groups, covered_annotation).",
)

JOB_QUALITY = quality_table(
    "job_quality",
    {
        "project_id": pl.String,
        "scope": pl.String,
        "job_id": pl.String,
        "annotator": pl.String,
        "frame_count": pl.Int64,
        "valid_count": pl.Int64,
        "missing_count": pl.Int64,
        "extra_count": pl.Int64,
        "total_count": pl.Int64,
        "ds_count": pl.Int64,
        "gt_count": pl.Int64,
        "accuracy": pl.Float64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "mean_iou": pl.Float64,
        "conflict_count": pl.Int64,
        "error_count": pl.Int64,
        "warning_count": pl.Int64,
    },
    "CVAT's quality report (CVAT 2.32.1's, reproduced): each CVAT job's annotations against the GT on the frames"
    " with GT, per job, per annotator (their jobs' counts summed) and for the project (every job's).",
)

PRECISION_RECALL_CURVE = quality_table(
    "precision_recall_curve",
    {**_AP_KEYS, "recall": pl.Float64, "precision": pl.Float64},
    "COCO's interpolated precision at the 101 recall points 0, 0.01, ..., 1, per participant, control, label and IoU"
    " threshold.",
)

IMAGE_DETECTION_SCORES = quality_table(
    "image_detection_scores",
    {
        "project_id": pl.String,
        "annotator": pl.String,
        "origin": pl.String,
        "control": pl.String,
        "n_images": pl.Int64,
        "n_positive": pl.Int64,
        "tp": pl.Int64,
        "fp": pl.Int64,
        "fn": pl.Int64,
        "tn": pl.Int64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "roc_auc": pl.Float64,
    },
    "Scout's whole-image evaluation: images with a GT box are positive; the largest box score calls an image (>= 0.5),"
    " ROC AUC over images.",
)

TASK_AGREEMENT = quality_table(
    "task_agreement",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "n_annotations": pl.Int64,
        "agreement": pl.Float64,
        "consensus_agreement": pl.Float64,
    },
    "Label Studio's task agreement over pairs of human annotations: mean pair score (pairwise) and share of pairs >="
    " 0.5 (consensus).",
)

TASK_AGREEMENT_DISTRIBUTION = quality_table(
    "task_agreement_distribution",
    {
        "project_id": pl.String,
        "measure": pl.String,
        "n_tasks": pl.Int64,
        "mean": pl.Float64,
        "p10": pl.Float64,
        "p25": pl.Float64,
        "p50": pl.Float64,
        "p75": pl.Float64,
        "p90": pl.Float64,
        "share_below_half": pl.Float64,
    },
    "The spread of task agreement over a project's tasks: mean, quantiles and share below 0.5, per measure (pairwise,"
    " consensus).",
)

PROJECT_AGREEMENT = quality_table(
    "project_agreement",
    {
        "project_id": pl.String,
        "control": pl.String,
        "n_tasks": pl.Int64,
        "n_raters": pl.Int64,
        "n_ratings": pl.Int64,
        "percent_agreement": pl.Float64,
        "fleiss_kappa": pl.Float64,
        "fleiss_kappa_ci_low": pl.Float64,
        "fleiss_kappa_ci_high": pl.Float64,
        "fleiss_kappa_band": pl.String,
        "krippendorff_level": pl.String,
        "krippendorff_alpha": pl.Float64,
        "krippendorff_alpha_ci_low": pl.Float64,
        "krippendorff_alpha_ci_high": pl.Float64,
        "krippendorff_alpha_band": pl.String,
        "gwet_ac1": pl.Float64,
        "gwet_ac1_ci_low": pl.Float64,
        "gwet_ac1_ci_high": pl.Float64,
        **{
            f"{form}{part}": pl.Float64
            for form in ("icc_1", "icc_2", "icc_3", "icc_1k", "icc_2k", "icc_3k")
            for part in ("", "_ci_low", "_ci_high")
        },
        "icc_undefined_reason": pl.String,
        "undefined_reason": pl.String,
    },
    "Agreement per project and control: generalised Fleiss' kappa, Krippendorff's alpha, Gwet's AC1 with seeded 95%"
    " bootstrap intervals; for ratings and numbers the six intraclass correlations (Shrout & Fleiss) with their 95% F"
    " intervals.",
)

CONSENSUS_LABELS = quality_table(
    "consensus_labels",
    {
        "project_id": pl.String,
        "control": pl.String,
        "task_id": pl.String,
        "n_votes": pl.Int64,
        "majority": pl.String,
        "majority_share": pl.Float64,
        "tied": pl.Boolean,
        "dawid_skene": pl.String,
        "dawid_skene_confidence": pl.Float64,
    },
    "For tasks without GT: majority vote (ties reported, not broken) and Dawid-Skene label with its posterior.",
)

ANNOTATOR_CONFUSION = quality_table(
    "annotator_confusion",
    {
        "project_id": pl.String,
        "control": pl.String,
        "annotator": pl.String,
        "true_label": pl.String,
        "label": pl.String,
        "probability": pl.Float64,
    },
    "Dawid-Skene's estimate of each annotator's confusion matrix: P(answer | true label), per control.",
)

REVIEW_QUEUE = quality_table(
    "review_queue",
    {
        "project_id": pl.String,
        "task_id": pl.String,
        "priority": pl.Int64,
        "reason": pl.String,
        "n_annotations": pl.Int64,
        "agreement": pl.Float64,
        "model_disagreement": pl.Float64,
        "model_score": pl.Float64,
    },
    "Tasks without GT in the order a reviewer should take them: consensus ties, low agreement, model disagreement, low"
    " confidence.",
)

ALL_TABLES: tuple[Table, ...] = (
    SOURCE_FILES,
    TASKS,
    ANNOTATIONS,
    REGIONS,
    REVIEWS,
    ANNOTATION_HISTORY,
    LABEL_CONFIG,
    QUARANTINE,
    GROUND_TRUTH,
    GROUND_TRUTH_HISTORY,
    GROUND_TRUTH_CONFLICTS,
    ANSWERS,
    ANNOTATION_SCORES,
    ANNOTATOR_PERFORMANCE,
    ANNOTATOR_DAILY,
    MODEL_PERFORMANCE,
    CALIBRATION_CURVE,
    AGREEMENT_MATRIX,
    LABEL_SCORES,
    CONFUSION_MATRIX,
    DETECTION_SCORES,
    REGION_CONFLICTS,
    JOB_QUALITY,
    AVERAGE_PRECISION,
    PRECISION_RECALL_CURVE,
    IMAGE_DETECTION_SCORES,
    TASK_AGREEMENT,
    TASK_AGREEMENT_DISTRIBUTION,
    PROJECT_AGREEMENT,
    CONSENSUS_LABELS,
    ANNOTATOR_CONFUSION,
    REVIEW_QUEUE,
)

QUALITY_TABLES = tuple(t for t in ALL_TABLES if t.schema == "quality")


def markdown() -> str:
    """The tables section of docs/contract.md (`python -m pipeline.contract` prints it)."""
    from pipeline.columns import describe

    sections = []
    for table in ALL_TABLES:
        meanings = {column: describe(table.key, column).replace("|", "\\|") for column in table.columns}
        rows = "\n".join(f"| `{column}` | {dtype} | {meanings[column]} |" for column, dtype in table.columns.items())
        sections.append(
            f"### `{table.key}`\n{table.description}\n\n| column | type | meaning |\n|---|---|---|\n{rows}\n"
        )
    return "\n".join(sections)


if __name__ == "__main__":
    print(markdown(), end="")
