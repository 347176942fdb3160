"""Services directory (issue 3) in headless chromium: maps draw, pages render and pass axe-core."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.browser


def test_synthetic_services_page_shows_delivery_point_markers(page, live_server, screenshot, synthetic_db_path,
                                                             check_accessibility):
    (points,) = sqlite3.connect(synthetic_db_path).execute("select count(*) from service_delivery_points").fetchone()
    assert points > 0
    page.goto(live_server + "/synthetic_demo/services")
    page.wait_for_selector("#services-points-map .leaflet-marker-icon", timeout=30_000)
    page.wait_for_function("document.querySelector('#services-points-map').dataset.points !== undefined")
    assert int(page.get_attribute("#services-points-map", "data-points")) == points
    assert page.locator("#services-points-map .leaflet-marker-icon").count() > 0
    page.wait_for_selector("#services-coverage-map path.leaflet-interactive")
    assert page.locator("#services-coverage-map path.leaflet-interactive").count() >= 33
    check_accessibility(page)
    full = screenshot(page, "services_synthetic_maps")
    detail = full.with_name("services_synthetic_maps_detail.png")
    page.locator(".services-maps").screenshot(path=str(detail))
    assert detail.stat().st_size > 10_000


def test_real_services_page_shows_coverage_polygons_and_honest_empty_state(page, live_server, screenshot,
                                                                          check_accessibility):
    page.goto(live_server + "/commissioning/services")
    page.wait_for_selector("#services-coverage-map path.leaflet-interactive", timeout=30_000)
    assert page.locator("#services-coverage-map path.leaflet-interactive").count() >= 33
    assert page.locator("main h1").count() == 1
    # No real site has coordinates: the page says so instead of drawing an empty map.
    assert page.locator("#services-points-map").count() == 0
    assert "No service has a public delivery point with coordinates yet" in page.inner_text("main")
    legend = page.inner_text("#coverage-legend")
    assert "or more" in legend
    page.check("#measure-money")
    page.wait_for_function("document.querySelector('#coverage-legend').innerText.includes('£')")
    check_accessibility(page)
    full = screenshot(page, "services_real_coverage_map")
    detail = full.with_name("services_real_coverage_map_detail.png")
    page.locator(".services-maps").screenshot(path=str(detail))
    assert detail.stat().st_size > 10_000


@pytest.mark.parametrize("name,path", [
    ("service_page_real", "/commissioning/services/myends"),
    ("service_page_synthetic", "/synthetic_demo/services/synthetic-service-0001"),
])
def test_service_page_renders_with_area_map(page, live_server, screenshot, check_accessibility, name, path):
    response = page.goto(live_server + path)
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    page.wait_for_selector("#service-area-map path.leaflet-interactive", timeout=30_000)
    assert page.locator("#service-area-map path.leaflet-interactive").count() == 33
    assert page.locator("a", has_text="Report an inaccuracy").count() == 1
    assert "Last verified" in page.inner_text("main")
    check_accessibility(page)
    full = screenshot(page, name)
    page.locator("#service-area-map").screenshot(path=str(full.with_name(f"{name}_map.png")))


@pytest.mark.parametrize("name,path,status", [
    ("services_near_me", "/synthetic_demo/-/services-near-me?q=SE1", 200),
    ("services_near_me_unknown", "/commissioning/-/services-near-me?q=AB10", 400),
    ("services_near_me_real", "/commissioning/-/services-near-me?q=CR0", 200),
    ("services_near_me_form", "/commissioning/-/services-near-me", 200),
    ("service_page_no_named_boroughs", "/commissioning/services/borough-capacity-building", 200),
    ("service_delivery_points_synthetic", "/synthetic_demo/service_delivery_points", 200),
    ("services_needing_review", "/commissioning/services_needing_review", 200),
    ("report_an_inaccuracy", "/report-an-inaccuracy?service=myends", 200),
    ("services_data", "/services-data", 200),
])
def test_services_pages_pass_axe(page, live_server, screenshot, check_accessibility, name, path, status):
    response = page.goto(live_server + path)
    assert response.status == status
    assert page.locator("main h1").count() == 1
    check_accessibility(page)
    screenshot(page, name)


def test_filtered_directory_filters_both_maps(page, live_server, screenshot, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    (points,) = db.execute("select count(*) from service_delivery_points where service_area = 'vawg'").fetchone()
    (total,) = db.execute("select count(*) from service_delivery_points").fetchone()
    assert 0 < points < total
    page.goto(live_server + "/synthetic_demo/services?service_area=vawg")
    drawn = "document.querySelector('#services-points-map').dataset.points !== undefined"
    page.wait_for_function(drawn, timeout=30_000)
    assert int(page.get_attribute("#services-points-map", "data-points")) == points
    page.wait_for_selector("#services-coverage-map path.leaflet-interactive")
    assert page.locator("#services-coverage-map path.leaflet-interactive").count() >= 33
    screenshot(page, "services_synthetic_vawg_maps")
