"""Pages in a real headless chromium: they render, pass axe-core, and work with the keyboard."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = [
    ("home", "/"),
    ("database", "/commissioning"),
    ("about", "/about"),
    ("accessibility", "/accessibility"),
    ("funding_decisions", "/commissioning/funding_decisions"),
    ("funding_decision_row", "/commissioning/funding_decisions/19"),
    ("crime_rates", "/commissioning/borough_crime_rates"),
    ("postcode_districts", "/commissioning/postcode_districts"),
    ("synthetic_decisions", "/synthetic_demo/funding_decisions"),
]


@pytest.mark.parametrize("name,path", PAGES)
def test_page_renders_and_passes_axe(page, live_server, screenshot, check_accessibility, name, path):
    response = page.goto(live_server + path)
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    check_accessibility(page)
    assert screenshot(page, name).stat().st_size > 10_000


def test_skip_link_is_the_first_tab_stop(page, live_server):
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"


def test_borough_table_draws_polygons(page, live_server, screenshot):
    page.goto(live_server + "/commissioning/boroughs")
    page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert page.locator("path.leaflet-interactive").count() >= 33
    screenshot(page, "boroughs_map")


def test_postcode_districts_draw_cluster_markers(page, live_server, screenshot):
    page.goto(live_server + "/commissioning/postcode_districts")
    page.wait_for_selector(".leaflet-marker-icon", timeout=30_000)
    assert page.locator(".leaflet-marker-icon").count() > 0
    screenshot(page, "postcode_districts_map")
