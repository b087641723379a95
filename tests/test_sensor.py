"""The inbox sensor's run requests, evaluated with Dagster's own sensor context."""

import dagster as dg

from pipeline.definitions import inbox_sensor
from pipeline.resources import WarehouseResource
from tests.conftest import ls_annotation, ls_task, write_export


def evaluate(warehouse, cursor=None):
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse}) as context,
    ):
        return inbox_sensor(context)


def test_new_changed_and_unchanged_inbox_files(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path / "wh"))
    assert isinstance(evaluate(warehouse), dg.SkipReason)  # no inbox yet
    inbox = tmp_path / "wh" / "inbox"
    inbox.mkdir(parents=True)
    a = write_export(inbox / "a.json", [ls_task(1, [ls_annotation(1)], project=7)])
    write_export(inbox / "b.json", [ls_task(2, [ls_annotation(2)], project=8)])
    (inbox / "notes.txt").write_text("not an export")

    first = evaluate(warehouse)
    requests = {r.tags["gtq/source"]: r for r in first.run_requests}
    assert sorted(requests) == [str(inbox / "a.json"), str(inbox / "b.json")]
    assert requests[str(a)].run_config["ops"]["core_tables"]["config"]["sources"] == [str(a)]
    assert requests[str(a)].partition_key == "7" and requests[str(inbox / "b.json")].partition_key == "8"
    assert len({r.run_key for r in first.run_requests}) == 2
    assert first.dynamic_partitions_requests[0].partition_keys == ["7", "8"]  # new projects become partitions

    assert isinstance(evaluate(warehouse, first.cursor), dg.SkipReason)  # nothing changed

    write_export(a, [ls_task(1, [ls_annotation(1, choice="dog")], project=7)])
    second = evaluate(warehouse, first.cursor)
    assert [r.tags["gtq/source"] for r in second.run_requests] == [str(a)]
    assert second.run_requests[0].run_key != requests[str(a)].run_key


def test_the_inbox_folder_is_configurable(tmp_path):
    inbox = tmp_path / "drop"
    inbox.mkdir()
    write_export(inbox / "x.json", [ls_task(1, [ls_annotation(1)])])
    result = evaluate(WarehouseResource(root=str(tmp_path / "wh"), inbox=str(inbox)))
    assert [r.tags["gtq/source"] for r in result.run_requests] == [str(inbox / "x.json")]
