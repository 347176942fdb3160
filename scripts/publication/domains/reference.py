"""Boroughs, population, postcode districts and MPS recorded crime: the context every other table joins to."""

from __future__ import annotations

import json

# Census nearest to the year: 2010-2015 use Census 2011, 2016 onwards Census 2021 (ONS mid-year estimates
# were not available in a trustworthy form; see data/SOURCES.md). A table made at build, not a view: the pages ask
# for one borough and year at a time, and a view would aggregate every borough's crime on each request.
CRIME_RATES_TABLE = """
CREATE TABLE borough_crime_rates AS
SELECT
  c.gss_code,
  b.name AS borough,
  b.inner_outer,
  c.year,
  MAX(c.months_covered) AS months_covered,
  SUM(c.crime_count) AS total_recorded_crime,
  SUM(CASE WHEN c.major_category = 'Violence Against the Person' THEN c.crime_count ELSE 0 END)
    AS violence_against_the_person,
  SUM(CASE WHEN c.major_category = 'Possession of Weapons' THEN c.crime_count ELSE 0 END)
    AS possession_of_weapons,
  CASE WHEN c.year < 2016 THEN 'Census 2011' ELSE 'Census 2021' END AS population_denominator,
  CASE WHEN c.year < 2016 THEN p.census_2011_population ELSE p.census_2021_population END AS population,
  ROUND(1000.0 * SUM(c.crime_count)
    / CASE WHEN c.year < 2016 THEN p.census_2011_population ELSE p.census_2021_population END, 2)
    AS crimes_per_1000_residents,
  ROUND(1000.0 * SUM(CASE WHEN c.major_category = 'Violence Against the Person' THEN c.crime_count ELSE 0 END)
    / CASE WHEN c.year < 2016 THEN p.census_2011_population ELSE p.census_2021_population END, 2)
    AS violence_per_1000_residents
FROM crime_annual_by_category c
JOIN boroughs b ON b.gss_code = c.gss_code
JOIN borough_population p ON p.gss_code = c.gss_code
GROUP BY c.gss_code, c.year
"""


def derive(db, context) -> None:
    boundaries = context.package.resources["borough_boundaries"]
    collection = json.loads(boundaries.path.read_text(encoding="utf-8"))
    db["boroughs"].add_column("geometry", str)
    for feature in collection["features"]:
        db["boroughs"].update(feature["properties"]["gss_code"], {"geometry": json.dumps(feature["geometry"])})
    db.execute(CRIME_RATES_TABLE)
    db["borough_crime_rates"].create_index(["gss_code", "year"], unique=True)
    db["borough_crime_rates"].create_index(["year"])


def check(db, context=None) -> list:
    """Every borough has a boundary. Problems name the file as validation does (data/...)."""
    from ..package import Problem, resource_display_path

    where = resource_display_path(context, "borough_boundaries")
    missing = [r[0] for r in db.execute("SELECT gss_code FROM boroughs WHERE geometry IS NULL")]
    return [Problem(where, 1, "gss_code", f"no boundary for {code}") for code in missing]
