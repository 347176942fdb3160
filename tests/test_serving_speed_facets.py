"""plugins/services_facets.py: the services facets counted from service_coverage_counts give the same values,
counts, order, labels and links as Datasette's own column and array facets, for the unfiltered page and for
equality filters; other filters fall back to Datasette's queries (issue 9)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

COLUMNS = ["service_area", "commissioner", "status", "coverage"]
DATASETTES_OWN = "&".join([*(f"_facet={c}" for c in COLUMNS), "_facet_array=boroughs_covered"])
QUERIES = ["", "service_area=vawg", "commissioner=MOPAC&status=active", "status=ended&_size=2&_sort=name",
           "_facet_size=max", "service_area=no-such-area"]


def link(url: str) -> tuple:
    parts = urlsplit(url)
    ignored = {("_facet_array", "boroughs_covered"), *(("_facet", c) for c in COLUMNS)}
    return parts.path, sorted(p for p in parse_qsl(parts.query) if p not in ignored)


def values(facet: dict) -> list[tuple]:
    return [(v["value"], v["label"], v["count"], v["selected"], link(v["toggle_url"])) for v in facet["results"]]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
@pytest.mark.parametrize("query", QUERIES)
async def test_same_as_datasettes_own_facets(datasette, database, query):
    ours = (await datasette.client.get(f"/{database}/services.json?{query}")).json()
    # Datasette's own facets on the same columns, asked for by query string: they run first, so they keep the plain
    # keys and ours become "<column>_2".
    both = (await datasette.client.get(f"/{database}/services.json?{query}&{DATASETTES_OWN}")).json()
    assert list(ours["facet_results"]) == [*COLUMNS, "boroughs_covered"]
    for column in [*COLUMNS, "boroughs_covered"]:
        mine, reference = ours["facet_results"][column], both["facet_results"][column]
        assert mine["type"] == reference["type"] == ("array" if column == "boroughs_covered" else "column")
        assert values(mine) == values(reference), column
        assert mine["truncated"] == reference["truncated"]
        assert not mine["hideable"]
        assert values(both["facet_results"][f"{column}_2"]) == values(mine)


@pytest.mark.asyncio(loop_scope="session")
async def test_other_filters_fall_back_and_still_count(datasette):
    response = await datasette.client.get("/synthetic_demo/services.json?boroughs_covered__arraycontains=Camden")
    body = response.json()
    boroughs = {v["value"]: v for v in body["facet_results"]["boroughs_covered"]["results"]}
    assert boroughs["Camden"]["selected"] and boroughs["Camden"]["count"] == body["filtered_table_rows_count"]
    statuses = body["facet_results"]["status"]["results"]
    assert sum(v["count"] for v in statuses) == body["filtered_table_rows_count"]


@pytest.mark.asyncio(loop_scope="session")
async def test_html_page_shows_the_facets_with_links(datasette):
    html = (await datasette.client.get("/synthetic_demo/services")).text
    for column in COLUMNS:
        assert f'id="facet-{column}"' in html
        assert f"{column} (" not in html  # shown as a plain column facet, no type label
    assert 'id="facet-boroughs_covered"' in html and "boroughs_covered (array)" in html
    assert "boroughs_covered__arraycontains=" in html and "?service_area=" in html
