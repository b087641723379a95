"""The names gtq's code shares, each defined once: control types and their families, the key columns of
the core tables, where an annotation comes from, "a submitted human annotation", the UTF-8 byte-order
mark. Pure: no Dagster, no storage; parsers, rules and metrics import from here.

Control types are the result types Label Studio writes (the control's tag in lower case); Scout and COCO
boxes are `rectanglelabels`. A family says what gtq does with a type:

- answers (one value per annotation and control, scored by `metrics.similarity.answer_similarity`):
  CHOICE_TYPES, NUMERIC_TYPES, datetime and textarea; CATEGORICAL_TYPES are the answers that are
  categories (kappa, votes, confusion matrices);
- regions (any number per annotation, matched one to one and scored by `region_similarity`): BOX_TYPES,
  SPAN_TYPES, POLYGON_TYPES, KEYPOINT_TYPES;
- regions that are read (geometry, spans, labels) but have no score of gtq's own: ELLIPSE_TYPES,
  TIME_SERIES_TYPES, and CVAT's shapes that Label Studio lacks (CVAT_SHAPE_TYPES: CVAT's quality control,
  `metrics.cvat_quality`, compares them);
- UNSCORABLE_TYPES: kept as they are (the raw value), never parsed nor scored: brushes, relations, ...
"""

from __future__ import annotations

import polars as pl

# -- Where an annotation comes from (core.annotations.origin)
HUMAN = "human"  # a person's annotation
MODEL = "model"  # a model's prediction
ORIGINS = (HUMAN, MODEL)


def submitted_human() -> pl.Expr:
    """Annotations a person submitted: origin human and not cancelled (skipped). The only candidates for GT,
    the votes of a consensus and the pairs of task agreement."""
    return (pl.col("origin") == HUMAN) & ~pl.col("was_cancelled")


# -- Key columns
TASK = ["project_id", "task_id"]
ANNOTATION = [*TASK, "annotation_id"]
REGION = [*ANNOTATION, "region_id"]  # a result item: a region, or a value sharing its region's id
ANSWER = [*ANNOTATION, "control"]  # one annotation's answer to one control
TASK_CONTROL = [*TASK, "control"]
PARTICIPANT = ["project_id", "annotator", "origin"]  # an annotator or a model version, in a project
PARTICIPANT_CONTROL = [*PARTICIPANT, "control"]
ANNOTATOR_CONTROL = ["project_id", "annotator", "control"]  # PARTICIPANT_CONTROL less origin (the annotator tells it)

# -- Control types and their families
CHOICE_TYPES = ("choices", "taxonomy")
NUMERIC_TYPES = ("rating", "number")
ANSWER_TYPES = (*CHOICE_TYPES, *NUMERIC_TYPES, "datetime", "textarea")
CATEGORICAL_TYPES = (*CHOICE_TYPES, "rating")  # answers that are categories: kappa, votes, confusion

BOX_TYPES = ("rectanglelabels", "rectangle")
SPAN_TYPES = ("labels", "hypertextlabels", "paragraphlabels")  # character offsets in text, HyperText, Paragraphs
POLYGON_TYPES = ("polygonlabels", "polygon")
KEYPOINT_TYPES = ("keypointlabels", "keypoint")
REGION_TYPES = (*BOX_TYPES, *SPAN_TYPES, *POLYGON_TYPES, *KEYPOINT_TYPES)  # the regions gtq scores
ELLIPSE_TYPES = ("ellipselabels", "ellipse")  # read (centre, radii), not scored
TIME_SERIES_TYPES = ("timeserieslabels",)  # read, not scored
CVAT_SHAPE_TYPES = ("polyline", "points", "skeleton", "cuboid")  # CVAT's shapes without a Label Studio twin
BRUSH_TYPES = ("brushlabels", "brush")

# Regions that must carry a label: a result of one of these types without one is no region (the parsers reject
# it, and the GT checks refuse a GT holding one).
LABELLED_REGION_TYPES = frozenset({"rectanglelabels", "polygonlabels", "keypointlabels", "ellipselabels", *SPAN_TYPES})
# Kept as they are (core.regions.value_json), but no gtq score applies to them (core.regions.scorable false).
UNSCORABLE_TYPES = frozenset({*BRUSH_TYPES, "relation", "videorectangle", "magicwand"})
VALUELESS_TYPES = frozenset({"relation"})  # a relation links two regions (from_id, to_id) and carries no value

# The control tags a labeling config may hold, each the result type it produces (`ingest.label_config`).
CONTROL_TYPES = (
    *ANSWER_TYPES,
    *BOX_TYPES,
    *SPAN_TYPES,
    *POLYGON_TYPES,
    *KEYPOINT_TYPES,
    *ELLIPSE_TYPES,
    *TIME_SERIES_TYPES,
    *BRUSH_TYPES,
)

# -- Files
BOM = b"\xef\xbb\xbf"  # the UTF-8 byte-order mark some tools write first; JSON and CSV parsers reject it
