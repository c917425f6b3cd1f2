"""What the portal's browser tests do to any page: wait until it settled, take its screenshots at
both widths (checking it never runs wider than a 390 px screen), collect its script errors."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.portal import ARTEFACTS

WIDTHS = (1280, 390)
#: Nothing on the page is still loading.
BUSY = (
    "() => ![...document.querySelectorAll('[aria-busy]')].some(e => e.getAttribute('aria-busy') === 'true')"
)
#: The elements that reach past a 390 px screen (outside a table's own scroll region), to say which.
WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap'))
  .slice(-5).map(e => e.tagName + '.' + e.className)"""


def settled(page: Page) -> None:
    page.wait_for_function(BUSY)


def shoot(page: Page, name: str) -> None:
    """A screenshot at each width; the page never wider than the screen at 390."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        settled(page)
        if width == 390:
            wide = page.evaluate(WIDE)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, (name, wide)
        page.screenshot(path=str(ARTEFACTS / f"{name}-{width}px.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def errors_of(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
