"""The Content Security Policy (plugins/security_headers.py, issue 15) lets the maps, charts and SQL editor work in
chromium: each page below draws what it should and reports no CSP violation (securitypolicyviolation events and
console messages both watched), while the same policy does block a script from another site."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""

# (what, address, selector that shows it works)
PAGES = [
    ("borough shapes (datasette-leaflet-geojson)", "/commissioning/boroughs",
     ".leaflet-container path.leaflet-interactive"),
    ("delivery points (datasette-cluster-map)", "/synthetic_demo/locations",
     ".leaflet-container .leaflet-marker-icon, .leaflet-container .marker-cluster"),
    ("services maps (static/services-maps.js)", "/synthetic_demo/services",
     "#services-points-map .leaflet-marker-icon"),
    ("service area map", "/synthetic_demo/services/synthetic-service-0001",
     "#service-area-map path.leaflet-interactive"),
    ("VRU dashboard (datasette-dashboards, Vega)", "/-/dashboards/vru-synthetic",
     ".vega-embed canvas, .vega-embed svg"),
    ("SQL editor (CodeMirror)", "/commissioning?sql=select+count(*)+from+boroughs", ".CodeMirror"),
    ("LCPF page charts", "/synthetic_demo/-/lcpf", "main svg"),
    ("SQL stopped at the time limit (inline script)",
     "/commissioning?sql=with+recursive+r(n)+as+(select+1+union+all+select+n%2B1+from+r)+select+count(*)+from+r",
     "textarea"),
]


def violations(page, console) -> list[str]:
    return page.evaluate("window.__csp") + [m for m in console if "Content Security Policy" in m]


@pytest.mark.parametrize("what,path,selector", PAGES, ids=[p[0] for p in PAGES])
def test_page_works_under_the_policy(page, live_server, what, path, selector):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH)
    response = page.goto(live_server + path)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(selector, timeout=30_000)
    page.wait_for_load_state("networkidle")
    if "CodeMirror" in what:
        page.click(".CodeMirror")
        page.keyboard.type(" -- typed")
        assert "typed" in page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert violations(page, console) == [], what


def test_policy_blocks_a_script_from_another_site(page, live_server):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH)
    page.goto(live_server + "/commissioning/boroughs")
    page.evaluate("""() => { const s = document.createElement('script');
        s.src = 'https://evil.example/x.js'; document.head.appendChild(s); }""")
    page.wait_for_function("window.__csp.length > 0")
    assert any("script-src" in v and "evil.example" in v for v in violations(page, console))


def test_pages_cannot_be_framed(page, live_server):
    page.set_content(f'<iframe id="f" src="{live_server}/commissioning"></iframe>')
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert frame.locator("main").count() == 0  # refused by frame-ancestors 'none' / X-Frame-Options: DENY
