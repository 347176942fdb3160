"""The services pages: coverage summary for the map and its table alternative, one service's page, services near me.

Reads only the built database (tables and views made by scripts/publication/domains/services.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from datasette.utils import tilde_encode

from plugins.view_models import decisions as funding
from plugins.view_models.performance import format_value
from scripts.common.dates import needs_review, parse_date
from scripts.common.funding import record_ids
from scripts.common.geo import LondonBoundary, haversine_km
from scripts.common.services import FILTER_COLUMNS

COUNTS_FILTERS = "".join(f"\n  AND (:{c} = '' OR c.{c} = :{c})" for c in FILTER_COLUMNS)


COVERAGE_ROWS_FROM_COUNTS = f"""
SELECT
  b.gss_code,
  b.name AS borough,
  COALESCE(SUM(c.services_count), 0) AS services_count,
  COALESCE(SUM(c.active_services_count), 0) AS active_services_count,
  COALESCE(SUM(c.borough_specific_services_count), 0) AS borough_specific_services_count,
  COALESCE(SUM(c.single_borough_services_with_value_count), 0) AS single_borough_services_with_value_count,
  SUM(c.single_borough_total_value_gbp) AS single_borough_total_value_gbp
FROM boroughs b
LEFT JOIN service_coverage_counts c ON c.gss_code = b.gss_code{COUNTS_FILTERS}
GROUP BY b.gss_code
ORDER BY b.gss_code
"""


COVERAGE_TOTALS_FROM_COUNTS = f"""
SELECT
  COALESCE(SUM(c.services_count), 0) AS services,
  COALESCE(SUM(c.london_wide_services_count), 0) AS london_wide,
  COALESCE(SUM(c.named_borough_services_count), 0) AS named,
  COALESCE(SUM(c.unnamed_borough_services_count), 0) AS unnamed,
  COALESCE(SUM(c.services_with_delivery_point_count), 0) AS placed
