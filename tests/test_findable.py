"""Findable (issue 16): robots.txt lets search engines reach the public pages and keeps them out of ad-hoc SQL, facet,
sort and filter permutations, export formats and the synthetic demo; /sitemap.xml lists every public page of the real
database. Rules from plugins/view_models/findable.py, served by datasette-block-robots and datasette-sitemap."""

from __future__ import annotations

import re
import sqlite3
import urllib.robotparser
from urllib.parse import urlsplit

import pytest
from datasette.utils import tilde_encode
from lxml import etree

from plugins.view_models import findable
from scripts.site import BUILD, ROOT

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def real_db() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{BUILD / 'commissioning.db'}?mode=ro", uri=True)


def first(sql: str) -> str:
    with real_db() as conn:
        return conn.execute(sql).fetchone()[0]


ALLOWED = [
    "/", "/about", "/accessibility", "/boroughs", "/boroughs/camden", "/borough-feeds", "/opportunities",
    "/performance", "/performance/committee-pack", "/performance/service?service_id=anita-project",
    "/report-an-inaccuracy", "/services-data", "/sitemap.xml",
    "/commissioning", "/commissioning/services", "/commissioning/services/anita-project",
    "/commissioning/funding_opportunities", "/commissioning/funding_opportunities/MOPAC+1232+~28engagement~29",
    "/commissioning/boroughs", "/commissioning/-/lcpf", "/commissioning/-/lcpf-explorer",
    "/commissioning/-/services-near-me", "/commissioning/-/vru-programme?programme=Example",
    "/-/dashboards", "/-/dashboards/vru", "/-/dashboards/performance",
    "/openreferral/", "/openreferral/services", "/static/site.css", "/-/static/app.css",
    "/static/site.css?_build=abc", "/-/static-plugins/datasette-cluster-map/leaflet.js?_build=abc",
]
# Disallowed by the plain prefix rules, so by every crawler, urllib.robotparser included.
DISALLOWED = [
    "/commissioning?sql=select+1", "/commissioning?_hide_sql=1", "/commissioning.db", "/commissioning.json",
    "/commissioning/services?_facet=borough", "/commissioning/services?_sort=name",
    "/commissioning/services?_sort_desc=name", "/commissioning/services?_next=abc",
    "/commissioning/services?_search=youth", "/commissioning/services.json", "/commissioning/services.csv",
    "/commissioning/services.json?_shape=array", "/commissioning/funding_opportunities?_facet=status",
    "/commissioning/services_fts", "/commissioning/services_fts_data",
    "/commissioning/-/services-near-me?q=SE1",
    "/synthetic_demo", "/synthetic_demo/services", "/synthetic_demo/services/synthetic-1", "/synthetic_demo.db",
    "/synthetic_demo/-/lcpf", "/synthetic_demo/openreferral/services",
    "/-/versions", "/-/versions.json", "/-/metadata", "/-/plugins", "/-/settings", "/-/databases", "/-/search",
    "/-/dashboards/vru-synthetic", "/-/dashboards/performance-synthetic", "/-/dashboards/vru?borough=Camden",
    "/-/dashboards/vru/embed",
    "/opportunities?db=synthetic_demo", "/boroughs?db=synthetic_demo",
]
# Disallowed only by the RFC 9309 wildcard rules (Google, Bing): a query string or format after a plain parameter or
# on a row page, which a prefix cannot name.
DISALLOWED_BY_WILDCARDS = [
    "/commissioning/services?borough=Camden", "/commissioning/services?borough=Camden&_sort=name",
    "/commissioning/services/anita-project.json", "/commissioning/services/anita-project?_facet=x",
    "/commissioning/-/lcpf-explorer.csv", "/commissioning/-/lcpf-explorer?borough=Camden",
    "/-/dashboards/performance?period=2024", "/boroughs/camden?db=synthetic_demo",
    "/performance/service?service_id=anita-project&db=synthetic_demo", "/about?sql=select+1",
]


