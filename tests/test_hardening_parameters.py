"""Bad parameters get HTTP 400 with a message, never 500 (issue 15): plugins/table_parameters.py (`_sort`,
`_sort_desc`, `_next`, `_through`), plugins/request_parameters.py (NUL characters, `_timelimit`),
plugins/client_errors.py (SQL the request wrote that SQLite refuses, numbers beyond 64 bits, a CSV stopped at the
time limit), and the Open Referral API's page numbers. A walk over every table, view, canned query and custom page
with garbage values checks that nothing answers 5xx."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest

from scripts.site import BUILD, DATABASES, ROOT, load_metadata

TWENTY_DIGITS = "12345678901234567890"

# (address, words the message must contain)
BAD = [
    ("/commissioning/services.json?_sort=no_such_column", "cannot be sorted by"),
    ("/commissioning/services.json?_sort=rowid", "cannot be sorted by"),
    ("/commissioning/services.json?_sort_desc=no_such_column", "cannot be sorted by"),
    ("/commissioning/services.json?_sort_desc=rowid", "cannot be sorted by"),
    ("/commissioning/services.json?_sort=name&_sort_desc=name", "not both"),
    ("/commissioning/service_coverage_by_borough.json?_sort=rowid", "cannot be sorted by"),
    ("/commissioning/services.json?_next=garbage", "_next"),
    ("/commissioning/services.json?_sort=service_id&_next=a,b,c", "_next"),
    ("/commissioning/boroughs.json?_next=E09000001,extra,more", "_next"),
    ("/commissioning/crime_monthly.json?_next=abc", "rowid"),
    ("/commissioning/crime_monthly.json?_sort=month&_next=2020-01,abc", "the last value, rowid"),
    ("/commissioning/service_coverage_by_borough.json?_next=abc", "whole number"),
    ("/commissioning/service_coverage_by_borough.json?_next=" + TWENTY_DIGITS * 2, "whole number"),
    ("/commissioning/services.json?_through=zzz", "_through"),
    ("/commissioning/services.json?_through=" + quote('{"table": "boroughs", "column": "name", "value": "x"}'),
     "no foreign key"),
    ("/commissioning/services.json?_timelimit=zzz", "_timelimit"),
    ("/commissioning.json?sql=select+1&_timelimit=1e999", "_timelimit"),
    ("/commissioning/services.json?_where=%00", "NUL"),
    ("/commissioning/services.json?_facet=%00", "NUL"),
    ("/commissioning/services.json?name__exact=%00", "NUL"),
    ("/commissioning/services.json?_where=" + quote("$missing = 1"), "binding parameter"),
    ("/commissioning/crime_monthly.json?rowid__gt=" + TWENTY_DIGITS, "too large"),
    ("/commissioning/services.json?_size=abc", "_size"),
    ("/commissioning/services.json?_size=-1", "_size"),
    ("/commissioning/services.json?_size=" + TWENTY_DIGITS, "_size"),
    ("/openreferral/services?page=" + TWENTY_DIGITS, "page must be at most"),
    ("/openreferral/services?per_page=" + TWENTY_DIGITS, "per_page must be at most"),
    ("/openreferral/services?page=0", "page must be"),
    ("/openreferral/taxonomies?page=" + TWENTY_DIGITS, "page must be at most"),
    ("/openreferral/taxonomy_terms?per_page=x", "per_page must be"),
    ("/commissioning/-/services-near-me.json?q=Narnia", "not a postcode district"),
]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path,words", BAD, ids=[b[0] for b in BAD])
async def test_bad_parameter_is_400_with_a_message(datasette, path, words):
    response = await datasette.client.get(path)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert words.lower() in response.json()["error"].lower(), response.json()
    if path.startswith("/commissioning/") and "/-/" not in path:  # the HTML page says the same
        page = await datasette.client.get(path.replace(".json", "", 1))
        assert page.status_code == 400 and "Error 400" in page.text


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", ["/commissioning/services.json", "/commissioning/services.json?_sort_desc=name",
                                  "/commissioning/crime_monthly.json", "/commissioning/crime_monthly.json?_sort=month",
                                  "/commissioning/service_coverage_by_borough.json",
                                  "/commissioning/changes.json?_size=5",
                                  "/synthetic_demo/measure_results.json?_sort_desc=period"])
async def test_the_pages_own_next_links_still_work(datasette, path):
    """Datasette's own `_next` tokens (sorted, unsorted, rowid, view offsets) pass the checks and page on."""
    first = (await datasette.client.get(path + ("&" if "?" in path else "?") + "_size=3")).json()
    assert first["next"], path
    separator = "&" if "?" in path else "?"
    following = await datasette.client.get(f"{path}{separator}_size=3&_next={quote(first['next'])}")
    assert following.status_code == 200, following.text[:300]
    assert following.json()["rows"] and following.json()["rows"] != first["rows"]


