"""Funding opportunities pages in headless chromium: render, axe-core, soonest deadline first, eligible-area map."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest

from scripts.site import BUILD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name,path", [
    ("opportunities", "/opportunities"),
    ("opportunities_closed", "/opportunities?include_closed=1"),
    ("opportunities_synthetic", "/opportunities?db=synthetic_demo"),
])
def test_opportunities_page_renders_and_passes_axe(page, live_server, screenshot, check_accessibility, name, path):
    response = page.goto(live_server + path)
    assert response.status == 200
    assert page.locator("main h1").inner_text() == "Funding opportunities"
    check_accessibility(page)
    assert screenshot(page, name).stat().st_size > 10_000


def test_synthetic_opportunities_are_soonest_deadline_first(page, live_server, screenshot):
    page.goto(live_server + "/opportunities?db=synthetic_demo")
    cells = page.locator("table.opportunities tbody tr td:first-child").all_inner_texts()
    dates = [c.split()[0] for c in cells if c[:4].isdigit()]
    assert dates and dates == sorted(dates)
    db = sqlite3.connect(BUILD / "synthetic_demo.db")
    (current,) = db.execute(
        "select count(*) from funding_opportunities where status in ('open', 'closing within 14 days', 'planned')"
    ).fetchone()
    assert len(cells) == current


def test_search_by_postcode_district_in_the_browser(page, live_server, screenshot, check_accessibility):
    page.goto(live_server + "/opportunities?db=synthetic_demo")
    page.fill("#f-postcode", "CR0")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "postcode=CR0" in page.url
    caption = page.locator("table.opportunities caption").inner_text()
    assert "open to CR0 (in Croydon)" in caption
    check_accessibility(page)
    screenshot(page, "opportunities_cr0")


@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
def test_eligible_area_map_draws_every_eligible_borough(page, live_server, screenshot, check_accessibility, database):
    db = sqlite3.connect(BUILD / f"{database}.db")
    reference, count = db.execute(
        "select reference, eligible_borough_count from funding_opportunities where eligible_borough_count > 0 "
        "order by eligible_borough_count, reference limit 1"
    ).fetchone()
    page.goto(live_server + f"/{database}/opportunity_eligible_area_map?reference={quote(reference)}")
    page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert page.locator("path.leaflet-interactive").count() == count
    check_accessibility(page)
    screenshot(page, f"opportunity_map_{database}")


def test_related_services_and_feeds_pages_pass_axe(page, live_server, check_accessibility):
    for path in ["/commissioning/opportunity_related_services?reference=MOPAC+RJ",
                 "/commissioning/opportunities_for_area?area=SE1",
                 "/commissioning/open_opportunities",
                 "/commissioning/funding_opportunities",
                 "/commissioning/funding_opportunities/MOPAC~20RJ"]:
        response = page.goto(live_server + path)
        assert response.status == 200, path
        check_accessibility(page)
