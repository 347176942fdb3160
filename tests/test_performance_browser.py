"""Performance pages (issue 5) in headless chromium: the Committee pack, the real empty state, charts, print."""

from __future__ import annotations

import re
import sqlite3

import pytest

pytestmark = pytest.mark.browser


def luminance(rgb: tuple[int, int, int]) -> float:
    channels = [c / 255 for c in rgb]
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a, b) -> float:
    la, lb = sorted([luminance(a), luminance(b)], reverse=True)
    return (la + 0.05) / (lb + 0.05)


def parse_colour(text: str) -> tuple[int, int, int]:
    text = text.strip()
    if text.startswith("#"):
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def test_committee_pack_on_the_synthetic_database(
    page, live_server, screenshot, check_accessibility, synthetic_db_path
):
    response = page.goto(live_server + "/performance/committee-pack?db=synthetic_demo")
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    rows = page.locator("#pack-table tbody tr")
    assert rows.count() > 50
    words = {w.strip() for w in page.locator("#pack-table .rag").all_inner_texts()}
    assert words >= {"Red", "Amber", "Green"}
    assert page.locator("#pack-table .rag svg").count() == rows.count()  # every rating has a shape
    # The whole pack is too tall for one screenshot: take the smallest commissioner's pack, chosen in the form.
    db = sqlite3.connect(synthetic_db_path)
    (commissioner, count), *_ = db.execute(
        "select commissioner, count(*) from committee_pack where period = "
        "(select period from performance_periods where is_latest) group by 1 order by 2 limit 1"
    ).fetchall()
    page.select_option("#perf-commissioner", commissioner)
    page.click("form.perf-choose input[type=submit]")
    page.wait_for_url(re.compile("commissioner="))
    assert page.locator("#pack-table tbody tr").count() == count
    assert commissioner in page.locator("main h2").first.inner_text()
    check_accessibility(page)
    path = screenshot(page, "performance_committee_pack_synthetic")
    assert path.stat().st_size > 30_000


def test_rag_shapes_have_at_least_3_to_1_contrast(page, live_server):
    page.goto(live_server + "/performance?db=synthetic_demo")
    background = parse_colour(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    fills = page.evaluate(
        "Array.from(document.querySelectorAll('#rag-symbols symbol > :first-child'))"
        ".map(e => e.getAttribute('fill') === '#fff' ? e.getAttribute('stroke') : e.getAttribute('fill'))"
    )
    assert len(fills) == 4
    assert page.locator(".rag-key .rag svg use").count() == 4  # each badge in the key uses one of the shapes
    for fill in fills:
        assert contrast(parse_colour(fill), background) >= 3, fill


def test_real_database_shows_the_empty_state(page, live_server, screenshot, check_accessibility):
    pages = [("/performance/committee-pack", "performance_pack_real_empty"), ("/performance", "performance_real")]
    for path, name in pages:
        page.goto(live_server + path)
        notice = page.locator("#empty-state")
        assert notice.is_visible()
        assert re.search(r"No ratings published yet for period \d{4}-H[12]\.", notice.inner_text())
        assert page.locator("#chart-rag").count() == 0  # no empty charts on the real database
        check_accessibility(page)
        screenshot(page, name)


def test_overview_draws_the_charts(page, live_server, screenshot, check_accessibility):
    page.goto(live_server + "/performance?db=synthetic_demo")
    page.wait_for_selector("#chart-rag svg .mark-rect path", timeout=30_000)
    page.wait_for_selector("#chart-travel svg .mark-rect path", timeout=30_000)
    periods = page.locator("#periods-table tbody tr").count()
    assert page.locator("#chart-rag svg .mark-rect path").count() == 3 * periods
    assert page.locator("#coverage-table tbody tr").count() > 0
    check_accessibility(page)
    screenshot(page, "performance_overview_synthetic")


def test_service_history_page(page, live_server, check_accessibility, screenshot, synthetic_db_path):
    (service_id,) = sqlite3.connect(synthetic_db_path).execute(
        "select service_id from ratings where direction_of_travel = 'worse' order by service_id limit 1").fetchone()
    page.goto(live_server + "/performance/service?db=synthetic_demo")
    page.select_option("#perf-service", service_id)
    page.click("input[type=submit]")
    page.wait_for_selector("table[data-measure-id]")
    assert page.locator("table[data-measure-id] tbody tr .rag").count() > 0
    assert page.locator("table[data-measure-id] .travel").count() > 0
    check_accessibility(page)
    screenshot(page, "performance_service_history")


def test_pack_prints_without_the_form(page, live_server, screenshot):
    page.goto(live_server + "/performance/committee-pack?db=synthetic_demo")
    page.emulate_media(media="print")
    assert not page.locator("form.perf-choose").is_visible()
    assert not page.locator("header").is_visible()
    assert page.locator("#pack-table").is_visible()
    screenshot(page, "performance_committee_pack_print")


@pytest.mark.parametrize("name,expected", [
    ("performance-synthetic", r"\d+ ratings in \d+ periods; latest period \d{4}-H[12]: \d+ Green"),
    ("performance", r"No ratings published yet for period \d{4}-H[12]\."),
])
def test_performance_dashboards(page, live_server, screenshot, check_accessibility, name, expected):
    response = page.goto(live_server + f"/-/dashboards/{name}")
    assert response.status == 200
    page.wait_for_selector(".vega-embed svg", timeout=30_000)
    assert re.search(expected, page.locator("main").inner_text())
    if name == "performance-synthetic":
        page.wait_for_selector(".vega-embed svg .mark-rect path", timeout=30_000)
        assert page.locator(".vega-embed svg .mark-rect path").count() > 10
    check_accessibility(page)
    screenshot(page, f"dashboard_{name}")
