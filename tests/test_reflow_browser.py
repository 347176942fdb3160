"""WCAG 2.2 AA reflow and focus in headless chromium (issue 15), at 320 and 1280 CSS pixels wide.

- 1.4.10 Reflow: no public page scrolls sideways (document scrollWidth <= the window's width); a data table that is
  still too wide scrolls inside its own box, which is then a named (aria-label or aria-labelledby), focusable
  (tabindex=0) region (static/a11y.js wraps tables; static/site.css lets long words wrap and controls shrink).
- axe-core (WCAG 2.2 AA) on every page at both widths; heading order on the database and SQL pages; the search box of
  /-/search has a name.
- 2.4.7 / 2.4.11 Focus visible: Tab reaches the Leaflet maps and the SQL editor, and each shows an outline.
"""

from __future__ import annotations

import sqlite3
import urllib.parse

import pytest

from scripts.site import BUILD

pytestmark = pytest.mark.browser

WIDTHS = [320, 1280]


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def first(db: str, sql: str) -> str:
    conn = sqlite3.connect(BUILD / f"{db}.db")
    try:
        (value,) = conn.execute(sql).fetchone()
    finally:
        conn.close()
    return str(value)


def public_pages() -> list[str]:
    pages = [
        "/", "/commissioning", "/commissioning/services", "/commissioning/funding_opportunities", "/opportunities",
        "/performance", "/performance/committee-pack", "/commissioning/-/lcpf", "/commissioning/-/lcpf-explorer",
        "/borough-feeds", "/boroughs", "/boroughs/E09000008", "/-/dashboards/vru", "/about", "/-/search?q=x",
        "/commissioning?sql=select+1", "/commissioning/funding_decisions", "/commissioning/boroughs",
        "/commissioning/-/services-near-me", "/services-data", "/accessibility",
        # the synthetic demo's equivalents, filled with (invented) rows
        "/synthetic_demo", "/synthetic_demo/services", "/synthetic_demo/funding_opportunities",
        "/synthetic_demo/-/lcpf", "/synthetic_demo/-/lcpf-explorer", "/performance?db=synthetic_demo",
        "/performance/committee-pack?db=synthetic_demo", "/-/dashboards/vru-synthetic",
        "/synthetic_demo/funding_decisions",
    ]
    for db in ("commissioning", "synthetic_demo"):
        pages.append(f"/{db}/services/" + quote(first(db, "select service_id from services order by service_id")))
        programme = first(db, "select programme from vru_programmes order by programme")
        pages.append(f"/{db}/-/vru-programme?programme=" + quote(programme))
    return pages


PAGES = public_pages()

# What the page looks like sideways, and each box in <main> that scrolls sideways: its role, tab stop and name.
LAYOUT = """() => {
    const name = (el) => {
        if ((el.getAttribute('aria-label') || '').trim()) return el.getAttribute('aria-label').trim();
        const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
        return ids.map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    };
    const boxes = [...document.querySelectorAll('main *')].filter((el) => {
        const style = getComputedStyle(el);
        return /(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1 && el.clientHeight > 0;
    }).map((el) => ({
        what: el.tagName.toLowerCase() + '.' + el.className, role: el.getAttribute('role'),
        tabindex: el.getAttribute('tabindex'), name: name(el),
    }));
    return {scrollWidth: document.documentElement.scrollWidth, boxes};
}"""


def open_page(page, url: str, width: int):
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    return response


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PAGES)
def test_page_reflows_and_passes_axe(page, live_server, screenshot, check_accessibility, path, width):
    response = open_page(page, live_server + path, width)
    assert response.status == 200, path
    layout = page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= width, f"{path} is {layout['scrollWidth']} px wide at {width} px"
    for box in layout["boxes"]:  # a wide table scrolls in its own named, focusable region
        assert box["role"] == "region" and box["tabindex"] == "0" and box["name"], (path, box)
    check_accessibility(page)
    if width == 320:
        slug = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "_")[:60] or "home"
        screenshot(page, f"reflow_320_{slug}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["/commissioning", "/synthetic_demo", "/commissioning?sql=select+1",
                                  "/commissioning?sql=" + quote("select * from no_such_table"),
                                  "/commissioning/search_everything?q=violence", "/commissioning/boroughs"])
