"""Commissioned services directory and map (issue 3).

Open Referral UK / HSDS shaped tables (organizations, services, locations, service_at_location) are loaded from
data/services/. This module adds:
- `service_areas` (service_id, gss_code): the boroughs each service covers; "london-wide" expands to all 33;
- derived service columns: provider name (also searchable), duration, boroughs covered, delivery point count;
- views for the maps (delivery points, coverage by borough) and the public "needs review" list;
- `service_coverage_counts`: coverage counts and money per borough and filter combination, precomputed so the
  services page does not aggregate `service_areas` on every view;
- the "services near me" search (postcode district or point -> services, nearest delivery points first);
- synthetic rows for the demo database.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..geo import haversine_km

ROOT = Path(__file__).resolve().parents[3]
TAXONOMY_CSV = ROOT / "data" / "services" / "service_area_taxonomy.csv"
SYNTHETIC_URL = "https://example.org/synthetic"
SYNTHETIC_SOURCE = "Synthetic data (scripts/generate_synthetic.py)"
REVIEW_MONTHS = 6
COMMISSIONERS = ["MOPAC", "VRU", "LCPF co-commissioned", "Home Office grant"]

# ---------------------------------------------------------------------------------------------------------------
# Dates, duration and review


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def parse_date(value) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


@dataclass
class Duration:
    days: int | None
    months: float | None
    text: str


def duration(start, end) -> Duration:
    """Inclusive length of a stated period. Whole calendar months when the period ends the day before a monthly
    anniversary of its start (1 April 2019 - 31 March 2021 = 24 months); otherwise days / 30.4375 to one decimal."""
    start, end = parse_date(start), parse_date(end)
    if start and not end:
        return Duration(None, None, f"from {start.isoformat()}, no end date stated")
    if end and not start:
        return Duration(None, None, f"until {end.isoformat()}, no start date stated")
    if not start or not end:
        return Duration(None, None, "")
    days = (end - start).days + 1
    after = end + dt.timedelta(days=1)
    whole = (after.year - start.year) * 12 + after.month - start.month
    if add_months(start, whole) == after:
        months: float = whole
        if whole % 12 == 0:
            years = whole // 12
            text = f"{years} year{'s' if years != 1 else ''}"
        else:
            text = f"{whole} month{'s' if whole != 1 else ''}"
    else:
        months = round(days / 30.4375, 1)
        text = f"{days} days (about {months:g} months)"
    return Duration(days, months, text)


def needs_review(last_verified, review_due, today: dt.date) -> str | None:
    """Why a row needs checking again, or None: past review_due, or not verified for six months."""
    due = parse_date(review_due)
    verified = parse_date(last_verified)
    if due and due < today:
        return "review overdue"
    if verified is None or add_months(verified, REVIEW_MONTHS) <= today:
        return "not verified for six months"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Derived tables, columns and views

DELIVERY_POINTS_VIEW = """
CREATE VIEW service_delivery_points AS
SELECT
  s.service_id, s.name AS service_name, s.provider_name, s.commissioner, s.service_area, s.status,
  l.location_id, l.name AS location_name, l.address, l.postcode_district, l.gss_code,
  l.latitude, l.longitude, l.geocode_precision
FROM service_at_location sal
JOIN services s ON s.service_id = sal.service_id
JOIN locations l ON l.location_id = sal.location_id
WHERE l.latitude IS NOT NULL AND l.longitude IS NOT NULL
"""

# Coverage per borough. {filters} narrows the services counted (the services page's filters); the view has none.
COVERAGE_SELECT = """
SELECT
  b.gss_code,
  b.name AS borough,
  COUNT(s.service_id) AS services_count,
  COALESCE(SUM(s.status = 'active'), 0) AS active_services_count,
  COALESCE(SUM(s.coverage = 'boroughs'), 0) AS borough_specific_services_count,
  COALESCE(SUM(s.coverage = 'boroughs' AND s.borough_count = 1 AND s.total_value_gbp IS NOT NULL), 0)
    AS single_borough_services_with_value_count,
  SUM(CASE WHEN s.coverage = 'boroughs' AND s.borough_count = 1 THEN s.total_value_gbp END)
    AS single_borough_total_value_gbp{geometry}
