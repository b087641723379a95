"""The vocabulary's families fit together, and the parsers know every type the families name."""

from __future__ import annotations

import polars as pl

from pipeline import vocabulary as v
from pipeline.ingest.label_config import parse_label_config
from pipeline.ingest.label_studio import ANSWER_FIELD, LABEL_FIELDS, _Value

# What gtq does with a result type: exactly one of these.
ROLES = {
    "answer": set(v.ANSWER_TYPES),
    "scored region": set(v.REGION_TYPES),
    "region read, not scored": {*v.ELLIPSE_TYPES, *v.TIME_SERIES_TYPES},
    "kept unparsed": set(v.UNSCORABLE_TYPES),
}


def test_every_control_of_a_labeling_config_has_exactly_one_role(tmp_path):
    tags = "".join(f'<{t.capitalize()} name="c{i}" toName="x"/>' for i, t in enumerate(v.CONTROL_TYPES))
    (tmp_path / "config.xml").write_text(f"<View>{tags}</View>")
    parsed = {control.type for control in parse_label_config(tmp_path / "config.xml")}
    assert parsed == set(v.CONTROL_TYPES)
    for kind in parsed:
        roles = [role for role, types in ROLES.items() if kind in types]
        assert len(roles) == 1, (kind, roles)


def test_families_are_consistent():
    assert set(v.CATEGORICAL_TYPES) <= set(v.ANSWER_TYPES) and set(v.CHOICE_TYPES) | set(v.NUMERIC_TYPES) <= set(
        v.ANSWER_TYPES
    )
    assert set(v.REGION_TYPES) == {*v.BOX_TYPES, *v.SPAN_TYPES, *v.POLYGON_TYPES, *v.KEYPOINT_TYPES}
    assert v.VALUELESS_TYPES <= v.UNSCORABLE_TYPES
    # a labelled region is a region gtq reads, whose label the parser finds in the value field of its type's name
    assert v.LABELLED_REGION_TYPES <= set(v.REGION_TYPES) | set(v.ELLIPSE_TYPES)
    assert v.LABELLED_REGION_TYPES <= set(LABEL_FIELDS) <= set(_Value.__struct_fields__)
    # every answer type has the value field the parser requires of it
    assert set(ANSWER_FIELD) == set(v.ANSWER_TYPES) and set(ANSWER_FIELD.values()) <= set(_Value.__struct_fields__)
    assert v.ORIGINS == (v.HUMAN, v.MODEL)


def test_key_lists_extend_one_another():
    assert v.ANNOTATION[:2] == v.TASK and v.REGION[:3] == v.ANSWER[:3] == v.ANNOTATION
    assert v.PARTICIPANT_CONTROL[:3] == v.PARTICIPANT and set(v.ANNOTATOR_CONTROL) == set(v.PARTICIPANT_CONTROL) - {
        "origin"
    }


def test_submitted_human_leaves_out_predictions_and_skipped_annotations():
    annotations = pl.DataFrame(
        {"origin": [v.HUMAN, v.HUMAN, v.MODEL, v.MODEL], "was_cancelled": [False, True, False, True]}
    )
    assert annotations.with_row_index().filter(v.submitted_human())["index"].to_list() == [0]
