"""The provider page (issue 17): everything one organisation delivers, is a partner in or is named as the recipient
of, with its money by financial year and by commissioner, and the boroughs it works in.

Links are by identifier only: services.organization_id (the provider), service_partners (lead or partner, when the
database has that table) and funding_decisions.recipient_organization_id (the build refuses a decision whose
recipient is an organisation's name but is not linked: scripts/publication/domains/funding_links.py). Totals add the
stated amounts of the decision rows that name the organisation: the same figure as a direct SQL sum."""

from __future__ import annotations

from urllib.parse import urlencode

from plugins.view_models import decisions as funding

NOT_PUBLIC = {
    "services": "No service in this publication names this organisation as its provider or a partner.",
    "decisions": "No funding decision row in this publication names this organisation as its recipient, so its "
                 "money by financial year and by commissioner is not public here.",
    "amounts": "The decision rows that name this organisation state no amount in pounds.",
    "boroughs": "No borough is named for this organisation's services or decisions.",
}


def provider_services(conn, organization_id: str) -> list[dict]:
    """Services it provides (services.organization_id) or is a lead or partner in (service_partners), once each,
    with every role the publication records."""
    partner_sql = ""
    if funding.has_tables(conn, "service_partners"):
        partner_sql = """
        UNION ALL
        SELECT service_id, CASE role WHEN 'lead' THEN 'lead provider' ELSE 'partner' END, source_url
        FROM service_partners WHERE organization_id = :org"""
    found = funding.rows(conn, f"""
        WITH roles(service_id, role, source_url) AS (
          SELECT service_id, 'provider', source_url FROM services WHERE organization_id = :org{partner_sql})
        SELECT s.service_id, s.name, s.status, s.commissioner, s.service_area, s.coverage, s.start_date, s.end_date,
          s.total_value_gbp, s.borough_count, group_concat(DISTINCT r.role) AS roles
        FROM roles r JOIN services s ON s.service_id = r.service_id
        GROUP BY s.service_id ORDER BY s.name""", {"org": organization_id})
    for service in found:
        service["roles"] = sorted(set((service["roles"] or "").split(",")))
        service["total_display"] = funding.money(service["total_value_gbp"])
    return found


def provider_boroughs(conn, organization_id: str, service_ids: list[str]) -> dict:
    """Boroughs named for its services (service_areas: London-wide services count in all 33) and its decisions."""
    marks = ",".join("?" * len(service_ids)) or "NULL"
    found = funding.rows(conn, f"""
        WITH s AS (SELECT gss_code, count(DISTINCT service_id) AS n FROM service_areas
                   WHERE service_id IN ({marks}) GROUP BY gss_code),
        d AS (SELECT gss_code, count(*) AS n FROM funding_decisions
              WHERE recipient_organization_id = ? AND gss_code IS NOT NULL GROUP BY gss_code)
        SELECT b.gss_code, b.name, coalesce(s.n, 0) AS services, coalesce(d.n, 0) AS decision_rows
        FROM boroughs b LEFT JOIN s ON s.gss_code = b.gss_code LEFT JOIN d ON d.gss_code = b.gss_code
        WHERE s.n IS NOT NULL OR d.n IS NOT NULL ORDER BY b.name""", [*service_ids, organization_id])
    (london_wide,) = conn.execute(
        f"SELECT count(*) FROM services WHERE service_id IN ({marks}) AND coverage = 'london-wide'", service_ids
    ).fetchone()
    (unnamed,) = conn.execute(
        f"SELECT count(*) FROM services WHERE service_id IN ({marks}) AND borough_count = 0", service_ids
    ).fetchone()
    return {"rows": found, "london_wide_services": london_wide, "services_without_named_boroughs": unnamed}


def provider_detail(conn, organization_id: str) -> dict | None:
    """Everything the provider page shows (None when there is no such organisation)."""
    found = funding.rows(conn, "SELECT * FROM organizations WHERE organization_id = ?", [organization_id])
    if not found:
        return None
    organization = found[0]
    services = provider_services(conn, organization_id)
    decisions = funding.decision_rows(conn, "d.recipient_organization_id = ?", [organization_id])
    years = funding.by_year(decisions)
    commissioners = sorted(funding.totals_by(decisions, "organisation"),
                           key=lambda c: (-(c["amount_gbp"] or 0), c["label"]))
    boroughs = provider_boroughs(conn, organization_id, [s["service_id"] for s in services])
    amount = funding.total(decisions)
    not_public = []
    if not services:
        not_public.append(NOT_PUBLIC["services"])
    if not decisions:
        not_public.append(NOT_PUBLIC["decisions"])
    elif amount is None:
        not_public.append(NOT_PUBLIC["amounts"])
    if not boroughs["rows"]:
        not_public.append(NOT_PUBLIC["boroughs"])
    return {
        "organization": organization,
        "services": services,
        "decisions": decisions,
        "by_year": years,
        "by_commissioner": commissioners,
        "total_gbp": amount,
        "total_display": funding.money(amount),
        "boroughs": boroughs,
        "chart_svg": funding.year_chart(years, title=f"Money by financial year: {organization['name']}",
                                        ident="provider-money-chart"),
        "downloads": downloads(organization_id),
        "not_public": not_public,
    }


DOWNLOADS = {
    "provider_decisions": "Decision rows naming it",
    "provider_money_by_year": "Money by financial year",
    "provider_money_by_commissioner": "Money by commissioner",
    "provider_services": "Services",
}


def downloads(organization_id: str) -> list[dict]:
    """The canned queries (metadata.yml) that give the page's tables as CSV and JSON."""
    query = urlencode({"organization_id": organization_id})
    return [{"query": name, "label": label, "params": query} for name, label in DOWNLOADS.items()]


def provider_json(detail: dict, database: str) -> dict:
    """The provider page as JSON (docs/pages-json.md)."""
    drop = ("amount_display", "year_display", "decision_query", "total_display")
    return {
        "database": database,
        "organization": detail["organization"],
        "total_gbp": detail["total_gbp"],
        "by_year": [{k: v for k, v in y.items() if k not in drop} for y in detail["by_year"]],
        "by_commissioner": [{k: v for k, v in c.items() if k not in drop} for c in detail["by_commissioner"]],
        "services": [{k: v for k, v in s.items() if k not in drop} for s in detail["services"]],
        "decisions": [{k: v for k, v in d.items() if k not in drop} for d in detail["decisions"]],
        "boroughs": detail["boroughs"],
        "downloads": {
            d["query"]: {f: f"/{database}/{d['query']}.{f}?{d['params']}" for f in ("csv", "json")}
            for d in detail["downloads"]
        },
        "not_public": detail["not_public"],
    }
