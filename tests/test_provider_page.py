"""The provider page (issue 17): every service an organisation delivers or is a partner in, every decision that names
it, totals by financial year and by commissioner, the boroughs it works in, with CSV and JSON, on both databases.
Totals must equal a direct SQL sum; every expectation is worked out here with SQL."""

from __future__ import annotations

import csv
import io

import pytest

from plugins.view_models import providers
from tests.build_helpers import BUILT_DATABASES, connect_built

asyncio = pytest.mark.asyncio(loop_scope="session")
DATABASES = BUILT_DATABASES
NOT_STATED = "not stated as financial years"
connect = connect_built


def busiest(db) -> str:
    """The organisation named by the most decision rows (ties by identifier)."""
    (organization_id,) = db.execute(
        "select recipient_organization_id from funding_decisions where recipient_organization_id is not null "
        "group by 1 order by count(*) desc, 1 limit 1").fetchone()
    return organization_id


def services_of(db, organization_id: str) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    for (service_id,) in db.execute("select service_id from services where organization_id = ?", [organization_id]):
        roles.setdefault(service_id, set()).add("provider")
    for service_id, role in db.execute("select service_id, role from service_partners where organization_id = ?",
                                       [organization_id]):
        roles.setdefault(service_id, set()).add("lead provider" if role == "lead" else "partner")
    return roles


@pytest.mark.parametrize("name", DATABASES)
def test_every_providers_total_equals_a_direct_sql_sum(name):
    db = connect(name)
    checked = 0
    for (organization_id,) in db.execute("select organization_id from organizations order by 1").fetchall():
        detail = providers.provider_detail(db, organization_id)
        (expected,) = db.execute("select sum(amount_gbp) from funding_decisions where recipient_organization_id = ?",
                                 [organization_id]).fetchone()
        assert detail["total_gbp"] == pytest.approx(expected) if expected is not None else detail["total_gbp"] is None
        assert sum(y["amount_gbp"] or 0 for y in detail["by_year"]) == pytest.approx(expected or 0)
        assert sum(c["amount_gbp"] or 0 for c in detail["by_commissioner"]) == pytest.approx(expected or 0)
        checked += expected is not None
    assert checked > 0


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_provider_json_holds_its_decisions_years_commissioners_services_and_boroughs(datasette, name):
    db = connect(name)
    organization_id = busiest(db)
    response = await datasette.client.get(f"/{name}/-/provider/{organization_id}.json")
    assert response.status_code == 200
    body = response.json()
    rows = db.execute("select record_id from funding_decisions where recipient_organization_id = ?",
                      [organization_id]).fetchall()
    assert sorted(d["record_id"] for d in body["decisions"]) == sorted(r[0] for r in rows)
    (total,) = db.execute("select sum(amount_gbp) from funding_decisions where recipient_organization_id = ?",
                          [organization_id]).fetchone()
    assert body["total_gbp"] == pytest.approx(total)
    by_year = dict(db.execute(
        "select coalesce(financial_year, ?), sum(amount_gbp) from funding_decisions "
        "where recipient_organization_id = ? group by 1", [NOT_STATED, organization_id]).fetchall())
    assert {y["label"]: y["amount_gbp"] for y in body["by_year"]} == pytest.approx(by_year)
    by_commissioner = dict(db.execute(
        "select organisation, sum(amount_gbp) from funding_decisions where recipient_organization_id = ? group by 1",
        [organization_id]).fetchall())
    assert {c["label"]: c["amount_gbp"] for c in body["by_commissioner"]} == pytest.approx(by_commissioner)
    expected = services_of(db, organization_id)
    assert {s["service_id"]: set(s["roles"]) for s in body["services"]} == expected
    marks = ",".join("?" * len(expected)) or "NULL"
    boroughs = {r[0] for r in db.execute(
        f"select gss_code from service_areas where service_id in ({marks}) union "
        "select gss_code from funding_decisions where recipient_organization_id = ? and gss_code is not null",
        [*expected, organization_id])}
    assert {b["gss_code"] for b in body["boroughs"]["rows"]} == boroughs

    html = (await datasette.client.get(f"/{name}/organizations/{organization_id}")).text
    for (record_id,) in rows:
        assert f'href="/{name}/funding_decisions/{record_id}"' in html
    for service_id in expected:
        assert f'href="/{name}/services/{service_id}"' in html
    assert f'href="/{name}/provider_decisions.csv?organization_id={organization_id}"' in html


@asyncio
async def test_a_partner_sees_the_services_it_is_a_partner_in(datasette):
    for name in DATABASES:
        db = connect(name)
        found = db.execute("select organization_id, service_id from service_partners where role = 'partner' "
                           "order by 1, 2 limit 1").fetchone()
        if found is None:
            continue
        body = (await datasette.client.get(f"/{name}/-/provider/{found[0]}.json")).json()
        roles = {s["service_id"]: s["roles"] for s in body["services"]}
        assert "partner" in roles[found[1]]


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_provider_csv_and_json_downloads_agree_with_sql(datasette, name):
    db = connect(name)
    organization_id = busiest(db)
    response = await datasette.client.get(f"/{name}/provider_money_by_year.csv?organization_id={organization_id}")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    got = {r["financial_year"]: float(r["amount_gbp"]) if r["amount_gbp"] else None for r in rows}
    expected = dict(db.execute(
        "select coalesce(financial_year, ?), sum(amount_gbp) from funding_decisions "
        "where recipient_organization_id = ? group by 1", [NOT_STATED, organization_id]).fetchall())
    assert got == pytest.approx(expected)
    for query in ("provider_decisions", "provider_money_by_commissioner", "provider_services"):
        response = await datasette.client.get(f"/{name}/{query}.json?organization_id={organization_id}&_shape=array")
        assert response.status_code == 200, query
    decisions = (await datasette.client.get(
        f"/{name}/provider_decisions.json?organization_id={organization_id}&_shape=array")).json()
    (count,) = db.execute("select count(*) from funding_decisions where recipient_organization_id = ?",
                          [organization_id]).fetchone()
    assert len(decisions) == count
    services = (await datasette.client.get(
        f"/{name}/provider_services.json?organization_id={organization_id}&_shape=array")).json()
    assert {s["service_id"] for s in services} == set(services_of(db, organization_id))


@asyncio
async def test_an_organisation_with_nothing_public_says_so_once(datasette):
    db = connect("commissioning")
    found = db.execute("""select o.organization_id from organizations o
        where not exists (select 1 from funding_decisions d where d.recipient_organization_id = o.organization_id)
        order by 1 limit 1""").fetchone()
    assert found
    html = (await datasette.client.get(f"/commissioning/organizations/{found[0]}")).text
    assert html.count(providers.NOT_PUBLIC["decisions"].split(",")[0]) == 1
    assert 'id="provider-money-h"' not in html
    response = await datasette.client.get("/commissioning/-/provider/no-such-organisation.json")
    assert response.status_code == 404


def provider_pages() -> list[tuple[str, str]]:
    return [(f"provider_page_{'real' if name == 'commissioning' else 'synthetic'}",
             f"/{name}/organizations/{busiest(connect(name))}") for name in DATABASES]


@pytest.mark.browser
@pytest.mark.parametrize("name,path", provider_pages())
def test_provider_page_passes_axe_and_reflows_at_320(page, live_server, check_page_at_widths, name, path):
    check_page_at_widths(page, live_server + path, name, must_have=("#provider-money-h",))
