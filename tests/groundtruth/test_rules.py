"""Each GT rule alone, the precedence between them, Scout item semantics and versioning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import REGIONS
from pipeline.groundtruth import resolve_ground_truth, rules, versioning
from pipeline.groundtruth.policy import (
    Consensus,
    Policy,
    PolicyError,
    ProjectPolicy,
    append_override,
    load_overrides,
    load_policy,
    revert_override,
)
from tests.conftest import ls_annotation, ls_task, parse, write_export

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def export(tmp_path, tasks, name="export.json"):
    return parse(write_export(tmp_path / name, tasks), tmp_path)


def resolve(exp, policy=Policy(), overrides=None, item_scoped=()):
    return resolve_ground_truth(
        tasks=exp.tasks.lazy(),
        annotations=exp.annotations.lazy(),
        regions=exp.regions.lazy(),
        reviews=exp.reviews.lazy(),
        overrides=(overrides if overrides is not None else load_overrides(Path("/nonexistent"))).lazy(),
        overrides_file=("overrides.yaml", "hash"),
        policy=policy,
        item_scoped=list(item_scoped),
    )


def gt_of(resolution) -> dict[str, tuple[str, str]]:
    return {r["task_id"]: (r["annotation_id"], r["method"]) for r in resolution.ground_truth.iter_rows(named=True)}


def reviewed(annotation_id, last_action, **kw):
    annotation = ls_annotation(annotation_id, **kw)
    annotation["last_action"] = last_action
    return annotation


# --- each rule alone ---------------------------------------------------------------------------


def test_flag_latest_updated_wins_and_the_conflict_is_recorded(tmp_path):
    exp = export(
        tmp_path,
        [
            ls_task(
                1,
                [
                    ls_annotation(10, ground_truth=True, updated_at="2026-01-02T00:00:00Z"),
                    ls_annotation(9, ground_truth=True, updated_at="2026-01-03T00:00:00Z"),
                    ls_annotation(11, ground_truth=True, updated_at="2026-01-01T00:00:00Z"),
                ],
            )
        ],
    )
    resolution = resolve(exp)
    assert gt_of(resolution) == {"1": ("9", "flag")}
    conflict = resolution.conflicts.row(0, named=True)
    assert (conflict["chosen_annotation_id"], conflict["candidate_annotation_ids"]) == ("9", ["11", "10", "9"])


def test_flag_ties_go_to_the_larger_numeric_id(tmp_path):
    exp = export(tmp_path, [ls_task(1, [ls_annotation(10, ground_truth=True), ls_annotation(9, ground_truth=True)])])
    assert gt_of(resolve(exp)) == {"1": ("10", "flag")}


def test_predictions_and_cancelled_annotations_are_never_gt(tmp_path):
    prediction = {"id": 5, "model_version": "m", "score": 0.9, "result": [], "ground_truth": True}
    exp = export(
        tmp_path, [ls_task(1, [ls_annotation(1, ground_truth=True, cancelled=True)], predictions=[prediction])]
    )
    assert gt_of(resolve(exp, Policy(ProjectPolicy(trusted_annotators=("1",))))) == {}


def test_review_fix_and_accept_beats_accept_and_rejected_is_never_gt(tmp_path):
    exp = export(
        tmp_path,
        [
            ls_task(1, [reviewed(1, "accepted", updated_at="2026-01-05T00:00:00Z"), reviewed(2, "fixed_and_accepted")]),
            ls_task(2, [reviewed(3, "rejected")]),
        ],
    )
    resolution = resolve(exp)
    assert gt_of(resolution) == {"1": ("2", "review")}
    assert resolution.ground_truth.row(0, named=True)["reason"] == "fixed and accepted"


def test_review_from_the_reviews_list(tmp_path):
    annotation = ls_annotation(1)
    annotation["reviews"] = [
        {
            "id": 7,
            "created_by": {"id": 3, "email": "lead@example.org"},
            "accepted": True,
            "created_at": "2026-01-04T00:00:00Z",
        }
    ]
    resolution = resolve(export(tmp_path, [ls_task(1, [annotation, ls_annotation(2)])]))
    row = resolution.ground_truth.row(0, named=True)
    assert (row["annotation_id"], row["method"], row["decided_by"]) == ("1", "review", "lead@example.org")


def test_trusted_annotator_first_listed_then_earliest(tmp_path):
    a = ls_annotation(1, user="bea@example.org")
    b = ls_annotation(2, user="al@example.org")
    c = ls_annotation(3, user="al@example.org")
    c["created_at"] = "2026-01-01T08:00:00Z"  # earlier than b
    policy = Policy(ProjectPolicy(trusted_annotators=("al@example.org", "bea@example.org")))
    resolution = resolve(
        export(tmp_path, [ls_task(1, [a, b, c]), ls_task(2, [ls_annotation(4, user="bea@example.org")])]), policy
    )
    assert gt_of(resolution) == {"1": ("3", "annotator"), "2": ("4", "annotator")}


def test_consensus_is_off_by_default_then_majority_with_threshold_and_ties(tmp_path):
    tasks = [
        ls_task(1, [ls_annotation(1, choice="cat"), ls_annotation(2, choice="cat"), ls_annotation(3, choice="dog")]),
        ls_task(2, [ls_annotation(4, choice="cat"), ls_annotation(5, choice="dog")]),  # a tie
        ls_task(
            3,
            [
                ls_annotation(i, choice=c)
                for i, c in zip(range(6, 11), ["cat", "cat", "dog", "bird", "fish"], strict=True)
            ],
        ),  # 2/5 < 0.6
    ]
    exp = export(tmp_path, tasks)
    assert gt_of(resolve(exp)) == {}
    policy = Policy(ProjectPolicy(consensus=Consensus(enabled=True, min_agreement=0.6, quorum=2)))
    resolution = resolve(exp, policy)
    assert gt_of(resolution) == {"1": ("1", "consensus")}
    gt = resolution.ground_truth.row(0, named=True)
    assert not gt["verified"] and gt["reason"] == "majority vote, agreement 0.667"
    ties = resolution.conflicts.filter(pl.col("rule").str.starts_with("consensus tie"))
    assert ties["task_id"].to_list() == ["2"] and ties["chosen_annotation_id"].to_list() == [None]


def test_override_set_and_unset(tmp_path):
    exp = export(
        tmp_path,
        [
            ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)]),
            ls_task(2, [ls_annotation(3, ground_truth=True)]),
        ],
    )
    path = tmp_path / "groundtruth" / "overrides.yaml"
    append_override(
        path, project="1", task="1", action="set", annotation="2", author="qa@example.org", reason="boxes are tighter"
    )
    append_override(
        path, project="1", task="2", action="unset", annotation=None, author="qa@example.org", reason="blurry image"
    )
    resolution = resolve(exp, overrides=load_overrides(path))
    assert gt_of(resolution) == {"1": ("2", "override")}
    unset = resolution.decided.filter(pl.col("task_id") == "2").row(0, named=True)
    assert unset["annotation_id"] is None and unset["method"] == "override" and unset["reason"] == "unset: blurry image"


def test_a_revert_is_a_recorded_decision_that_gives_back_the_gt_before_the_override(tmp_path):
    """set 2, then set 3, then a revert: the GT is 2 again; a second revert: the flag decides again. The file
    keeps every entry, and each change the reverts bring is the revert's in the history, with who and why."""
    exp = export(tmp_path, [ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2), ls_annotation(3)])])
    path = tmp_path / "overrides.yaml"
    v0 = version_of(exp, resolve(exp), None, T0, "run-0")
    append_override(
        path, project="1", task="1", action="set", annotation="2", author="qa@example.org", reason="tighter"
    )
    append_override(
        path, project="1", task="1", action="set", annotation="3", author="qa@example.org", reason="tighter still"
    )
    v1 = version_of(exp, resolve(exp, overrides=load_overrides(path)), v0, T0, "run-1")
    assert v1.ground_truth.select("annotation_id", "method").rows() == [("3", "override")]

    withdrawn = revert_override(path, project="1", task="1", author="lead@example.org", reason="3 misses a box")
    assert (withdrawn["action"], withdrawn["annotation_id"], withdrawn["author"]) == ("set", "3", "qa@example.org")
    r2 = resolve(exp, overrides=load_overrides(path))
    v2 = version_of(exp, r2, v1, T0, "run-2")
    assert v2.ground_truth.select("annotation_id", "method", "decided_by").rows() == [
        ("2", "override", "qa@example.org")
    ]
    revert_override(path, project="1", task="1", author="lead@example.org", reason="the flag was right")
    v3 = version_of(exp, resolve(exp, overrides=load_overrides(path)), v2, T0, "run-3")
    assert (
        v3.ground_truth.select("annotation_id", "method").rows()
        == v0.ground_truth.select("annotation_id", "method").rows()
    )

    history = versioning.history([v.changes for v in (v0, v1, v2, v3)])
    assert history.select(
        "version", "change", "annotation_id", "previous_annotation_id", "method", "decided_by", "reason"
    ).rows() == [
        (0, "set", "1", None, "flag", None, None),
        (1, "replaced", "3", "1", "override", "qa@example.org", "set: tighter still"),
        (2, "replaced", "2", "3", "override", "lead@example.org", "revert: 3 misses a box"),
        (3, "replaced", "1", "2", "override", "lead@example.org", "revert: the flag was right"),
    ]
    assert load_overrides(path)["action"].to_list() == ["set", "set", "revert", "revert"]  # nothing is deleted
    assert version_of(exp, resolve(exp, overrides=load_overrides(path)), v3, T0, "run-4") is None  # applied once
    with pytest.raises(PolicyError, match="no override of task 1 of project 1 in force to revert"):
        revert_override(path, project="1", task="1", author="lead@example.org", reason="once more")


