"""The documented contract names every table and column the code writes."""

from pathlib import Path

from pipeline.contract import ALL_TABLES

DOC = (Path(__file__).resolve().parent.parent / "docs" / "contract.md").read_text()


def test_every_table_and_column_is_documented():
    for table in ALL_TABLES:
        section = DOC.split(f"### `{table.key}`", 1)
        assert len(section) == 2, f"{table.key} is not documented"
        body = section[1].split("### ", 1)[0]
        for column, dtype in table.columns.items():
            assert f"| `{column}` | {dtype} |" in body, f"{table.key}.{column}"