def tables_and_views() -> list[tuple[str, str]]:
    found = []
    for name in DATABASES:
        db = sqlite3.connect(f"file:{BUILD / name}?immutable=1", uri=True)
        database = name.removesuffix(".db")
        found += [(database, t) for (t,) in db.execute(
            "select name from sqlite_master where type in ('table', 'view') and name not like '%\\_fts%' escape '\\' "
            "and name not like 'sqlite_%' order by name")]
        db.close()
    return found


GARBAGE = ["", "zzz", "-1", TWENTY_DIGITS, "1e999", "'", "\"", "a,b,c", "$null,1", "~", "%", "<script>", "é"]
TABLE_PARAMETERS = ["_sort", "_sort_desc", "_next", "_size", "_facet", "_search", "_col", "_nocol", "_shape",
                    "_labels", "_where", "_through", "_timelimit", "_facet_size", "_facet_array", "_facet_date",
                    "_nofacet", "_nocount", "_dl", "_stream", "rowid__gt", "rowid__in"]


@pytest.mark.asyncio(loop_scope="session")
async def test_no_table_or_view_answers_5xx_to_garbage(datasette):
    """Every table and view of both databases, every Datasette table parameter, a spread of garbage values."""
    failures = []
    for t, (database, table) in enumerate(tables_and_views()):
        base = f"/{database}/{quote(table)}"
        for i, name in enumerate(TABLE_PARAMETERS):
            # every table gets every parameter; the values rotate so that each value meets each parameter somewhere
            for value in (GARBAGE[(i + t) % len(GARBAGE)],):
                path = f"{base}.json?{name}={quote(value, safe='')}"
                response = await datasette.client.get(path)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {path}: {response.text[:160]}")
        for path in (f"{base}.csv?_sort=nope", f"{base}?_next=~~", f"{base}.csv?_stream=1&_size=zzz"):
            response = await datasette.client.get(path)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {path}: {response.text[:160]}")
    assert failures == []


def custom_pages() -> list[str]:
    pages = ["/"]
    for path in sorted((ROOT / "templates" / "pages").rglob("*.html")):
        relative = str(path.relative_to(ROOT / "templates" / "pages").with_suffix(""))
        pages.append("/" + relative.replace("{borough}", "E09000008"))
    for database in ("commissioning", "synthetic_demo"):
        pages += [f"/{database}/-/services-near-me", f"/{database}/-/services-near-me.json",
                  f"/{database}/-/lcpf", f"/{database}/-/lcpf-explorer", f"/{database}/-/lcpf-explorer.json",
                  f"/{database}/-/lcpf-explorer.csv", f"/{database}/-/vru-programme", f"/{database}/openreferral/",
                  f"/{database}/openreferral/services", f"/{database}/openreferral/taxonomies",
                  f"/{database}/openreferral/taxonomy_terms"]
    return pages + ["/boroughs/x", "/-/dashboards/vru", "/-/search", "/-/search.json"]


PAGE_PARAMETERS = ["q", "db", "year", "borough", "period", "service_id", "commissioner", "programme", "postcode",
                   "service_area", "min_amount", "max_amount", "min_value", "include_closed", "opportunity_type",
                   "page", "per_page", "search", "taxonomy_term_id", "modified_after", "postcode_district", "format",
                   "fund_total", "floor", "weight", "_size", "_next", "_sort"]


@pytest.mark.asyncio(loop_scope="session")
async def test_no_custom_page_answers_5xx_to_garbage(datasette):
    failures = []
    pages = custom_pages()
    for page_index, page in enumerate(pages):
        for i, name in enumerate(PAGE_PARAMETERS):
            for value in GARBAGE[(i + page_index) % 6::6]:
                path = f"{page}?{name}={quote(value, safe='')}"
                response = await datasette.client.get(path)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {path}: {response.text[:160]}")
    assert len(pages) > 20 and failures == []


@pytest.mark.asyncio(loop_scope="session")
async def test_no_canned_query_answers_5xx_to_garbage(datasette):
    failures = []
    for database, config in (load_metadata().get("databases") or {}).items():
        for query in (config.get("queries") or {}):
            for suffix in ("", ".json", ".csv"):
                for value in ("zzz", TWENTY_DIGITS + "'%"):
                    path = f"/{database}/{query}{suffix}?borough={quote(value)}&area={quote(value)}&q={quote(value)}" \
                           f"&_size={quote(value)}&_next={quote(value)}"
                    response = await datasette.client.get(path)
                    if response.status_code >= 500:
                        failures.append(f"{response.status_code} {path}: {response.text[:160]}")
    assert failures == []
