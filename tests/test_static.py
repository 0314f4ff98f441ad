"""Vendored files are what VENDORED.md says, and the front end stays inside the bandwidth budgets."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
VENDORED = (STATIC / "vendor" / "VENDORED.md").read_text()


@pytest.mark.parametrize("name", ["htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"])
def test_vendored_file_matches_its_recorded_checksum(name: str) -> None:
    digest = hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest()
    assert re.search(rf"`{re.escape(name)}`.*`{digest}`", VENDORED), f"{name} changed: update VENDORED.md"


def gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def test_all_javascript_fits_in_20_kb_compressed() -> None:
    total = sum(gzipped_size(path) for path in STATIC.rglob("*.js"))
    assert total <= 20 * 1024, total


def test_css_fits_in_10_kb_compressed() -> None:
    total = sum(gzipped_size(path) for path in STATIC.rglob("*.css"))
    assert total <= 10 * 1024, total


def test_templates_have_no_inline_script_style_or_handler() -> None:
    """The CSP forbids them; they would silently do nothing."""
    pattern = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=|hx-on", re.IGNORECASE)
    offenders = [f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
                 for path in TEMPLATES.rglob("*.html") for match in pattern.finditer(path.read_text())]
    assert offenders == []


async def test_landing_page_html_fits_in_14_kb_compressed(client) -> None:
    for path in ["/", "/faq", "/signup", "/login"]:
        response = await client.get(path)
        assert response.status_code == 200
        assert len(gzip.compress(response.content, 9)) <= 14 * 1024, path
