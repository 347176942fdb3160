"""LCPF (issue 7) in headless chromium: the overview and explorer draw their map and charts, pass axe-core,
and the explorer form re-runs the model. Kept apart from tests/test_lcpf.py because Playwright's sync API
holds an event loop that the async datasette.client tests cannot share."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_explorer_page_draws_the_map_and_chart(page, live_server, screenshot, check_accessibility):
    query = "?year=2019/20&w_population=1&w_crime=1&w_violence=2&floor=250000"
    page.goto(live_server + "/commissioning/-/lcpf-explorer" + query)
    assert page.locator("main h1").count() == 1
    assert page.locator("#explorer-map path[data-gss]").count() == 33
    assert page.locator("#explorer-shares rect").count() > 90
    assert "Modelled, not actual" in page.locator(".modelled-banner").inner_text()
    check_accessibility(page)
    box = page.locator("#explorer-map").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    assert screenshot(page, "lcpf_explorer").stat().st_size > 30_000


@pytest.mark.parametrize("name,path", [
    ("lcpf_overview_real", "/commissioning/-/lcpf?borough=E09000006"),
    ("lcpf_overview_synthetic", "/synthetic_demo/-/lcpf?year=2022/23"),
])
def test_overview_page_draws_map_charts_and_passes_axe(page, live_server, screenshot, check_accessibility, name, path):
    page.goto(live_server + path)
    assert page.locator("main h1").count() == 1
    assert page.locator("#lcpf-map path[data-gss]").count() == 33
    assert page.locator("#lcpf-trend polyline").count() == 32
    assert page.locator("#lcpf-shares rect").count() > 60
    check_accessibility(page)
    assert screenshot(page, name).stat().st_size > 30_000


def test_explorer_form_reruns_the_model(page, live_server):
    page.goto(live_server + "/commissioning/-/lcpf-explorer?year=2023/24")
    page.get_by_label("Fund total (£)").fill("20000000")
    page.get_by_label("Weight: violence against the person").fill("0")
    page.get_by_label("Weight: total recorded crime").fill("0")
    page.get_by_label("Floor per borough (£)").fill("400000")
    page.get_by_role("button", name="Model allocations").click()
    page.wait_for_url("**fund_total=20000000**")
    totals = page.locator("table.lcpf-table tbody tr td:nth-child(4)").all_inner_texts()
    amounts = [int(t.replace("£", "").replace(",", "")) for t in totals]
    assert len(amounts) == 32 and sum(amounts) == 20_000_000 and min(amounts) == 400_000
    assert page.locator(".floor-tag").count() == amounts.count(400_000)
