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
from pathlib import Path

from scripts.common.dates import REVIEW_MONTHS, Duration, add_months, duration, needs_review
from scripts.common.services import FILTER_COLUMNS

ROOT = Path(__file__).resolve().parents[3]
TAXONOMY_CSV = ROOT / "data" / "services" / "service_area_taxonomy.csv"
SYNTHETIC_URL = "https://example.org/synthetic"
SYNTHETIC_SOURCE = "Synthetic data (scripts/generate_synthetic.py)"
COMMISSIONERS = ["MOPAC", "VRU", "LCPF co-commissioned", "Home Office grant"]

# ---------------------------------------------------------------------------------------------------------------
# Dates, duration and review


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


# ---------------------------------------------------------------------------------------------------------------
# Import path: place new delivery points at their postcode-district centroid


