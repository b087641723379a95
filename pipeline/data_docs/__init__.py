"""Great Expectations' Data Docs that open without a network: GE's site builder and page views, with the pages'
scripts, stylesheets and fonts served from the site's own `static/vendor/` instead of CDNs, and GE's logo from the
site's `static/images/` instead of GE's web server (whose URL carries the data context's id).

GE names these classes from a site's config (`DataDocs.site_config` in pipeline/validation.py); GE's own views
look up their templates in GE's folder first, so a custom views folder cannot replace one: these views look in
`templates/` here first. The vendored files are upstream's, unchanged (see static/vendor/SOURCES.md).

GE makes new views, each with a Jinja environment of its own, at every site build (one per validation kept), and
a new environment compiles every template it renders anew: these views share one in-memory bytecode cache
(`COMPILED`), Jinja's own mechanism for reusing compiled templates, so each template compiles once per process.
"""

from __future__ import annotations

from pathlib import Path

from great_expectations.render.renderer.site_builder import SiteBuilder
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache, ChoiceLoader, FileSystemLoader, pass_context
from jinja2.bccache import Bucket

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def site_root(renderer_type: str, suite_name: str | None) -> str:
    """The relative path from a page to the site's root folder. GE writes a validation result at
    `validations/<suite name split at dots>/<run name>/<run time>/<batch>.html` (dots + 4 folders deep), a suite at
    `expectations/<suite name split at dots>.html` (dots + 1 folders deep) and the index at the root."""
    dots = (suite_name or "").count(".")
    if "ValidationResults" in renderer_type or "ProfilingResults" in renderer_type:
        return "../" * (dots + 4)
    if "ExpectationSuite" in renderer_type:
        return "../" * (dots + 1)
    return ""


@pass_context
def _site_root(context) -> str:
    return site_root(context.get("renderer_type") or "", context.get("expectation_suite_name"))


class _InMemoryBytecode(BytecodeCache):
    """Jinja's compiled templates, kept for the process. A bucket is keyed by the template's name and file and
    checked against a checksum of its source, so an edited template compiles anew (Jinja's `Bucket`)."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (compiled := self._compiled.get(bucket.key)) is not None:
            bucket.bytecode_from_string(compiled)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED = _InMemoryBytecode()


class _Offline:
    """A GE page view whose templates are looked up here first, with `site_root()` for them, compiled once per
    process (`COMPILED`: every view's environment is configured alike, as the bytecode depends on it)."""

    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory=custom_styles_directory, custom_views_directory=custom_views_directory)
        self.env.loader = ChoiceLoader([FileSystemLoader(TEMPLATES), self.env.loader])
        self.env.globals["site_root"] = _site_root
        self.env.bytecode_cache = COMPILED


class OfflinePageView(_Offline, DefaultJinjaPageView):
    """The page of a suite or of a validation result."""


class OfflineIndexPageView(_Offline, DefaultJinjaIndexPageView):
    """The site's index: every validation of every run."""


class OfflineSiteBuilder(SiteBuilder):
    """GE's site builder, which copies GE's own static files into the site, then gtq's vendored ones."""

    def build(self, resource_identifiers=None, build_index: bool = True):
        built = super().build(resource_identifiers=resource_identifiers, build_index=build_index)
        self.target_store.copy_static_assets(str(STATIC))
        return built