def test_headings_do_not_skip_a_level(page, live_server, path, width):
    from axe_playwright_python.sync_playwright import Axe

    open_page(page, live_server + path, width)
    levels = page.eval_on_selector_all("main h1, main h2, main h3, main h4, main h5, main h6",
                                       "hs => hs.map(h => Number(h.tagName[1]))")
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    results = Axe().run(page, options={"runOnly": {"type": "rule", "values": ["heading-order"]}})
    assert results.response["violations"] == [], results.response["violations"]


@pytest.mark.parametrize("width", WIDTHS)
def test_search_all_box_has_a_name(page, live_server, check_accessibility, width):
    for path in ("/-/search", "/-/search?q=violence"):
        open_page(page, live_server + path, width)
        box = page.get_by_role("searchbox", name="Search all tables")
        assert box.count() == 1, path
        check_accessibility(page)


def tab_until(page, test: str, presses: int = 150) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(test):
            return
    pytest.fail(f"Tab never reached: {test}")


FOCUS_RING = """(selector) => {
    const style = getComputedStyle(document.querySelector(selector));
    return {style: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor,
            shadow: style.boxShadow};
}"""


def assert_visible_ring(ring: dict) -> None:
    assert ring["style"] not in ("none", "hidden") and ring["width"] >= 2, ring
    assert ring["color"] == "rgb(255, 221, 0)", ring  # the site's focus yellow, with a dark ring around it
    assert "rgb(11, 12, 12)" in ring["shadow"], ring


MAP_PAGES = ["/commissioning/services", "/synthetic_demo/services", "/commissioning/boroughs",
             "/commissioning/postcode_districts"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", MAP_PAGES)
def test_tab_reaches_the_map_and_its_focus_is_visible(page, live_server, screenshot, path, width):
    open_page(page, live_server + path, width)
    page.wait_for_selector(".leaflet-container", timeout=30_000)
    blurred = page.evaluate(FOCUS_RING, ".leaflet-container")
    assert blurred["style"] == "none" or blurred["width"] == 0  # the ring is the focus, not decoration
    tab_until(page, "document.activeElement.classList.contains('leaflet-container')")
    assert_visible_ring(page.evaluate("(s) => (" + FOCUS_RING + ")(s)", ".leaflet-container:focus"))
    if width == 320:
        screenshot(page, "focus_map_" + path.strip("/").replace("/", "_"))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["/commissioning", "/commissioning?sql=select+1"])
def test_tab_reaches_the_sql_editor_and_its_focus_is_visible(page, live_server, screenshot, path, width):
    open_page(page, live_server + path, width)
    assert page.evaluate(FOCUS_RING, ".CodeMirror")["style"] == "none"
    tab_until(page, "document.activeElement.closest('.CodeMirror') !== null")
    assert_visible_ring(page.evaluate(FOCUS_RING, ".CodeMirror"))
    if width == 320:
        screenshot(page, "focus_sql_editor_" + ("results" if "sql=" in path else "database"))


def test_a_wide_table_is_a_region_only_while_it_is_wider_than_the_window(page, live_server):
    path = "/commissioning/-/lcpf"
    open_page(page, live_server + path, 320)
    box = page.locator(".table-scroll").first
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")
    assert box.get_attribute("role") == "region" and box.get_attribute("tabindex") == "0"
    labelled_by = box.get_attribute("aria-labelledby")
    label = page.evaluate("(id) => document.getElementById(id).textContent.trim()", labelled_by)
    assert label  # the table's caption or its heading
    tab_until(page, "document.activeElement.classList.contains('table-scroll')")
    assert_visible_ring(page.evaluate(FOCUS_RING, ".table-scroll:focus"))
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.scrollLeft > 0", timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # the box scrolled, not the page

    page.evaluate("document.activeElement.blur()")  # a focused region is never taken out from under the focus
    page.set_viewport_size({"width": 1280, "height": 900})  # wide enough for the first table: no longer a tab stop
    page.wait_for_function("() => !document.querySelector('.table-scroll').hasAttribute('tabindex')", timeout=10_000)
    assert page.locator(".table-scroll").first.get_attribute("role") is None