FROM service_coverage_counts c
WHERE c.gss_code IS NULL{COUNTS_FILTERS}
"""


OUTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)(?: ?[0-9][A-Z]{2})?$")


POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class NearMeError(ValueError):
    """The query cannot be answered; the message is shown to the user (HTTP 400)."""


@dataclass
class Origin:
    label: str
    latitude: float
    longitude: float
    gss_code: str | None
    borough: str | None


@dataclass
class NearMeResult:
    origin: Origin
    services: list[dict] = field(default_factory=list)
    delivery_points: list[dict] = field(default_factory=list)


def parse_query(text: str) -> tuple[str, object]:
    """('district', 'SE1') for a postcode district or full postcode, ('point', (lat, lon)) for "lat,lon"."""
    text = (text or "").strip()
    if not text:
        raise NearMeError("Enter a London postcode district such as SE1 or CR0, or a point as latitude,longitude.")
    point = POINT.match(text)
    if point:
        return "point", (float(point.group(1)), float(point.group(2)))
    match = OUTCODE.match(re.sub(r"\s+", " ", text.upper()))
    if not match:
        raise NearMeError(f"'{text}' is not a postcode district (like SE1 or CR0) or a point (like 51.5,-0.1).")
    return "district", match.group(1)


def resolve_origin(conn, text: str, boundary=None) -> Origin:
    kind, value = parse_query(text)
    if kind == "district":
        row = conn.execute(
            "SELECT p.outcode, p.latitude, p.longitude, p.gss_code, b.name FROM postcode_districts p "
            "LEFT JOIN boroughs b ON b.gss_code = p.gss_code WHERE p.outcode = ?", [value]
        ).fetchone()
        if row is None:
            raise NearMeError(
                f"{value} is not a London postcode district in this publication's list of London districts, so "
                "there is no borough to look up. Check the district (the first half of the postcode), or enter a "
                "point in London as latitude,longitude."
            )
        return Origin(row[0], row[1], row[2], row[3], row[4])
    lat, lon = value
    if boundary is None:
        boundary = london_boundary(conn)
    gss = boundary.borough_at(lat, lon) if boundary.contains(lat, lon) else None
    if gss is None:
        raise NearMeError(f"The point {lat},{lon} is not in Greater London.")
    (name,) = conn.execute("SELECT name FROM boroughs WHERE gss_code = ?", [gss]).fetchone()
    return Origin(f"{lat},{lon}", lat, lon, gss, name)


def london_boundary(conn):
    features = [
        {"properties": {"gss_code": code}, "geometry": json.loads(geometry)}
        for code, geometry in conn.execute("SELECT gss_code, geometry FROM boroughs WHERE geometry IS NOT NULL")
    ]
    return LondonBoundary.from_geojson({"features": features})


def services_near(
    conn, text: str, service_area: str | None = None, limit_points: int = 25, boundary=None
) -> NearMeResult:
    """Services covering the borough of the query, nearest delivery point first; then the nearest delivery points."""
    origin = resolve_origin(conn, text, boundary)
    area_sql = " AND s.service_area = :area" if service_area else ""
    points = _rows(
        conn,
        "SELECT d.service_id, d.service_name, d.location_id, d.location_name, d.postcode_district, d.latitude, "
        "d.longitude, d.geocode_precision FROM service_delivery_points d JOIN services s USING (service_id) "
        "WHERE 1" + area_sql, {"area": service_area},
    )
    for point in points:
        km = haversine_km(origin.latitude, origin.longitude, point["latitude"], point["longitude"])
        point["distance_km"] = round(km, 2)
    points.sort(key=lambda p: (p["distance_km"], p["service_name"]))
    nearest: dict[str, dict] = {}
    for point in points:
        nearest.setdefault(point["service_id"], point)
    services = _rows(
        conn,
        "SELECT s.service_id, s.name, s.provider_name, s.service_area, s.commissioner, s.status, s.coverage, "
        "s.borough_count FROM services s JOIN service_areas a ON a.service_id = s.service_id "
        "WHERE a.gss_code = :gss" + area_sql, {"gss": origin.gss_code, "area": service_area},
    )
    for service in services:
        point = nearest.get(service["service_id"])
        service["nearest_location"] = point["location_name"] if point else None
        service["distance_km"] = point["distance_km"] if point else None
    services.sort(key=lambda s: (
        s["distance_km"] is None, s["distance_km"] or 0, s["coverage"] == "london-wide", s["borough_count"], s["name"]
    ))
    return NearMeResult(origin, services, points[:limit_points])


def _rows(conn, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def money(value) -> str:
    return "" if value is None else f"£{value:,.0f}"


def coverage_rows(conn, filters: dict | None = None) -> list[dict]:
    """Coverage per borough (without geometry), counting only services matching filters (column -> value).
    Read from the precomputed service_coverage_counts: the same figures as the service_coverage_by_borough view."""
    params = {c: (filters or {}).get(c) or "" for c in FILTER_COLUMNS}
    return sorted(_rows(conn, COVERAGE_ROWS_FROM_COUNTS, params), key=lambda r: r["borough"])


def coverage_summary(conn, filters: dict | None = None) -> dict:
    """Coverage rows for the table alternative and a one-paragraph summary of them, for the services matching
    filters (service_area, commissioner, status; blank or missing = any)."""
    filters = {c: v for c, v in (filters or {}).items() if c in FILTER_COLUMNS and v}
    rows = coverage_rows(conn, filters)
    where = " AND ".join(f"{c} = :{c}" for c in filters) or "1"
    totals = _rows(conn, COVERAGE_TOTALS_FROM_COUNTS, {c: filters.get(c, "") for c in FILTER_COLUMNS})[0]
    # "+name": sort the few unplaced services rather than walk the whole name index (idx_services_name).
    unplaced = _rows(conn, f"SELECT service_id, name FROM services WHERE borough_count = 0 AND {where} ORDER BY +name",
                     filters)
    # Every delivery point (the points map is not filtered), summed from the precomputed rows: counting the
    # service_delivery_points view joins every service's locations on each view.
    counts = _rows(conn, "SELECT (SELECT COALESCE(SUM(delivery_points_count), 0) FROM service_coverage_counts "
                   "WHERE gss_code IS NULL) AS points, (SELECT COUNT(*) FROM locations) AS locations")[0]
    base = {"rows": rows, "unplaced": unplaced, "totals": totals, "filters": filters, **counts}
    if not totals["services"]:
        return {**base, "summary": "No services match." if filters else "No services are listed yet."}
    ranked = sorted(rows, key=lambda r: (-r["services_count"], r["borough"]))
    most, least = ranked[0], ranked[-1]
    with_money = [r for r in rows if r["single_borough_total_value_gbp"] is not None]
    matching = "match the filters" if filters else "are listed"
    parts = [
        f"{totals['services']} services {matching}. {totals['london_wide']} cover all of London and count in each of "
        f"the 33 boroughs; {totals['named']} name the boroughs they work in",
    ]
    if totals["unnamed"]:
        parts[-1] += (f"; {totals['unnamed']} say they work in some boroughs without naming them, so they cannot be "
                      "placed on the map")
    parts[-1] += "."
    if most["services_count"] == least["services_count"]:
        parts.append(f"Every borough is covered by {most['services_count']} services.")
    else:
        parts.append(f"{most['borough']} is covered by the most services ({most['services_count']}) and "
                     f"{least['borough']} by the fewest ({least['services_count']}).")
    if with_money:
        total = sum(r["single_borough_total_value_gbp"] for r in with_money)
        parts.append(f"A stated total value is known for services working in a single borough in {len(with_money)} "
                     f"of the 33 boroughs, {money(total)} in all; money for services shared between boroughs is not "
                     "divided, because no source says how it is split.")
    else:
        parts.append("No service that works in a single borough has a stated total value, so the map cannot be shaded "
                     "by money.")
    parts.append(f"{totals['placed']} services have a public delivery point with coordinates.")
    return {**base, "summary": " ".join(parts)}


def service_detail(conn, service_id: str, today: dt.date | None = None) -> dict | None:
    """Everything the service page shows, in display order, with honest empty states."""
    today = today or dt.date.today()
    found = _rows(conn, "SELECT s.*, t.label AS service_area_label FROM services s "
                  "LEFT JOIN service_area_taxonomy t ON t.service_area = s.service_area WHERE s.service_id = ?",
                  [service_id])
    if not found:
        return None
    service = found[0]
    provider = None
    if service["organization_id"]:
        provider = _rows(conn, "SELECT * FROM organizations WHERE organization_id = ?", [service["organization_id"]])[0]
    boroughs = _rows(conn, "SELECT b.gss_code, b.name FROM service_areas a JOIN boroughs b ON b.gss_code = a.gss_code "
                     "WHERE a.service_id = ? ORDER BY b.name", [service_id])
    locations = _rows(conn, "SELECT l.* FROM service_at_location sal "
                      "JOIN locations l ON l.location_id = sal.location_id "
                      "WHERE sal.service_id = ? ORDER BY l.name", [service_id])
    cited = record_ids(service.get("funding_record_ids"))
    decisions = []
    if cited:
        marks = ",".join("?" * len(cited))
        decisions = _rows(conn, "SELECT record_id, reference, item, amount_as_stated, source_url "
                          f"FROM funding_decisions WHERE record_id IN ({marks}) ORDER BY record_id", cited)
    sources = [{"title": service["source_title"], "url": service["source_url"]}]
    for extra in ([provider] if provider else []) + locations:
        if extra["source_url"] and extra["source_url"] not in {s["url"] for s in sources}:
            sources.append({"title": extra["source_title"], "url": extra["source_url"]})
    if service["coverage"] == "london-wide":
        areas_text = "All of London (the 33 local authorities)."
    elif boroughs:
        names = ", ".join(b["name"] for b in boroughs)
        areas_text = f"{len(boroughs)} borough{'s' if len(boroughs) != 1 else ''}: {names}."
    else:
        areas_text = "Some boroughs, but the sources do not name them."
    return {
        "service": service,
        "provider": provider,
        "boroughs": boroughs,
        "borough_codes": [b["gss_code"] for b in boroughs],
        "areas_text": areas_text,
        "locations": locations,
        "decisions": decisions,
        "sources": sources,
        "annual_value": money(service["annual_value_gbp"]),
        "total_value": money(service["total_value_gbp"]),
        "review": needs_review(service["last_verified"], service["review_due"], today),
        **service_story(conn, service, boroughs, today),
    }




# ---- the whole story on one page (issue 17) ----------------------------------------------------------------------

NOT_PUBLIC = {
    "money": "No funding decision row with an amount is cited for this service, so its money by financial year is "
             "not public here.",
    "no_decisions": "No funding decision is cited for this service.",
    "measures": "No performance measures or RAG ratings are published for this service.",
    "notices": "No funding or procurement notice is linked to this service by its references, so any notice that "
               "re-commissions it is not known here.",
    "boroughs": "The sources do not name the boroughs this service works in, so no crime or population context can "
                "be given.",
    "changes": "No change history is recorded for this service.",
}


def has_tables(conn, *names: str) -> bool:
    return funding.has_tables(conn, *names)


def service_money(conn, service: dict) -> dict:
    """The decision rows the service lists in funding_record_ids, by financial year, each with the number of services
    citing it (a programme's row is shared and not divided); and decisions cited only by reference."""
    cited = record_ids(service.get("funding_record_ids"))
    found = []
    if cited:
        marks = ",".join("?" * len(cited))
        found = funding.decision_rows(conn, f"d.record_id IN ({marks})", cited)
    shared = {}
    if found and has_tables(conn, "service_funding"):
        marks = ",".join("?" * len(found))
        shared = dict(conn.execute(
            f"SELECT record_id, count(DISTINCT service_id) FROM service_funding WHERE record_id IN ({marks}) "
            "GROUP BY record_id", [r["record_id"] for r in found]).fetchall())
    for row in found:
        row["cited_by_services"] = shared.get(row["record_id"], 1)
    by_reference = []
    if has_tables(conn, "service_funding"):
        by_reference = _rows(conn, """
            SELECT f.reference, count(d.record_id) AS rows, min(d.source_url) AS source_url
            FROM service_funding f LEFT JOIN funding_decisions d ON d.reference = f.reference
            WHERE f.service_id = ? AND f.cited_as = 'reference' GROUP BY f.reference ORDER BY f.reference""",
            [service["service_id"]])
        for ref in by_reference:
            ref["decision_query"] = funding.decision_path(ref["reference"])
    years = funding.by_year(found)
    amount = funding.total(found)
    return {
        "rows": found,
        "by_year": years,
        "total_gbp": amount,
        "total_display": funding.money(amount),
        "shared_rows": sum(1 for r in found if r["cited_by_services"] > 1),
        "cited_by_reference": by_reference,
        "chart_svg": funding.year_chart(years, title=f"Money by financial year: {service['name']}",
                                        ident="service-money-chart"),
    }


def service_measures(conn, service_id: str) -> list[dict]:
    """Each measure of the service with its latest rating (word and shape on the page), oldest name first."""
    if not has_tables(conn, "measures", "ratings"):
        return []
    found = _rows(conn, """
        SELECT m.measure_id, m.name, m.unit, m.polarity, m.definition, r.period, r.rag, r.rag_overridden, r.actual,
          r.target, r.direction_of_travel, r.rated_on, r.source_title, r.source_url,
          (SELECT count(*) FROM ratings x WHERE x.measure_id = m.measure_id) AS ratings
        FROM measures m
        LEFT JOIN ratings r ON r.measure_id = m.measure_id
          AND r.period_start = (SELECT max(period_start) FROM ratings x WHERE x.measure_id = m.measure_id)
        WHERE m.service_id = ? ORDER BY m.name, m.measure_id""", [service_id])
    for m in found:
        m["actual_display"] = format_value(m["actual"], m["unit"])
        m["target_display"] = format_value(m["target"], m["unit"])
    return found


def notice_day(notice: dict) -> str | None:
    """The date a notice is known by: its contract start, else its closing, opening or notice date."""
    for key in ("contract_start_date", "closing_date", "opening_date", "notice_date"):
        if notice.get(key):
            return notice[key]
    return None


def service_notices(conn, service: dict) -> list[dict]:
    """Notices whose reference or OCID the service's decision_refs cite. A notice dated before the service started
    is marked as such (it may be the one that commissioned the current service); later or undated ones count as
    re-commissioning notices, as in the services_ending_without_notice query."""
    if not has_tables(conn, "service_notices"):
        return []
    found = _rows(conn, """
        SELECT o.reference, o.title, o.status, o.opportunity_type, o.buyer_or_funder, o.notice_date, o.opening_date,
          o.closing_date, o.contract_start_date, o.contract_end_date, o.value_min_gbp, o.value_max_gbp,
          o.source_title, o.source_url, n.cited_reference, n.matched_identifier
        FROM service_notices n JOIN funding_opportunities o ON o.reference = n.reference
        WHERE n.service_id = ? ORDER BY o.reference""", [service["service_id"]])
    start = service.get("start_date")
    for notice in found:
        day = notice_day(notice)
        notice["dated"] = day
        notice["before_start"] = bool(start and day and day < start)
        notice["row_path"] = tilde_encode(notice["reference"])
    found.sort(key=lambda n: (n["dated"] is None, n["dated"] or "", n["reference"]))
    return found


def borough_context(conn, boroughs: list[dict]) -> dict:
    """Census 2021 population and the latest full calendar year of MPS recorded crime for each borough covered."""
    # The latest year with all 12 months (as borough_crime_rates.months_covered counts them), read from its table.
    (year,) = conn.execute("SELECT max(year) FROM crime_annual_by_category WHERE months_covered = 12").fetchone()
    codes = [b["gss_code"] for b in boroughs]
    if not codes:
        return {"crime_year": year, "rows": [], "totals": None}
    marks = ",".join("?" * len(codes))
    found = _rows(conn, f"""
        SELECT b.gss_code, b.name, p.census_2021_population AS population, c.total_recorded_crime,
          c.violence_against_the_person, c.crimes_per_1000_residents, c.violence_per_1000_residents
        FROM boroughs b
        LEFT JOIN borough_population p ON p.gss_code = b.gss_code
        LEFT JOIN borough_crime_rates c ON c.gss_code = b.gss_code AND c.year = ?
        WHERE b.gss_code IN ({marks}) ORDER BY b.name""", [year, *codes])
    with_crime = [r for r in found if r["total_recorded_crime"] is not None and r["population"]]
    crime = sum(r["total_recorded_crime"] for r in with_crime)
    violence = sum(r["violence_against_the_person"] for r in with_crime)
    people = sum(r["population"] for r in with_crime)
    totals = {
        "boroughs": len(found),
        "population": sum(r["population"] or 0 for r in found),
        "total_recorded_crime": crime if with_crime else None,
        "crimes_per_1000_residents": round(1000 * crime / people, 2) if people else None,
        "violence_per_1000_residents": round(1000 * violence / people, 2) if people else None,
        "boroughs_without_crime_figures": [r["name"] for r in found if r["total_recorded_crime"] is None],
    }
    return {"crime_year": year, "rows": found, "totals": totals}


def change_history(conn, entity: str, entity_id: str) -> list[dict] | None:
    """When each field of the record changed and which source the record cited then (None: no history table)."""
    if not has_tables(conn, "changes"):
        return None
    columns = {r[1] for r in conn.execute("PRAGMA table_info(changes)")}
    wanted = ["change_id", "changed_on", "git_commit", "change", "field", "old_value", "new_value", "source_title",
              "source_url"]
    if not {"changed_on", "entity", "entity_id"} <= columns:
        return None
    select = ", ".join(c if c in columns else f"NULL AS {c}" for c in wanted)
    return _rows(conn, f"SELECT {select} FROM changes WHERE entity = ? AND entity_id = ? ORDER BY change_id",
                 [entity, entity_id])


def review_status(service: dict, today: dt.date) -> dict:
    reason = needs_review(service["last_verified"], service["review_due"], today)
    due = parse_date(service["review_due"])
    return {
        "status": reason or "current",
        "overdue": reason == "review overdue",
        "days_overdue": (today - due).days if reason == "review overdue" and due else 0,
        "last_verified": service["last_verified"],
        "review_due": service["review_due"],
        "as_at": today.isoformat(),
    }


def service_partners(conn, service_id: str) -> list[dict]:
    if not has_tables(conn, "service_partners"):
        return []
    return _rows(conn, """
        SELECT p.organization_id, o.name, p.role, p.source_title, p.source_url, p.source_excerpt
        FROM service_partners p JOIN organizations o ON o.organization_id = p.organization_id
        WHERE p.service_id = ? ORDER BY p.role, o.name""", [service_id])


def service_story(conn, service: dict, boroughs: list[dict], today: dt.date) -> dict:
    """The joined record of a service: money, measures, notices, borough context, changes, review; and, once, what
    of that is not public."""
    money_part = service_money(conn, service)
    measures = service_measures(conn, service["service_id"])
    notices = service_notices(conn, service)
    context = borough_context(conn, boroughs)
    history = change_history(conn, "service", service["service_id"])
    not_public = []
    if not money_part["rows"] and not money_part["cited_by_reference"]:
        not_public.append(NOT_PUBLIC["no_decisions"])
    elif money_part["total_gbp"] is None:
        not_public.append(NOT_PUBLIC["money"])
    if not measures:
        not_public.append(NOT_PUBLIC["measures"])
    if not notices:
        not_public.append(NOT_PUBLIC["notices"])
    if not boroughs:
        not_public.append(NOT_PUBLIC["boroughs"])
    if not history:
        not_public.append(NOT_PUBLIC["changes"])
    return {
        "partners": service_partners(conn, service["service_id"]),
        "money": money_part,
        "measures": measures,
        "notices": notices,
        "borough_context": context,
        "history": history or [],
        "review_status": review_status(service, today),
        "not_public": not_public,
    }


def service_json(detail: dict, database: str) -> dict:
    """The service page as JSON (docs/pages-json.md): the same parts, without display-only strings and the chart."""
    service_id = detail["service"]["service_id"]
    money_part = detail["money"]
    drop = ("amount_display", "year_display", "decision_query")
    return {
        "database": database,
        "service": detail["service"],
        "provider": detail["provider"],
        "partners": detail["partners"],
        "review": detail["review_status"],
        "money": {
            "total_gbp": money_part["total_gbp"],
            "by_year": [{k: v for k, v in y.items() if k != "amount_display"} for y in money_part["by_year"]],
            "rows": [{k: v for k, v in r.items() if k not in drop} for r in money_part["rows"]],
            "cited_by_reference": [{k: v for k, v in r.items() if k != "decision_query"}
                                   for r in money_part["cited_by_reference"]],
        },
        "measures": [{k: v for k, v in m.items() if k not in ("actual_display", "target_display")}
                     for m in detail["measures"]],
        "performance_url": "/performance/service?" + urlencode({"db": database, "service_id": service_id}),
        "notices": [{k: v for k, v in n.items() if k != "row_path"} for n in detail["notices"]],
        "boroughs": {
            "coverage": detail["service"]["coverage"],
            "areas_text": detail["areas_text"],
            "crime_year": detail["borough_context"]["crime_year"],
            "rows": detail["borough_context"]["rows"],
            "totals": detail["borough_context"]["totals"],
        },
        "locations": detail["locations"],
        "changes": detail["history"],
        "sources": detail["sources"],
        "not_public": detail["not_public"],
    }