FROM boroughs b
LEFT JOIN service_areas a ON a.gss_code = b.gss_code
LEFT JOIN services s ON s.service_id = a.service_id{filters}
GROUP BY b.gss_code
ORDER BY b.gss_code
"""
COVERAGE_VIEW = "CREATE VIEW service_coverage_by_borough AS" + COVERAGE_SELECT.format(
    geometry=",\n  b.geometry", filters=""
)
FILTER_COLUMNS = ("service_area", "commissioner", "status")
# The same filters as the canned query `service_coverage` in metadata.yml (blank = any).
COVERAGE_FILTERS = "".join(f"\n  AND (:{c} = '' OR s.{c} = :{c})" for c in FILTER_COLUMNS)

# Precomputed counts for the services page: one row per borough and combination of the filter columns (from
# service_areas, so London-wide services count in every borough), plus one row per combination with a blank
# gss_code counting the services themselves, whatever boroughs they cover (services with no named borough
# included). Summing the rows that match the page's filters gives what COVERAGE_SELECT and the totals compute.
COVERAGE_COUNT_MEASURES = """
  COUNT(*) AS services_count,
  COALESCE(SUM(s.status = 'active'), 0) AS active_services_count,
  COALESCE(SUM(s.coverage = 'boroughs'), 0) AS borough_specific_services_count,
  COALESCE(SUM(s.coverage = 'boroughs' AND s.borough_count = 1 AND s.total_value_gbp IS NOT NULL), 0)
    AS single_borough_services_with_value_count,
  SUM(CASE WHEN s.coverage = 'boroughs' AND s.borough_count = 1 THEN s.total_value_gbp END)
    AS single_borough_total_value_gbp,
  COALESCE(SUM(s.coverage = 'london-wide'), 0) AS london_wide_services_count,
  COALESCE(SUM(s.coverage = 'boroughs' AND s.borough_count > 0), 0) AS named_borough_services_count,
  COALESCE(SUM(s.borough_count = 0), 0) AS unnamed_borough_services_count,
  COALESCE(SUM(s.delivery_point_count > 0), 0) AS services_with_delivery_point_count,
  COALESCE(SUM(s.delivery_point_count), 0) AS delivery_points_count"""
COVERAGE_COUNTS_TABLE = """
CREATE TABLE service_coverage_counts (
  gss_code TEXT REFERENCES boroughs(gss_code),
  service_area TEXT,
  commissioner TEXT,
  status TEXT,
  services_count INTEGER NOT NULL,
  active_services_count INTEGER NOT NULL,
  borough_specific_services_count INTEGER NOT NULL,
  single_borough_services_with_value_count INTEGER NOT NULL,
  single_borough_total_value_gbp REAL,
  london_wide_services_count INTEGER NOT NULL,
  named_borough_services_count INTEGER NOT NULL,
  unnamed_borough_services_count INTEGER NOT NULL,
  services_with_delivery_point_count INTEGER NOT NULL,
  delivery_points_count INTEGER NOT NULL
)
"""
COVERAGE_COUNT_SUMS = "".join(
    f"\n  SUM({name}) AS {name}," for name in re.findall(r"AS (\w+)", COVERAGE_COUNT_MEASURES)
).rstrip(",")
# London-wide services cover every borough (service_areas holds all 33 for each): they are counted once per filter
# combination and added to every borough, rather than joined to their 33 service_areas rows. The money column only
# sums services of named boroughs, so its sums are taken over the same rows as a plain join would.
COVERAGE_COUNTS_INSERT = f"""
INSERT INTO service_coverage_counts
SELECT gss_code, service_area, commissioner, status,{COVERAGE_COUNT_SUMS}
FROM (
  SELECT a.gss_code, s.service_area, s.commissioner, s.status,{COVERAGE_COUNT_MEASURES}
  FROM services s
  JOIN service_areas a ON a.service_id = s.service_id
  WHERE s.coverage IS NOT 'london-wide'
  GROUP BY a.gss_code, s.service_area, s.commissioner, s.status
  UNION ALL
  SELECT b.gss_code, w.*
  FROM boroughs b
  CROSS JOIN (
    SELECT s.service_area, s.commissioner, s.status,{COVERAGE_COUNT_MEASURES}
    FROM services s
    WHERE s.coverage = 'london-wide'
    GROUP BY s.service_area, s.commissioner, s.status
  ) w
)
GROUP BY gss_code, service_area, commissioner, status
UNION ALL
SELECT NULL, s.service_area, s.commissioner, s.status,{COVERAGE_COUNT_MEASURES}
FROM services s
GROUP BY s.service_area, s.commissioner, s.status
ORDER BY 1, 2, 3, 4
"""
# Equality filters on the counts table (blank = any): the same services as COVERAGE_FILTERS.
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


REVIEW_VIEW = """
CREATE VIEW services_needing_review AS
SELECT
  service_id, name, provider_name, commissioner, status, last_verified, review_due,
  CASE WHEN review_due < date('now') THEN 'review overdue' ELSE 'not verified for six months' END AS reason,
  source_url
