"""Every Datasette page of the publication in headless chromium: axe-core clean and usable with the keyboard alone.

The list of pages is read from the running server (`/<database>.json`), so a table or view added later is checked
without editing this file.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
import urllib.request

import pytest

from scripts.site import BUILD, DATABASES, ROOT

pytestmark = pytest.mark.browser

DB_NAMES = [name.removesuffix(".db") for name in DATABASES]


def visible_tables_and_views(db_name: str) -> list[str]:
    """Every table and view Datasette lists (not hidden: FTS shadow tables etc.), read from the built file."""
    db = sqlite3.connect(BUILD / f"{db_name}.db")
    names = [
        name
        for (name,) in db.execute(
            "select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%' order by name"
        )
    ]
    fts = {name.rsplit("_fts", 1)[0] + "_fts" for name in names if "_fts" in name}
    db.close()
    from scripts.site import load_metadata

    tables_meta = (load_metadata()["databases"].get(db_name) or {}).get("tables") or {}
    hidden = {name for name, meta in tables_meta.items() if (meta or {}).get("hidden")}
    return [n for n in names if n not in hidden and not any(n == f or n.startswith(f + "_") for f in fts)]


ALL_TABLE_PAGES = [(db, table) for db in DB_NAMES for table in visible_tables_and_views(db)]


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def test_every_table_is_listed(live_server):
    # Cross-check the list above against what Datasette itself shows, so no page escapes the axe test below.
    for db in DB_NAMES:
        with urllib.request.urlopen(f"{live_server}/{db}.json") as response:
            listing = json.load(response)
        shown = {t["name"] for t in listing["tables"] if not t["hidden"]} | {v["name"] for v in listing["views"]}
        assert shown == {t for d, t in ALL_TABLE_PAGES if d == db}


@pytest.mark.parametrize("db,table", ALL_TABLE_PAGES, ids=[f"{d}/{t}" for d, t in ALL_TABLE_PAGES])
def test_table_page_passes_axe(page, live_server, check_accessibility, db, table):
    response = page.goto(f"{live_server}/{db}/{quote(table)}")
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    check_accessibility(page)


def first_row_path(db: str) -> str:
    """The row page of the first row of the first table with a single-column primary key."""
    conn = sqlite3.connect(BUILD / f"{db}.db")
    for _, table in [p for p in ALL_TABLE_PAGES if p[0] == db]:
        pks = [r[1] for r in conn.execute(f"pragma table_info([{table}])") if r[5]]
        if len(pks) == 1:
            row = conn.execute(f"select [{pks[0]}] from [{table}] order by 1 limit 1").fetchone()
            if row:
                return f"/{db}/{quote(table)}/{quote(str(row[0]))}"
    raise AssertionError(f"no table with a primary key and rows in {db}")


OTHER_PAGES = [
    ("database_real", "/commissioning"),
    ("database_synthetic", "/synthetic_demo"),
    ("sql_query", "/commissioning?sql=" + quote("select gss_code, name, inner_outer from boroughs limit 10")),
    ("sql_error", "/commissioning?sql=" + quote("select * from no_such_table")),
    ("canned_query_form", "/commissioning/search_everything"),
    ("canned_query_results", "/commissioning/search_everything?q=violence"),
    ("row_with_foreign_key", "/commissioning/funding_decisions/19"),
    ("row_borough", "/commissioning/boroughs/E09000008"),
    ("facet_all_values", "/commissioning/boroughs?_facet=sub_region_2011&_facet_size=3"),
    ("filtered_table", "/commissioning/boroughs?inner_outer=Inner+London&_sort_desc=name"),
    ("not_found", "/commissioning/no_such_table"),
]


@pytest.mark.parametrize("name,path", OTHER_PAGES, ids=[n for n, _ in OTHER_PAGES])
def test_other_datasette_pages_pass_axe(page, live_server, screenshot, check_accessibility, name, path):
    response = page.goto(live_server + path)
    assert response.status == {"not_found": 404, "sql_error": 400}.get(name, 200)
    check_accessibility(page)
    screenshot(page, f"a11y_{name}")


@pytest.mark.parametrize("db", DB_NAMES)
def test_a_row_page_of_each_database_passes_axe(page, live_server, check_accessibility, db):
    response = page.goto(live_server + first_row_path(db))
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    check_accessibility(page)


def focus_trail(page, presses: int) -> list[dict]:
    """Press Tab repeatedly; describe each focused element (where it sits and whether it can be seen)."""
    trail = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        trail.append(page.evaluate("""() => {
            const el = document.activeElement;
            const box = el.getBoundingClientRect();
            return {
                tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), id: el.id,
                in_table: !!el.closest('table.rows-and-columns'), in_filters: !!el.closest('form.filters'),
                skip_facets: el.matches('a.skip-facets'),
                visible: box.width > 0 && box.height > 0,
            };
        }"""))
    return trail


def test_keyboard_focus_reaches_the_filter_form_then_the_table(page, live_server):
    page.goto(live_server + "/commissioning/funding_decisions")
    trail = focus_trail(page, 60)
    assert trail[0]["tag"] == "a"  # the skip link
    filters = [i for i, f in enumerate(trail) if f["in_filters"]]
    skips = [i for i, f in enumerate(trail) if f["skip_facets"]]
    assert filters and skips, trail
    assert filters[0] < skips[0]  # search and filters come before the rows, as they are read
    assert all(f["visible"] for f in trail[1:skips[0] + 1]), [f for f in trail if not f["visible"]]  # skip link aside
    # The facets' many links can be passed over: the link before them goes straight to the rows.
    page.goto(live_server + "/commissioning/funding_decisions")
    focus_trail(page, skips[0] + 1)
    page.keyboard.press("Enter")
    after = focus_trail(page, 1)[0]
    assert after["in_table"], after


def test_a_filter_can_be_applied_with_the_keyboard_alone(page, live_server):
    page.goto(live_server + "/commissioning/boroughs")
    page.keyboard.press("Tab")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "_filter_column":
            break
    else:
        pytest.fail("Tab never reached the filter column select")
    page.keyboard.type("inner_outer")  # typing selects the matching option, as in any native select
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "_filter_op"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "_filter_value"
    page.keyboard.type("Inner London")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "inner_outer__exact=Inner+London" in page.url or "inner_outer=Inner+London" in page.url
    assert page.locator("table.rows-and-columns tbody tr").count() == 14


def test_sql_editor_is_named_and_does_not_trap_the_keyboard(page, live_server):
    page.goto(live_server + "/commissioning")
    editor_input = page.locator(".CodeMirror textarea")
    assert editor_input.get_attribute("aria-label") == "SQL query"
    page.keyboard.press("Tab")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('.CodeMirror') !== null"):
            break
    else:
        pytest.fail("Tab never reached the SQL editor")
    page.keyboard.press("Control+A")
    page.keyboard.type("select count(*) as n from boroughs")
    page.keyboard.press("Tab")  # Tab leaves the editor instead of inserting a tab character
    assert page.evaluate("document.activeElement.closest('.CodeMirror') === null")
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Escape")  # Escape also leaves, straight to Run SQL
    assert page.evaluate("document.activeElement.value") == "Run SQL"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("table.rows-and-columns td.col-n").inner_text().strip() == "33"


def test_accessibility_statement_matches_what_the_tests_check(page, live_server):
    page.goto(live_server + "/accessibility")
    text = page.locator("main").inner_text()
    assert "WCAG" in text and "2.2" in text and "axe-core" in text
    assert "Skip to main content" in text
    for path in ("/", "/commissioning", "/commissioning/boroughs", "/synthetic_demo/funding_decisions"):
        page.goto(live_server + path)
        assert page.locator("footer a[href='/accessibility']").count() == 1, path


def test_shift_enter_runs_the_query_from_the_editor(page, live_server):
    page.goto(live_server + "/commissioning")
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("select 6 * 7 as answer")
    with page.expect_navigation():
        page.keyboard.press("Shift+Enter")
    assert page.locator("table.rows-and-columns td.col-answer").inner_text().strip() == "42"


def test_a_wide_table_scrolls_with_the_keyboard(page, live_server):
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(live_server + "/commissioning/borough_population")
    wrapper = page.locator(".table-wrapper")
    assert wrapper.evaluate("w => w.scrollWidth > w.clientWidth"), "expected a table wider than the window"
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('table-wrapper')"):
            break
    else:
        pytest.fail("Tab never reached the scrolling table")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    # Keyboard scrolling may be animated: wait until it has moved rather than reading it at once.
    page.wait_for_function("() => document.querySelector('.table-wrapper').scrollLeft > 0", timeout=10_000)
    assert wrapper.evaluate("w => w.scrollLeft") > 0


def site_pages() -> list[str]:
    """Custom pages (templates/pages, without the parameterised ones) and the plugin pages of the real database."""
    root = ROOT / "templates" / "pages"
    pages = sorted("/" + str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.html") if "{" not in p.name)
    db = sqlite3.connect(BUILD / "commissioning.db")
    (programme,) = db.execute("select programme from vru_programmes order by programme limit 1").fetchone()
    db.close()
    return ["/", *pages, "/boroughs/E09000008", "/commissioning/-/lcpf", "/commissioning/-/lcpf-explorer",
            "/commissioning/-/vru-programme?programme=" + quote(programme), "/commissioning/-/services-near-me",
            "/-/dashboards/vru"]


@pytest.mark.parametrize("path", site_pages())
def test_site_page_passes_axe(page, live_server, check_accessibility, path):
    response = page.goto(live_server + path)
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    check_accessibility(page)
