"""WCAG 2.1 AA as axe-core checks it: no serious or critical violation on the pages, phone and tablet widths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PAGES = ["/", "/faq", "/signup", "/login", "/password/forgot", "/nowhere"]


def serious_violations(context: BrowserContext, path: str) -> list[str]:
    page = context.new_page()
    page.goto(path)
    page.add_script_tag(content=AXE)
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa']}})"
    )
    page.close()
    return [f"{path}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 820], ids=["phone", "tablet"])
def test_public_pages_have_no_serious_accessibility_violation(
    new_context: Callable[..., BrowserContext], width: int
) -> None:
    context = new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    problems = [problem for path in PAGES for problem in serious_violations(context, path)]
    assert problems == []


@pytest.mark.browser
def test_touch_targets_are_at_least_44_px(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(viewport={"width": 390, "height": 900}).new_page()
    small = []
    for path in PAGES:
        page.goto(path)
        small += page.evaluate(
            """() => [...document.querySelectorAll('a, button, input:not([type=hidden]), select, textarea')]
                 .filter(el => el.offsetParent !== null && !el.closest('p, li, dd'))
                 .map(el => [el.outerHTML.slice(0, 60), el.getBoundingClientRect().height])
                 .filter(([, h]) => h < 44)""")
    assert small == [], "\n".join(f"{html} {height}" for html, height in small)