FROM services
WHERE review_due < date('now') OR last_verified IS NULL OR date(last_verified, '+6 months') <= date('now')
ORDER BY review_due, service_id
"""


def service_area_rows(services: list[dict], named: list[dict], borough_codes: list[str]) -> list[dict]:
    """(service_id, gss_code) for every borough a service covers: London-wide -> all 33, else its named boroughs."""
    by_service: dict[str, list[str]] = {}
    for row in named:
        by_service.setdefault(row["service_id"], []).append(row["gss_code"])
    rows = []
    for service in services:
        named_codes = sorted(set(by_service.get(service["service_id"], [])))
        codes = borough_codes if service["coverage"] == "london-wide" else named_codes
        rows += [{"service_id": service["service_id"], "gss_code": code} for code in codes]
    return rows


# The same rows, in the same order, as service_area_rows() over the services in rowid order. (service_id, gss_code)
# is the primary key of service_boroughs, so no pair is repeated and UNION ALL needs no de-duplication.
SERVICE_AREAS_INSERT = """
INSERT INTO service_areas (service_id, gss_code)
SELECT service_id, gss_code FROM (
  SELECT s.rowid AS service_rowid, s.service_id, b.gss_code
  FROM services s JOIN boroughs b
  WHERE s.coverage = 'london-wide'
  UNION ALL
  SELECT s.rowid, s.service_id, n.gss_code
  FROM services s JOIN service_boroughs n ON n.service_id = s.service_id
  WHERE s.coverage IS NOT 'london-wide'
)
ORDER BY service_rowid, gss_code
"""


def derive(db, context) -> None:
    conn = db.conn
    db["service_areas"].create(
        {"service_id": str, "gss_code": str},
        foreign_keys=[("service_id", "services", "service_id"), ("gss_code", "boroughs", "gss_code")],
        not_null={"service_id", "gss_code"},
    )
    conn.execute(SERVICE_AREAS_INSERT)
    db["service_areas"].create_index(["service_id", "gss_code"], unique=True)
    db["service_areas"].create_index(["gss_code"])

    # Borough names covered: every borough for London-wide services, else those in service_areas.
    every_borough = sorted(name for (name,) in conn.execute("SELECT name FROM boroughs"))
    covered: dict[str, list[str]] = {}
    for service_id, name in conn.execute(
        "SELECT a.service_id, b.name FROM services s JOIN service_areas a ON a.service_id = s.service_id "
        "JOIN boroughs b ON b.gss_code = a.gss_code WHERE s.coverage IS NOT 'london-wide'"
    ):
        covered.setdefault(service_id, []).append(name)
    providers = dict(conn.execute("SELECT organization_id, name FROM organizations").fetchall())
    points = dict(conn.execute(
        "SELECT sal.service_id, COUNT(*) FROM service_at_location sal JOIN locations l USING (location_id) "
        "WHERE l.latitude IS NOT NULL GROUP BY sal.service_id"
    ).fetchall())
    new_columns = {
        "provider_name": str, "duration_days": int, "duration_months": float, "duration_text": str,
        "borough_count": int, "boroughs_covered": str, "delivery_point_count": int,
    }
    for name, kind in new_columns.items():
        db["services"].add_column(name, kind)
    services = conn.execute(
        "SELECT service_id, organization_id, start_date, end_date, last_verified, review_due, coverage FROM services "
        "ORDER BY rowid"
    ).fetchall()
    updates = []
    unplaced = []
    durations: dict[tuple, Duration] = {}
    every_borough_json = json.dumps(every_borough)
    for service_id, organization_id, start_date, end_date, _, _, coverage in services:
        length = durations.get((start_date, end_date))
        if length is None:
            length = durations[start_date, end_date] = duration(start_date, end_date)
        if coverage == "london-wide":
            count, names_json = len(every_borough), every_borough_json
        else:
            names = sorted(covered.get(service_id, []))
            count, names_json = len(names), json.dumps(names)
        if not count:
            unplaced.append(service_id)
        updates.append((
            providers.get(organization_id), length.days, length.months, length.text or None, count, names_json,
            points.get(service_id, 0), service_id,
        ))
    conn.executemany(
        "UPDATE services SET " + ", ".join(f"{c} = ?" for c in new_columns) + " WHERE service_id = ?", updates
    )
    db["services"].create_index(["provider_name"], if_not_exists=True)
    # Search name, description and provider together.
    db["services"].disable_fts()
    db["services"].enable_fts(["name", "description", "provider_name"], tokenize="porter", create_triggers=False)
    db.execute(DELIVERY_POINTS_VIEW)
    db.execute(COVERAGE_VIEW)
    db.execute(REVIEW_VIEW)
    db.execute(COVERAGE_COUNTS_TABLE)
    db.execute(COVERAGE_COUNTS_INSERT)
    db["service_coverage_counts"].create_index(
        ["gss_code", "service_area", "commissioner", "status"], unique=True)
    for column in FILTER_COLUMNS:
        db["service_coverage_counts"].create_index([column])
    # The services page lists services with no named borough.
    db["services"].create_index(["borough_count"], if_not_exists=True)

    due = [s for s in services if needs_review(s[4], s[5], context.today)]
    if due:
        print(f"warning: {len(due)} of {len(services)} services need review as at {context.today} "
              "(see the services_needing_review view)", file=sys.stderr)
    if unplaced:
        print(f"warning: {len(unplaced)} services have no named borough and are not on the coverage map: "
              + ", ".join(unplaced[:10]), file=sys.stderr)


def check(db, context=None) -> list:
    """London-wide services cover all 33 boroughs. Problems name the CSV as validation does (data/...)."""
    from ..package import Problem, resource_display_path

    where = resource_display_path(context, "services")
    problems = []
    for service_id, count in db.execute(
        "SELECT s.service_id, (SELECT COUNT(*) FROM service_areas a WHERE a.service_id = s.service_id) FROM services s "
        "WHERE s.coverage = 'london-wide' ORDER BY s.service_id"
    ):
        if count != 33:
            problems.append(Problem(where, 0, "coverage", f"{service_id}: london-wide covers {count} boroughs, not 33"))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Cross-file rules


def _rule_named_boroughs_only_for_borough_coverage(tables) -> list:
    from ..package import Problem

    if "services" not in tables or "service_boroughs" not in tables:
        return []
    coverage = {service_id: value for _, service_id, value in tables["services"].select("service_id", "coverage")}
    where = tables["service_boroughs"].resource.display_path
    problems = []
    for number, service_id in tables["service_boroughs"].select("service_id"):
        if coverage.get(service_id) == "london-wide":
            problems.append(Problem(where, number, "service_id", f"{service_id} is london-wide: list no "
                                    "boroughs for it (London-wide expands to all 33 automatically)"))
    return problems


def _rule_coordinates_need_precision(tables) -> list:
    from ..package import Problem

    if "locations" not in tables:
        return []
    where = tables["locations"].resource.display_path
    problems = []
    for number, latitude, longitude, precision in tables["locations"].select(
        "latitude", "longitude", "geocode_precision"
    ):
        has_point = latitude is not None and longitude is not None
        if (latitude is None) != (longitude is None):
            continue  # reported by the in_greater_london rule
        if has_point and precision == "not geocoded":
            problems.append(Problem(where, number, "geocode_precision",
                                    "coordinates are given: say how they were obtained"))
        elif not has_point and precision != "not geocoded":
            problems.append(Problem(where, number, "geocode_precision",
                                    "no coordinates: precision must be 'not geocoded'"))
    return problems


RULES = [_rule_named_boroughs_only_for_borough_coverage, _rule_coordinates_need_precision]


# ---------------------------------------------------------------------------------------------------------------
# Services near me

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
    from ..geo import LondonBoundary

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


# ---------------------------------------------------------------------------------------------------------------
# Synthetic demo rows


def synthesize(rng, size, context):
    today = context.today
    boroughs = [b["gss_code"] for b in context.boroughs]
    districts = [d for d in context.postcode_districts if d.get("gss_code") and d.get("latitude")]
    by_borough: dict[str, list[dict]] = {}
    for district in districts:
        by_borough.setdefault(district["gss_code"], []).append(district)
    with TAXONOMY_CSV.open(encoding="utf-8-sig", newline="") as handle:
        taxonomy = list(csv.DictReader(handle))
    areas = [t["service_area"] for t in taxonomy]

    organizations = [
        {
            "organization_id": f"synthetic-provider-{i:04d}",
            "name": f"Synthetic Provider {i:04d}",
            "description": "A synthetic provider invented for the demo database.",
            "website": f"{SYNTHETIC_URL}/provider-{i:04d}",
            "source_title": SYNTHETIC_SOURCE,
            "source_url": SYNTHETIC_URL,
        }
        for i in range(1, max(size // 4, 3) + 1)
    ]
    services, named, locations, links = [], [], [], []
    for i in range(1, size + 1):
        service_id = f"synthetic-service-{i:04d}"
        start = dt.date(rng.randint(2018, 2026), rng.choice([4, 4, 4, 1, 10]), 1)
        end = add_months(start, rng.choice([12, 24, 36, 6, 18])) - dt.timedelta(days=1) if rng.random() < 0.85 else None
        if start > today:
            status = "planned"
        elif end is None or end >= today:
            status = "active"
        else:
            status = "ended"
        verified = today - dt.timedelta(days=rng.randint(0, 300))
        london_wide = rng.random() < 0.25
        annual = round(rng.uniform(10_000, 1_500_000), -3) if rng.random() < 0.7 else None
        years = max(1, round(duration(start, end).months / 12)) if end else None
        services.append({
            "service_id": service_id,
            "name": f"Synthetic service {i:04d}",
            "description": f"Synthetic {rng.choice(areas).replace('-', ' ')} service invented for the demo database.",
            "organization_id": rng.choice(organizations)["organization_id"],
            "commissioner": rng.choice(COMMISSIONERS),
            "funding_stream": f"Synthetic funding stream {rng.randint(1, 8)}",
            "service_area": rng.choice(areas),
            "status": status,
            "annual_value_gbp": annual,
            "total_value_gbp": annual * years if annual and years else None,
            "value_note": "synthetic",
            "start_date": start.isoformat(),
            "end_date": end.isoformat() if end else None,
            "eligibility": "Synthetic eligibility.",
            "how_to_refer": "Synthetic referral route.",
            "url": f"{SYNTHETIC_URL}/service-{i:04d}",
            "coverage": "london-wide" if london_wide else "boroughs",
            "source_title": SYNTHETIC_SOURCE,
            "source_url": SYNTHETIC_URL,
            "last_verified": verified.isoformat(),
            "review_due": add_months(verified, REVIEW_MONTHS).isoformat(),
        })
        mine = [] if london_wide else rng.sample(boroughs, rng.choice([1, 1, 1, 2, 3, 5]))
        named += [
            {"service_id": service_id, "gss_code": g, "source_title": SYNTHETIC_SOURCE, "source_url": SYNTHETIC_URL}
            for g in sorted(mine)
        ]
        if rng.random() < 0.65:
            for _ in range(rng.choice([1, 1, 2])):
                pool = [d for g in mine for d in by_borough.get(g, [])] or districts
                district = rng.choice(pool)
                location_id = f"synthetic-site-{len(locations) + 1:05d}"
                locations.append({
                    "location_id": location_id,
                    "name": f"Synthetic site {len(locations) + 1:05d}",
                    "address": f"Synthetic address, {district['outcode']}",
                    "postcode": district["outcode"],
                    "postcode_district": district["outcode"],
                    "gss_code": district["gss_code"],
                    "latitude": district["latitude"],
                    "longitude": district["longitude"],
                    "geocode_precision": "postcode district centroid",
                    "source_title": SYNTHETIC_SOURCE,
                    "source_url": SYNTHETIC_URL,
                })
                links.append({"service_id": service_id, "location_id": location_id})
    return {
        "organizations": organizations,
        "services": services,
        "service_boroughs": named,
        "locations": locations,
        "service_at_location": links,
        "service_area_taxonomy": taxonomy,
    }


# ---------------------------------------------------------------------------------------------------------------
# Page data (used by the plugins; templates only display it)


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


# ---------------------------------------------------------------------------------------------------------------
# Import path: place new delivery points at their postcode-district centroid


def geocode_locations(locations: list[dict], districts: list[dict]) -> tuple[list[dict], list[str]]:
    """Fill latitude/longitude/gss_code/postcode_district of locations that state a postcode but have no coordinates,
    from the postcode-district centroid. Returns (rows, messages). Rows with coordinates are left as they are."""
    by_outcode = {d["outcode"]: d for d in districts}
    out, messages = [], []
    for row in locations:
        row = dict(row)
        postcode = (row.get("postcode") or "").strip().upper()
        if postcode and not row.get("latitude") and row.get("geocode_precision") in ("", "not geocoded"):
            outcode = postcode.split()[0]
            district = by_outcode.get(outcode)
            if district is None:
                messages.append(f"{row['location_id']}: {outcode} is not a London postcode district; left blank")
            else:
                row.update({
                    "postcode_district": outcode,
                    "gss_code": district["gss_code"],
                    "latitude": district["latitude"],
                    "longitude": district["longitude"],
                    "geocode_precision": "postcode district centroid",
                })
                messages.append(f"{row['location_id']}: placed at the {outcode} centroid")
        out.append(row)
    return out, messages


def main(argv: list[str] | None = None) -> int:
    """python -m scripts.geocode_locations [--write]: place sites with a stated postcode at its district centroid."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--write", action="store_true", help="write data/services/locations.csv (default: dry run)")
    args = parser.parse_args(argv)
    path = args.data / "services" / "locations.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    with (args.data / "reference" / "postcode_districts.csv").open(encoding="utf-8-sig", newline="") as handle:
        districts = list(csv.DictReader(handle))
    rows, messages = geocode_locations(rows, districts)
    for message in messages:
        print(message)
    if args.write:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {path}")
    return 0
