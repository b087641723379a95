"""The documented contract is the code's contract (regenerate with `make docs`)."""

from pathlib import Path

from pipeline.contract import markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "contract.md"


def test_docs_list_every_table_and_column_as_the_code_defines_them():
    assert DOC.read_text().split("## Tables\n\n", 1)[1] == markdown()