def rfc9309_allowed(lines: list[str], path: str) -> bool:
    """RFC 9309 section 2.2.2: the longest matching rule wins, Allow on a tie; `*` matches any characters, a final `$`
    anchors the end. (urllib.robotparser knows neither wildcards nor longest match.)"""
    best = (-1, True)
    for line in lines:
        verb, _, pattern = line.partition(":")
        verb, pattern = verb.strip().lower(), pattern.strip()
        if verb not in ("allow", "disallow") or not pattern:
            continue
        regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern.rstrip("$"))
        if re.match(regex + ("$" if pattern.endswith("$") else ""), path):
            candidate = (len(pattern), verb == "allow")
            if candidate[0] > best[0] or (candidate[0] == best[0] and candidate[1]):
                best = candidate
    return best[1]


@pytest.fixture(scope="module")
def robots_lines():
    import asyncio

    from scripts.site import make_datasette

    async def fetch():
        ds = make_datasette()
        response = await ds.client.get("/robots.txt")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return response.text.splitlines()

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def robotparser(robots_lines):
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots_lines)
    return parser


def test_robots_txt_is_one_group_for_every_crawler_with_the_sitemap(robots_lines, robotparser):
    assert robots_lines[0] == "User-agent: *"
    assert robots_lines.count("User-agent: *") == 1
    assert "Disallow: /" not in robots_lines, "the site must not block every robot"
    sitemaps = [line for line in robots_lines if line.startswith("Sitemap: ")]
    assert len(sitemaps) == 1 and sitemaps[0].endswith("/sitemap.xml")
    assert robotparser.site_maps() == [sitemaps[0].removeprefix("Sitemap: ")]
    unknown = [line for line in robots_lines[1:] if not re.match(r"(Allow|Disallow|Sitemap): \S+$", line)]
    assert not unknown


@pytest.mark.parametrize("path", ALLOWED)
def test_public_pages_are_allowed(robots_lines, robotparser, path):
    assert robotparser.can_fetch("Googlebot", f"http://example.org{path}"), path
    assert rfc9309_allowed(robots_lines, path), path


@pytest.mark.parametrize("path", DISALLOWED)
def test_sql_permutations_formats_internals_and_synthetic_are_disallowed(robots_lines, robotparser, path):
    assert not robotparser.can_fetch("Googlebot", f"http://example.org{path}"), path
    assert not rfc9309_allowed(robots_lines, path), path


@pytest.mark.parametrize("path", DISALLOWED_BY_WILDCARDS)
def test_other_permutations_are_disallowed_for_wildcard_crawlers(robots_lines, path):
    assert not rfc9309_allowed(robots_lines, path), path


def test_prefix_and_wildcard_crawlers_agree_on_every_plain_rule(robots_lines, robotparser):
    """Rules are sorted longest first, so first-match (robotparser) and longest-match (RFC 9309) agree."""
    plain = [line.split(": ", 1)[1] for line in robots_lines[1:]
             if line.startswith(("Allow", "Disallow")) and "*" not in line and "$" not in line]
    for path in plain:
        for probe in (path, path + "x"):
            prefix_answer = robotparser.can_fetch("*", f"http://example.org{probe}")
            assert prefix_answer == rfc9309_allowed(robots_lines, probe), probe


def test_rfc9309_matcher_itself():
    rules = ["Disallow: /a", "Allow: /a/b", "Disallow: /*.json", "Allow: /a/b$"]
    assert not rfc9309_allowed(rules, "/a/c")
    assert rfc9309_allowed(rules, "/a/b/c")
    assert not rfc9309_allowed(rules, "/a/b/c.json")
    assert rfc9309_allowed(rules, "/x")


@pytest.fixture(scope="module")
def sitemap_paths():
    import asyncio

    from scripts.site import make_datasette

    async def fetch():
        ds = make_datasette()
        response = await ds.client.get("/sitemap.xml")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        return response.content

    body = asyncio.run(fetch())
    root = etree.fromstring(body)  # raises on invalid XML
    assert root.tag == f"{SITEMAP_NS}urlset"
    locations = [el.text for el in root.iter(f"{SITEMAP_NS}loc")]
    assert len(locations) == len(root) and len(locations) <= findable.SITEMAP_LIMIT
    paths = []
    for location in locations:
        parts = urlsplit(location)
        assert parts.scheme in ("http", "https") and parts.netloc, location
        paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert len(paths) == len(set(paths)), "a page is listed twice"
    return paths


