"""What each warehouse column means, for people: Dagster shows these as column descriptions and docs/contract.md
lists them.

A column name means the same in every table (`COLUMNS`), except where a table gives it its own meaning
(`TABLE_COLUMNS`, keyed "schema.table")."""

COLUMNS: dict[str, str] = {
    # -- identity and provenance
    "project_id": "Project the row belongs to (the run's partition); `NAME:<id>` when the export was given as"
    " NAME=PATH.",
    "project_ids": "Every project the file holds, in its namespace.",
    "task_id": "Task id as text: Label Studio's task id, Scout's `<Task ID>/<Image Filename>`, a COCO image id.",
    "annotation_id": "Annotation id as text: Label Studio's id, `prediction:<id>` for predictions,"
    " Scout `<task>/<assignee>` or `<task>/gt`, COCO `coco-gt:<image>` or `prediction:<model>:<image>`.",
    "annotator": "Who annotated: a person (Label Studio completed_by email, else id; Scout Assignee) or, for a"
    " prediction, its model version.",
    "origin": "`human` for annotations, `model` for predictions: Label Studio predictions, Scout rows with a Box"
    " Confidence, COCO results.",
    "control": "Labeling-config control the value belongs to (Label Studio `from_name`); Scout and COCO boxes use"
    " `bbox`.",
    "source_file": "Path of the export file the row came from, as given to the run.",
    "content_hash": "SHA-256 (hex) identifying the bytes of the export file the row came from and of its companion"
    " file, if any.",
    "run_id": "Dagster run that computed the row.",
    "gt_version": "The project's GT version the row was scored against (versions count 0, 1, 2, ...), taken from the GT"
    " (or the scores) the table was computed from; null when no version was published yet, and on the tables computed"
    " without the GT (answers, task and project agreement).",
    # -- core.source_files
    "format": "Export format detected from the content: label-studio-json, label-studio-json-min, label-studio-csv,"
    " scout-annotations-csv, scout-images-csv, coco-ground-truth, coco-results, or unreadable.",
    "records_read": "Records read from the file, = records_accepted + records_quarantined; 0 on the rows of projects"
    " other than its first.",
    "records_accepted": "Records of the file accepted into the core tables; 0 on the rows of projects other than its"
    " first.",
    "records_quarantined": "Records of the file sent to core.quarantine (unreadable or failing validation);"
    " 0 on the rows of projects other than its first.",
    "tasks_unchanged": "The project's tasks in the file whose bytes equal those of their current snapshot (Label"
    " Studio JSON, as in a nightly export of the whole project): not read again, their rows kept as the file"
    " that brought them left them. Their records are not in records_read.",
    "ingested_at": "When the run ingested the file, UTC.",
    # -- core.tasks
    "item_key": "The item a task is about: Label Studio's media (data.image, video, audio, pcd, url) else"
    " `<project>/<task>`; Scout's image file; COCO's file name.",
    "data_json": "The task's data as JSON: Label Studio `data` (JSON-MIN/CSV: the fields that are not controls),"
    " Scout task and image fields, COCO image.",
    "created_at": "When the annotation was created (Scout: its earliest row Timestamp), UTC; null when the export does"
    " not say.",
    "updated_at": "When the annotation was last updated (Scout: its latest row Timestamp), UTC; null when the export"
    " does not say.",
    "raw_hash": "BLAKE2b-128 (hex) of the task's bytes in its Label Studio JSON export, and of the namespace it"
    " was given: a later export holding the same bytes leaves the task as it is. Null for other formats.",
    # -- core.annotations
    "model_version": "The prediction's model version (Scout: the assignee, COCO: the results file's stem); null for"
    " people's annotations.",
    "lead_time_s": "Seconds the annotator spent on the annotation (Label Studio `lead_time`); null for predictions,"
    " Scout and COCO.",
    "was_cancelled": "True for a skipped (cancelled) annotation: never scored and never GT.",
    "gt_flag": "True when the tool marked the annotation as GT: Label Studio `ground_truth`, Scout `Is Ground Truth` or"
    " a done image, COCO ground-truth file.",
    "score": "Confidence of the result: Label Studio result `score`, Scout Box Confidence, COCO detection score;"
    " null when absent (people's results).",
    "last_action": "Label Studio's last action on the annotation (e.g. accepted, rejected, fixed_and_accepted);"
    " a verdict here outranks the reviews.",
    # -- core.regions
    "region_id": "Result id (Label Studio `id`, shared by the per-region values of a region; Scout `line<N>`; COCO box"
    " id); null when absent.",
    "item_index": "Position of the result in its annotation's result list, from 0 (Scout and COCO: box order).",
    "to_name": "Object tag the control labels (Label Studio `toName`, e.g. image, text); `image` for Scout and COCO.",
    "type": "Result type as Label Studio names it: rectanglelabels, polygonlabels, labels, choices, taxonomy, rating,"
    " textarea, ...",
    "labels": "Labels or choices of the result; taxonomy paths joined by '/'; null for types without labels.",
    "x": "Box left edge (ellipse: centre; keypoint: the point); percent of the image width for Label Studio, pixels for"
    " Scout and COCO.",
    "y": "Box top edge (ellipse: centre; keypoint: the point); percent of the image height for Label Studio, pixels for"
    " Scout and COCO.",
    "width": "Box width (ellipse: horizontal radius); percent of the image width for Label Studio, pixels for Scout and"
    " COCO.",
    "height": "Box height (ellipse: vertical radius); percent of the image height for Label Studio, pixels for Scout"
    " and COCO.",
    "rotation": "Rotation of a box or ellipse in degrees, as Label Studio exports it; null when none.",
    "points": "Polygon vertices as [x, y] pairs in percent of the image size (Label Studio); null for other types.",
    "start": "Character offset where a text span starts (hypertext: `globalOffsets`), inclusive; null for other types.",
    "end": "Character offset where a text span ends (hypertext: `globalOffsets`), exclusive; null for other types.",
    "text": "Textarea text (several lines joined by newlines) or datetime value; null for other types.",
    "number": "Value of a rating or number result; Scout: the box's Classification Confidence; null otherwise.",
    "original_width": "Width in pixels of the image the result was drawn on (Label Studio `original_width`, COCO image"
    " width); null for Scout.",
    "original_height": "Height in pixels of the image the result was drawn on (Label Studio `original_height`, COCO"
    " image height); null for Scout.",
    "parent_id": "Label Studio's `parentID` of the result, kept as exported; null for Scout and COCO.",
    "coordinate_unit": "Unit of x, y, width, height and points: `percent` of the image (Label Studio) or `pixel`"
    " (Scout, COCO).",
    "scorable": "False for results gtq keeps but does not score: brushes, relations, video rectangles, magic wand,"
    " Scout boxes excluded by a division line, COCO crowd regions.",
    "value_json": "The result's raw value as exported (Scout: the whole CSV row; COCO: bbox, category_id, iscrowd,"
    " area).",
    # -- core.reviews
    "review_id": "Label Studio's review id; null when the export gives none.",
    "reviewer": "Who reviewed: the reviewer's email, else user id.",
    "accepted": "True when the review accepted the annotation, false when it rejected it.",
    # -- core.annotation_history
    "action": "What happened to the annotation, as Label Studio records it (e.g. submitted, updated, accepted,"
    " rejected).",
    "created_by": "Who did it: the user's email, else id.",
    # -- core.label_config
    "allowed_labels": "Labels or choices the control offers (taxonomy: every path, levels joined by '/');"
    " empty when the config lists none.",
    "min_value": "Lowest value of the control's scale: 1 for a Rating, `min` for a Number; null otherwise.",
    "max_value": "Highest value of the control's scale: `maxRating` (default 5) for a Rating, `max` for a Number; null"
    " otherwise.",
    "visible_when": "The control's `visibleWhen` condition (region-selected, choice-selected); null when the control"
    " has none.",
    "when_control": "Control whose choice the condition reads (`whenTagName`); null otherwise.",
    "when_values": "Labels (`whenLabelValue`) or choices (`whenChoiceValue`) under which the control applies; empty"
    " when none is named.",
    # -- core.quarantine
    "locator": "Where the record is: JSON path with ids (`$[3].annotations[1] (task 12, annotation 40)`), CSV line,"
    " byte, `$`, or `task T, annotation A`.",
    "reason": "Why the record was set aside: the decoding error, the rule it broke, or the suite, expectation, column"
    " and value it failed.",
    "gt_candidate": "For an annotation set aside by validation: whether it was flagged as GT; null for records rejected"
    " while reading.",
    # -- core.ground_truth
    "version": "The project's GT version (0, 1, 2, ...) that set this row; a task whose GT did not change keeps its"
    " earlier version.",
    "method": "Rule that decided the GT: override, flag, review, annotator or consensus.",
    "verified": "True when a person decided the GT (override, flag, review, annotator); false for consensus.",
    "source_task_id": "Task in which the GT was decided; differs from task_id when a Scout image's GT applies to its"
    " other tasks.",
    "confirmed_empty": "True when the GT annotation has no region at all (e.g. a Scout image done with no box): a true"
    " negative.",
    "decided_by": "Who decided: the override's author, the reviewer or the trusted annotator; null for flag and"
    " consensus.",
    "decided_at": "When, UTC: the override's time, the flagged annotation's update, the review (else the update),"
    " or the annotation's creation (annotator, consensus).",
    "n_candidates": "How many annotations the deciding rule could have picked (1 for an override).",
    "consensus_regions": "For a consensus GT, the voted boxes (annotation_id, item_index) that replace its own boxes;"
    " null for other methods.",
    "split": "The task's dataset split (train/validation/test by default, 0.8/0.1/0.1 by a hash of seed, project and"
    " task); kept in every version.",
    # -- core.ground_truth_history
    "previous_annotation_id": "The task's GT annotation before this change; null for `set`.",
    "change": "What changed: set (no GT before), replaced (another annotation), unset (GT removed), edited (same"
    " annotation, new content).",
    "valid_from": "When the version making this change was published, UTC.",
    "valid_to": "When the task's next change was published, UTC; null for the change in force.",
    # -- core.ground_truth_conflicts
    "chosen_annotation_id": "The annotation the GT rules chose for the task; null for a consensus tie or when no GT was"
    " decided.",
    "candidate_annotation_ids": "Annotations in contention: the flagged ones, the task's submitted ones (tie), the"
    " item's decided ones, or the quarantined candidates.",
    "rule": "The conflict in words: several GT flags, consensus tie, item decided differently in several tasks,"
    " or a GT candidate quarantined (with the reason).",
    # -- quality.answers and quality.annotation_scores
    "answer": "Sorted chosen labels (taxonomy paths joined by '/') or the value as text (rating, number, textarea,"
    " datetime); empty when nothing was given.",
    "answer_key": "The answer as one key for comparison: its labels joined by U+001F; null when the answer is empty.",
    "answer_number": "Value of a rating or number answer; null for other types and empty answers.",
    "value_range": "Width of a rating or number control's scale: config max - min (Rating default 5 - 1 = 4), else the"
    " observed range.",
    "weight": "The control's weight in overall scores, from the policy's control_weights (default 1; 0 leaves the"
    " control out).",
    "gt_annotation_id": "The GT annotation the row was scored against.",
    "gt_answer_key": "The GT's answer key on this control (labels joined by U+001F); null for region controls and an"
    " empty GT answer.",
    "repaired": "Candidate polygon pairs whose invalid polygons were repaired (make_valid) before IoU;"
    " 0 for other region controls, null for answers.",
    # -- quality.annotator_performance, annotator_daily, model_performance
    "n_annotations": "Annotations or predictions of the participant, skipped ones included.",
    "n_submitted": "Annotations or predictions not skipped (was_cancelled false).",
    "n_skipped": "Skipped (cancelled) annotations.",
    "n_accepted": "Annotations whose review verdict is accepted (`last_action` when a verdict, else the latest"
    " review).",
    "n_fixed_and_accepted": "Annotations a reviewer fixed and accepted (`last_action`).",
    "n_rejected": "Annotations whose review verdict is rejected (`last_action` when a verdict, else the latest"
    " review).",
    "acceptance_score": "(accepted + fixed and accepted) / reviewed annotations, in [0, 1]; null when none was"
    " reviewed.",
    "lead_time_total_s": "Total lead time of submitted annotations, seconds; 0 when none has a lead time.",
    "lead_time_mean_s": "Mean lead time of submitted annotations, seconds; null when none has a lead time.",
    "lead_time_median_s": "Median lead time of submitted annotations, seconds; null when none has a lead time.",
    "n_scored": "Annotations or predictions scored against GT (submitted, on tasks with GT, the GT annotation itself"
    " excluded).",
    "accuracy": "Mean over scored annotations of their overall score against GT (control scores' weighted mean), in [0,"
    " 1]; null when none.",
    "cohen_kappa": "Cohen's kappa against GT over the categorical answers both gave (categories kept apart per"
    " control), <= 1; null when undefined.",
    "macro_f1": "Mean of the per-label F1 in quality.label_scores (box labels included), in [0, 1]; null without"
    " labels.",
    "prediction_agreement": "Share of a person's categorical answers equal to the model's on the same task and control,"
    " in [0, 1]; null for models or no overlap.",
    "annotator_agreement": "Share of a person's categorical answers equal to another person's on the same task and"
    " control, over all such pairs; null for models or none.",
    "day": "UTC date of the annotations' last update, else creation; null when the export dates neither.",
    # -- quality.model_performance
    "box_f1_iou_50": "Box F1 at IoU 0.5 with optimal (hungarian) matching, mean over box controls, in [0, 1]; null"
    " without boxes to count.",
    "box_f1_iou_75": "Box F1 at IoU 0.75 with optimal (hungarian) matching, mean over box controls, in [0, 1];"
    " null without boxes to count.",
    "map_50_95": "COCO mAP: AP averaged over labels, IoU 0.5:0.05:0.95 and box controls, area all, in [0, 1];"
    " null when no label has GT boxes.",
    "map_50": "COCO AP at IoU 0.5, mean over labels and box controls, area all, in [0, 1]; null when no label has GT"
    " boxes.",
    "map_75": "COCO AP at IoU 0.75, mean over labels and box controls, area all, in [0, 1]; null when no label has GT"
    " boxes.",
    "map_small": "COCO mAP (IoU 0.5:0.95) for small boxes (< 32^2 square pixels), in [0, 1]; null when no label has"
    " such GT boxes.",
    "map_medium": "COCO mAP (IoU 0.5:0.95) for medium boxes (32^2 to 96^2 square pixels), in [0, 1]; null when no label"
    " has such GT boxes.",
    "map_large": "COCO mAP (IoU 0.5:0.95) for large boxes (> 96^2 square pixels), in [0, 1]; null when no label has"
    " such GT boxes.",
    "mar_1": "COCO mean recall with the best box per image and label, over labels and IoU 0.5:0.95, in [0, 1]; null"
    " without GT boxes.",
    "mar_10": "COCO mean recall with the 10 best boxes per image and label, over labels and IoU 0.5:0.95, in [0, 1];"
    " null without GT boxes.",
    "mar_100": "COCO mean recall with the 100 best boxes per image and label, over labels and IoU 0.5:0.95, in [0, 1];"
    " null without GT boxes.",
    "mar_small": "COCO mean recall (100 boxes) for small boxes (< 32^2 square pixels), in [0, 1]; null when no label"
    " has such GT boxes.",
    "mar_medium": "COCO mean recall (100 boxes) for medium boxes (32^2 to 96^2 square pixels), in [0, 1];"
    " null when no label has such GT boxes.",
    "mar_large": "COCO mean recall (100 boxes) for large boxes (> 96^2 square pixels), in [0, 1]; null when no label"
    " has such GT boxes.",
    "image_roc_auc": "Whole-image ROC AUC from quality.image_detection_scores, mean over box controls, in [0, 1]; null"
    " when undefined.",
    "n_predictions": "Classification answers with a confidence scored against GT: the calibration's sample; 0 when"
    " none.",
    "mean_confidence": "Mean confidence of those answers (the result's `score`), in [0, 1]; null when none.",
    "calibration_error": "Expected calibration error over 10 equal-width bins: sum of (n_bin / n) |accuracy_bin - mean"
    " confidence_bin|, in [0, 1]; correct = equal to GT.",
    # -- quality.agreement_matrix
    "annotator_a": "First participant of the pair: an annotator, a model version or '(ground truth)'.",
    "annotator_b": "Second participant of the pair: an annotator, a model version or '(ground truth)'.",
    "n_tasks": "Tasks with a value of the measure (two or more submitted human annotations).",
    "agreement": "Mean overall score over the task's pairs of human annotations (Label Studio's pairwise), in [0, 1];"
    " null with fewer than two annotations.",
    "weighted_kappa_linear": "Cohen's kappa with linear weights |i - j| on the rating scale;"
    " rating controls only, null otherwise or when undefined.",
    "weighted_kappa_quadratic": "Cohen's kappa with quadratic weights (i - j)^2 on the rating scale;"
    " rating controls only, null otherwise or when undefined.",
    # -- quality.label_scores, confusion_matrix
    "label": "A categorical answer key (labels joined by U+001F; '(empty)' a blank answer or a matched region without a"
    " value) or a box label.",
    "support": "How often the GT gave the label (true positives + false negatives).",
    "predicted": "How often the participant gave the label (true positives + false positives).",
    "tp": "True positives: the participant gave the label where the GT did.",
    "precision": "tp / (tp + fp), in [0, 1]; null when nothing was predicted.",
    "recall": "tp / (tp + fn), in [0, 1]; null when the GT has nothing to find.",
    "f1": "2 tp / (2 tp + fp + fn), in [0, 1]; 0 for a GT label never predicted, null when nothing to count.",
    "gt_label": "The GT's answer key or box label; '(empty)' is a blank answer, '(unmatched)' an extra box or region of"
    " the participant (no GT region matched with it).",
    "count": "Answers (one per annotation and control), regions (per-region controls: one per region) or boxes in this"
    " cell of the confusion matrix.",
    # -- quality.detection_scores, average_precision, precision_recall_curve
    "matching": "Box matching rule: hungarian (optimal assignment, the figure other tables use), greedy (largest IoU"
    " first, Scout), coco (score order).",
    "iou_threshold": "Smallest IoU for two boxes to match: 0.5, 0.55, ..., 0.95 (pycocotools' grid).",
    "fp": "False positives: the participant's boxes left unmatched (mismatched labels not included).",
    "fn": "False negatives: GT boxes left unmatched (mismatched labels not included).",
    "mismatched_label": "Boxes matched by geometry under another label (CVAT's mismatched label);"
    " counted as fp and fn in precision, recall and F1.",
    "area_range": "COCO area range of the boxes counted: all, small (< 32^2 square pixels), medium (32^2 to 96^2),"
    " large (> 96^2).",
    "n_gt": "Regular (non-crowd) GT boxes of the label in the area range on the tasks the participant is evaluated on.",
    "n_detections": "The participant's boxes counted at this threshold and area range: best 100 per image and label,"
    " ignored ones left out.",
    "ap": "COCO average precision: mean interpolated precision at 101 recall points, in [0, 1];"
    " 0 with GT boxes but no detection, null without GT boxes.",
    "recall_max_1": "Recall with the best-scored box per image and label, in [0, 1]; null without GT boxes.",
    "recall_max_10": "Recall with the 10 best-scored boxes per image and label, in [0, 1]; null without GT boxes.",
    "recall_max_100": "Recall with the 100 best-scored boxes per image and label, in [0, 1]; null without GT boxes.",
    # -- quality.image_detection_scores
    "n_images": "Images (tasks with GT) the participant is evaluated on.",
    "n_positive": "Of those, images whose GT has at least one box on the control.",
    "tn": "True negatives: images without a GT box that the participant did not call positive.",
    "roc_auc": "ROC AUC of the image scores, positive against negative images (Mann-Whitney, ties half), in [0, 1];"
    " null when all images are one class.",
    # -- quality.task_agreement, task_agreement_distribution
    "consensus_agreement": "Share of the task's annotation pairs whose overall score is >= 0.5 (Label Studio's"
    " consensus), in [0, 1]; null with fewer than two annotations.",
    "measure": "Which task agreement: `agreement` (pairwise mean) or `consensus_agreement` (share of pairs >= 0.5).",
    "mean": "Mean of the measure over the tasks, in [0, 1].",
    "p10": "10th percentile of the measure over the tasks (linear interpolation).",
    "p25": "25th percentile of the measure over the tasks (linear interpolation).",
    "p50": "Median of the measure over the tasks (linear interpolation).",
    "p75": "75th percentile of the measure over the tasks (linear interpolation).",
    "p90": "90th percentile of the measure over the tasks (linear interpolation).",
    "share_below_half": "Share of the tasks whose measure is below 0.5, in [0, 1].",
    # -- quality.project_agreement
    "n_raters": "Human annotators who answered the control.",
    "n_ratings": "Non-empty human answers counted (the latest per annotator and task).",
    "percent_agreement": "Mean over tasks with two or more ratings of the share of agreeing rating pairs (Fleiss'"
    " P_bar), in [0, 1]; categorical controls only.",
    "fleiss_kappa": "Fleiss' kappa generalised to a varying number of ratings per task, <= 1;"
    " categorical controls only, null when undefined.",
    "fleiss_kappa_ci_low": "Lower end of Fleiss' kappa's 95% bootstrap interval (1,000 seeded task resamples);"
    " null when under half define it.",
    "fleiss_kappa_ci_high": "Upper end of Fleiss' kappa's 95% bootstrap interval (1,000 seeded task resamples);"
    " null when under half define it.",
    "fleiss_kappa_band": "Landis & Koch band of Fleiss' kappa: Poor, Slight, Fair, Moderate, Substantial, Almost"
    " Perfect; null without kappa.",
    "krippendorff_level": "Level of measurement alpha uses: nominal (choices, taxonomy), ordinal (rating) or interval"
    " (number).",
    "krippendorff_alpha": "Krippendorff's alpha at the control's level, <= 1; null when no task has two ratings or all"
    " ratings are equal.",
    "krippendorff_alpha_ci_low": "Lower end of alpha's 95% bootstrap interval (1,000 seeded task resamples);"
    " null when under half define it.",
    "krippendorff_alpha_ci_high": "Upper end of alpha's 95% bootstrap interval (1,000 seeded task resamples);"
    " null when under half define it.",
    "krippendorff_alpha_band": "Krippendorff's reading of alpha: reliable (>= 0.8), tentative (>= 0.667) or unreliable;"
    " null without alpha.",
    "gwet_ac1": "Gwet's AC1, <= 1, stable when one category dominates; categorical controls only, null when undefined.",
    "gwet_ac1_ci_low": "Lower end of AC1's 95% bootstrap interval (1,000 seeded task resamples); null when under half"
    " define it.",
    "gwet_ac1_ci_high": "Upper end of AC1's 95% bootstrap interval (1,000 seeded task resamples); null when under half"
    " define it.",
    "icc_1": "ICC(1,1): one-way random effects, single rating (Shrout & Fleiss); rating and number controls, null"
    " otherwise or undefined.",
    "icc_1_ci_low": "Lower end of ICC(1,1)'s 95% F-distribution interval; null when undefined.",
    "icc_1_ci_high": "Upper end of ICC(1,1)'s 95% F-distribution interval; null when undefined.",
    "icc_2": "ICC(2,1): two-way random effects, absolute agreement, single rating; null unless every annotator rated"
    " every task.",
    "icc_2_ci_low": "Lower end of ICC(2,1)'s 95% interval (McGraw & Wong); null when undefined.",
    "icc_2_ci_high": "Upper end of ICC(2,1)'s 95% interval (McGraw & Wong); null when undefined.",
    "icc_3": "ICC(3,1): two-way mixed effects, consistency, single rating; null unless every annotator rated every"
    " task.",
    "icc_3_ci_low": "Lower end of ICC(3,1)'s 95% F-distribution interval; null when undefined.",
    "icc_3_ci_high": "Upper end of ICC(3,1)'s 95% F-distribution interval; null when undefined.",
    "icc_1k": "ICC(1,k): one-way random effects, mean of k ratings (k0 when the number varies); rating and number"
    " controls only.",
    "icc_1k_ci_low": "Lower end of ICC(1,k)'s 95% F-distribution interval; null when undefined.",
    "icc_1k_ci_high": "Upper end of ICC(1,k)'s 95% F-distribution interval; null when undefined.",
    "icc_2k": "ICC(2,k): two-way random effects, absolute agreement, mean of k ratings; null unless every annotator"
    " rated every task.",
    "icc_2k_ci_low": "Lower end of ICC(2,k)'s 95% interval (McGraw & Wong); null when undefined.",
    "icc_2k_ci_high": "Upper end of ICC(2,k)'s 95% interval (McGraw & Wong); null when undefined.",
    "icc_3k": "ICC(3,k): two-way mixed effects, consistency, mean of k ratings; null unless every annotator rated every"
    " task.",
    "icc_3k_ci_low": "Lower end of ICC(3,k)'s 95% F-distribution interval; null when undefined.",
    "icc_3k_ci_high": "Upper end of ICC(3,k)'s 95% F-distribution interval; null when undefined.",
    "icc_undefined_reason": "Why ICCs are null: fewer than two tasks with two ratings, no variance,"
    " or raters differ between tasks (ICC 2, 3); else null.",
    "undefined_reason": "Why kappa, AC1 or alpha is null: no task has two ratings, every rating has one label,"
    " or a number control (alpha only).",
    # -- quality.consensus_labels, annotator_confusion
    "n_votes": "Non-empty human answers to the task's control (the latest per annotator).",
    "majority": "Most frequent answer key (labels joined by U+001F); null on a tie.",
    "majority_share": "Votes for the most frequent answer / n_votes, in (0, 1].",
    "tied": "True when two or more answers share the most votes (the tie is reported, never broken).",
    "dawid_skene": "Most probable answer key under Dawid-Skene, learnt from every task of the control.",
    "dawid_skene_confidence": "Dawid-Skene's posterior probability of that answer, in [0, 1].",
    "true_label": "The true answer key (a Dawid-Skene class).",
    "probability": "Estimated probability that the annotator answers `label` when the truth is `true_label`, in [0,"
    " 1].",
    # -- quality.review_queue
    "priority": "Position in the project's review queue, 1 first.",
    "model_disagreement": "Share of categorical controls where the model's latest answer differs from the people's"
    " untied majority, in [0, 1]; null without both.",
    "model_score": "Lowest overall confidence (core.annotations.score) among the task's predictions; null without one.",
}

TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "core.source_files": {
        "source_file": "Path of the ingested export file, as given to the run; its companion file is read and hashed"
        " with it.",
        "content_hash": "SHA-256 (hex) identifying the bytes of the file and its companion;"
        " the same bytes are never ingested twice for a project.",
        "project_id": "Project whose run ingested the file (one row per file and project).",
        "run_id": "Dagster run that ingested the file.",
    },
    "core.tasks": {
        "created_at": "When the task was created (Label Studio's `created_at`), UTC; null for JSON-MIN, CSV, Scout and"
        " COCO.",
        "updated_at": "Task's last update, else its latest annotation's (Scout: latest box Timestamp), UTC;"
        " the newest snapshot of a task wins.",
    },
    "core.annotations": {
        "annotator": "Who annotated: Label Studio completed_by email, else id, else last_created_by/updated_by; Scout"
        " Assignee; a prediction's model version.",
        "score": "A prediction's overall confidence: Label Studio's prediction score, Scout's mean Box Confidence,"
        " COCO's highest detection score; null for people.",
    },
    "core.regions": {
        "control": "Control of the result (Label Studio `from_name`; a relation, which names none, its type);"
        " Scout and COCO boxes: `bbox`.",
    },
    "core.reviews": {
        "created_at": "When the review was made, UTC.",
    },
    "core.annotation_history": {
        "created_at": "When the action happened, UTC.",
    },
    "core.label_config": {
        "control": "The control's name in the labeling config (its `name`).",
        "type": "Result type the control's tag produces (choices, taxonomy, rectanglelabels, rating, number, textarea,"
        " ...).",
        "to_name": "Object tag the control labels (`toName`).",
        "source_file": "Path of the export the labeling config came with (the config beside it: `<stem>.xml` or"
        " label_config.xml).",
    },
    "core.quarantine": {
        "project_id": "Project whose run read the file (a file's first project).",
        "source_file": "Path of the file the record was read from, as given to the run.",
        "task_id": "Task of an annotation set aside by validation; null for records rejected while reading (see"
        " locator).",
        "annotation_id": "Annotation set aside by validation; null for records rejected while reading (see locator).",
        "run_id": "Dagster run that read the record.",
    },
    "core.ground_truth": {
        "task_id": "Task the GT applies to; a Scout image's GT gives a row to every task holding the image.",
        "annotation_id": "The annotation that is the task's GT (it lives in source_task_id).",
        "annotator": "Who made the GT annotation (`scout-ground-truth` for a Scout image done with no box,"
        " `coco-ground-truth` for COCO).",
        "reason": "Why, in words: override `set: <reason>`, review `accepted` or `fixed and accepted`, `trusted"
        " annotator <name>`, `majority vote, agreement <a>`; null for flag.",
        "source_file": "Export file of the GT annotation, or the overrides file for method override.",
        "content_hash": "SHA-256 (hex) of the export of the GT annotation, or of the overrides file for method"
        " override.",
        "gt_version": "The project's GT version this table holds, the same on every row (`version` is the one that set"
        " the row); the quality tables computed from it carry it too.",
    },
    "core.ground_truth_history": {
        "annotation_id": "The task's GT annotation from this change on; null for `unset`.",
        "version": "The project's GT version (0, 1, 2, ...) that made this change.",
        "method": "Rule behind the change; for a GT lost without a decision, the rule under which the task had it.",
        "decided_by": "Who decided (override author, reviewer, trusted annotator);"
        " null for flag, consensus and a GT lost without a decision.",
        "reason": "Why, in words, as in core.ground_truth.reason; null for flag and a GT lost without a decision.",
        "run_id": "Dagster run that published the version making this change.",
        "source_file": "Export file of the deciding annotation, the overrides file, or, for a GT lost without a"
        " decision, the task's current export.",
        "content_hash": "SHA-256 (hex) of source_file (with its companion file).",
    },
    "quality.answers": {
        "annotation_id": "The submitted annotation or prediction that answered.",
        "updated_at": "The annotation's last update, UTC; agreement statistics count each annotator's latest answer.",
        "control": "Task-level answer control (choices, taxonomy, rating, number, datetime, textarea).",
        "type": "The control's type: choices, taxonomy, rating, number, datetime or textarea.",
    },
    "quality.annotation_scores": {
        "annotation_id": "The annotation or prediction scored (submitted, on a task with GT; never the GT annotation"
        " itself).",
        "type": "Type of the control, which decides the similarity: an answer type, a region type, or the type of a"
        " per-region value.",
        "score": "Similarity to the GT on this control, in [0, 1]; both empty = 1,"
        " one empty = 0 (definitions per type in docs/contract.md).",
        "answer_key": "The annotation's answer key (labels joined by U+001F); null for region controls and an empty"
        " answer.",
    },
    "quality.annotator_daily": {
        "n_annotations": "Annotations or predictions of the participant dated that day, skipped ones included.",
        "n_submitted": "Of those, the ones not skipped.",
        "n_scored": "Of those, the ones scored against GT.",
        "accuracy": "Mean overall score against GT of that day's scored annotations, in [0, 1]; null when none.",
    },
    "quality.region_conflicts": {
        "kind": "What became of the region: matched, wrong_label (geometry matches under another label), extra (no GT"
        " match), missing (a GT region the participant left unmatched); on CVAT jobs' frames also CVAT's warnings:"
        " low_overlap (a pair below the low-overlap threshold), mismatching_attributes, mismatching_direction (a"
        " polyline drawn the other way), mismatching_groups, covered_annotation (a shape hidden by the ones above it).",
        "annotation_id": "The participant's annotation or prediction on the task (for missing: the one that left the GT"
        " region unmatched).",
        "item_index": "The participant's region: its position in the annotation's result list; null for missing.",
        "label": "The participant's region label; null for missing.",
        "gt_annotation_id": "The GT annotation the GT region belongs to; null for extra.",
        "gt_item_index": "The GT region: its position in the GT annotation's result list; null for extra.",
        "gt_label": "The GT region's label; null for extra.",
        "iou": "IoU of the matched or wrong_label pair (boxes, polygons, spans; for keypoints the object keypoint"
        " similarity), in [0.5, 1]; null for extra and missing. On CVAT jobs' frames CVAT's similarity of the pair"
        " (IoU, OKS or line similarity, from its iou_threshold, 0.4 by default); null for tags.",
        "severity": "CVAT's severity of a conflict on a CVAT job's frame: error (missing, extra, wrong_label) or"
        " warning; null for matched pairs and for the frames gtq compares itself.",
    },
    "quality.job_quality": {
        "scope": "What the row sums: a job (`job`), an annotator's jobs (`annotator`) or the project's (`project`).",
        "job_id": "The CVAT job; null for annotator and project rows.",
        "annotator": "The job's annotator (cvat.yaml, else its assignee, else cvat-job-<id>); null on the project row.",
        "frame_count": "Frames with GT compared.",
        "valid_count": "Pairs of a shape and a GT shape matched under the same label (CVAT's valid_count).",
        "missing_count": "GT shapes left unmatched.",
        "extra_count": "Shapes of the job left unmatched.",
        "total_count": "Pairs, mismatched pairs and unmatched shapes of both sides (CVAT's total_count).",
        "ds_count": "The job's shapes compared (CVAT's ds_count).",
        "gt_count": "The GT shapes compared (CVAT's gt_count).",
        "accuracy": "valid_count / total_count (0 when 0/0, as CVAT).",
        "precision": "valid_count / ds_count (0 when 0/0, as CVAT).",
        "recall": "valid_count / gt_count (0 when 0/0, as CVAT).",
        "mean_iou": "CVAT's shape mean IoU, the mean over the frames; null for annotator and project rows (CVAT's"
        " task figure is its first job's).",
        "conflict_count": "Conflicts listed (quality.region_conflicts rows other than matched).",
        "error_count": "Of those, errors: missing, extra, wrong_label.",
        "warning_count": "Of those, warnings.",
    },
    "quality.calibration_curve": {
        "bin": "Confidence bin: 0 holds confidences in [0, 0.1), ..., 9 holds [0.9, 1] (10 equal-width bins).",
        "n_predictions": "The model's classification answers in the bin, scored against GT.",
        "mean_confidence": "Mean confidence (the result's `score`) of the bin's answers, in [0, 1].",
        "accuracy": "Share of the bin's answers equal to the GT's answer, in [0, 1].",
    },
    "quality.model_performance": {
        "model_version": "The model version (the annotator of its predictions).",
        "n_submitted": "Predictions of this model version.",
        "n_scored": "Predictions scored against GT (on tasks with GT, on the controls the model predicts).",
        "accuracy": "Mean over scored predictions of their overall score against GT, in [0, 1]; null when none.",
    },
    "quality.agreement_matrix": {
        "control": "Categorical control (choices, taxonomy, rating), or `(all)` pooling them with categories kept apart"
        " per control.",
        "n_tasks": "Tasks both participants answered on the control (for `(all)`: task and control pairs).",
        "agreement": "Share of those tasks with identical answers (observed agreement p_o), in [0, 1].",
        "cohen_kappa": "Cohen's kappa of the pair, (p_o - p_e) / (1 - p_e), <= 1; null when chance agreement is 1.",
    },
    "quality.label_scores": {
        "control": "Categorical (choices, taxonomy, rating; task-level or per region) or box control.",
    },
    "quality.confusion_matrix": {
        "control": "Categorical (choices, taxonomy, rating; task-level or per region) or box control.",
        "label": "The participant's answer key or box label; '(empty)' is a blank answer, '(unmatched)' a GT box or"
        " region it missed.",
    },
    "quality.detection_scores": {
        "control": "Box control.",
        "n_tasks": "Tasks with GT the participant annotated (over all box controls).",
        "tp": "True positives: the participant's boxes matched to a GT box of the same label.",
        "precision": "tp / the participant's boxes (mismatched labels count against it), in [0, 1]; null without"
        " boxes.",
        "recall": "tp / GT boxes (mismatched labels count against it), in [0, 1]; null without GT boxes.",
        "f1": "2 tp / (2 tp + fp + fn), mismatched labels counted on both sides, in [0, 1]; null when there is nothing"
        " to count.",
    },
    "quality.average_precision": {
        "annotator": "The participant whose boxes carry a score: a model version.",
        "control": "Box control.",
        "label": "Box label (the region's first label; empty text for an unlabelled box).",
    },
    "quality.precision_recall_curve": {
        "annotator": "The participant whose boxes carry a score: a model version.",
        "control": "Box control.",
        "label": "Box label (the region's first label; empty text for an unlabelled box).",
        "recall": "Recall point: 0, 0.01, ..., 1.",
        "precision": "COCO's interpolated precision at that recall (best precision at any recall >= it), in [0, 1]; 0"
        " when never reached.",
    },
    "quality.image_detection_scores": {
        "annotator": "The participant: an annotator, a model version, or '(whole-image classifier)' (Scout's WIC"
        " Confidence).",
        "control": "Box control.",
        "tp": "True positives: positive images the participant called positive (largest box score >= 0.5; a person's"
        " box counts 1).",
        "fp": "False positives: images without a GT box that the participant called positive.",
        "fn": "False negatives: positive images the participant did not call positive.",
        "precision": "tp / (tp + fp) over images, in [0, 1]; null when no image was called positive.",
        "recall": "tp / (tp + fn) over images, in [0, 1]; null without positive images.",
    },
    "quality.task_agreement": {
        "n_annotations": "Submitted human annotations of the task.",
    },
    "quality.project_agreement": {
        "control": "Choices, taxonomy, rating or number control.",
        "n_tasks": "Tasks with two or more human ratings on the control.",
    },
    "quality.consensus_labels": {
        "control": "Categorical control (choices, taxonomy, rating).",
        "task_id": "A task without GT with at least one human answer on the control.",
    },
    "quality.annotator_confusion": {
        "control": "Categorical control (choices, taxonomy, rating).",
        "annotator": "The human annotator whose confusion matrix this is.",
        "label": "The answer key the annotator gives (labels joined by U+001F).",
    },
    "quality.review_queue": {
        "task_id": "A task with a submitted human annotation and no GT.",
        "reason": "The first that applies, which sets the order: consensus tie, annotators disagree, model disagrees"
        " with annotators, low model confidence, not reviewed yet.",
        "n_annotations": "Submitted human annotations of the task.",
        "agreement": "The task's agreement (quality.task_agreement), in [0, 1]; null with fewer than two annotations.",
    },
}


def describe(table_key: str, column: str) -> str:
    """The description of `column` in table `table_key` (schema.table)."""
    return TABLE_COLUMNS.get(table_key, {}).get(column) or COLUMNS[column]
