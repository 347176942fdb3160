"""What search engines may crawl, and which pages the sitemap lists (issue 16), read from the served databases only.

`site_facts(datasette)` gathers, once per request, which databases are public (not synthetic: `build_info.synthetic`),
their tables, views and canned queries, and which dashboards draw only on public databases. Then:

- `robots_rules(facts)`: the lines plugins/robots_txt.py adds to /robots.txt (served by datasette-block-robots).
  Public pages are allowed; ad-hoc SQL, every query-string permutation below a database (facets, sorts, filters,
  `_next` pages, searches), export formats (.json, .csv, .db ...), Datasette's own /-/ pages and the synthetic
  database and dashboards are disallowed. The rules are written twice over: RFC 9309 wildcards (`*`), which Google
  and Bing match by the longest rule, and plain path prefixes per database, table, view and query for crawlers that
  match prefixes in order (Python's urllib.robotparser among them). They are sorted longest first, so both kinds of
  crawler reach the same answer. No rule ends in a bare `?`: urllib.robotparser drops it, which would turn
  `Disallow: /db/table?` into `Disallow: /db/table`.
- `sitemap_paths(datasette, facts)`: the paths plugins/sitemap_paths.py gives datasette-sitemap for /sitemap.xml: the
  home page, the custom pages, each public database with its plugin pages, tables and views, every service and
  funding opportunity row page, every borough page, every VRU programme page and the public dashboards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from datasette.utils import tilde_encode

from .borough_feeds import slug

# Custom pages (templates/pages/) in the sitemap, and those left out with the reason. tests/test_findable.py keeps
# the two together equal to the files in templates/pages/, so a new page must be placed in one of them.
PAGES = [
    "/about", "/accessibility", "/borough-feeds", "/boroughs", "/coverage", "/opportunities", "/performance",
    "/performance/committee-pack", "/report-an-inaccuracy", "/review-due", "/services-data",
]
PAGES_NOT_LISTED = {
    "/performance/service": "needs ?service_id=; each service's history is linked from /performance",
    "/boroughs/{borough}": "listed once per borough from the boroughs table",
}
# Pages that plugins add below each database (plugins/lcpf_pages.py, services_near_me.py, vru_programme_page.py).
DATABASE_PAGES = ["-/lcpf", "-/lcpf-explorer", "-/services-near-me"]
# A database page whose query string names a page of its own: (page, parameter, table and column of its values).
DATABASE_PAGES_BY_PARAMETER = [("-/vru-programme", "programme", "vru_programmes", "programme")]
# A search form whose results are not for indexing.
SEARCH_PAGES = [("-/services-near-me", "q")]
# Tables whose every row page is listed in the sitemap.
ROW_TABLES = ["services", "funding_opportunities"]
# The page of each borough, /boroughs/<slug>, from this table.
BOROUGHS_TABLE = "boroughs"
# Style sheets and scripts a crawler needs to render the pages (the site's /static/ mount, Datasette's and plugins'),
# allowed even with a query string such as ?_build= (plugins/http_caching.py).
ASSETS_ALLOWED = ["/static/", "/-/static/", "/-/static-plugins/"]
SITEMAP_LIMIT = 50_000  # URLs in one sitemap file (sitemaps.org protocol)


@dataclass
class DatabaseFacts:
    name: str
    path: str
    synthetic: bool
    pages: list[str] = field(default_factory=list)  # paths of visible tables and views
    queries: list[str] = field(default_factory=list)  # paths of canned queries
    hidden: list[str] = field(default_factory=list)  # paths of hidden tables (full-text index tables and the like)
    tables: set[str] = field(default_factory=set)  # names of every table and view


@dataclass
class DashboardFacts:
    path: str
    public: bool
    filters: list[str]


@dataclass
class SiteFacts:
    databases: list[DatabaseFacts]
    dashboards: list[DashboardFacts]
    dashboards_path: str
    pages: list[str]

    @property
    def public(self) -> list[DatabaseFacts]:
        return [d for d in self.databases if not d.synthetic]


async def is_synthetic(db) -> bool:
    if "build_info" not in await db.table_names():
        return False
    row = (await db.execute("select value from build_info where key = 'synthetic'")).first()
    return bool(row) and row[0] == "true"


def dashboard_databases(config: dict) -> set[str]:
    """Every database a datasette-dashboards dashboard names, in its charts and its filters."""
    names = set()
    for part in ("charts", "filters"):
        for item in (config.get(part) or {}).values():
            if isinstance(item, dict) and item.get("db"):
                names.add(item["db"])
    return names


async def site_facts(datasette) -> SiteFacts:
    # Plain str: Datasette's URL strings (PrefixedUrlString) make every method call slow (a dir() per call).
    urls = datasette.urls
    databases = []
    for name, db in datasette.databases.items():
        if name == "_internal":
            continue
        hidden = set(await db.hidden_table_names())
        tables = await db.table_names()
        views = await db.view_names()
        queries = await datasette.get_canned_queries(name, None)
        databases.append(DatabaseFacts(
            name=name,
            path=str(urls.database(name)),
            synthetic=await is_synthetic(db),
            pages=[str(urls.table(name, t)) for t in sorted({*tables, *views} - hidden)],
            queries=[str(urls.table(name, q)) for q in queries],
            hidden=[str(urls.table(name, t)) for t in sorted(hidden)],
            tables={*tables, *views},
        ))
    synthetic = {d.name for d in databases if d.synthetic}
    dashboards = []
    for dashboard_slug, config in (datasette.plugin_config("datasette-dashboards") or {}).items():
        if not isinstance(config, dict):
            continue
        dashboards.append(DashboardFacts(
            path=str(urls.path(f"-/dashboards/{quote(dashboard_slug)}")),
            public=not (dashboard_databases(config) & synthetic),
            filters=list(config.get("filters") or {}),
        ))
    pages = [str(urls.path(page.lstrip("/"))) for page in PAGES]
    return SiteFacts(databases, dashboards, str(urls.path("-/dashboards")), pages)


def sort_rules(rules: list[tuple[str, str]]) -> list[str]:
    """Longest path first (the most specific rule), Allow before Disallow on a tie (RFC 9309 prefers Allow)."""
    unique = sorted(set(rules), key=lambda rule: (-len(rule[1]), rule[0] != "Allow", rule[1]))
    return [f"{verb}: {path}" for verb, path in unique]


def robots_rules(facts: SiteFacts) -> list[str]:
    rules: list[tuple[str, str]] = [
        ("Disallow", "/-/"),
        *[("Allow", path) for path in ASSETS_ALLOWED],
        # Anywhere: ad-hoc SQL, Datasette's _ parameters (facets, sorts, _next pages, searches, shapes), the database
        # switch of the custom pages (?db=synthetic_demo).
        ("Disallow", "/*?sql="), ("Disallow", "/*&sql="),
        ("Disallow", "/*?_"), ("Disallow", "/*&_"),
        ("Disallow", "/*?db="), ("Disallow", "/*&db="),
    ]
    for page in facts.pages:
        rules.append(("Disallow", f"{page}?db"))
    for database in facts.databases:
        if database.synthetic:
            rules.append(("Disallow", database.path))
            continue
        base = database.path
        rules += [
            ("Disallow", f"{base}."),  # the .db download and the .json of the database page
            ("Disallow", f"{base}?*"), ("Disallow", f"{base}?sql"), ("Disallow", f"{base}?_"),
            ("Disallow", f"{base}/*?*"),  # every query string below the database (facets, sorts, filters, pages)
            ("Disallow", f"{base}/*."),  # every export format below the database (.json, .csv, .geojson, .atom, .ics)
        ]
        for page in database.pages + database.queries:
            rules += [("Disallow", f"{page}?_"), ("Disallow", f"{page}.")]
        public_names = database.pages + database.queries + [f"{base}/{p}" for p in DATABASE_PAGES]
        for hidden in database.hidden:
            if not any(name.startswith(hidden) and name != hidden for name in public_names):
                rules.append(("Disallow", hidden))
        for page, parameter in SEARCH_PAGES:
            rules.append(("Disallow", f"{base}/{page}?{parameter}"))
        for page, parameter, table, _column in DATABASE_PAGES_BY_PARAMETER:
            if table in database.tables:
                rules.append(("Allow", f"{base}/{page}?{parameter}="))
    rules.append(("Allow", facts.dashboards_path))
    rules.append(("Disallow", f"{facts.dashboards_path}/*?*"))
    rules.append(("Disallow", f"{facts.dashboards_path}/*/embed"))
    for dashboard in facts.dashboards:
        if not dashboard.public:
            rules.append(("Disallow", dashboard.path))
            continue
        rules.append(("Disallow", f"{dashboard.path}/embed"))
        for key in dashboard.filters:
            rules.append(("Disallow", f"{dashboard.path}?{key}"))
    return sort_rules(rules)


def row_path(datasette, database: str, table: str, row: tuple) -> str:
    return str(datasette.urls.row(database, table, ",".join(tilde_encode(str(value)) for value in row)))


async def select(db, sql: str) -> list[tuple]:
    """Every row (db.execute stops at max_returned_rows)."""
    return await db.execute_fn(lambda conn: conn.execute(sql).fetchall())


async def sitemap_paths(datasette, facts: SiteFacts) -> list[str]:
    """Every public page; paths are URL-quoted or tilde-encoded, so none needs escaping in the XML."""
    paths = [str(datasette.urls.path("")), *facts.pages]
    public = facts.public
    if public and BOROUGHS_TABLE in public[0].tables:
        rows = await select(datasette.get_database(public[0].name), f"select name from [{BOROUGHS_TABLE}] order by 1")
        paths += [str(datasette.urls.path(f"boroughs/{quote(slug(row[0]))}")) for row in rows]
    for database in public:
        db = datasette.get_database(database.name)
        paths.append(database.path)
        paths += [f"{database.path}/{page}" for page in DATABASE_PAGES]
        paths += database.pages
        for page, parameter, table, column in DATABASE_PAGES_BY_PARAMETER:
            if table in database.tables:
                sql = f"select distinct [{column}] from [{table}] where [{column}] is not null order by 1"
                rows = await select(db, sql)
                paths += [f"{database.path}/{page}?{parameter}={quote(str(row[0]), safe='')}" for row in rows]
        for table in ROW_TABLES:
            if table not in database.tables:
                continue
            pks = await db.primary_keys(table) or ["rowid"]
            columns = ", ".join(f"[{pk}]" for pk in pks)
            rows = await select(db, f"select {columns} from [{table}] order by {columns}")
            paths += [row_path(datasette, database.name, table, row) for row in rows]
    paths.append(facts.dashboards_path)
    paths += [dashboard.path for dashboard in facts.dashboards if dashboard.public]
    return list(dict.fromkeys(paths))[:SITEMAP_LIMIT]