def row_paths(paths, table):
    prefix = f"/commissioning/{table}/"
    return sorted(p.removeprefix(prefix) for p in paths if p.startswith(prefix))


def test_sitemap_lists_every_service_opportunity_and_borough_of_the_real_database(sitemap_paths):
    with real_db() as conn:
        services = sorted(tilde_encode(r) for (r,) in conn.execute("select service_id from services"))
        opportunities = sorted(tilde_encode(r) for (r,) in conn.execute("select reference from funding_opportunities"))
        boroughs = conn.execute("select count(*) from boroughs").fetchone()[0]
        programmes = conn.execute("select count(distinct programme) from vru_programmes").fetchone()[0]
    assert services and opportunities and boroughs == 33
    assert row_paths(sitemap_paths, "services") == services
    assert row_paths(sitemap_paths, "funding_opportunities") == opportunities
    assert len([p for p in sitemap_paths if p.startswith("/boroughs/")]) == boroughs
    assert len([p for p in sitemap_paths if p.startswith("/commissioning/-/vru-programme?programme=")]) == programmes
    assert not [p for p in sitemap_paths if "synthetic" in p.lower()]


def test_sitemap_lists_the_custom_pages_and_every_page_file_is_placed():
    pages = {
        "/" + str(path.relative_to(ROOT / "templates" / "pages").with_suffix(""))
        for path in (ROOT / "templates" / "pages").rglob("*.html")
    }
    assert pages == set(findable.PAGES) | set(findable.PAGES_NOT_LISTED), (
        "a page in templates/pages/ must be in findable.PAGES (listed in /sitemap.xml) or PAGES_NOT_LISTED")


def test_sitemap_pages_are_listed_and_allowed_by_robots(sitemap_paths, robots_lines, robotparser):
    for page in ["/", *findable.PAGES, "/commissioning", "/commissioning/services", "/-/dashboards/vru"]:
        assert page in sitemap_paths, page
    blocked = [p for p in sitemap_paths
               if not robotparser.can_fetch("*", f"http://example.org{p}") or not rfc9309_allowed(robots_lines, p)]
    assert not blocked, f"listed in the sitemap but disallowed by robots.txt: {blocked[:5]}"


@pytest.mark.asyncio(loop_scope="session")
async def test_every_sitemap_page_is_served(datasette, sitemap_paths):
    failed = []
    for path in sitemap_paths:
        try:
            response = await datasette.client.get(path)
        except Exception as error:  # noqa: BLE001 - report every failing page, not only the first
            failed.append((path, repr(error)))
            continue
        if response.status_code != 200:
            failed.append((path, response.status_code))
    assert not failed


def test_robots_rules_from_facts():
    """The rules for a made-up site: one public and one synthetic database, one dashboard of each."""
    facts = findable.SiteFacts(
        databases=[
            findable.DatabaseFacts("real", "/real", False, pages=["/real/t", "/real/s_public"], queries=["/real/q"],
                                   hidden=["/real/t_fts", "/real/s"], tables={"t", "vru_programmes"}),
            findable.DatabaseFacts("fake", "/fake", True),
        ],
        dashboards=[findable.DashboardFacts("/-/dashboards/a", True, ["year"]),
                    findable.DashboardFacts("/-/dashboards/a-fake", False, [])],
        dashboards_path="/-/dashboards",
        pages=["/about"],
    )
    lines = findable.robots_rules(facts)
    assert lines == sorted(lines, key=lambda line: -len(line.split(": ", 1)[1]))
    for rule in ["Disallow: /fake", "Disallow: /real/t?_", "Disallow: /real/q.", "Disallow: /real/t_fts",
                 "Disallow: /-/dashboards/a?year", "Disallow: /-/dashboards/a-fake", "Disallow: /about?db",
                 "Allow: /real/-/vru-programme?programme="]:
        assert rule in lines, rule
    assert "Disallow: /real/s" not in lines, "a hidden name that prefixes a public page must not block it"
    assert not [line for line in lines if line.endswith("?")], "urllib.robotparser drops a final ?"
