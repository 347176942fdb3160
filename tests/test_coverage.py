"""/coverage (issue 13): what the publication holds per kind of fact, counted from the built tables."""

from __future__ import annotations

import sqlite3

import pytest
from lxml import html

DIRECT = {
    "Funding-decision rows (one per recipient and year where the source splits it)":
        ("SELECT count(*) FROM funding_decisions", None),
    "Distinct decision references": ("SELECT count(DISTINCT reference) FROM funding_decisions", None),
    "Services with a named provider":
        ("SELECT count(*) FROM services WHERE organization_id IS NOT NULL", "SELECT count(*) FROM services"),
    "Published RAG ratings": ("SELECT count(*) FROM ratings", None),
}


@pytest.mark.parametrize("db_fixture", ["real_db_path", "synthetic_db_path"])
def test_coverage_counts_equal_direct_counts(request, db_fixture):
    conn = sqlite3.connect(request.getfixturevalue(db_fixture))
    rows = {fact: (held, expected, missing) for fact, held, expected, missing in conn.execute(
        "SELECT fact, held, expected, missing FROM publication_coverage")}
    for fact, (held_sql, expected_sql) in DIRECT.items():
        held, expected, missing = rows[fact]
        assert held == conn.execute(held_sql).fetchone()[0], fact
        if expected_sql:
            assert expected == conn.execute(expected_sql).fetchone()[0], fact
            assert missing == expected - held
        else:
            assert expected is None and missing is None


def test_lcpf_allocations_expected_is_32_boroughs_times_the_years_shown(real_db_path):
    conn = sqlite3.connect(real_db_path)
    held, expected = conn.execute(
        "SELECT held, expected FROM publication_coverage WHERE fact LIKE 'Per-borough LCPF allocations%'").fetchone()
    years = {y for (y,) in conn.execute("SELECT financial_year FROM lcpf_allocations")}
    years |= {y for (y,) in conn.execute("SELECT financial_years FROM lcpf_funding") if len(y or "") == 7}
    assert expected == 32 * len(years)
    assert held == conn.execute("SELECT count(DISTINCT financial_year || gss_code) FROM lcpf_allocations").fetchone()[0]


@pytest.mark.asyncio(loop_scope="session")
async def test_coverage_page_shows_every_fact_with_its_count(datasette, real_db_path):
    response = await datasette.client.get("/coverage")
    assert response.status_code == 200
    tree = html.fromstring(response.text)
    cells = [" ".join(row.xpath("./td//text()")) for row in tree.xpath("//main//tbody/tr")]
    conn = sqlite3.connect(real_db_path)
    facts = conn.execute("SELECT fact, held, expected FROM publication_coverage ORDER BY position").fetchall()
    assert len(cells) == len(facts)
    for text, (fact, held, expected) in zip(cells, facts, strict=True):
        assert fact in text
        assert f"{held:,}" + (f" of {expected:,}" if expected is not None else "") in text


@pytest.mark.asyncio(loop_scope="session")
async def test_coverage_of_the_synthetic_database_says_so(datasette):
    response = await datasette.client.get("/coverage?db=synthetic_demo")
    assert response.status_code == 200
    assert "SYNTHETIC demo database" in response.text
    listing = await datasette.client.get("/synthetic_demo/publication_coverage.json?_shape=array&_size=max")
    assert len(listing.json()) == response.text.count("<tr><td>")


@pytest.mark.browser
def test_coverage_page_in_chromium(page, live_server, check_page_at_widths):
    check_page_at_widths(page, live_server + "/coverage", "coverage")