def test_a_revert_with_nothing_to_withdraw_is_refused_by_entry(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "overrides:\n  - {project: 1, task: 1, action: set, annotation: 2, author: a, reason: r, at:"
        " 2026-01-01T00:00:00+00:00}\n  - {project: 1, task: 1, action: revert, author: b, reason: r, at:"
        " 2026-01-02T00:00:00+00:00}\n  - {project: 1, task: 1, action: revert, author: b, reason: r, at:"
        " 2026-01-03T00:00:00+00:00}\n"
    )
    with pytest.raises(
        PolicyError, match=f"{path}:4: overrides\\[2\\]: revert of task 1 of project 1 with no set or unset in force"
    ):
        load_overrides(path)


# --- precedence ------------------------------------------------------------------------------------


def test_default_precedence_override_flag_review_annotator(tmp_path):
    task = [ls_annotation(1, user="trusted@x"), reviewed(2, "accepted"), ls_annotation(3, ground_truth=True)]
    exp = export(tmp_path, [ls_task(1, task), ls_task(2, task[:2]), ls_task(3, task[:1])])
    policy = Policy(ProjectPolicy(trusted_annotators=("trusted@x",)))
    assert gt_of(resolve(exp, policy)) == {"1": ("3", "flag"), "2": ("2", "review"), "3": ("1", "annotator")}
    path = tmp_path / "overrides.yaml"
    append_override(path, project="1", task="1", action="set", annotation="1", author="a", reason="r")
    assert gt_of(resolve(exp, policy, load_overrides(path)))["1"] == ("1", "override")


