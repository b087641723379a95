"""The GTQ_* variables read in `pipeline.settings`, where no other module reads the environment: what the suites'
folder and the assets' owners come to."""

from pipeline import settings
from pipeline.assets.metadata import provenance
from pipeline.validation import BUNDLED_EXPECTATIONS, expectations_dir


def test_the_suites_are_gtq_expectations_else_the_bundled_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("GTQ_EXPECTATIONS", str(tmp_path))
    assert expectations_dir() == tmp_path
    monkeypatch.setenv("GTQ_EXPECTATIONS", "")  # set but empty: as unset
    assert expectations_dir() == BUNDLED_EXPECTATIONS
    monkeypatch.delenv("GTQ_EXPECTATIONS")
    assert expectations_dir() == BUNDLED_EXPECTATIONS


def test_the_owners_are_the_entries_of_gtq_owners(monkeypatch):
    monkeypatch.setenv("GTQ_OWNERS", " lead@example.com, ,team:labeling,")
    assert settings.owners() == ["lead@example.com", "team:labeling"]
    assert provenance("core")["owners"] == ["lead@example.com", "team:labeling"]  # what the UI shows
    monkeypatch.delenv("GTQ_OWNERS")
    assert settings.owners() == [] == provenance("core")["owners"]
