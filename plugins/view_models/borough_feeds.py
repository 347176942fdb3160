"""What a borough officer needs about one borough (issue 8): the logic behind /boroughs/<name or code>.

`borough_page(conn, text, db_name)` gathers, from one database: the services covering the borough, the opportunities
open to it, delivery points inside it, public money recorded against its GSS code (LCPF, VRU, MOPAC decisions), recent
changes to those services and opportunities, and the stable download addresses. Money rows come from different tables
that overlap (totals and their parts); they are listed with their sources and never summed.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

from datasette.utils import tilde_encode

from .openreferral import QueryError, has_table, resolve_borough, rows


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


# (table, heading, column for "what", columns for "period" in order of preference)
MONEY_TABLES = [
    ("lcpf_allocations", "London Crime Prevention Fund allocations", "component", ("financial_year",)),
    ("lcpf_funding", "London Crime Prevention Fund figures", "component", ("financial_years",)),
    ("vru_funding", "Violence Reduction Unit funding", "programme", ("financial_year", "period_as_stated")),
    ("funding_decisions", "MOPAC and VRU funding decisions", "item", ("financial_years",)),
]


def columns_of(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")}


def money_sections(conn: sqlite3.Connection, gss_code: str) -> list[dict]:
    sections = []
    for table, heading, what, periods in MONEY_TABLES:
        columns = columns_of(conn, table)
        if "gss_code" not in columns or what not in columns:
            continue
        period = next((p for p in periods if p in columns), None)
        period_sql = f"[{period}]" if period else "NULL"
        found = rows(
            conn,
            f"SELECT [{what}] AS what, {period_sql} AS period, amount_gbp, amount_as_stated, source_title, source_url "
            f"FROM [{table}] WHERE gss_code = ? ORDER BY {period_sql}, rowid",
            (gss_code,),
        )
        sections.append({"table": table, "heading": heading, "rows": found})
    return sections


def downloads(db_name: str, gss_code: str) -> list[dict]:
    """The stable download addresses for one borough (relative to the site root)."""
    q = quote(gss_code)
    return [
        {"label": "Services covering the borough (CSV)",
         "url": f"/{db_name}/borough_services.csv?borough={q}&_size=max"},
        {"label": "Services covering the borough (JSON)",
         "url": f"/{db_name}/borough_services.json?borough={q}&_shape=array&_size=max"},
        {"label": "Opportunities open to the borough (CSV)",
         "url": f"/{db_name}/borough_opportunities.csv?borough={q}&_size=max"},
        {"label": "Opportunities open to the borough (JSON)",
         "url": f"/{db_name}/borough_opportunities.json?borough={q}&_shape=array&_size=max"},
        {"label": "Delivery points in the borough (GeoJSON)",
         "url": f"/{db_name}/borough_delivery_points.geojson?borough={q}&_size=max"},
        {"label": "Open Referral UK services for the borough (JSON API)",
         "url": ("" if db_name == "commissioning" else f"/{db_name}") + f"/openreferral/services?borough={q}"},
    ]


def borough_page(conn: sqlite3.Connection, text: str, db_name: str) -> dict | None:
    """Everything for one borough, or None if `text` is not a borough code, name or slug."""
    try:
        borough = resolve_borough(conn, text.replace("-", " "))
    except QueryError:
        return None
    code = borough["gss_code"]
    (details,) = rows(conn, "SELECT gss_code, name, inner_outer FROM boroughs WHERE gss_code = ?", (code,))
    services = rows(
        conn,
        "SELECT s.service_id, s.name, o.name AS provider, s.commissioner, s.service_area, s.status, s.coverage "
        "FROM service_areas a JOIN services s ON s.service_id = a.service_id "
        "LEFT JOIN organizations o ON o.organization_id = s.organization_id "
        "WHERE a.gss_code = ? ORDER BY s.coverage DESC, s.name",
        (code,),
    )
    unplaced = rows(
        conn,
        "SELECT s.service_id, s.name FROM services s WHERE s.coverage = 'boroughs' "
        "AND NOT EXISTS (SELECT 1 FROM service_areas a WHERE a.service_id = s.service_id) ORDER BY s.name",
    )
    opportunities = []
    if has_table(conn, "opportunity_eligible_boroughs"):
        opportunities = rows(
            conn,
            "SELECT f.reference, f.title, f.buyer_or_funder, f.status, f.closing_date, f.coverage "
            "FROM opportunity_eligible_boroughs e JOIN funding_opportunities f ON f.reference = e.reference "
            "WHERE e.gss_code = ? ORDER BY f.closing_date DESC, f.reference",
            (code,),
        )
    for opportunity in opportunities:
        opportunity["path"] = f"/{db_name}/funding_opportunities/{tilde_encode(opportunity['reference'])}"
    points = rows(
        conn,
        "SELECT location_id, name, postcode_district, geocode_precision, latitude IS NOT NULL AS geocoded "
        "FROM locations WHERE gss_code = ? ORDER BY name",
        (code,),
    )
    changes = []
    if has_table(conn, "changes"):
        changes = rows(
            conn,
            "SELECT change_id, changed_on, entity, entity_id, entity_name, change, field, source_url FROM changes "
            "WHERE (entity = 'service' AND entity_id IN (SELECT service_id FROM service_areas WHERE gss_code = ?)) "
            "OR (entity = 'opportunity' AND entity_id IN "
            "(SELECT reference FROM opportunity_eligible_boroughs WHERE gss_code = ?)) "
            "ORDER BY change_id DESC LIMIT 20",
            (code, code),
        ) if has_table(conn, "opportunity_eligible_boroughs") else []
    programme_areas = []
    if "gss_code" in columns_of(conn, "vru_programme_areas"):
        programme_areas = rows(
            conn,
            "SELECT programme, phase, area_note, period_as_stated, source_title, source_url FROM vru_programme_areas "
            "WHERE gss_code = ? ORDER BY programme, phase",
            (code,),
        )
    return {
        "borough": details,
        "slug": slug(details["name"]),
        "db_name": db_name,
        "services": services,
        "london_wide_count": sum(1 for s in services if s["coverage"] == "london-wide"),
        "unplaced_services": unplaced,
        "opportunities": opportunities,
        "delivery_points": points,
        "geocoded_points": sum(1 for p in points if p["geocoded"]),
        "money": money_sections(conn, code),
        "programme_areas": programme_areas,
        "changes": changes,
        "downloads": downloads(db_name, code),
    }


def borough_list(conn: sqlite3.Connection) -> list[dict]:
    """Every borough with the number of services covering it and opportunities open to it."""
    opportunities = (
        "(SELECT count(*) FROM opportunity_eligible_boroughs e WHERE e.gss_code = b.gss_code)"
        if has_table(conn, "opportunity_eligible_boroughs") else "NULL"
    )
    found = rows(
        conn,
        "SELECT b.gss_code, b.name, b.inner_outer, "
        "(SELECT count(*) FROM service_areas a WHERE a.gss_code = b.gss_code) AS services, "
        f"{opportunities} AS opportunities FROM boroughs b ORDER BY b.name",
    )
    for borough in found:
        borough["slug"] = slug(borough["name"])
    return found