def test_the_policy_orders_rules_per_project(tmp_path):
    exp = export(tmp_path, [ls_task(1, [reviewed(1, "accepted"), ls_annotation(2, ground_truth=True)])])
    policy = Policy(projects={"1": ProjectPolicy(rules=("review", "flag"))})
    assert gt_of(resolve(exp, policy)) == {"1": ("1", "review")}
    assert gt_of(resolve(exp, Policy(projects={"1": ProjectPolicy(rules=("annotator",))}))) == {}


def test_policy_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "policy.yaml"
    assert load_policy(path) == Policy()  # no file: the defaults
    path.write_text(
        'default:\n  rules: [override, flag]\nprojects:\n  "7":\n    trusted_annotators: [a@x]\n    consensus:'
        " {enabled: true, quorum: 2}\n"
    )
    policy = load_policy(path)
    assert policy.for_project("8").rules == ("override", "flag")
    assert policy.for_project("7").trusted_annotators == ("a@x",) and policy.for_project("7").consensus.quorum == 2
    path.write_text("default:\n  rules: [flag, vibes]\n")
    with pytest.raises(PolicyError, match="unknown rules \\['vibes'\\]"):
        load_policy(path)


def test_control_weights_come_from_the_policy_and_must_be_numbers(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('default:\n  control_weights: {notes: 0}\nprojects:\n  "7":\n    control_weights: {bbox: 2.5}\n')
    weights = load_policy(path).control_weights(["7", "8"]).collect().sort("project_id", "control")
    assert weights.rows() == [
        ("7", "bbox", 2.5),
        ("7", "notes", 0.0),
        ("8", "notes", 0.0),
    ]  # a project inherits the default's
    path.write_text('projects:\n  "7":\n    control_weights: {bbox: heavy}\n')
    with pytest.raises(PolicyError, match="projects.7: control_weights"):
        load_policy(path)


def test_bad_override_entries_name_the_file_and_entry(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text("overrides:\n  - {project: p, task: t, action: set, author: a, reason: r}\n")
    with pytest.raises(PolicyError, match="overrides\\[0\\]: 'set' needs the annotation"):
        load_overrides(path)


# --- Scout semantics ------------------------------------------------------------------------------


def test_scout_gt_belongs_to_the_image_across_tasks(tmp_path):
    data = Path(__file__).parent.parent / "ingest" / "data"
    for name in ("survey-annotations.csv", "survey-images.csv"):
        (tmp_path / name).write_bytes((data / name).read_bytes())
    exp = parse(tmp_path / "survey-annotations.csv", tmp_path)
    resolution = resolve(exp, item_scoped=["survey"])
    gt = {r["task_id"]: r for r in resolution.ground_truth.iter_rows(named=True)}
    # IMG_001 is done in task t1: its GT is the GT of task t2 too, and never for review there.
    assert gt["t2/IMG_001.JPG"]["annotation_id"] == "t1/IMG_001.JPG/gt"
    assert gt["t2/IMG_001.JPG"]["source_task_id"] == "t1/IMG_001.JPG"
    # IMG_003 is done with no box: a confirmed empty image; IMG_002 was never reviewed: no GT.
    assert gt["t1/IMG_003.JPG"]["confirmed_empty"] and not gt["t1/IMG_001.JPG"]["confirmed_empty"]
    assert "t2/IMG_002.JPG" not in gt
    # The assignees' own boxes stay annotations; only the GT rows form the GT set.
    assert {"t1/IMG_001.JPG/alice", "t2/IMG_001.JPG/bob"} <= set(exp.annotations["annotation_id"])
    assert set(resolve(exp).ground_truth["task_id"]) == {"t1/IMG_001.JPG", "t1/IMG_003.JPG"}  # task scope


# --- versioning -----------------------------------------------------------------------------------


def version_of(exp, resolution, previous, at, run_id):
    return versioning.next_version(
        previous,
        decided=resolution.decided,
        ground_truth=resolution.ground_truth,
        tasks=exp.tasks,
        annotations=exp.annotations,
        regions=exp.regions.lazy(),
        label_config=exp.label_config,
        at=at,
        run_id=run_id,
        reverts=resolution.reverts,
    )


def test_versioning_set_replace_unset_and_history(tmp_path):
    first = export(
        tmp_path,
        [
            ls_task(1, [ls_annotation(1, ground_truth=True), ls_annotation(2)]),
            ls_task(2, [ls_annotation(3, ground_truth=True)]),
        ],
        "v1.json",
    )
    v0 = version_of(first, resolve(first), None, T0, "run-a")
    assert v0.version == 0 and v0.changes["change"].to_list() == ["set", "set"]

    second = export(
        tmp_path,
        [ls_task(1, [ls_annotation(1), ls_annotation(2, ground_truth=True)]), ls_task(2, [ls_annotation(3)])],
        "v2.json",
    )
    t1 = datetime(2026, 1, 2, tzinfo=UTC)
    r2 = resolve(second)
    v1 = version_of(second, r2, v0, t1, "run-b")
    assert v1.changes.select("task_id", "change", "annotation_id", "previous_annotation_id", "method").rows() == [
        ("1", "replaced", "2", "1", "flag"),
        ("2", "unset", None, "3", "flag"),
    ]
    assert set(v1.changes["source_file"]) == {str(tmp_path / "v2.json")}
    assert v1.ground_truth.select("task_id", "annotation_id", "version").rows() == [("1", "2", 1)]
    assert v0.ground_truth.select("task_id", "annotation_id", "version").rows() == [
        ("1", "1", 0),
        ("2", "3", 0),
    ]  # v0 stays as it was
    history = versioning.history([v0.changes, v1.changes])
    assert history.select("task_id", "change", "version", "valid_from", "valid_to", "run_id").rows() == [
        ("1", "set", 0, T0, t1, "run-a"),
        ("1", "replaced", 1, t1, None, "run-b"),
        ("2", "set", 0, T0, t1, "run-a"),
        ("2", "unset", 1, t1, None, "run-b"),
    ]
    assert version_of(second, r2, v1, t1, "run-c") is None  # the same input makes no version


def test_an_edited_gt_annotation_is_a_change_and_the_old_version_keeps_its_content(tmp_path):
    first = export(tmp_path, [ls_task(1, [ls_annotation(1, choice="cat", ground_truth=True)])], "v1.json")
    v0 = version_of(first, resolve(first), None, T0, "run-a")
    edited = export(
        tmp_path,
        [ls_task(1, [ls_annotation(1, choice="dog", ground_truth=True, updated_at="2026-01-05T00:00:00Z")])],
        "v2.json",
    )
    v1 = version_of(edited, resolve(edited), v0, datetime(2026, 1, 5, tzinfo=UTC), "run-b")
    assert v1.changes.select("task_id", "change", "annotation_id", "previous_annotation_id").rows() == [
        ("1", "edited", "1", "1")
    ]
    assert v0.regions["labels"].to_list() == [["cat"]] and v1.regions["labels"].to_list() == [["dog"]]
    assert version_of(edited, resolve(edited), v1, T0, "run-c") is None


def test_coco_category_ids_never_move(tmp_path):
    config = pl.DataFrame({"type": ["rectanglelabels"], "allowed_labels": [["zebra", "lion"]]})
    v0 = versioning.next_categories(
        pl.DataFrame(schema=versioning.CATEGORIES),
        config,
        pl.DataFrame(schema={"type": pl.String, "labels": pl.List(pl.String)}),
    )
    assert v0.rows() == [("zebra", 1), ("lion", 2)]  # the labeling config's order
    regions = pl.DataFrame(
        {"type": ["rectanglelabels", "rectanglelabels", "choices"], "labels": [["antelope"], ["zebra"], ["grazing"]]}
    )
    v1 = versioning.next_categories(
        v0, config.with_columns(allowed_labels=pl.lit(["aardvark", "zebra", "lion"])), regions
    )
    assert v1.rows() == [
        ("zebra", 1),
        ("lion", 2),
        ("aardvark", 3),
        ("antelope", 4),
    ]  # new labels after the old, boxes only


def test_every_rule_returns_the_decision_columns(tmp_path):
    exp = export(tmp_path, [ls_task(1, [ls_annotation(1, ground_truth=True)])])
    empty_settings = Policy().consensus_settings(["1"])
    for frame in (
        rules.by_flag(exp.annotations.lazy()),
        rules.by_review(exp.annotations.lazy(), exp.reviews.lazy()),
        rules.by_annotator(exp.annotations.lazy(), Policy().trusted(["1"])),
        rules.by_consensus(exp.annotations.lazy(), exp.regions.lazy(), empty_settings),
        rules.by_override(load_overrides(Path("/none")).lazy(), "f", "h"),
    ):
        assert frame.collect_schema() == pl.Schema(rules.DECISION)


def _boxes(annotation_id, user, boxes, choice="zebra"):
    annotation = ls_annotation(annotation_id, user=user, choice=choice)
    annotation["result"] += [
        {
            "id": f"b{annotation_id}{i}",
            "type": "rectanglelabels",
            "from_name": "bbox",
            "to_name": "image",
            "original_width": 100,
            "original_height": 100,
            "value": {"x": x, "y": y, "width": 10, "height": 10, "rectanglelabels": ["zebra"]},
        }
        for i, (x, y) in enumerate(boxes)
    ]
    return annotation


def test_consensus_box_voting_keeps_boxes_a_quorum_drew(tmp_path):
    task = ls_task(
        1,
        [
            _boxes(1, "a@x", [(10, 10), (50, 50)]),
            _boxes(2, "b@x", [(11, 10), (51, 49)]),
            _boxes(3, "c@x", [(10.5, 10), (80, 80)]),  # (80, 80): nobody else saw it
        ],
    )
    exp = export(tmp_path, [task])
    policy = Policy(ProjectPolicy(consensus=Consensus(enabled=True, min_agreement=0.6, quorum=2, iou=0.5)))
    resolution = resolve(exp, policy)
    gt = resolution.ground_truth.row(0, named=True)
    assert gt["method"] == "consensus" and not gt["verified"]
    voted = {(r["annotation_id"], r["item_index"]) for r in gt["consensus_regions"]}
    assert len(voted) == 2  # two boxes drawn by a quorum; the lone box is out
    assert ("3", 1) in voted  # the member closest to the cluster mean: (10.5, 10), item 1 after the choice
    from pipeline.groundtruth import ground_truth_regions

    regions = ground_truth_regions(resolution.ground_truth.lazy(), exp.regions.lazy()).collect()
    assert sorted(regions.filter(pl.col("type") == "rectanglelabels")["x"].to_list()) == [10.5, 50.0]
    assert regions.filter(pl.col("type") == "choices")["labels"].to_list() == [["zebra"]]


def test_consensus_box_voting_needs_enough_agreement(tmp_path):
    task = ls_task(1, [_boxes(1, "a@x", [(10, 10)]), _boxes(2, "b@x", [(60, 60)]), _boxes(3, "c@x", [(30, 30)])])
    policy = Policy(ProjectPolicy(consensus=Consensus(enabled=True, min_agreement=0.6, quorum=2)))
    assert gt_of(resolve(export(tmp_path, [task]), policy)) == {}  # no box reaches a quorum


def test_broken_policy_and_override_files_are_refused_by_name(tmp_path, capsys):
    from pipeline.cli import main

    policy = tmp_path / "policy.yaml"
    for text, message in (
        ("default: {consensus: 5}\n", "default"),
        ("default: [unclosed\n", "not readable YAML"),
        ("- a list\n", "a mapping"),
    ):
        policy.write_text(text)
        with pytest.raises(PolicyError, match=message) as refused:
            load_policy(policy)
        assert str(policy) in str(refused.value)
    overrides = tmp_path / "overrides.yaml"
    for text in ("overrides: [oops\n", "overrides: [just a string]\n"):
        overrides.write_text(text)
        assert (
            main(["gt", "unset", "--project", "1", "--task", "1", "--reason", "r", "--groundtruth", str(tmp_path)]) == 2
        )
        assert str(overrides) in capsys.readouterr().err  # a message naming the file, not a traceback
        assert overrides.read_text() == text and not (tmp_path / "overrides.yaml.partial").exists()


def test_a_task_fingerprint_is_the_multiset_of_its_gt_region_rows():
    box = {
        "project_id": "1",
        "task_id": "1",
        "control": "label",
        "type": "rectanglelabels",
        "labels": ["zebra"],
        "x": 1.0,
    }
    other = box | {"x": 2.0}

    def fingerprint(rows: list[dict]) -> list:
        regions = pl.concat([REGIONS.empty(), pl.DataFrame(rows)], how="diagonal_relaxed")  # the other columns null
        return versioning.fingerprints(regions)["fingerprint"].to_list()

    assert fingerprint([box, other]) == fingerprint([other, box])  # the order of regions is not content
    assert fingerprint([box, box, other]) != fingerprint([box, other])  # a duplicated region is
    assert fingerprint([box]) != fingerprint([other])


def test_a_label_studio_project_and_a_cvat_task_share_one_gt_by_image_name(tmp_path):
    """CVAT task 23's GT job (CVAT's own test data) mapped to Label Studio project 7, whose tasks show the same
    images uploaded to Label Studio: with `item_match: name`, the GT job's annotation of 3.png is the GT of the
    Label Studio task showing it, and a Label Studio GT of an image is the GT of the CVAT jobs' frames of it."""
    cvat = tmp_path / "cvat"
    cvat.mkdir()
    data = Path(__file__).parent.parent / "ingest" / "data" / "cvat"
    for name in ("task23_job32_gt.xml", "task23_job30.xml"):
        (cvat / name).write_bytes((data / name).read_bytes())
    (cvat / "cvat.yaml").write_text(
        'tasks:\n  "23": {project: "7"}\njobs:\n  "32": {task: 23, type: ground_truth}\n  "30": {task: 23}\n'
    )
    ls = [
        ls_task(1, [ls_annotation(10, user="ana")], project=7),
        ls_task(2, [ls_annotation(20, ground_truth=True)], project=7),
    ]
    ls[0]["data"]["image"] = "/data/upload/7/1a2b3c4d-3.png"  # Label Studio's name for an uploaded 3.png
    ls[1]["data"]["image"] = "s3://bucket/frames/8.png?version=2"  # 8.png: frame 9 of CVAT job 30
    parts = [export(tmp_path, ls), *(parse(cvat / n, tmp_path) for n in ("task23_job32_gt.xml", "task23_job30.xml"))]
    combined = type(parts[0])(
        **{t: pl.concat([getattr(p, t) for p in parts]) for t in ("tasks", "annotations", "regions", "reviews")}
    )
    policy = Policy(projects={"7": ProjectPolicy(scope="item", item_match="name")})
    gt = {
        r["task_id"]: r["annotation_id"]
        for r in resolve(combined, policy, item_scoped=["7"]).ground_truth.iter_rows(named=True)
    }
    assert gt["1"] == gt["job-32/frame-4"] == "job-32/frame-4"
    assert gt["job-30/frame-9"] == gt["2"] == "20"
    assert gt["job-30/frame-5"] == "job-32/frame-5"
    # by key (the default), a Label Studio URL and a CVAT name are different items
    by_key = resolve(combined, Policy(projects={"7": ProjectPolicy(scope="item")}), item_scoped=["7"]).ground_truth
    assert "1" not in set(by_key["task_id"])
    (tmp_path / "policy.yaml").write_text("default: {item_match: basename}\n")
    with pytest.raises(PolicyError, match="item_match must be one of"):
        load_policy(tmp_path / "policy.yaml")
