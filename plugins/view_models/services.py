"""The services pages: coverage summary for the map and its table alternative, one service's page, services near me.

Reads only the built database (tables and views made by scripts/publication/domains/services.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from scripts.common.dates import needs_review
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
    record_ids = [int(x) for x in (service.get("funding_record_ids") or "").split(";") if x]
    decisions = []
    if record_ids:
        marks = ",".join("?" * len(record_ids))
        decisions = _rows(conn, "SELECT record_id, reference, item, amount_as_stated, source_url "
                          f"FROM funding_decisions WHERE record_id IN ({marks}) ORDER BY record_id", record_ids)
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
    }


