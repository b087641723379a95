"""The Data Docs site opens without a network: every page's scripts, stylesheets, fonts and images come from the
site's own folder (files shipped with gtq), the index lists the validations once its scripts ran, and no page
carries GE's logo URL with the data context's id."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from pipeline.ingest import read_export
from pipeline.validation import DataDocs, screen
from tests.conftest import ls_annotation, ls_task, write_export
from tests.test_report import chromium

# What a page loads: a script's or an image's src, a stylesheet's or an icon's href, a url() in its styles.
LOADED = re.compile(
    r"<script[^>]*\ssrc=\"([^\"]*)\"|<img[^>]*\ssrc=\"([^\"]*)\"|<link[^>]*\shref=\"([^\"]*)\"|url\(['\"]?([^'\")]*)"
)


def screened(root: Path, docs: DataDocs, run_name: str) -> None:
    """Validate a small export's annotations and regions (two suites), each result kept in `docs`."""
    tasks = [ls_task(1, [ls_annotation(10, user=1)]), ls_task(2, [ls_annotation(11, user=2, choice="dog")])]
    export = read_export(write_export(root / f"{run_name}.json", tasks), root / "staging")
    screen([export.frames], docs=docs, run_name=run_name)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> DataDocs:
    """A project's Data Docs after two runs: four validations."""
    root = tmp_path_factory.mktemp("data_docs")
    docs = DataDocs.of(root / "warehouse", "7")
    for run_name in ("run-1", "run-2"):
        screened(root, docs, run_name)
    return docs


def pages(docs: DataDocs) -> list[Path]:
    return sorted(docs.site.rglob("*.html"))


def loads(page: Path) -> list[str]:
    return [next(url for url in match if url) for match in LOADED.findall(page.read_text(encoding="utf-8"))]


def test_every_page_loads_only_files_of_the_site(site):
    validations = sorted(site.site.glob("validations/**/*.html"))
    assert len(validations) == 4 and len(pages(site)) == 4 + 2 + 1  # the validations, the 2 suites, the index
    for page in pages(site):
        urls = loads(page)
        assert len(urls) >= 15, (page, urls)  # GE's scripts and stylesheets, its logo and favicon
        for url in urls:
            assert not re.match(r"(https?:)?//", url), (page, url)
            assert (page.parent / unquote(url)).resolve().is_file(), (page, url)
        assert "dataContextId" not in page.read_text(encoding="utf-8"), page


def test_the_index_lists_the_validations_in_chromium_without_a_network(site):
    dom, log = chromium(site.index.as_uri())
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console
    # bootstrap-table's rows, drawn by its script: the validations' tab (newest first), then the suites' tab.
    tables = [
        re.findall(r'<tr[^>]*data-index="\d+".*?</tr>', table, re.S)
        for table in re.findall(r"<table.*?</table>", dom, re.S)
    ]
    drawn = [rows for rows in tables if rows]
    assert [len(rows) for rows in drawn] == [4, 2], tables
    validations = drawn[0]
    assert [re.search(r"run-\d", row).group() for row in validations] == ["run-2", "run-2", "run-1", "run-1"]
    assert all("fa-check-circle" in row for row in validations)  # each validation's status
    for page in (
        sorted(site.site.glob("validations/**/*.html"))[:1] + sorted(site.site.glob("expectations/**/*.html"))[:1]
    ):
        dom, log = chromium(page.as_uri())
        console = [line for line in log.splitlines() if ":CONSOLE" in line]
        assert not console, (page, console)
        assert 'data-index="0"' in dom, page  # its expectations' table, drawn by bootstrap-table


def test_a_site_an_older_gtq_built_with_cdn_links_is_rebuilt_whole(tmp_path):
    """A warehouse whose site an older gtq configured (GE's stock builder: pages with CDN links) gets the offline
    configuration at its next validation, and every page is rebuilt, the earlier runs' too."""
    from pipeline.validation import _gx

    docs = DataDocs.of(tmp_path / "warehouse", "7")
    screened(tmp_path, docs, "run-1")
    context = _gx().get_context(mode="file", project_root_dir=str(docs.project_root))
    stock = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs.site)},
    }
    context.update_data_docs_site("gtq", stock)
    context.build_data_docs(site_names=["gtq"])
    assert all(
        any(re.match(r"https?://", url) for url in loads(page)) for page in pages(docs)
    )  # as an older gtq left them

    screened(tmp_path, docs, "run-2")
    assert len(pages(docs)) == 4 + 2 + 1
    for page in pages(docs):
        assert not any(re.match(r"(https?:)?//", url) for url in loads(page)), page
    context = _gx().get_context(mode="file", project_root_dir=str(docs.project_root))
    assert (
        context.list_data_docs_sites()["gtq"] == docs.site_config
    )  # kept: the next validation rebuilds only its pages
